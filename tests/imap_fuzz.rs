//! Property tests: random and mutated IMAP command streams, cut into random chunks, never panic
//! a session (logged in or not), never hang it, and the server only writes well-formed
//! responses. Random and mutated messages never panic the MIME code behind FETCH and SEARCH.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use common::inproc::Fixture;

use proptest::prelude::*;

use yubin::imap::ImapListener;
use yubin::imap::address::{envelope, normalized};
use yubin::imap::mime::{Part, body_structure};
use yubin::imap::search::Content;
use yubin::imap::transfer;

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| common::inproc::fixture("imap-fuzz", "limits {\n    message-size \"64KiB\"\n}\n", None))
}

/// Runs one session fed with `chunks`; returns what the server wrote.
fn run_session(chunks: Vec<Vec<u8>>, preauth: bool) -> Vec<u8> {
    let f = fixture();
    let listener = Arc::new(ImapListener {
        name: "fuzz".into(),
        implicit_tls: false,
    });
    let svc = f.services.clone();
    let peer: SocketAddr = "192.0.2.9:4242".parse().unwrap();
    f.rt.block_on(common::inproc::drive(chunks, 64 * 1024, move |server| {
        let session: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> = if preauth {
            Box::pin(yubin::imap::session::serve_preauth(
                server,
                peer,
                listener,
                svc,
                "alice@example.test".into(),
            ))
        } else {
            Box::pin(yubin::imap::session::serve(server, peer, listener, svc))
        };
        session
    }))
}

/// Every response starts with `* `, `+ ` or a tag, ends with CRLF, and literals are complete.
fn assert_responses_well_formed(out: &[u8]) {
    // After STARTTLS the server starts a TLS handshake: stop checking there.
    let end = find(out, b"OK Begin TLS negotiation now\r\n").map_or(out.len(), |p| p + 30);
    let mut i = 0;
    while i < end {
        let line_end = find(&out[i..end], b"\r\n").map(|p| i + p).unwrap_or_else(|| {
            panic!(
                "response without CRLF: {:?}",
                String::from_utf8_lossy(&out[i..end])
            )
        });
        let line = &out[i..line_end];
        let first = line.split(|b| *b == b' ').next().unwrap_or(b"");
        assert!(
            first == b"*"
                || first == b"+"
                || (!first.is_empty() && first.iter().all(|b| b.is_ascii_graphic())),
            "bad response start: {:?}",
            String::from_utf8_lossy(line)
        );
        i = line_end + 2;
        // A literal: skip its bytes, the response continues after them.
        let mut l = line;
        while let Some(n) = literal_len(l) {
            assert!(i + n <= out.len(), "truncated literal");
            i += n;
            let next = find(&out[i..], b"\r\n")
                .map(|p| i + p)
                .expect("line after a literal");
            l = &out[i..next];
            i = next + 2;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    std::str::from_utf8(&inner[open + 1..]).ok()?.parse().ok()
}

fn chunked(data: Vec<u8>, cuts: Vec<usize>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = &data[..];
    for c in cuts {
        if rest.is_empty() {
            break;
        }
        let n = 1 + c % rest.len();
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    if !rest.is_empty() {
        out.push(rest.to_vec());
    }
    out
}

const MESSAGES: &[&[u8]] = &[
    b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n",
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nx\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZQ==\r\n--b--\r\n",
    b"Content-Type: multipart/digest; boundary=\"\"\r\n\r\n--\r\n\r\n--\r\n",
    b"To: Team: a@b, \"x\\\" y\" <c@d>;, (comment) e@f\r\nDate: 1 Jan 1900 99:99:99 +9999\r\n\r\n",
];

/// A message: one of the samples, possibly with bytes flipped or cut short.
fn message() -> impl Strategy<Value = Vec<u8>> {
    (
        0..MESSAGES.len(),
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        any::<usize>(),
    )
        .prop_map(|(i, flips, cut)| {
            let mut m = MESSAGES[i].to_vec();
            for (p, b) in flips {
                let n = m.len();
                m[p % n] = b;
            }
            let keep = cut % (m.len() + 1);
            if cut % 3 == 0 {
                m.truncate(keep);
            }
            m
        })
}

fn set() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_owned()),
        Just("1:*".to_owned()),
        Just("*".to_owned()),
        Just("2,4:7,9".to_owned()),
        Just("4294967295".to_owned()),
        Just("0".to_owned()),
        "[0-9:*,]{1,12}",
    ]
}

fn mailbox() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("INBOX".to_owned()),
        Just("Trash".to_owned()),
        Just("\"Fuzz Box\"".to_owned()),
        Just("Fuzz.Child".to_owned()),
        Just("&AMQ-rger".to_owned()),
        Just("\"a..b\"".to_owned()),
        "[A-Za-z&.%*\"-]{0,12}",
    ]
}

fn fetch_att() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("FLAGS".to_owned()),
        Just("(UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE)".to_owned()),
        Just("BODY[]".to_owned()),
        Just("BODY.PEEK[1.2.HEADER.FIELDS (From Subject)]<0.10>".to_owned()),
        Just("(BINARY[1] BINARY.SIZE[2] BODY[1.MIME] BODY[TEXT])".to_owned()),
        Just("(FLAGS) (CHANGEDSINCE 1)".to_owned()),
        Just("RFC822".to_owned()),
        Just("FULL".to_owned()),
        "(BODY|BINARY)(\\.PEEK)?\\[[0-9.A-Z() ]{0,16}\\](<[0-9.]{0,6}>)?",
    ]
}

fn search_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ALL".to_owned()),
        Just("OR FROM a SUBJECT hi".to_owned()),
        Just("NOT (SEEN FLAGGED) TEXT x".to_owned()),
        Just("SENTSINCE 1-Jan-2020 LARGER 10 UID 1:*".to_owned()),
        Just("RETURN (MIN MAX COUNT) BODY {3+}\r\nabc".to_owned()),
        Just("CHARSET UTF-8 SUBJECT \"Grüße\"".to_owned()),
        Just("HEADER X-Y \"\" MODSEQ 3 KEYWORD $x".to_owned()),
        "[A-Z0-9 ()\"*:-]{0,30}",
    ]
}

fn command() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"CAPABILITY".to_vec()),
        Just(b"NOOP".to_vec()),
        Just(b"STARTTLS".to_vec()),
        Just(b"LOGIN alice@example.test alice-password".to_vec()),
        Just(b"AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1wYXNzd29yZA==".to_vec()),
        Just(b"ENABLE CONDSTORE UTF8=ACCEPT IMAP4rev2".to_vec()),
        Just(b"NAMESPACE".to_vec()),
        Just(b"ID (\"name\" \"fuzz\")".to_vec()),
        mailbox().prop_map(|m| format!("SELECT {m}").into_bytes()),
        mailbox().prop_map(|m| format!("EXAMINE {m} (CONDSTORE)").into_bytes()),
        mailbox().prop_map(|m| format!("CREATE {m}").into_bytes()),
        mailbox().prop_map(|m| format!("DELETE {m}").into_bytes()),
        (mailbox(), mailbox()).prop_map(|(a, b)| format!("RENAME {a} {b}").into_bytes()),
        mailbox().prop_map(|m| format!("SUBSCRIBE {m}").into_bytes()),
        mailbox()
            .prop_map(|m| format!("STATUS {m} (MESSAGES UIDNEXT UNSEEN SIZE HIGHESTMODSEQ)").into_bytes()),
        mailbox().prop_map(
            |m| format!("LIST \"\" {m} RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES))").into_bytes()
        ),
        Just(b"LIST (SPECIAL-USE) \"\" *".to_vec()),
        Just(b"LSUB \"\" %".to_vec()),
        (mailbox(), message(), any::<bool>()).prop_map(|(m, msg, sync)| {
            let mut v = format!(
                "APPEND {m} (\\Seen $Fuzz) \"01-Jan-2026 10:00:00 +0100\" {{{}{}}}\r\n",
                msg.len(),
                if sync { "" } else { "+" }
            )
            .into_bytes();
            v.extend_from_slice(&msg);
            v
        }),
        (any::<bool>(), set(), fetch_att()).prop_map(|(uid, s, a)| format!(
            "{}FETCH {s} {a}",
            if uid { "UID " } else { "" }
        )
        .into_bytes()),
        (
            any::<bool>(),
            set(),
            "(\\+|-)?FLAGS(\\.SILENT)?",
            "\\((\\\\Seen|\\\\Deleted|\\\\Flagged|\\$Label| )*\\)"
        )
            .prop_map(|(uid, s, op, f)| format!(
                "{}STORE {s} {op} {f}",
                if uid { "UID " } else { "" }
            )
            .into_bytes()),
        (any::<bool>(), search_key()).prop_map(|(uid, k)| format!(
            "{}SEARCH {k}",
            if uid { "UID " } else { "" }
        )
        .into_bytes()),
        (any::<bool>(), any::<bool>(), set(), mailbox()).prop_map(|(uid, mv, s, m)| {
            format!(
                "{}{} {s} {m}",
                if uid { "UID " } else { "" },
                if mv { "MOVE" } else { "COPY" }
            )
            .into_bytes()
        }),
        Just(b"EXPUNGE".to_vec()),
        set().prop_map(|s| format!("UID EXPUNGE {s}").into_bytes()),
        Just(b"IDLE\r\nDONE".to_vec()),
        Just(b"GETQUOTAROOT INBOX".to_vec()),
        Just(b"CLOSE".to_vec()),
        Just(b"UNSELECT".to_vec()),
        Just(b"LOGOUT".to_vec()),
        "LOGIN \\{[0-9]{1,3}\\+?\\}".prop_map(String::into_bytes),
        "[A-Z]{1,10}( [ -~]{0,40})?".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..80),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                cuts in proptest::collection::vec(any::<usize>(), 0..20),
                                preauth in any::<bool>()) {
        let out = run_session(chunked(data, cuts), preauth);
        assert_responses_well_formed(&out);
    }

    #[test]
    fn command_streams_never_panic(cmds in proptest::collection::vec(command(), 1..40),
                                   cuts in proptest::collection::vec(any::<usize>(), 0..30),
                                   preauth in any::<bool>()) {
        let mut data = Vec::new();
        for (i, c) in cmds.iter().enumerate() {
            data.extend_from_slice(format!("f{i} ").as_bytes());
            data.extend_from_slice(c);
            data.extend_from_slice(b"\r\n");
        }
        let out = run_session(chunked(data, cuts), preauth);
        assert_responses_well_formed(&out);
        prop_assert!(out.starts_with(b"* OK ") || out.starts_with(b"* PREAUTH "), "greeting first");
    }

    #[test]
    fn mime_never_panics(msg in message(), extra in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut raw = msg;
        raw.extend_from_slice(&extra);
        let p = Part::message(&raw);
        let _ = body_structure(&raw, &p, true, false);
        let _ = body_structure(&raw, &p, false, true);
        let _ = envelope(&p, false);
        let _ = Content::of(&raw);
        for path in [&[1u32][..], &[1, 1], &[2, 1, 3], &[0]] {
            if let Some(part) = p.find(path) {
                let _ = transfer::decoded(&raw, part, true);
            }
        }
        let _ = transfer::binary_to_base64(raw.clone());
        let _ = normalized(&String::from_utf8_lossy(&raw));
    }
}

/// The harness reaches the selected state (so the properties above exercise real work).
#[test]
fn harness_reaches_selected_state() {
    let msg = MESSAGES[1];
    let mut data = format!("a CREATE Harness\r\nb APPEND Harness {{{}+}}\r\n", msg.len()).into_bytes();
    data.extend_from_slice(msg);
    data.extend_from_slice(b"\r\nc SELECT Harness\r\nd FETCH 1 (BODYSTRUCTURE BODY[1])\r\ne LOGOUT\r\n");
    let out = String::from_utf8_lossy(&run_session(vec![data], true)).into_owned();
    assert!(
        out.contains("* 1 FETCH (BODYSTRUCTURE ((\"message\" \"rfc822\""),
        "{out}"
    );
    assert!(out.contains("d OK FETCH completed"), "{out}");
    assert_responses_well_formed(out.as_bytes());
}
