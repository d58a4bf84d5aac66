//! LIST pattern matching (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the
//! hierarchy separator `.`.
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

    #[test]
    fn wildcard_runs_collapse() {
        assert_eq!(compile("a**%%b").items, vec!['a', '*', 'b']);
        assert_eq!(compile("%%").items, vec!['%']);
        assert_eq!(compile("%*%").items, vec!['*']);
        assert_eq!(compile("a*b").literals, 2);
    }
}
