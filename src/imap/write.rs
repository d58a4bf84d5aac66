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

/// A sequence set for a list of numbers (`1:3,7,9:10`), sorted.
pub fn compress(nums: &[u32]) -> String {
    let mut v = nums.to_vec();
    v.sort_unstable();
    v.dedup();
    compress_ordered(&v)
}

/// A sequence set keeping the given order (COPYUID pairs must line up).
pub fn compress_ordered(v: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_compress() {
        assert_eq!(compress(&[5, 1, 2, 3, 9, 10]), "1:3,5,9:10");
        assert_eq!(compress_ordered(&[4, 5, 1]), "4:5,1");
        assert_eq!(compress(&[]), "");
    }

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
