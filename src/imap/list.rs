//! LIST: pattern matching (RFC 9051 §6.3.9: `*` matches anything, `%` anything but the
//! hierarchy separator `.`) and which names a LIST or LSUB returns with which attributes
//! (RFC 5258 selection options and CHILDINFO, RFC 3501 §6.3.9 LSUB).
//!
//! The matcher runs the pattern as a non-deterministic automaton over the name, one step per
//! character with the set of live pattern positions: O(|pattern| × |name|) time and
//! O(|pattern|) memory, no recursion, whatever the client sends (`*a*a*a*…b` against a long
//! name used to backtrack exponentially).

/// Hierarchy separator of folder names.
const SEP: char = '.';

/// Whether `name` matches `pattern` (case-sensitive, except that INBOX matches any case).
pub fn matches(pattern: &str, name: &str) -> bool {
    let p = compile(pattern);
    p.matches(name)
}

/// A pattern reduced to what matters: runs of wildcards collapsed (`**`, `*%`, `%*` are `*`;
/// `%%` is `%`), and the INBOX prefix made case-insensitive.
#[derive(Debug, Clone)]
pub struct Pattern {
    items: Vec<char>,
    /// Characters that are not wildcards: a name shorter than this cannot match.
    literals: usize,
}

/// Compiles a LIST pattern.
pub fn compile(pattern: &str) -> Pattern {
    let mut items: Vec<char> = Vec::with_capacity(pattern.len().min(1024));
    let mut chars = pattern.chars().peekable();
    // "INBOX" in any case at the start means INBOX (RFC 9051 §5.1).
    let head: String = pattern.chars().take(5).collect();
    if head.eq_ignore_ascii_case("INBOX") {
        items.extend("INBOX".chars());
        for _ in 0..5 {
            chars.next();
        }
    }
    let mut literals = items.len();
    for c in chars {
        match (c, items.last().copied()) {
            ('*' | '%', Some('*')) => {}
            ('*', Some('%')) => {
                items.pop();
                items.push('*');
            }
            ('%', Some('%')) => {}
            ('*' | '%', _) => items.push(c),
            _ => {
                items.push(c);
                literals += 1;
            }
        }
    }
    Pattern { items, literals }
}

impl Pattern {
    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let p = &self.items;
        if self.literals > name.chars().count() {
            return false;
        }
        let wild = |i: usize| matches!(p.get(i), Some('*' | '%'));
        // live[i]: the pattern prefix p[..i] matches the name read so far.
        let mut live = vec![false; p.len() + 1];
        let mut next = vec![false; p.len() + 1];
        live[0] = true;
        close(&mut live, &wild);
        for c in name.chars() {
            next.iter_mut().for_each(|b| *b = false);
            let mut any = false;
            for (i, item) in p.iter().enumerate() {
                if !live[i] {
                    continue;
                }
                match *item {
                    '*' => next[i] = true,
                    '%' if c != SEP => next[i] = true,
                    '%' => {}
                    lit if lit == c => next[i + 1] = true,
                    _ => {}
                }
                any = true;
            }
            if !any {
                return false;
            }
            close(&mut next, &wild);
            std::mem::swap(&mut live, &mut next);
        }
        live[p.len()]
    }
}

/// A wildcard also matches the empty string: a live position before one makes the position
/// after it live.
fn close(live: &mut [bool], wild: &impl Fn(usize) -> bool) {
    for i in 0..live.len().saturating_sub(1) {
        if live[i] && wild(i) {
            live[i + 1] = true;
        }
    }
}

/// What LIST/LSUB knows of a folder.
#[derive(Debug, Clone)]
pub struct Folder<'a> {
    /// The name.
    pub name: &'a str,
    /// RFC 6154 attribute.
    pub special_use: Option<&'a str>,
}

/// One line of a LIST or LSUB answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The mailbox name.
    pub name: String,
    /// Attributes, in order.
    pub attrs: Vec<String>,
    /// `CHILDINFO ("SUBSCRIBED")` (RFC 5258 §3.5).
    pub childinfo: bool,
    /// The folder exists (STATUS may be asked of it).
    pub exists: bool,
}

/// The entries a LIST (`lsub` false) or LSUB returns for `patterns` over the account's
/// `folders` and `subscribed` names, sorted by name.
pub fn entries(
    folders: &[Folder<'_>],
    subscribed: &[String],
    patterns: &[Pattern],
    args: &crate::imap::command::ListArgs,
) -> Vec<Entry> {
    use std::collections::{BTreeMap, HashMap, HashSet};
    let matches = |n: &str| patterns.iter().any(|p| p.matches(n));
    let existing: HashMap<&str, &Folder<'_>> = folders.iter().map(|f| (f.name, f)).collect();
    let subs: HashSet<&str> = subscribed.iter().map(String::as_str).collect();
    // Every existing folder with an existing child.
    let parents: HashSet<&str> = folders.iter().flat_map(|f| ancestors(f.name)).collect();
    let children_attr = |n: &str| {
        if parents.contains(n) {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        }
    };
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    if args.lsub {
        // RFC 3501 §6.3.9: subscribed names; with `%`, an unsubscribed parent of a subscribed
        // name is returned \Noselect in its place.
        let percent = patterns.iter().any(|p| p.items.contains(&'%'));
        for s in &subs {
            if matches(s) {
                let attrs = if existing.contains_key(s) {
                    vec![]
                } else {
                    vec!["\\Noselect".to_owned()]
                };
                out.insert(s.to_string(), entry(s, attrs, existing.contains_key(s)));
            }
            if percent {
                for a in ancestors(s) {
                    if !subs.contains(a) && matches(a) {
                        out.entry(a.to_owned()).or_insert_with(|| {
                            entry(a, vec!["\\Noselect".to_owned()], existing.contains_key(a))
                        });
                    }
                }
            }
        }
        return out.into_values().collect();
    }
    if args.subscribed {
        // RFC 5258 §3.1: subscribed names, existing or not (\NonExistent), all \Subscribed.
        for s in &subs {
            let folder = existing.get(s);
            if !matches(s) || (args.special_use && folder.is_none_or(|f| f.special_use.is_none())) {
                continue;
            }
            let mut attrs = vec![];
            match folder {
                Some(f) => {
                    attrs.push(children_attr(s).to_owned());
                    attrs.extend(f.special_use.map(str::to_owned));
                }
                None => attrs.push("\\NonExistent".to_owned()),
            }
            attrs.push("\\Subscribed".to_owned());
            out.insert(s.to_string(), entry(s, attrs, folder.is_some()));
        }
        if args.recursive {
            // RFC 5258 §3.5: a parent that matches, with a subscribed descendant that does not
            // (so the client would not learn of it), gets CHILDINFO.
            for s in &subs {
                if matches(s) {
                    continue;
                }
                for a in ancestors(s) {
                    if !matches(a) {
                        continue;
                    }
                    let e = out.entry(a.to_owned()).or_insert_with(|| {
                        let attrs = match existing.get(a) {
                            Some(_) => vec![children_attr(a).to_owned()],
                            None => vec!["\\NonExistent".to_owned()],
                        };
                        entry(a, attrs, existing.contains_key(a))
                    });
                    e.childinfo = true;
                }
            }
        }
        return out.into_values().collect();
    }
    for f in folders {
        if !matches(f.name) || (args.special_use && f.special_use.is_none()) {
            continue;
        }
        let mut attrs = vec![children_attr(f.name).to_owned()];
        attrs.extend(f.special_use.map(str::to_owned));
        if args.return_subscribed && subs.contains(f.name) {
            attrs.push("\\Subscribed".to_owned());
        }
        out.insert(f.name.to_owned(), entry(f.name, attrs, true));
    }
    out.into_values().collect()
}

fn entry(name: &str, attrs: Vec<String>, exists: bool) -> Entry {
    Entry {
        name: name.to_owned(),
        attrs,
        childinfo: false,
        exists,
    }
}

/// The hierarchical parents of a name: `a.b.c` → `a`, `a.b`.
fn ancestors(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(SEP).map(move |(i, _)| &name[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", "Archive.2026"));
        assert!(matches("%", "Archive"));
        assert!(!matches("%", "Archive.2026"));
        assert!(matches("Archive.%", "Archive.2026"));
        assert!(matches("inbox", "INBOX"));
        assert!(matches("A*6", "Archive.2026"));
        assert!(!matches("Sent", "Sent.Old"));
        assert!(matches("%.%", "Archive.2026"));
        assert!(!matches("%.%", "Archive"));
        assert!(matches("*%", "a.b"));
        assert!(matches("%*", "a.b"));
        assert!(!matches("%%", "a.b"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("Inbox.*", "INBOX.Sub"));
        assert!(matches("*.2026", "Archive.2026"));
    }

    #[test]
    fn non_ascii_prefixes_do_not_split_characters() {
        // Issue 10, case 2: "abcdé" used to be sliced at byte 5, inside the é.
        assert!(!matches("abcdé", "INBOX"));
        assert!(matches("abcdé", "abcdé"));
        assert!(matches("日本*", "日本語"));
        assert!(matches("é*", "é"));
    }

    #[test]
    fn hostile_patterns_are_linear() {
        // Issue 10, case 3: exponential backtracking on `*a*a*a*a*a*ab`.
        let name = "a".repeat(250);
        let start = std::time::Instant::now();
        assert!(!matches("*a*a*a*a*a*ab", &name));
        assert!(!matches(&"*a".repeat(120).to_string(), &"a".repeat(119)));
        assert!(matches(&"*a".repeat(120).to_string(), &"a".repeat(120)));
        // Issue 10, case 2: 60,000 wildcards (a recursion per wildcard overflowed the stack).
        assert!(matches(&"*".repeat(60_000), &name));
        assert!(matches(&"%".repeat(60_000), &name));
        assert!(!matches(&"%".repeat(60_000), "a.b"));
        let long = format!("{}b", "*a".repeat(30_000));
        assert!(!matches(&long, &name));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    fn args(f: impl FnOnce(&mut crate::imap::command::ListArgs)) -> crate::imap::command::ListArgs {
        let mut a = crate::imap::command::ListArgs::default();
        f(&mut a);
        a
    }

    fn names(e: &[Entry]) -> Vec<(&str, String, bool)> {
        e.iter()
            .map(|e| (e.name.as_str(), e.attrs.join(" "), e.childinfo))
            .collect()
    }

    #[test]
    fn lsub_and_extended_list_selection() {
        // The imaptest `subscribe` and `listext` layouts.
        let existing = [
            "t",
            "t.test",
            "t.test2",
            "t.test2.test",
            "t.test3",
            "t.test3.test3",
            "t.test7",
            "t.test7.test7",
        ];
        let folders: Vec<Folder<'_>> = existing
            .iter()
            .map(|n| Folder {
                name: n,
                special_use: None,
            })
            .collect();
        let subs: Vec<String> = [
            "t.test",
            "t.test2.test",
            "t.test3.test3",
            "t.test6",
            "t.test7.test7",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let lsub = entries(&folders, &subs, &[compile("t.%")], &args(|a| a.lsub = true));
        assert_eq!(
            names(&lsub),
            vec![
                ("t.test", String::new(), false),
                ("t.test2", "\\Noselect".into(), false),
                ("t.test3", "\\Noselect".into(), false),
                ("t.test6", "\\Noselect".into(), false),
                ("t.test7", "\\Noselect".into(), false),
            ]
        );
        let star = entries(&folders, &subs, &[compile("*test")], &args(|a| a.lsub = true));
        assert_eq!(
            star.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            vec!["t.test", "t.test2.test"]
        );
        // (SUBSCRIBED): subscribed names only, a deleted one \NonExistent.
        let sub = entries(&folders, &subs, &[compile("t.*")], &args(|a| a.subscribed = true));
        assert!(names(&sub).contains(&("t.test6", "\\NonExistent \\Subscribed".into(), false)));
        assert!(names(&sub).contains(&("t.test", "\\HasNoChildren \\Subscribed".into(), false)));
        assert_eq!(sub.len(), 5);
        // (SUBSCRIBED RECURSIVEMATCH) test2%: the parent with CHILDINFO, not \Subscribed.
        let rec = |p: &[&str]| {
            let pats: Vec<Pattern> = p.iter().map(|p| compile(p)).collect();
            entries(
                &folders,
                &subs,
                &pats,
                &args(|a| {
                    a.subscribed = true;
                    a.recursive = true;
                }),
            )
        };
        assert_eq!(
            names(&rec(&["t.test2%"])),
            vec![("t.test2", "\\HasChildren".into(), true)]
        );
        // A child that matches the pattern itself: no CHILDINFO for its parent.
        assert_eq!(
            names(&rec(&["t*test7"])),
            vec![("t.test7.test7", "\\HasNoChildren \\Subscribed".into(), false)]
        );
        assert_eq!(rec(&["t.test2", "t.test2.test"]).len(), 1);
        // Plain LIST with RETURN (SUBSCRIBED).
        let plain = entries(
            &folders,
            &subs,
            &[compile("t.%")],
            &args(|a| a.return_subscribed = true),
        );
        assert!(names(&plain).contains(&("t.test", "\\HasNoChildren \\Subscribed".into(), false)));
        assert!(names(&plain).contains(&("t.test2", "\\HasChildren".into(), false)));
        assert!(!plain.iter().any(|e| e.name == "t.test6"));
    }

    #[test]
    fn wildcard_runs_collapse() {
        assert_eq!(compile("a**%%b").items, vec!['a', '*', 'b']);
        assert_eq!(compile("%%").items, vec!['%']);
        assert_eq!(compile("%*%").items, vec!['*']);
        assert_eq!(compile("a*b").literals, 2);
    }
}
