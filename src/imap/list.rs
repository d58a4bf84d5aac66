//! LIST pattern matching (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the
//! hierarchy separator `.`.

/// Whether `name` matches `pattern` (case-sensitive, except that INBOX matches any case).
pub fn matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('%') => {
                for i in 0..=n.len() {
                    if go(&p[1..], &n[i..]) {
                        return true;
                    }
                    if i < n.len() && n[i] == '.' {
                        return false;
                    }
                }
                false
            }
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    let name = name.to_owned();
    let pattern = if pattern.len() >= 5 && pattern[..5].eq_ignore_ascii_case("INBOX") {
        format!("INBOX{}", &pattern[5..])
    } else {
        pattern.to_owned()
    };
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
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
    }
}
