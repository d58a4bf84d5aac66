//! IMAP URLs of messages on this server (RFC 5092), as CATENATE names them (RFC 4469 §3):
//! `imap://[user@]host[:port]/enc-mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]`,
//! the same without scheme and authority (`/INBOX/;UID=5`), or relative to the selected
//! mailbox (`;UID=5/;SECTION=1`).
//!
//! ```abnf
//! imessagepart  = icommand-ipath / imailbox-ref iuid [isection] [ipartial]
//! imailbox-ref  = enc-mailbox [uidvalidity]
//! uidvalidity   = ";UIDVALIDITY=" nz-number
//! iuid          = "/" ";UID=" nz-number
//! isection      = "/" ";SECTION=" enc-section
//! ipartial      = "/" ";PARTIAL=" number ["." nz-number]
//! ```

/// A message, or a part of one, named by a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    /// The mailbox (UTF-8); none: the selected one.
    pub mailbox: Option<String>,
    /// The UIDVALIDITY the URL was made for.
    pub uidvalidity: Option<u32>,
    /// The message.
    pub uid: u32,
    /// The section (`HEADER`, `1.MIME`, ...), as in `BODY[...]`.
    pub section: Option<String>,
    /// `PARTIAL=offset[.length]`.
    pub partial: Option<(u64, Option<u64>)>,
}

/// %-decoding (RFC 3986 §2.1); `None` for a bad escape or text that is not UTF-8.
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn value<'a>(segment: &'a str, key: &str) -> Option<&'a str> {
    let (k, v) = segment.split_once('=')?;
    k.eq_ignore_ascii_case(key).then_some(v)
}

/// Parses a URL that names a message; `None` when it does not.
pub fn parse(url: &str) -> Option<ImapUrl> {
    // Scheme and authority: the server is this one (the session checks the user).
    let path = match url.get(..7) {
        Some(s) if s.eq_ignore_ascii_case("imap://") => &url[url[7..].find('/')? + 7..],
        _ => url,
    };
    let (mailbox_part, rest) = match path.strip_prefix('/') {
        Some(p) => match p.find("/;") {
            Some(i) => (Some(&p[..i]), &p[i + 1..]),
            None => return None,
        },
        None => (None, path),
    };
    let mut u = ImapUrl {
        mailbox: None,
        uidvalidity: None,
        uid: 0,
        section: None,
        partial: None,
    };
    if let Some(m) = mailbox_part {
        let mut it = m.split(';');
        let name = decode(it.next()?)?;
        if name.is_empty() {
            return None;
        }
        u.mailbox = Some(name);
        for p in it {
            u.uidvalidity = Some(value(p, "UIDVALIDITY")?.parse().ok().filter(|v| *v > 0)?);
        }
    }
    for segment in rest.split('/') {
        let s = segment.strip_prefix(';')?;
        if let Some(v) = value(s, "UID") {
            u.uid = v.parse().ok().filter(|v| *v > 0)?;
        } else if let Some(v) = value(s, "SECTION") {
            u.section = Some(decode(v)?);
        } else if let Some(v) = value(s, "PARTIAL") {
            u.partial = Some(match v.split_once('.') {
                Some((o, l)) => (o.parse().ok()?, Some(l.parse().ok().filter(|l| *l > 0)?)),
                None => (v.parse().ok()?, None),
            });
        } else {
            return None;
        }
    }
    (u.uid > 0).then_some(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let u = parse("/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9").unwrap();
        assert_eq!(u.mailbox.as_deref(), Some("INBOX"));
        assert_eq!(u.uidvalidity, Some(785799047));
        assert_eq!(u.uid, 113330);
        assert_eq!(u.section.as_deref(), Some("1.5.9"));
        let u = parse("imap://fred@example.com/Drafts%20Folder/;uid=20/;section=header.fields%20(subject)")
            .unwrap();
        assert_eq!(u.mailbox.as_deref(), Some("Drafts Folder"));
        assert_eq!(u.section.as_deref(), Some("header.fields (subject)"));
        let u = parse(";UID=20/;PARTIAL=100000.1").unwrap();
        assert_eq!((u.mailbox, u.uid, u.partial), (None, 20, Some((100000, Some(1)))));
        assert_eq!(parse("/a/;uid=3/;partial=7").unwrap().partial, Some((7, None)));
        assert_eq!(
            parse("/%C3%84rger/;UID=1").unwrap().mailbox.as_deref(),
            Some("Ärger")
        );
    }

    #[test]
    fn refused() {
        for bad in [
            "/INBOX",
            "/INBOX/;UID=0",
            "/INBOX;UIDVALIDITY=x/;UID=1",
            "/INBOX/;UID=1/;BOGUS=2",
            "/%zz/;UID=1",
            "/%ff/;UID=1",
            "imap://host",
            "/;UID=1",
            "",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
