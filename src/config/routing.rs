//! The address book: which local domain, user, alias or catch-all an address reaches, and the
//! expansion of aliases into mailboxes and forwards. The checks use it to find unknown targets
//! and loops; the plan uses it to write the routing table. Resolution order, as in Postfix:
//! exact address, then the address without its `+tag`, then the domain's catch-all.

use std::collections::{BTreeSet, HashMap};

use super::model::Config;
use super::names::Address;

/// The most aliases a message may pass through (`a` → `b` → ... → a mailbox); Postfix's
/// `virtual_alias_recursion_limit` is 1000, real configurations need two or three.
pub const MAX_CHAIN: usize = 100;

/// The most alias loops reported for one file.
pub const MAX_LOOPS: usize = 20;

/// An alias-like node: a domain alias or a catch-all. Indexes into [`AddressBook::nodes`].
pub type NodeId = usize;

/// What an alias node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRef {
    /// `config.domains[domain].aliases[alias]`.
    Alias {
        /// Domain index.
        domain: usize,
        /// Alias index.
        alias: usize,
    },
    /// `config.domains[domain].catch_all`.
    CatchAll {
        /// Domain index.
        domain: usize,
    },
}

/// Where an address goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// A user's mailbox: `config.domains[domain].users[user]`.
    Mailbox {
        /// Domain index.
        domain: usize,
        /// User index.
        user: usize,
    },
    /// An alias or catch-all.
    Node(NodeId),
    /// Not a local domain.
    Remote,
    /// A local domain, but nobody receives it.
    Unknown,
}

#[derive(Debug, Clone, Copy)]
enum Entry {
    User(usize),
    Alias(NodeId),
}

/// The index of every local address.
#[derive(Debug)]
pub struct AddressBook<'c> {
    config: &'c Config,
    /// Domain name → index of the domain whose mailboxes it uses (itself, or its `alias-of`).
    domains: HashMap<&'c str, Option<usize>>,
    /// (primary domain index, local part) → entry; the first declaration wins.
    entries: HashMap<(usize, &'c str), Entry>,
    catch_alls: HashMap<usize, NodeId>,
    /// Every alias node.
    pub nodes: Vec<NodeRef>,
}

/// The mailboxes and remote addresses an alias reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    /// Local mailboxes as (domain index, user index).
    pub mailboxes: BTreeSet<(usize, usize)>,
    /// Remote addresses.
    pub forwards: BTreeSet<String>,
}

impl<'c> AddressBook<'c> {
    /// Indexes the configuration's domains, users, aliases and catch-alls.
    pub fn new(config: &'c Config) -> Self {
        let mut index_of: HashMap<&str, usize> = HashMap::new();
        for (i, d) in config.domains.iter().enumerate() {
            index_of.entry(d.name.value.as_str()).or_insert(i);
        }
        let mut domains = HashMap::new();
        for d in &config.domains {
            let target = match &d.alias_of {
                None => index_of.get(d.name.value.as_str()).copied(),
                Some(of) => index_of
                    .get(of.value.as_str())
                    .copied()
                    .filter(|t| config.domains[*t].alias_of.is_none()),
            };
            domains.entry(d.name.value.as_str()).or_insert(target);
        }
        let mut book = AddressBook {
            config,
            domains,
            entries: HashMap::new(),
            catch_alls: HashMap::new(),
            nodes: Vec::new(),
        };
        for (di, d) in config.domains.iter().enumerate() {
            if d.alias_of.is_some() || index_of.get(d.name.value.as_str()) != Some(&di) {
                continue;
            }
            for (ui, u) in d.users.iter().enumerate() {
                book.entries
                    .entry((di, u.name.value.as_str()))
                    .or_insert(Entry::User(ui));
            }
            for (ui, u) in d.users.iter().enumerate() {
                for a in &u.aliases {
                    book.entries
                        .entry((di, a.value.as_str()))
                        .or_insert(Entry::User(ui));
                }
            }
            for (ai, a) in d.aliases.iter().enumerate() {
                let id = book.nodes.len();
                book.nodes.push(NodeRef::Alias {
                    domain: di,
                    alias: ai,
                });
                book.entries
                    .entry((di, a.name.value.as_str()))
                    .or_insert(Entry::Alias(id));
            }
            if d.catch_all.is_some() {
                let id = book.nodes.len();
                book.nodes.push(NodeRef::CatchAll { domain: di });
                book.catch_alls.insert(di, id);
            }
        }
        book
    }

    /// The domain index whose mailboxes `domain` uses, or `None` when it is not local.
    /// (`Some(None)` is a declared domain whose `alias-of` is broken.)
    pub fn local_domain(&self, domain: &str) -> Option<Option<usize>> {
        self.domains.get(domain).copied()
    }

    /// Where `addr` goes.
    pub fn resolve(&self, addr: &Address) -> Resolved {
        let Some(target) = self.local_domain(&addr.domain) else {
            return Resolved::Remote;
        };
        let Some(di) = target else {
            return Resolved::Unknown;
        };
        if let Some(e) = self.lookup(di, &addr.local) {
            return e;
        }
        if let Some(delim) = self.config.recipient_delimiter
            && let Some((base, _tag)) = addr.local.split_once(delim)
            && !base.is_empty()
            && let Some(e) = self.lookup(di, base)
        {
            return e;
        }
        match self.catch_alls.get(&di) {
            Some(id) => Resolved::Node(*id),
            None => Resolved::Unknown,
        }
    }

    /// The catch-all node of a primary domain.
    pub fn catch_all_of(&self, domain: usize) -> Option<NodeId> {
        self.catch_alls.get(&domain).copied()
    }

    fn lookup(&self, domain: usize, local: &str) -> Option<Resolved> {
        self.entries.get(&(domain, local)).map(|e| match e {
            Entry::User(user) => Resolved::Mailbox { domain, user: *user },
            Entry::Alias(id) => Resolved::Node(*id),
        })
    }

    /// The targets of an alias node.
    pub fn targets(&self, id: NodeId) -> &'c [super::reader::Spanned<Address>] {
        match self.nodes[id] {
            NodeRef::Alias { domain, alias } => &self.config.domains[domain].aliases[alias].targets,
            NodeRef::CatchAll { domain } => self.config.domains[domain]
                .catch_all
                .as_ref()
                .map_or(&[], |c| &c.targets),
        }
    }

    /// The address of a node, for messages (`team@example.com`, `*@example.com`).
    pub fn node_name(&self, id: NodeId) -> String {
        match self.nodes[id] {
            NodeRef::Alias { domain, alias } => {
                let d = &self.config.domains[domain];
                format!("{}@{}", d.aliases[alias].name.value, d.name.value)
            }
            NodeRef::CatchAll { domain } => format!("*@{}", self.config.domains[domain].name.value),
        }
    }

    /// Finds alias loops, at most [`MAX_LOOPS`] of them (a hostile file can hold more loops
    /// than it is worth listing, and each costs its length). Each loop is returned once, as
    /// the list of nodes around it, starting at the node declared first in the file.
    pub fn loops(&self) -> Vec<Vec<NodeId>> {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            New,
            Active,
            Done,
        }
        let edges: Vec<Vec<NodeId>> = (0..self.nodes.len())
            .map(|id| {
                self.targets(id)
                    .iter()
                    .filter_map(|t| match self.resolve(&t.value) {
                        Resolved::Node(n) => Some(n),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let mut state = vec![State::New; self.nodes.len()];
        let mut found = Vec::new();
        for start in 0..self.nodes.len() {
            if state[start] != State::New {
                continue;
            }
            // Iterative DFS: a stack of (node, next edge index).
            let mut stack: Vec<(NodeId, usize)> = vec![(start, 0)];
            state[start] = State::Active;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&to) = edges[node].get(*next) {
                    *next += 1;
                    match state[to] {
                        State::New => {
                            state[to] = State::Active;
                            stack.push((to, 0));
                        }
                        State::Active => {
                            if found.len() == MAX_LOOPS {
                                return found;
                            }
                            let pos = stack.iter().rposition(|(n, _)| *n == to).unwrap_or(0);
                            let mut cycle: Vec<NodeId> = stack[pos..].iter().map(|(n, _)| *n).collect();
                            let min = cycle
                                .iter()
                                .enumerate()
                                .min_by_key(|(_, n)| **n)
                                .map_or(0, |(i, _)| i);
                            cycle.rotate_left(min);
                            if !found.contains(&cycle) {
                                found.push(cycle);
                            }
                        }
                        State::Done => {}
                    }
                } else {
                    state[node] = State::Done;
                    stack.pop();
                }
            }
        }
        found
    }

    /// For every node, the most aliases a message passes through from it (itself included)
    /// before it reaches mailboxes and remote addresses only. Computed without recursion (an
    /// iterative depth-first walk), so a chain of 100,000 aliases costs heap, not stack; an
    /// edge back into a loop (reported on its own) adds nothing.
    pub fn chain_lengths(&self) -> Vec<usize> {
        const UNSEEN: usize = 0;
        const ACTIVE: usize = usize::MAX;
        let mut length = vec![UNSEEN; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if length[start] != UNSEEN {
                continue;
            }
            length[start] = ACTIVE;
            let mut stack: Vec<(NodeId, usize)> = vec![(start, 0)];
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let targets = self.targets(node);
                if let Some(t) = targets.get(*next) {
                    *next += 1;
                    if let Resolved::Node(to) = self.resolve(&t.value)
                        && length[to] == UNSEEN
                    {
                        length[to] = ACTIVE;
                        stack.push((to, 0));
                    }
                    continue;
                }
                let longest = targets
                    .iter()
                    .filter_map(|t| match self.resolve(&t.value) {
                        Resolved::Node(to) if length[to] != ACTIVE => Some(length[to]),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0);
                length[node] = longest + 1;
                stack.pop();
            }
        }
        length
    }

    /// Expands every alias node into mailboxes and forwards (call only when there are no loops;
    /// a loop contributes nothing further). Recursive: the checks refuse chains longer than
    /// [`MAX_CHAIN`], so it recurses at most that deep.
    pub fn expand_all(&self) -> Vec<Expansion> {
        let mut memo: Vec<Option<Expansion>> = vec![None; self.nodes.len()];
        let mut visiting = vec![false; self.nodes.len()];
        for id in 0..self.nodes.len() {
            self.expand(id, &mut memo, &mut visiting);
        }
        memo.into_iter().map(Option::unwrap_or_default).collect()
    }

    fn expand(&self, id: NodeId, memo: &mut Vec<Option<Expansion>>, visiting: &mut Vec<bool>) {
        if memo[id].is_some() || visiting[id] {
            return;
        }
        visiting[id] = true;
        let mut out = Expansion::default();
        for t in self.targets(id) {
            match self.resolve(&t.value) {
                Resolved::Mailbox { domain, user } => {
                    out.mailboxes.insert((domain, user));
                }
                Resolved::Node(n) => {
                    self.expand(n, memo, visiting);
                    if let Some(e) = &memo[n] {
                        out.mailboxes.extend(e.mailboxes.iter().copied());
                        out.forwards.extend(e.forwards.iter().cloned());
                    }
                }
                Resolved::Remote => {
                    out.forwards.insert(t.value.to_string());
                }
                Resolved::Unknown => {}
            }
        }
        visiting[id] = false;
        memo[id] = Some(out);
    }
}
