//! THREAD=REFERENCES (RFC 5256 §4.2, after Jamie Zawinski's algorithm), with the choices
//! Dovecot makes where the RFC leaves room:
//!
//! 1. Messages are linked in mailbox order. A Message-ID already used by an earlier message
//!    counts as none (the message gets a container of its own). The References chain links
//!    each ID to the next unless the child already has a parent or the link would make a
//!    loop; the message's own parent is the last reference: a different parent it had from
//!    other messages' References is dropped first, and a link that would loop is not made
//!    (the message is then a root).
//! 2. and 3. Dummies (IDs referenced but not in the mailbox) vanish below the root: a message
//!    hangs from its nearest ancestor that is a message, or from the dummy at the top. A
//!    dummy root with one child is replaced by it; one without children goes.
//! 4. Siblings and roots are ordered by sent date, ties in mailbox order; a dummy by its first
//!    child.
//! 5. Roots with the same base subject are gathered (a reply under a non-reply, else both
//!    under a new dummy), and the roots ordered again.
//!
//! Hostile input cannot make it slow: a message keeps at most
//! [`super::summarize::MAX_REFERENCES`] references, the ancestor walks of the loop checks
//! share a budget per command (beyond it a link is treated as a loop), and dummy chains are
//! collapsed once (memoised), so the work is linear in the references plus that budget.

use std::collections::HashMap;

use super::sort::Entry;
use super::thread::Forest;

/// Ancestor steps the loop checks of one THREAD may take in all.
const WALK_BUDGET: usize = 20_000_000;

#[derive(Debug, Clone, Default)]
struct Container {
    /// The message (index into the entries), or none for a dummy.
    msg: Option<usize>,
    parent: Option<usize>,
    /// How many containers have this one as parent.
    kids: u32,
}

struct Links<'a> {
    nodes: Vec<Container>,
    by_id: HashMap<&'a str, usize>,
    budget: usize,
}

impl<'a> Links<'a> {
    fn fresh(&mut self) -> usize {
        self.nodes.push(Container::default());
        self.nodes.len() - 1
    }

    fn node(&mut self, id: &'a str) -> usize {
        if let Some(n) = self.by_id.get(id) {
            return *n;
        }
        let n = self.fresh();
        self.by_id.insert(id, n);
        n
    }

    /// Whether `ancestor` is `n` or above it (true also once the budget is spent).
    fn is_ancestor(&mut self, ancestor: usize, mut n: usize) -> bool {
        loop {
            if n == ancestor || self.budget == 0 {
                return true;
            }
            self.budget -= 1;
            match self.nodes[n].parent {
                Some(p) => n = p,
                None => return false,
            }
        }
    }

    /// Makes `parent` the parent of `child` unless `child` has one or it would make a loop.
    fn link(&mut self, parent: usize, child: usize) {
        if parent == child || self.nodes[child].parent.is_some() {
            return;
        }
        // A container without children is nobody's ancestor.
        if self.nodes[child].kids > 0 && self.is_ancestor(child, parent) {
            return;
        }
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].kids += 1;
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.nodes[child].parent.take() {
            self.nodes[p].kids = self.nodes[p].kids.saturating_sub(1);
        }
    }
}

/// A root of the forest while it is being finished.
#[derive(Debug, Clone)]
struct Root {
    node: usize,
    dummy: bool,
    ignore: bool,
    /// Step 5: the root this one is gathered under.
    parent_root: Option<usize>,
    reply: bool,
}

/// Threads `entries` (given in mailbox order) with REFERENCES.
pub fn references(entries: &[Entry<'_>]) -> Forest {
    let nodes = link(entries);
    let (mut kids, mut roots) = prune(&nodes);
    // A message sorts by its sent date, ties in mailbox order.
    let key = |n: usize| -> (i64, usize) {
        match nodes.get(n).and_then(|c| c.msg) {
            Some(m) => (entries.get(m).map_or(0, Entry::sent), m),
            None => (i64::MAX, usize::MAX),
        }
    };
    order(&mut kids, &mut roots, &key);
    gather(entries, &nodes, &kids, &mut roots);
    if merge(&mut kids, &mut roots) {
        order(&mut kids, &mut roots, &key);
    }
    let mut forest = Forest::default();
    forest.nodes.reserve(kids.len());
    for (i, k) in kids.into_iter().enumerate() {
        let number = nodes
            .get(i)
            .and_then(|c| c.msg)
            .and_then(|m| entries.get(m))
            .map(|e| e.number);
        forest.add(number, k);
    }
    forest.roots = roots.iter().filter(|r| !r.ignore).map(|r| r.node).collect();
    forest
}

/// Step (1): a container per message and per referenced ID, linked.
fn link(entries: &[Entry<'_>]) -> Vec<Container> {
    let mut l = Links {
        nodes: Vec::with_capacity(entries.len() * 2),
        by_id: HashMap::with_capacity(entries.len() * 2),
        budget: WALK_BUDGET,
    };
    for (i, e) in entries.iter().enumerate() {
        let me = match e.summary.message_id.as_deref() {
            Some(id) => {
                let n = l.node(id);
                if l.nodes[n].msg.is_some() { l.fresh() } else { n }
            }
            None => l.fresh(),
        };
        l.nodes[me].msg = Some(i);
        let refs: Vec<usize> = e.summary.references.iter().map(|r| l.node(r)).collect();
        for pair in refs.windows(2) {
            if let [a, b] = pair {
                l.link(*a, *b);
            }
        }
        let parent = refs.last().copied();
        if l.nodes[me].parent.is_some() && l.nodes[me].parent != parent {
            l.unlink(me);
        }
        if let Some(p) = parent {
            l.link(p, me);
        }
    }
    l.nodes
}

/// Steps (2) and (3): the roots, and the children of messages and of top dummies (a message
/// below a dummy hangs from its nearest message ancestor, or the top dummy).
fn prune(nodes: &[Container]) -> (Vec<Vec<usize>>, Vec<Root>) {
    let mut anchor: Vec<Option<usize>> = vec![None; nodes.len()];
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut roots: Vec<Root> = Vec::new();
    for (i, c) in nodes.iter().enumerate() {
        match c.parent {
            None => roots.push(Root {
                node: i,
                dummy: c.msg.is_none(),
                ignore: false,
                parent_root: None,
                reply: false,
            }),
            Some(_) if c.msg.is_none() => {}
            Some(p) => {
                let a = anchor_of(nodes, &mut anchor, p);
                kids[a].push(i);
            }
        }
    }
    (kids, roots)
}

/// Step (4): siblings, then roots (a dummy sorts by its first child, is replaced by its
/// only child, and goes when it has none).
fn order(kids: &mut [Vec<usize>], roots: &mut [Root], key: &impl Fn(usize) -> (i64, usize)) {
    for k in kids.iter_mut() {
        k.sort_by_key(|&c| key(c));
    }
    for r in roots.iter_mut().filter(|r| r.dummy && !r.ignore) {
        match kids.get(r.node).map(Vec::as_slice) {
            Some([only]) => {
                r.node = *only;
                r.dummy = false;
            }
            Some([]) | None => r.ignore = true,
            Some(_) => {}
        }
    }
    let root_key = |r: &Root| {
        let n = if r.dummy {
            kids.get(r.node).and_then(|k| k.first()).copied()
        } else {
            Some(r.node)
        };
        n.map_or((i64::MAX, usize::MAX), key)
    };
    roots.sort_by_key(root_key);
}

/// Step (5)(B): the subject table. A root whose base subject is already there is marked to
/// go under the table's root, or takes its place (a dummy, or a non-reply over a reply).
fn gather(entries: &[Entry<'_>], nodes: &[Container], kids: &[Vec<usize>], roots: &mut [Root]) {
    let subject_of = |r: &Root| -> Option<usize> {
        let n = if r.dummy {
            *kids.get(r.node)?.first()?
        } else {
            r.node
        };
        nodes.get(n)?.msg
    };
    let mut table: HashMap<&str, usize> = HashMap::new();
    for i in 0..roots.len() {
        if roots[i].ignore {
            continue;
        }
        let Some(s) = subject_of(&roots[i])
            .and_then(|m| entries.get(m))
            .map(|e| e.summary)
        else {
            continue;
        };
        if s.subject.is_empty() {
            continue;
        }
        match table.get(s.subject.as_str()).copied() {
            None => {
                table.insert(&s.subject, i);
            }
            Some(h) if !roots[h].dummy && (roots[i].dummy || (roots[h].reply && !s.reply)) => {
                roots[h].parent_root = Some(i);
                table.insert(&s.subject, i);
            }
            Some(h) => roots[i].parent_root = Some(h),
        }
        roots[i].reply = s.reply;
    }
}

/// Step (5)(C): roots marked by [`gather`] join the table's root for their subject. Returns
/// whether any did.
fn merge(kids: &mut Vec<Vec<usize>>, roots: &mut Vec<Root>) -> bool {
    let mut merged = false;
    for i in 0..roots.len() {
        if roots[i].ignore || roots[i].parent_root.is_none() {
            continue;
        }
        let mut top = i;
        for _ in 0..roots.len() {
            match roots[top].parent_root {
                Some(p) => top = p,
                None => break,
            }
        }
        if top == i || roots[top].ignore {
            continue;
        }
        merged = true;
        let (cur, dst) = (roots[i].node, roots[top].node);
        if roots[i].dummy && roots[top].dummy {
            // Both dummies: the children of both become siblings.
            let moved = std::mem::take(&mut kids[cur]);
            kids[dst].extend(moved);
            roots[i].ignore = true;
        } else if !roots[i].dummy && (roots[top].dummy || (roots[i].reply && !roots[top].reply)) {
            kids[dst].push(cur);
            roots[i].ignore = true;
        } else {
            // A new dummy over both.
            kids.push(vec![dst, cur]);
            roots.push(Root {
                node: kids.len() - 1,
                dummy: true,
                ignore: false,
                parent_root: None,
                reply: false,
            });
            let new = roots.len() - 1;
            roots[top].parent_root = Some(new);
            roots[top].ignore = true;
            roots[i].ignore = true;
        }
    }
    merged
}

/// The container a message below `p` hangs from: `p` when it is a message or a root, else
/// the same for its parent (memoised in `anchor`).
fn anchor_of(nodes: &[Container], anchor: &mut [Option<usize>], p: usize) -> usize {
    let mut path = Vec::new();
    let mut n = p;
    let found = loop {
        if let Some(a) = anchor.get(n).copied().flatten() {
            break a;
        }
        let c = &nodes[n];
        match c.parent {
            Some(up) if c.msg.is_none() => {
                path.push(n);
                n = up;
            }
            _ => break n,
        }
    };
    for x in path {
        anchor[x] = Some(found);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::summary::Summary;

    const MAX_PAIRS: usize = crate::imap::summarize::MAX_REFERENCES / 2;

    /// A message: Message-ID, References, subject; sent date from `arrival`.
    fn msg(id: Option<&str>, refs: &[&str], subject: &str) -> Summary {
        let (subject, reply) = crate::imap::subject::base_subject(subject);
        Summary {
            message_id: id.map(str::to_owned),
            references: refs.iter().map(|r| r.to_string()).collect(),
            subject,
            reply,
            ..Summary::default()
        }
    }

    fn thread(summaries: &[Summary], arrivals: &[i64]) -> String {
        let e: Vec<Entry<'_>> = summaries
            .iter()
            .enumerate()
            .map(|(i, s)| Entry {
                number: i as u32 + 1,
                arrival: arrivals.get(i).copied().unwrap_or(0),
                size: 0,
                summary: s,
            })
            .collect();
        references(&e).write()
    }

    #[test]
    fn imaptest_thread() {
        // thread.mbox: <c> would loop under <b>, so it loses its parent <a> and is a root.
        let s = [
            msg(Some("a@b"), &[], ""),
            msg(Some("b@b"), &["a@b", "c@b"], ""),
            msg(Some("c@b"), &["b@b"], ""),
        ];
        assert_eq!(thread(&s, &[17, 15, 16]), "(3 2)(1)");
        // After expunging 1.
        assert_eq!(thread(&s[1..], &[15, 16]), "(2 1)");
    }

    #[test]
    fn duplicate_message_ids() {
        // thread2: the second <a@b> counts as no ID.
        let s = [msg(Some("a@b"), &[], ""), msg(Some("a@b"), &[], "")];
        assert_eq!(thread(&s, &[0, 0]), "(1)(2)");
        // thread3: ... and the subject then gathers the reply under the original.
        let s = [msg(Some("a@b"), &[], "foo"), msg(Some("a@b"), &[], "Re: foo")];
        assert_eq!(thread(&s, &[0, 1]), "(1 2)");
        // thread7: the duplicate <b@b> (message 4) hangs from <a@b> itself; <c@b> follows the
        // original <b@b>.
        let s = [
            msg(Some("a@b"), &[], ""),
            msg(Some("b@b"), &["a@b"], ""),
            msg(Some("c@b"), &["b@b"], ""),
            msg(Some("b@b"), &["a@b"], ""),
        ];
        assert_eq!(thread(&s, &[]), "(1 (2 3)(4))");
        // After expunging 2, the duplicate is the only <b@b>.
        let rest = [s[0].clone(), s[2].clone(), s[3].clone()];
        assert_eq!(thread(&rest, &[]), "(1 3 2)");
    }

    #[test]
    fn missing_parents() {
        // thread4: a reply to a message not in the mailbox, gathered by subject.
        let s = [
            msg(Some("a@b"), &[], "foo"),
            msg(Some("b@b"), &["c@b"], "Re: foo"),
        ];
        assert_eq!(thread(&s, &[0, 1]), "(1 2)");
        // thread6: two replies to one missing message, no IDs of their own: a dummy root.
        let s = [msg(None, &["a@b"], ""), msg(None, &["a@b"], "")];
        assert_eq!(thread(&s, &[0, 1]), "((1)(2))");
        // thread5 after expunging 1 and 2: each dummy has one child, which takes its place;
        // then a third reply to <2@b> keeps that dummy.
        let s = [
            msg(Some("3@b"), &["1@b"], ""),
            msg(Some("4@b"), &["2@b"], ""),
            msg(Some("5@b"), &["2@b"], ""),
        ];
        assert_eq!(thread(&s[..2], &[]), "(1)(2)");
        assert_eq!(thread(&s, &[]), "(1)((2)(3))");
        // Dummies in the middle of a chain vanish: 2 hangs from 1.
        let s = [
            msg(Some("1@x"), &[], ""),
            msg(Some("2@x"), &["1@x", "gone@x", "gone2@x"], ""),
        ];
        assert_eq!(thread(&s, &[]), "(1 2)");
    }

    #[test]
    fn children_and_roots_by_date() {
        // thread5: (1 (2 4)(3)); the root is the newest message, its children older.
        let s = [
            msg(Some("1@b"), &[], ""),
            msg(Some("2@b"), &["1@b"], ""),
            msg(Some("3@b"), &["1@b"], ""),
            msg(Some("4@b"), &["2@b"], ""),
        ];
        assert_eq!(thread(&s, &[17, 15, 15, 15]), "(1 (2 4)(3))");
        // Siblings by date, not by number.
        assert_eq!(thread(&s, &[1, 9, 5, 2]), "(1 (3)(2 4))");
    }

    #[test]
    fn loops_in_references_are_not_followed() {
        // Each message claims the other as its parent.
        let s = [msg(Some("a@x"), &["b@x"], ""), msg(Some("b@x"), &["a@x"], "")];
        assert_eq!(thread(&s, &[0, 1]), "(2 1)");
        // A message referencing itself.
        let s = [msg(Some("a@x"), &["a@x"], "")];
        assert_eq!(thread(&s, &[]), "(1)");
        // A References chain that loops back.
        let s = [
            msg(Some("a@x"), &[], ""),
            msg(Some("b@x"), &["a@x", "b@x", "a@x"], ""),
        ];
        assert_eq!(thread(&s, &[]), "(1 2)");
    }

    #[test]
    fn subjects_gather_roots() {
        // Two non-replies with one subject go under a new dummy; a reply joins it.
        let s = [
            msg(Some("1@x"), &[], "Meeting"),
            msg(Some("2@x"), &[], "meeting"),
            msg(Some("3@x"), &[], "Re: Meeting"),
            msg(Some("4@x"), &[], ""),
        ];
        assert_eq!(thread(&s, &[1, 2, 3, 4]), "((1)(2)(3))(4)");
        // A reply found first is replaced in the table by the original, and goes under it.
        let s = [msg(Some("1@x"), &[], "Re: x"), msg(Some("2@x"), &[], "x")];
        assert_eq!(thread(&s, &[1, 2]), "(2 1)");
    }

    #[test]
    fn a_long_chain_is_linear() {
        // 20,000 replies, each to the previous one: one thread, built without quadratic walks
        // blowing up, and written without recursion.
        let n = 20_000;
        let s: Vec<Summary> = (0..n)
            .map(|i| {
                let refs: Vec<String> = (i.max(3) - 3..i).map(|j| format!("{j}@x")).collect();
                let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
                msg(Some(&format!("{i}@x")), &refs, "")
            })
            .collect();
        let arrivals: Vec<i64> = (0..n).map(i64::from).collect();
        let out = thread(&s, &arrivals);
        assert!(
            out.starts_with("(1 2 3 4 ") && out.ends_with(" 19999 20000)"),
            "{}",
            &out[..40]
        );
    }

    #[test]
    fn hostile_references_stay_within_budget() {
        // A chain 1,000 deep, then messages whose References go back and forth between its
        // bottom and its top: every pair asks for a loop check that walks the whole chain.
        // Without the budget that is 1,000 x 64 x 1,000 steps; with it, bounded.
        let mut s: Vec<Summary> = (0..1000)
            .map(|i| {
                let parent = format!("c{}@x", i.max(1) - 1);
                let refs: &[&str] = if i == 0 { &[] } else { &[&parent] };
                msg(Some(&format!("c{i}@x")), refs, "")
            })
            .collect();
        let back_and_forth: Vec<&str> = (0..MAX_PAIRS).flat_map(|_| ["c999@x", "c0@x"]).collect();
        for _ in 0..1000 {
            s.push(msg(None, &back_and_forth, ""));
        }
        let t = std::time::Instant::now();
        let out = thread(&s, &[]);
        assert!(out.starts_with("(1 (2 3 4 "), "{}", &out[..20]);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            t.elapsed()
        );
    }
}
