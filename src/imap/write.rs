//! Encoding IMAP values: strings as quoted strings when possible, literals otherwise.

/// A string: quoted when it is short and plain, a literal when it holds CR, LF, NUL, or
/// 8-bit text the client has not enabled UTF-8 for.
pub fn string(s: &str, utf8: bool) -> String {
    let plain =
        s.len() <= 1024 && !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) && (utf8 || s.is_ascii());
    if plain {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    } else {
        format!("{{{}}}\r\n{s}", s.len())
    }
}

/// A string or `NIL`.
pub fn nstring(s: Option<&str>, utf8: bool) -> String {
    match s {
        Some(s) => string(s, utf8),
        None => "NIL".into(),
    }
}

/// An astring: an atom when the value allows it, else a string.
pub fn astring(s: &str, utf8: bool) -> String {
    let atom = !s.is_empty()
        && s.bytes()
            .all(|b| b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b))
        && !s.eq_ignore_ascii_case("NIL");
    if atom { s.to_owned() } else { string(s, utf8) }
}

/// Bytes as a literal (`{n}\r\n...`).
pub fn literal(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(string("a \"b\" \\c", false), "\"a \\\"b\\\" \\\\c\"");
        assert_eq!(string("line\r\nbreak", false), "{11}\r\nline\r\nbreak");
        assert_eq!(string("Grüße", false), "{7}\r\nGrüße");
        assert_eq!(string("Grüße", true), "\"Grüße\"");
        assert_eq!(astring("INBOX", false), "INBOX");
        assert_eq!(astring("My Folder", false), "\"My Folder\"");
        assert_eq!(astring("nil", false), "\"nil\"");
    }
}
