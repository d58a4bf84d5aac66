//! THREAD (RFC 5256 §4): the algorithms' common result, ORDEREDSUBJECT, and the response.
//! REFERENCES is in [`super::references`].
//!
//! Both algorithms order by the sent date ([`Entry::sent`]), ties by mailbox order. The
//! result is a forest kept flat (nodes in one vector, children by index) and written out
//! without recursion, so a reply chain ten thousand messages deep costs no stack.
//!
//! The response follows RFC 5256 §4 as Dovecot writes it: a thread is `(` its root, then its
//! children; one child follows its parent without parentheses (`(1 2 3)`), several are each
//! parenthesised (`(1 (2)(3))`); a dummy root (two messages that reply to one that is not
//! in the mailbox) has no number (`((2)(3))`).

use std::fmt::Write;

use super::sort::Entry;

/// A threading algorithm (`thread-alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `ORDEREDSUBJECT` (RFC 5256 §4.1): by base subject, then sent date.
    OrderedSubject,
    /// `REFERENCES` (RFC 5256 §4.2): by Message-ID, References and In-Reply-To, then subject.
    References,
}

impl Algorithm {
    /// The algorithm named `word` (upper case).
    pub fn named(word: &str) -> Option<Algorithm> {
        match word {
            "ORDEREDSUBJECT" => Some(Algorithm::OrderedSubject),
            "REFERENCES" => Some(Algorithm::References),
            _ => None,
        }
    }
}

/// One node of a thread: a message (its number) or a dummy, and its children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// The message's number; `None` for a dummy.
    pub number: Option<u32>,
    /// Children (indexes into [`Forest::nodes`]), in order.
    pub children: Vec<usize>,
}

/// Threads: their roots in order, every node in one vector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forest {
    /// Every node.
    pub nodes: Vec<Node>,
    /// The roots, in order.
    pub roots: Vec<usize>,
}

impl Forest {
    /// Adds a node; returns its index.
    pub fn add(&mut self, number: Option<u32>, children: Vec<usize>) -> usize {
        self.nodes.push(Node { number, children });
        self.nodes.len() - 1
    }

    /// The threads as the THREAD response writes them (`(1 2)(3 (4)(5))`).
    pub fn write(&self) -> String {
        enum Step<'a> {
            Text(&'static str),
            Number(u32),
            Level(&'a [usize], bool),
        }
        let mut out = String::new();
        let mut todo = vec![Step::Level(&self.roots, true)];
        while let Some(step) = todo.pop() {
            let (list, root) = match step {
                Step::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Step::Number(n) => {
                    let _ = write!(out, "{n}");
                    continue;
                }
                Step::Level(list, root) => (list, root),
            };
            // Steps are pushed in reverse: the last pushed is written first.
            if let ([only], false) = (list, root) {
                let Some(node) = self.nodes.get(*only) else {
                    continue;
                };
                if !node.children.is_empty() {
                    todo.push(Step::Level(&node.children, false));
                    todo.push(Step::Text(" "));
                }
                if let Some(n) = node.number {
                    todo.push(Step::Number(n));
                }
                continue;
            }
            for i in list.iter().rev() {
                let Some(node) = self.nodes.get(*i) else { continue };
                if node.number.is_none() && node.children.is_empty() {
                    continue;
                }
                todo.push(Step::Text(")"));
                if !node.children.is_empty() {
                    todo.push(Step::Level(&node.children, false));
                    if node.number.is_some() {
                        todo.push(Step::Text(" "));
                    }
                }
                if let Some(n) = node.number {
                    todo.push(Step::Number(n));
                }
                todo.push(Step::Text("("));
            }
        }
        out
    }
}

/// Threads `entries` (given in mailbox order) with `algorithm`.
pub fn thread(entries: &[Entry<'_>], algorithm: Algorithm) -> Forest {
    match algorithm {
        Algorithm::OrderedSubject => ordered_subject(entries),
        Algorithm::References => super::references::references(entries),
    }
}

/// ORDEREDSUBJECT (RFC 5256 §4.1): messages sorted by base subject, then sent date, ties in
/// mailbox order; each run of one base subject is a thread whose first message is the parent
/// of the others; threads ordered by the sent date of their first message.
pub fn ordered_subject(entries: &[Entry<'_>]) -> Forest {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    let subject = |i: usize| entries.get(i).map_or("", |e| e.summary.subject.as_str());
    let sent = |i: usize| entries.get(i).map_or(0, Entry::sent);
    order.sort_by(|&a, &b| subject(a).cmp(subject(b)).then(sent(a).cmp(&sent(b))));
    let mut threads: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match threads.last_mut() {
            Some(t) if t.first().is_some_and(|&f| subject(f) == subject(i)) => t.push(i),
            _ => threads.push(vec![i]),
        }
    }
    let first = |t: &Vec<usize>| t.first().copied().unwrap_or(0);
    threads.sort_by_key(|t| (sent(first(t)), first(t)));
    let number = |i: usize| entries.get(i).map(|e| e.number);
    let mut forest = Forest::default();
    for t in threads {
        let children = t
            .iter()
            .skip(1)
            .map(|&i| forest.add(number(i), Vec::new()))
            .collect();
        let root = forest.add(number(first(&t)), children);
        forest.roots.push(root);
    }
    forest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::summary::Summary;

    fn entries<'a>(summaries: &'a [Summary], arrivals: &[i64]) -> Vec<Entry<'a>> {
        summaries
            .iter()
            .enumerate()
            .map(|(i, s)| Entry {
                number: i as u32 + 1,
                arrival: arrivals.get(i).copied().unwrap_or(0),
                size: 0,
                summary: s,
            })
            .collect()
    }

    fn subject(s: &str, sent: Option<i64>) -> Summary {
        let (subject, reply) = crate::imap::subject::base_subject(s);
        Summary {
            subject,
            reply,
            sent,
            ..Summary::default()
        }
    }

    #[test]
    fn writing() {
        let mut f = Forest::default();
        let c = f.add(Some(3), vec![]);
        let b = f.add(Some(2), vec![c]);
        let a = f.add(Some(1), vec![b]);
        f.roots.push(a);
        assert_eq!(f.write(), "(1 2 3)");
        let mut f = Forest::default();
        let x = f.add(Some(2), vec![]);
        let y = f.add(Some(3), vec![]);
        let d = f.add(None, vec![x, y]);
        let lone = f.add(Some(1), vec![]);
        let empty_dummy = f.add(None, vec![]);
        f.roots = vec![lone, d, empty_dummy];
        assert_eq!(f.write(), "(1)((2)(3))");
        assert_eq!(Forest::default().write(), "");
    }

    #[test]
    fn a_deep_chain_costs_no_stack() {
        let mut f = Forest::default();
        let mut below = Vec::new();
        for n in (1..=200_000).rev() {
            below = vec![f.add(Some(n), below)];
        }
        f.roots = below;
        let out = f.write();
        assert!(out.starts_with("(1 2 3 ") && out.ends_with(" 199999 200000)"));
    }

    #[test]
    fn ordered_subject_imaptest() {
        // imaptest thread-orderedsubject2: Date headers on 1-4, INTERNALDATE for 5-8.
        let t = |s| Some(s);
        let s = vec![
            subject("a", t(10)),
            subject("b", t(9)),
            subject("a", t(8)),
            subject("b", t(7)),
            subject("a", None),
            subject("b", None),
            subject("a", None),
            subject("b", None),
        ];
        let e = entries(&s, &[0, 0, 0, 0, 30, 29, 28, 27]);
        assert_eq!(ordered_subject(&e).write(), "(4 (2)(8)(6))(3 (1)(7)(5))");
    }

    #[test]
    fn ordered_subject_groups_by_base_subject() {
        // imaptest thread-orderedsubject (sort-subject.mbox): one date for all.
        let subjects = [
            "a",
            "C",
            "b",
            "_",
            "[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)",
            "b (a)",
            "Re: [FWD: c]",
            "[xyz]",
            "",
            " ",
            "Re: b",
            "RE: C",
            "Re: c",
            "Ad: Re: Ad: Re: Ad: x",
            "re: [fwd: [fwd: re: [fwd: babylon]]]",
        ];
        let s: Vec<Summary> = subjects.iter().map(|x| subject(x, None)).collect();
        let e = entries(&s, &[]);
        assert_eq!(
            ordered_subject(&e).write(),
            "(1)(2 (7)(12)(13))(3 (5)(11))(4)(6)(8)(9 10)(14)(15)"
        );
        assert_eq!(Algorithm::named("REFERENCES"), Some(Algorithm::References));
        assert_eq!(Algorithm::named("REFS"), None);
    }
}
