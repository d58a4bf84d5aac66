//! Summaries for SORT and THREAD: what RFC 5256 and RFC 5957 compare, taken from a message's
//! header once ([`summarize`]), and the data path that finds them for a whole folder
//! ([`summaries`]): the folder's memory, then the index database, then the message files.
//!
//! - Dates: the first Date header as an instant ([`sentdate`]); when it is missing or
//!   unreadable, SORT and THREAD use the INTERNALDATE (RFC 5256 §2.2).
//! - Addresses: the first address of the first From, To and Cc header; its local part
//!   (`addr-mailbox`) for FROM/TO/CC and its display name, else its address, for
//!   DISPLAYFROM/DISPLAYTO (RFC 5957 §2). A group that comes first sorts by its name, as
//!   Dovecot's does. Encoded words are decoded (mail-parser, every charset it knows,
//!   ISO-2022-JP included).
//! - Text keys are case-mapped with i;ascii-casemap (RFC 4790 §9.2) when summarised.
//! - Message IDs (RFC 5256 §3 REFERENCES): `<...@...>` with white space removed; the
//!   References header, or when it has none, the first ID of In-Reply-To. Only the last
//!   [`MAX_REFERENCES`] references are kept (the parent is the last one).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use mail_parser::{Address, HeaderName, HeaderValue, MessageParser};
use tokio::task::JoinSet;
use tracing::warn;

use super::sentdate;
use super::subject::base_subject;
use crate::mailbox::index::Folder;
use crate::mailbox::summary::{Summary, read_header};

/// The most references kept per message: the nearest ancestors.
pub const MAX_REFERENCES: usize = 128;

/// Messages per blocking task when summaries are computed.
const CHUNK: usize = 256;

/// The header fields a summary reads.
const FIELDS: [&[u8]; 8] = [
    b"date",
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"message-id",
    b"references",
    b"in-reply-to",
];

/// The fields of a header block a summary reads (with their continuation lines), so that
/// the parser does not parse Received and the rest: half the time of a summary.
fn relevant(header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() / 2);
    let mut keep = false;
    for line in header.split_inclusive(|b| *b == b'\n') {
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            // `Subject :` (white space before the colon) is obsolete syntax, still read.
            keep = line
                .iter()
                .position(|b| *b == b':')
                .and_then(|colon| line.get(..colon))
                .map(<[u8]>::trim_ascii_end)
                .is_some_and(|name| FIELDS.iter().any(|f| name.eq_ignore_ascii_case(f)));
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The summary of a message header.
pub fn summarize(header: &[u8]) -> Summary {
    let header = relevant(header);
    let Some(m) = MessageParser::default().parse_headers(&header) else {
        return Summary::default();
    };
    let first = |name: HeaderName<'static>| m.header_values(name).next();
    let raw = |name: HeaderName<'static>| -> Option<String> {
        let h = m.headers().iter().find(|h| h.name == name)?;
        let bytes = m
            .raw_message()
            .get(h.offset_start as usize..h.offset_end as usize)?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    };
    let sent = raw(HeaderName::Date).and_then(|v| sentdate::parse(&v));
    let (from, display_from) = first_address(first(HeaderName::From));
    let (to, display_to) = first_address(first(HeaderName::To));
    let (cc, _) = first_address(first(HeaderName::Cc));
    let (subject, reply) = match first(HeaderName::Subject) {
        Some(HeaderValue::Text(t)) => base_subject(t),
        Some(HeaderValue::TextList(l)) => base_subject(&l.join(" ")),
        _ => (String::new(), false),
    };
    let message_id = raw(HeaderName::MessageId).and_then(|v| msg_ids(&v).into_iter().next());
    let mut references = raw(HeaderName::References)
        .map(|v| msg_ids(&v))
        .unwrap_or_default();
    if references.is_empty() {
        references = raw(HeaderName::InReplyTo)
            .and_then(|v| msg_ids(&v).into_iter().next())
            .into_iter()
            .collect();
    }
    if references.len() > MAX_REFERENCES {
        references.drain(..references.len() - MAX_REFERENCES);
    }
    Summary {
        sent,
        from,
        to,
        cc,
        display_from,
        display_to,
        subject,
        reply,
        message_id,
        references,
    }
}

/// The sort keys of the first address of a header: (`addr-mailbox`, display), case-mapped.
fn first_address(value: Option<&HeaderValue<'_>>) -> (String, String) {
    let Some(HeaderValue::Address(a)) = value else {
        return (String::new(), String::new());
    };
    let (mailbox, display) = match a {
        Address::List(list) => list.first().map(address_keys).unwrap_or_default(),
        Address::Group(groups) => match groups.first() {
            Some(g) => match g.name.as_deref().filter(|n| !n.is_empty()) {
                Some(name) => (name.to_owned(), name.to_owned()),
                None => g.addresses.first().map(address_keys).unwrap_or_default(),
            },
            None => Default::default(),
        },
    };
    (mailbox.to_ascii_uppercase(), display.to_ascii_uppercase())
}

fn address_keys(a: &mail_parser::Addr<'_>) -> (String, String) {
    let mut name = a.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let mut address = a.address.as_deref().map(|ad| {
        // An obsolete source route (`@route:local@host`) is not part of the address.
        match ad.strip_prefix('@').and_then(|r| r.split_once(':')) {
            Some((_, rest)) => rest.to_owned(),
            None => ad.to_owned(),
        }
    });
    // mail-parser reads `"quoted local"@host` as the name "quoted local" and the address
    // "@host": the quoted string is the local part.
    if let (Some(n), Some(ad)) = (name, address.as_deref())
        && ad.starts_with('@')
    {
        address = Some(format!("{n}{ad}"));
        name = None;
    }
    let mailbox = match address.as_deref() {
        Some(ad) => ad.rsplit_once('@').map_or(ad, |(local, _)| local),
        // A bare word (`From: d`) is a local part without a domain.
        None => name.unwrap_or_default(),
    };
    let display = name.or(address.as_deref()).unwrap_or_default();
    (mailbox.trim_matches('"').to_owned(), display.to_owned())
}

/// The message IDs in a header value: `<id-left@id-right>`, white space inside removed;
/// anything else (comments, text, IDs without `@`) is skipped.
pub fn msg_ids(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some((_, after)) = rest.split_once('<') {
        let Some(end) = after.find(['<', '>']) else {
            break;
        };
        let (inside, tail) = after.split_at(end);
        if let Some(next) = tail.strip_prefix('>') {
            let id: String = inside.chars().filter(|c| !c.is_whitespace()).collect();
            if id.contains('@') {
                out.push(id);
            }
            rest = next;
        } else {
            // Another `<` before the `>`: start again from it.
            rest = tail;
        }
    }
    out
}

/// Computes the summaries of message files (missing or unreadable files give none).
fn compute(work: Vec<(u32, PathBuf)>) -> Vec<(u32, Arc<Summary>)> {
    work.into_iter()
        .filter_map(|(uid, path)| {
            let header = read_header(&path).ok()?;
            Some((uid, Arc::new(summarize(&header))))
        })
        .collect()
}

/// The summaries of the messages `uids`, in their order. Known ones come from the folder
/// (memory, loaded from the database once); the others are computed from the message headers
/// on the blocking pool, a chunk per task and as many tasks at once as there are cores, then
/// kept in memory and stored in the background. A message whose file has gone gets an empty
/// summary (it sorts as if every field were missing).
pub async fn summaries(folder: &Arc<Folder>, uids: &[u32]) -> Vec<Arc<Summary>> {
    let mut known = match folder.summaries(uids).await {
        Ok(k) => k,
        Err(e) => {
            warn!(error = %e, "cannot read message summaries");
            vec![None; uids.len()]
        }
    };
    let missing: Vec<(u32, PathBuf)> = {
        let st = folder.state().await;
        uids.iter()
            .zip(&known)
            .filter(|(_, k)| k.is_none())
            .filter_map(|(u, _)| st.position(*u).map(|p| (*u, folder.path(&st.msgs[p]))))
            .collect()
    };
    if !missing.is_empty() {
        let fresh = compute_all(missing).await;
        folder.remember_summaries(&fresh).await;
        let by_uid: HashMap<u32, &Arc<Summary>> = fresh.iter().map(|(u, s)| (*u, s)).collect();
        for (u, k) in uids.iter().zip(known.iter_mut()) {
            if k.is_none() {
                *k = by_uid.get(u).map(|s| Arc::clone(s));
            }
        }
        let f = folder.clone();
        tokio::spawn(async move {
            if let Err(e) = f.store_summaries(&fresh).await {
                warn!(error = %e, "cannot store message summaries");
            }
        });
    }
    let empty = Arc::new(Summary::default());
    known
        .into_iter()
        .map(|k| k.unwrap_or_else(|| empty.clone()))
        .collect()
}

async fn compute_all(missing: Vec<(u32, PathBuf)>) -> Vec<(u32, Arc<Summary>)> {
    let width = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut chunks = missing.chunks(CHUNK).map(<[_]>::to_vec);
    let mut running = JoinSet::new();
    let mut out = Vec::new();
    loop {
        while running.len() < width {
            let Some(chunk) = chunks.next() else { break };
            running.spawn_blocking(move || compute(chunk));
        }
        match running.join_next().await {
            Some(Ok(done)) => out.extend(done),
            Some(Err(e)) => warn!(error = %e, "summary task failed"),
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids() {
        assert_eq!(msg_ids("<a@b>"), ["a@b"]);
        assert_eq!(
            msg_ids(" <a@b> (comment) <c@d>\r\n\t<e@f>"),
            ["a@b", "c@d", "e@f"]
        );
        assert_eq!(msg_ids("<a@b> (message from Foo <foo@x>)"), ["a@b", "foo@x"]);
        assert_eq!(msg_ids("<no-domain> <x@y>"), ["x@y"]);
        assert_eq!(msg_ids("<a <b@c>"), ["b@c"]);
        assert_eq!(msg_ids("<a b@c\r\n d>"), ["ab@cd"]);
        assert!(msg_ids("junk <unterminated@x").is_empty());
        assert!(msg_ids("").is_empty());
    }

    #[test]
    fn only_the_fields_read_are_parsed() {
        let h = b"Received: from x\r\n\tby y; Fri, 22 Feb 2008\r\nSubject: a\r\n b\r\nX-Date: no\r\n\
                  Date : Fri, 22 Feb 2008 00:00:00 +0000\r\nfrom: z@x\r\nReply-To: r@x\r\nTo: t@x\r\n\r\n";
        assert_eq!(
            relevant(h),
            b"Subject: a\r\n b\r\nDate : Fri, 22 Feb 2008 00:00:00 +0000\r\nfrom: z@x\r\nTo: t@x\r\n\r\n"
        );
        let s = summarize(h);
        assert_eq!(
            (s.subject.as_str(), s.from.as_str(), s.to.as_str()),
            ("A B", "Z", "T")
        );
        assert_eq!(s.sent, Some(1_203_638_400));
    }

    #[test]
    fn dates_subjects_and_ids() {
        let s = summarize(
            b"Date: Fri, 22 Feb 2008 00:00:00 +0200\r\nSubject: =?iso-8859-1?q?RE:_C?=\r\n\
              Message-ID: <m@x>\r\nMessage-ID: <second@x>\r\nReferences: <a@x> <b@x>\r\n\
              In-Reply-To: <c@x>\r\n\r\n",
        );
        assert_eq!(s.sent, Some(1_203_631_200));
        assert_eq!((s.subject.as_str(), s.reply), ("C", true));
        assert_eq!(s.message_id.as_deref(), Some("m@x"));
        assert_eq!(s.references, ["a@x", "b@x"]);
        let s = summarize(b"Date: garbage\r\nIn-Reply-To: <c@x> <d@x>\r\n\r\n");
        assert_eq!(s.sent, None);
        assert_eq!(s.references, ["c@x"]);
        assert_eq!(s.subject, "");
        assert_eq!(summarize(b""), Summary::default());
    }

    #[test]
    fn japanese_subjects_are_decoded() {
        // ISO-2022-JP in an encoded word: テスト.
        let s = summarize(b"Subject: Re: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\r\n\r\n");
        assert_eq!((s.subject.as_str(), s.reply), ("テスト", true));
    }

    #[test]
    fn addresses_sort_as_rfc_5256_and_5957_say() {
        let keys = |h: &str| {
            let s = summarize(format!("{h}\r\n\r\n").as_bytes());
            (s.from, s.display_from)
        };
        assert_eq!(keys("From: foo bar <a@b.c>"), ("A".into(), "FOO BAR".into()));
        assert_eq!(keys("From: b@c.d"), ("B".into(), "B@C.D".into()));
        assert_eq!(keys("From: d"), ("D".into(), "D".into()));
        assert_eq!(
            keys("From: =?iso-8859-1?q?foo_aar?= <e@f.g>"),
            ("E".into(), "FOO AAR".into())
        );
        assert_eq!(keys("From: \"\" <x@y>"), ("X".into(), "X@Y".into()));
        assert_eq!(keys("From: <@route:r@h>"), ("R".into(), "R@H".into()));
        assert_eq!(keys("From: a@x, b@y"), ("A".into(), "A@X".into()));
        assert_eq!(
            keys("From: \"quoted local\"@example.com"),
            ("QUOTED LOCAL".into(), "QUOTED LOCAL@EXAMPLE.COM".into())
        );
        assert_eq!(keys("From: a@b.c (Comment)"), ("A".into(), "COMMENT".into()));
        // A group first: its name (imaptest sort-display-to, sort-addresses).
        let to = |h: &str| {
            let s = summarize(format!("{h}\r\n\r\n").as_bytes());
            (s.to, s.display_to, s.cc)
        };
        assert_eq!(to("To: a: xx@xx.org, yy@yy.org;").1, "A");
        assert_eq!(to("To: empty:;").1, "EMPTY");
        assert_eq!(to("Cc: user2: blah@domain1.org;").2, "USER2");
        assert_eq!(to("Cc: user2@domain2.org (foo bar)").2, "USER2");
        assert_eq!(to("To: x@y.z, grp: c@d.e;").0, "X");
        assert_eq!(to("Subject: none"), (String::new(), String::new(), String::new()));
    }

    #[test]
    fn references_keep_the_nearest_ancestors() {
        let refs: String = (0..300).map(|i| format!("<r{i}@x> ")).collect();
        let s = summarize(format!("References: {refs}\r\n\r\n").as_bytes());
        assert_eq!(s.references.len(), MAX_REFERENCES);
        assert_eq!(s.references.last().map(String::as_str), Some("r299@x"));
        assert_eq!(s.references.first().map(String::as_str), Some("r172@x"));
    }
}
