//! MIME structure for IMAP (`yubin::imap::mime`, `address::envelope`, `transfer` and
//! SEARCH's `Content`) on a server thread's 2 MiB stack: any message yields parts whose ranges
//! lie inside it, and ENVELOPE and BODYSTRUCTURE strings with balanced parentheses, without a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yubin::imap::address::envelope;
use yubin::imap::mime::{self, Part};
use yubin::imap::search::Content;
use yubin::imap::transfer::decode_body;
use yubin_fuzz::stack::on_server_stack;

/// Ranges inside the message, the body after the header; every sub-part checked too.
fn walk(raw: &[u8], p: &Part, depth: usize) {
    assert!(depth < 200, "parts nested {depth} deep");
    assert!(
        p.header.start <= p.header.end && p.header.end <= raw.len(),
        "header {:?}",
        p.header
    );
    assert!(
        p.body.start <= p.body.end && p.body.end <= raw.len(),
        "body {:?}",
        p.body
    );
    assert!(
        p.header.end <= p.body.start,
        "body {:?} before header end {:?}",
        p.body,
        p.header
    );
    let _ = decode_body(p, raw);
    let _ = mime::header_fields(&raw[p.header.clone()], &["From".into(), "Subject".into()], false);
    let _ = mime::header_fields(&raw[p.header.clone()], &["Received".into()], true);
    for c in &p.children {
        walk(raw, c, depth + 1);
    }
    if let Some(m) = &p.message {
        walk(raw, m, depth + 1);
    }
}

/// Outside quoted strings and literals, parentheses balance.
fn balanced(s: &str) -> bool {
    let b = s.as_bytes();
    let (mut depth, mut i) = (0i64, 0);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => {
                let Some(close) = b[i..].iter().position(|c| *c == b'}') else {
                    return false;
                };
                let n: usize = s[i + 1..i + close].parse().unwrap_or(0);
                i += close + 3 + n - 1; // "}\r\n" and the literal
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    depth == 0
}

fuzz_target!(|raw: &[u8]| {
    let raw = raw.to_vec();
    on_server_stack(move || {
        let p = Part::message(&raw);
        walk(&raw, &p, 0);
        for (extended, utf8) in [(true, false), (false, true)] {
            let bs = mime::body_structure(&raw, &p, extended, utf8);
            assert!(balanced(&bs), "BODYSTRUCTURE {bs}");
        }
        for utf8 in [false, true] {
            let env = envelope(&p, utf8);
            assert!(balanced(&env), "ENVELOPE {env}");
        }
        let _ = Content::of(&raw);
        for path in [&[1u32][..], &[1, 1], &[2], &[2, 1, 3], &[3, 2], &[0], &[u32::MAX]] {
            if let Some(part) = p.find(path) {
                walk(&raw, part, 0);
            }
        }
    });
});
