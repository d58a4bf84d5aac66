//! LIST pattern matching (`yubin::imap::list`): linear time whatever the pattern (the old
//! matcher backtracked exponentially on `*a*a*a…b`), and the same answers as a textbook
//! dynamic-programming matcher. The input is `pattern NUL name`; both also go through the
//! modified UTF-7 decoder the session applies to patterns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yubin::imap::list;
use yubin::mailbox::mutf7;

/// RFC 9051 §6.3.9 by the book: `*` any run, `%` any run without the separator `.`; a leading
/// INBOX in any case means INBOX.
fn reference(pattern: &str, name: &str) -> bool {
    let mut p: Vec<char> = pattern.chars().collect();
    if p.len() >= 5 && p[..5].iter().collect::<String>().eq_ignore_ascii_case("INBOX") {
        p.splice(..5, "INBOX".chars());
    }
    let n: Vec<char> = name.chars().collect();
    // m[j]: p[..i] matches n[..j], row by row.
    let mut m = vec![false; n.len() + 1];
    m[0] = true;
    for &c in &p {
        let mut next = vec![false; n.len() + 1];
        match c {
            '*' | '%' => {
                for j in 0..=n.len() {
                    next[j] = m[j] || (j > 0 && next[j - 1] && (c == '*' || n[j - 1] != '.'));
                }
            }
            _ => {
                for j in 1..=n.len() {
                    next[j] = m[j - 1] && n[j - 1] == c;
                }
            }
        }
        m = next;
    }
    m[n.len()]
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, name) = text.split_once('\0').unwrap_or((&text, "INBOX.Archive.2025"));
    let compiled = list::compile(pattern);
    let got = compiled.matches(name);
    assert_eq!(got, list::matches(pattern, name));
    // The reference is quadratic: only on inputs it answers quickly.
    if pattern.len().saturating_mul(name.len()) <= 1 << 20 {
        assert_eq!(got, reference(pattern, name), "pattern {pattern:?} name {name:?}");
    }
    // Names go to clients encoded and come back decoded.
    assert_eq!(
        mutf7::decode(&mutf7::encode(name)).as_deref(),
        Some(name),
        "mUTF-7 round trip"
    );
    if let Some(decoded) = mutf7::decode(pattern) {
        let _ = list::compile(&decoded).matches(name);
    }
});
