//! SEARCH criteria (RFC 9051 §6.4.4, RFC 7162 MODSEQ) and their evaluation. Cheap criteria
//! (flags, sizes, dates, UIDs) never read the message; header and text criteria parse it once.

use super::address;
use super::mime::{Part, parse_fields};
use super::parse::SeqSet;
use crate::mailbox::index::Msg;

/// A search key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// `ALL`.
    All,
    /// A sequence set.
    Seq(SeqSet),
    /// `UID set`.
    Uid(SeqSet),
    /// A system flag set (`true`) or not set.
    Flag(u8, bool),
    /// `KEYWORD` / `UNKEYWORD`.
    Keyword(String, bool),
    /// `RECENT` (IMAP4rev1 sessions; IMAP4rev2 dropped it).
    Recent,
    /// `HEADER name value` (and SUBJECT): the field as written, encoded-words decoded.
    Header(String, String),
    /// `FROM`, `TO`, `CC`, `BCC`: the address field normalized (comments gone,
    /// `"Name" <mailbox@host>`), as Dovecot matches them.
    Address(String, String),
    /// `BODY text`.
    Body(String),
    /// `TEXT text` (header and body).
    Text(String),
    /// `BEFORE`/`SENTBEFORE` (`true`: the Date header) a day (days since 1970).
    Before(i64, bool),
    /// `ON`/`SENTON`.
    On(i64, bool),
    /// `SINCE`/`SENTSINCE`.
    Since(i64, bool),
    /// `LARGER n`.
    Larger(u64),
    /// `SMALLER n`.
    Smaller(u64),
    /// `MODSEQ n`: changed at or after n.
    ModSeq(u64),
    /// `NOT`.
    Not(Box<SearchKey>),
    /// `OR`.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// Several keys, all matching.
    And(Vec<SearchKey>),
}

impl SearchKey {
    /// Whether evaluating needs the message content.
    pub fn needs_content(&self) -> bool {
        match self {
            SearchKey::Header(..) | SearchKey::Address(..) | SearchKey::Body(_) | SearchKey::Text(_) => true,
            SearchKey::Before(_, sent) | SearchKey::On(_, sent) | SearchKey::Since(_, sent) => *sent,
            SearchKey::Not(k) => k.needs_content(),
            SearchKey::Or(a, b) => a.needs_content() || b.needs_content(),
            SearchKey::And(v) => v.iter().any(SearchKey::needs_content),
            _ => false,
        }
    }

    /// Whether MODSEQ appears (the response then carries `(MODSEQ n)`).
    pub fn uses_modseq(&self) -> bool {
        match self {
            SearchKey::ModSeq(_) => true,
            SearchKey::Not(k) => k.uses_modseq(),
            SearchKey::Or(a, b) => a.uses_modseq() || b.uses_modseq(),
            SearchKey::And(v) => v.iter().any(SearchKey::uses_modseq),
            _ => false,
        }
    }
}

/// What a message offers to the evaluation.
pub struct Candidate<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Index data.
    pub msg: &'a Msg,
    /// Largest sequence number (for `*`).
    pub max_seq: u32,
    /// Largest UID (for `*`).
    pub max_uid: u32,
    /// The parsed content, when the key needs it.
    pub content: Option<&'a Content>,
    /// `\Recent` for the searching session.
    pub recent: bool,
}

/// Decoded searchable text of a message.
#[derive(Debug, Default)]
pub struct Content {
    /// Header fields: lower-case name, decoded value in lower case.
    pub headers: Vec<(String, String)>,
    /// From, To, Cc and Bcc: lower-case name, normalized address list, decoded, lower case.
    pub addresses: Vec<(String, String)>,
    /// Decoded text of the body parts, lower case.
    pub body: String,
    /// The Date header as days since 1970 (in its own time zone, as RFC 9051 asks).
    pub sent_day: Option<i64>,
}

impl Content {
    /// Extracts the searchable text of a raw message.
    pub fn of(raw: &[u8]) -> Content {
        let part = Part::message(raw);
        let fields = parse_fields(&raw[part.header.clone()]);
        let addresses = fields
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v))
            .filter(|(n, _)| matches!(n.as_str(), "from" | "to" | "cc" | "bcc"))
            .map(|(n, v)| (n, decode_words(&address::normalized(v)).to_lowercase()))
            .collect();
        let headers = fields
            .into_iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), decode_words(&v).to_lowercase()))
            .collect();
        let mut body = String::new();
        collect_text(raw, &part, &mut body);
        let sent_day = part.field("date").and_then(sent_day);
        Content {
            headers,
            addresses,
            body: body.to_lowercase(),
            sent_day,
        }
    }
}

fn collect_text(raw: &[u8], part: &Part, out: &mut String) {
    if let Some(m) = &part.message {
        for (_, v) in &m.fields {
            out.push_str(&decode_words(v));
            out.push('\n');
        }
        collect_text(raw, m, out);
        return;
    }
    if !part.children.is_empty() {
        for c in &part.children {
            collect_text(raw, c, out);
        }
        return;
    }
    // Text parts only; a type without a subtype is not valid MIME and not text (as Dovecot
    // reads it).
    if (part.media.0 == "text" || part.media.0 == "message") && !part.media.1.is_empty() {
        let decoded =
            super::transfer::decode_body(part, raw).unwrap_or_else(|| raw[part.body.clone()].to_vec());
        let charset = part
            .params
            .iter()
            .find(|(k, _)| k == "charset")
            .map(|(_, v)| v.to_ascii_lowercase());
        out.push_str(&to_text(&decoded, charset.as_deref()));
        out.push('\n');
    }
}

fn to_text(bytes: &[u8], charset: Option<&str>) -> String {
    match charset {
        Some("iso-8859-1" | "latin1" | "windows-1252") => bytes.iter().map(|b| *b as char).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes RFC 2047 encoded words (utf-8 and latin-1; others are kept as written).
pub fn decode_words(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        let after = &rest[start + 2..];
        let parsed = (|| {
            let (charset, a) = after.split_once('?')?;
            let (enc, b) = a.split_once('?')?;
            let end = b.find("?=")?;
            let text = &b[..end];
            let bytes = match enc.to_ascii_lowercase().as_str() {
                "b" => {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .decode(text.trim())
                        .ok()?
                }
                "q" => {
                    let mut v = Vec::new();
                    let tb = text.as_bytes();
                    let mut i = 0;
                    while i < tb.len() {
                        match tb[i] {
                            b'_' => v.push(b' '),
                            b'=' if i + 2 < tb.len() => {
                                let h = std::str::from_utf8(tb.get(i + 1..i + 3)?).ok()?;
                                v.push(u8::from_str_radix(h, 16).ok()?);
                                i += 2;
                            }
                            c => v.push(c),
                        }
                        i += 1;
                    }
                    v
                }
                _ => return None,
            };
            let consumed = 2 + charset.len() + 1 + enc.len() + 1 + end + 2;
            Some((to_text(&bytes, Some(&charset.to_ascii_lowercase())), consumed))
        })();
        match parsed {
            Some((text, consumed)) => {
                // Whitespace between two encoded words disappears (RFC 2047 §6.2).
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = &rest[start + consumed..];
                last_was_word = true;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The day a message was sent: its Date header, or its internal date when the header is
/// missing or unreadable (as Dovecot does).
fn sent(c: &Candidate<'_>) -> i64 {
    c.content
        .and_then(|x| x.sent_day)
        .unwrap_or_else(|| day(c.msg.internaldate))
}

fn sent_day(date: &str) -> Option<i64> {
    // "[Sun, ]22 Nov 2026 12:00:00 +0000": the day in the date's own zone.
    let d = date.split_once(',').map_or(date, |(_, r)| r).trim();
    let mut it = d.split_whitespace();
    let day: u32 = it.next()?.parse().ok()?;
    let mon = it.next()?.to_ascii_lowercase();
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let m = months.iter().position(|x| mon.starts_with(x))? as u32 + 1;
    let mut year: i64 = it.next()?.parse().ok()?;
    if year < 50 {
        year += 2000;
    } else if year < 1000 {
        year += 1900;
    }
    Some(super::parse::days_from_civil(year, m, day))
}

/// Days since 1970 of a unix time (UTC).
fn day(t: i64) -> i64 {
    t.div_euclid(86_400)
}

fn contains(hay: &str, needle: &str) -> bool {
    needle.is_empty() || hay.contains(&needle.to_lowercase())
}

/// Whether `key` matches.
pub fn matches(key: &SearchKey, c: &Candidate<'_>) -> bool {
    use SearchKey as K;
    match key {
        K::All => true,
        K::Seq(s) => s.contains(c.seq, c.max_seq),
        K::Uid(s) => s.contains(c.msg.uid, c.max_uid),
        K::Flag(bit, set) => (c.msg.flags.system & bit != 0) == *set,
        K::Keyword(k, set) => c.msg.flags.has_keyword(k) == *set,
        K::Recent => c.recent,
        K::Larger(n) => c.msg.size > *n,
        K::Smaller(n) => c.msg.size < *n,
        K::ModSeq(n) => c.msg.modseq >= *n,
        K::Before(d, false) => day(c.msg.internaldate) < *d,
        K::On(d, false) => day(c.msg.internaldate) == *d,
        K::Since(d, false) => day(c.msg.internaldate) >= *d,
        K::Before(d, true) => sent(c) < *d,
        K::On(d, true) => sent(c) == *d,
        K::Since(d, true) => sent(c) >= *d,
        K::Header(name, value) => c
            .content
            .is_some_and(|x| x.headers.iter().any(|(n, v)| n == name && contains(v, value))),
        K::Address(name, value) => c
            .content
            .is_some_and(|x| x.addresses.iter().any(|(n, v)| n == name && contains(v, value))),
        K::Body(t) => c.content.is_some_and(|x| contains(&x.body, t)),
        K::Text(t) => c
            .content
            .is_some_and(|x| contains(&x.body, t) || x.headers.iter().any(|(_, v)| contains(v, t))),
        K::Not(k) => !matches(k, c),
        K::Or(a, b) => matches(a, c) || matches(b, c),
        K::And(v) => v.iter().all(|k| matches(k, c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words() {
        assert_eq!(
            decode_words("=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?UTF-8?B?TcO8bmNoZW4=?="),
            "Grüße aus München"
        );
        assert_eq!(decode_words("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
        assert_eq!(decode_words("plain =?bogus"), "plain =?bogus");
    }

    #[test]
    fn content_search_is_case_insensitive_and_decoded() {
        let raw = b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nFrom: Zo\xc3\xab <z@x.y>\r\nDate: Sun, 22 Nov 2026 23:30:00 -0500\r\n\r\nHallo WELT\r\n";
        let c = Content::of(raw);
        assert!(c.headers.iter().any(|(n, v)| n == "subject" && v == "grüße"));
        assert!(contains(&c.body, "Welt"));
        assert_eq!(
            c.sent_day,
            Some(super::super::parse::days_from_civil(2026, 11, 22))
        );
    }

    /// imaptest search-addresses: `FROM user-from@domain.org` finds the address whatever
    /// comments surround it, and `FROM` does not match inside comments (as Dovecot).
    #[test]
    fn address_search_ignores_comments() {
        let key = |v: &str| SearchKey::Address("from".into(), v.into());
        for (from, hit) in [
            ("user-from@domain.org", true),
            ("RealFrom <user-from@domain.org>", true),
            ("<user-from (comment)@ (comment) domain.org>", true),
            ("user-from@domain.org (RealFrom)", true),
            ("user-from1@domain.org, user-from2@domain.org", false),
        ] {
            let raw = format!("From: {from}\r\n\r\nbody\r\n");
            let content = Content::of(raw.as_bytes());
            let msg = Msg {
                uid: 1,
                file: String::new(),
                size: 0,
                internaldate: 0,
                flags: crate::mailbox::index::Flags::default(),
                modseq: 1,
            };
            let c = Candidate {
                seq: 1,
                msg: &msg,
                max_seq: 1,
                max_uid: 1,
                content: Some(&content),
                recent: false,
            };
            assert_eq!(matches(&key("user-from@domain.org"), &c), hit, "{from}");
            assert!(!matches(&key("comment"), &c), "{from}");
            assert!(matches(&key(""), &c), "{from}");
            assert!(matches(&SearchKey::Header("from".into(), "user-from".into()), &c));
        }
    }
}
