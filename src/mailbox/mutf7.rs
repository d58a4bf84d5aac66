//! Modified UTF-7 (RFC 3501 §5.1.3): how IMAP4rev1 clients (and Maildir++ folder names on disk,
//! as Dovecot writes them) spell non-ASCII mailbox names. `&` starts a base64 (`,` for `/`)
//! run of UTF-16, `-` ends it; `&-` is a literal `&`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Encodes a UTF-8 name.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        let mut bits: u32 = 0;
        let mut n = 0;
        for b in bytes {
            bits = (bits << 8) | u32::from(b);
            n += 8;
            while n >= 6 {
                n -= 6;
                out.push(ALPHABET[((bits >> n) & 63) as usize] as char);
            }
        }
        if n > 0 {
            out.push(ALPHABET[((bits << (6 - n)) & 63) as usize] as char);
        }
        out.push('-');
        pending.clear();
    };
    for c in s.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes a modified UTF-7 name; `None` when it is not valid.
pub fn decode(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '&' {
            if !(' '..='~').contains(&c) {
                return None;
            }
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'-') {
            chars.next();
            out.push('&');
            continue;
        }
        let mut bits: u32 = 0;
        let mut n = 0;
        let mut units: Vec<u16> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        let mut closed = false;
        for c in chars.by_ref() {
            if c == '-' {
                closed = true;
                break;
            }
            let v = ALPHABET.iter().position(|a| *a as char == c)? as u32;
            bits = (bits << 6) | v;
            n += 6;
            if n >= 8 {
                n -= 8;
                bytes.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        if !closed || bytes.is_empty() || !bytes.len().is_multiple_of(2) {
            return None;
        }
        for pair in bytes.chunks(2) {
            units.push(u16::from_be_bytes([pair[0], pair[1]]));
        }
        out.push_str(&String::from_utf16(&units).ok()?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (utf8, mutf7) in [
            ("INBOX", "INBOX"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("A&B", "A&-B"),
            ("日本語", "&ZeVnLIqe-"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ] {
            assert_eq!(encode(utf8), mutf7);
            assert_eq!(decode(mutf7).as_deref(), Some(utf8));
        }
        assert_eq!(decode("&Jjo"), None);
        assert_eq!(decode("é"), None);
    }
}
