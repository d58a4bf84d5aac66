//! Property tests: random and mutated SMTP command streams, cut into random chunks, never panic
//! a session, never hang it, and every byte the server writes is a well-formed reply line.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use common::inproc::Fixture;
use std::time::Duration;

use proptest::prelude::*;

use yubin::plan::SmtpRole;
use yubin::smtp::{ListenerInfo, Timeouts};

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        common::inproc::fixture(
            "fuzz",
            "limits {\n    message-size \"64KiB\"\n}\n",
            Some(Timeouts {
                command: Duration::from_secs(5),
                data: Duration::from_secs(5),
                tls: Duration::from_secs(2),
                ..Timeouts::default()
            }),
        )
    })
}

fn run_session(chunks: Vec<Vec<u8>>, role: SmtpRole) -> Vec<u8> {
    let f = fixture();
    let listener = Arc::new(ListenerInfo {
        name: "fuzz".into(),
        role,
        implicit_tls: false,
    });
    let svc = f.services.clone();
    let peer: SocketAddr = "192.0.2.7:4242".parse().unwrap();
    f.rt.block_on(common::inproc::drive(chunks, 16 * 1024, move |server| {
        yubin::smtp::session::serve(server, peer, listener, svc)
    }))
}

fn assert_replies_well_formed(out: &[u8]) {
    if out.is_empty() {
        return;
    }
    // After STARTTLS the server may start a TLS handshake: stop checking there.
    const TLS: &[u8] = b"220 2.0.0 Ready to start TLS\r\n";
    let text = match out.windows(TLS.len()).position(|w| w == TLS) {
        Some(p) => &out[..p + TLS.len()],
        None => out,
    };
    for line in text.split_inclusive(|b| *b == b'\n') {
        assert!(
            line.ends_with(b"\r\n"),
            "reply line without CRLF: {:?}",
            String::from_utf8_lossy(line)
        );
        assert!(
            line.len() >= 5,
            "short reply line: {:?}",
            String::from_utf8_lossy(line)
        );
        assert!(
            line[..3].iter().all(u8::is_ascii_digit),
            "bad code: {:?}",
            String::from_utf8_lossy(line)
        );
        assert!(
            line[3] == b' ' || line[3] == b'-',
            "bad separator: {:?}",
            String::from_utf8_lossy(line)
        );
        assert!(
            !line[..line.len() - 2].contains(&b'\r'),
            "CR inside a reply: {:?}",
            String::from_utf8_lossy(line)
        );
    }
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

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("alice@example.test".to_owned()),
        Just("team@example.test".to_owned()),
        Just("bob+tag@example.test".to_owned()),
        Just("x@catchall.test".to_owned()),
        Just("victim@remote.example".to_owned()),
        Just("@a.example:b@c.example".to_owned()),
        Just("\"q@x\"@example.test".to_owned()),
        Just("jörg@bücher.test".to_owned()),
        Just(String::new()),
        "[a-z@.%!\"\\[\\]:<> ]{0,24}",
    ]
}

fn line_end() -> impl Strategy<Value = &'static str> {
    prop_oneof![8 => Just("\r\n"), 1 => Just("\n"), 1 => Just("\r")]
}

fn command() -> impl Strategy<Value = Vec<u8>> {
    let body = "[a-zA-Z .:\r\n]{0,200}";
    prop_oneof![
        Just(b"EHLO fuzz.example".to_vec()),
        Just(b"HELO fuzz.example".to_vec()),
        (address(), "( SIZE=[0-9]{1,7}| BODY=8BITMIME| SMTPUTF8| FOO=1)?")
            .prop_map(|(a, p)| format!("MAIL FROM:<{a}>{p}").into_bytes()),
        address().prop_map(|a| format!("RCPT TO:<{a}>").into_bytes()),
        (body, any::<bool>()).prop_map(|(b, end)| {
            let mut v = b"DATA\r\n".to_vec();
            v.extend_from_slice(b.as_bytes());
            if end {
                v.extend_from_slice(b"\r\n.");
            }
            v
        }),
        (
            0usize..300,
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(n, last, bytes)| {
                let mut v = format!("BDAT {n}{}\r\n", if last { " LAST" } else { "" }).into_bytes();
                v.extend_from_slice(&bytes);
                v
            }),
        Just(b"RSET".to_vec()),
        Just(b"NOOP".to_vec()),
        Just(b"VRFY alice".to_vec()),
        Just(b"QUIT".to_vec()),
        Just(b"STARTTLS".to_vec()),
        "AUTH (PLAIN|LOGIN|CRAM-MD5)( [A-Za-z0-9+/=]{0,40})?".prop_map(String::into_bytes),
        "[A-Z]{1,8}( [ -~]{0,40})?".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..80),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                cuts in proptest::collection::vec(any::<usize>(), 0..20),
                                mx in any::<bool>()) {
        let out = run_session(chunked(data, cuts), if mx { SmtpRole::Mx } else { SmtpRole::Submission });
        assert_replies_well_formed(&out);
    }

    #[test]
    fn command_streams_never_panic(cmds in proptest::collection::vec((command(), line_end()), 1..40),
                                   cuts in proptest::collection::vec(any::<usize>(), 0..30),
                                   mx in any::<bool>()) {
        let mut data = Vec::new();
        for (c, end) in cmds {
            data.extend_from_slice(&c);
            data.extend_from_slice(end.as_bytes());
        }
        let out = run_session(chunked(data, cuts), if mx { SmtpRole::Mx } else { SmtpRole::Submission });
        assert_replies_well_formed(&out);
        prop_assert!(out.starts_with(b"220 "), "greeting first");
    }
}
