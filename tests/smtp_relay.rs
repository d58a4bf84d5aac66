//! No open relay: the classic relay tricks, sent to the MX port from a host that is not
//! trusted, are all refused with a permanent error, and nothing is delivered anywhere.

mod common;

use common::server::{RawClient, Yubin, standard_config};

/// (trick, RCPT path). Every one must get a 5xx reply.
const TRICKS: &[(&str, &str)] = &[
    ("plain remote recipient", "<victim@remote.example>"),
    ("upper-case remote recipient", "<VICTIM@REMOTE.EXAMPLE>"),
    ("percent hack", "<victim%remote.example@example.test>"),
    (
        "percent hack to an IP literal",
        "<victim%remote.example@[127.0.0.1]>",
    ),
    ("source route through us", "<@example.test:victim@remote.example>"),
    (
        "multi-hop source route",
        "<@relay.example,@example.test:victim@remote.example>",
    ),
    (
        "quoted local part with @",
        "<\"victim@remote.example\"@example.test>",
    ),
    (
        "quoted local part with %",
        "<\"victim%remote.example\"@example.test>",
    ),
    ("bang path", "<remote.example!victim@example.test>"),
    ("unqualified bang path", "<remote.example!victim>"),
    ("trailing dot on the remote domain", "<victim@remote.example.>"),
    ("trailing dot on the local domain", "<victim@example.test.>"),
    ("IPv4 literal", "<victim@[192.0.2.1]>"),
    ("loopback literal", "<victim@[127.0.0.1]>"),
    ("IPv6 literal", "<victim@[IPv6:::1]>"),
    ("unqualified recipient", "<victim>"),
    ("two @ signs", "<victim@remote.example@example.test>"),
    ("percent after the domain", "<victim@remote.example%example.test>"),
    ("subdomain of a local domain", "<victim@sub.example.test>"),
    ("local domain as a prefix", "<victim@example.test.remote.example>"),
    ("empty recipient", "<>"),
    ("no angle brackets", "victim@remote.example"),
    ("space inside the path", "<victim @remote.example>"),
];

#[test]
fn relay_tricks_are_all_refused_on_port_25() {
    assert!(TRICKS.len() >= 15);
    let y = Yubin::start(&standard_config(""));
    let mut failures = Vec::new();
    for sender in ["<stranger@remote.example>", "<alice@example.test>", "<>"] {
        for (trick, path) in TRICKS {
            // One connection per trick: refusals count towards the session's error limit.
            let (mut c, _) = RawClient::connect(y.ports.smtp);
            c.cmd("EHLO mx.example.test");
            let mail = c.cmd(&format!("MAIL FROM:{sender}"));
            if !mail.starts_with("250") {
                failures.push(format!("MAIL FROM:{sender} refused: {mail}"));
            }
            let r = c.cmd(&format!("RCPT TO:{path}"));
            if !r.starts_with('5') {
                failures.push(format!(
                    "{trick} ({path}) with MAIL FROM:{sender} got: {}",
                    r.trim()
                ));
            }
            let data = c.cmd("DATA");
            if !data.starts_with('5') {
                failures.push(format!("{trick}: DATA accepted: {data}"));
                c.send(b"Subject: relayed\r\n\r\nx\r\n.\r\n");
                c.read_reply();
            }
            c.cmd("QUIT");
        }
    }
    assert!(
        failures.is_empty(),
        "relay tricks not refused:\n{}",
        failures.join("\n")
    );
    for user in ["alice@example.test", "bob@example.test", "dave@catchall.test"] {
        assert!(y.messages(user).is_empty(), "{user} received something");
    }
}

#[test]
fn submission_without_auth_cannot_relay() {
    let y = Yubin::start(&standard_config(""));
    let (mut c, _) = RawClient::connect(y.ports.submission);
    c.cmd("EHLO client.example");
    let r = c.cmd("MAIL FROM:<alice@example.test>");
    assert!(r.starts_with("530"), "{r}");
    let r = c.cmd("RCPT TO:<victim@remote.example>");
    assert!(r.starts_with("503"), "{r}");
}
