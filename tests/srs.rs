//! Forwarding with SRS (issue 12): an alias that sends a stranger's message on to an external
//! address rewrites the envelope sender to an SRS address at our domain (SPF at the
//! destination then checks us); a bounce to that address comes back through our MX and goes
//! on to the original sender; forged SRS addresses are refused; our own senders are not
//! rewritten.

mod common;

use common::server::{RawClient, Yubin, free_port, have, standard_config};
use common::sink::Sink;

/// One message over SMTP to yubin's MX port; the replies to MAIL, RCPT and the end of data.
fn smtp(port: u16, from: &str, to: &str) -> Vec<String> {
    let (mut c, _greeting) = RawClient::connect(port);
    let mut replies = vec![
        c.cmd("EHLO client.example"),
        c.cmd(&format!("MAIL FROM:<{from}>")),
    ];
    let rcpt = c.cmd(&format!("RCPT TO:<{to}>"));
    let accepted = rcpt.starts_with("250");
    replies.push(rcpt);
    if accepted {
        replies.push(c.cmd("DATA"));
        replies.push(c.cmd(&format!(
            "From: {from}\r\nTo: {to}\r\nSubject: forwarded\r\n\r\nbody\r\n."
        )));
    }
    let _ = c.cmd("QUIT");
    replies
}

fn mail_args(m: &str) -> &str {
    m.lines()
        .find_map(|l| l.strip_prefix("X-Mail-Args: "))
        .unwrap_or("")
}

fn rcpt_args(m: &str) -> &str {
    m.lines()
        .find_map(|l| l.strip_prefix("X-Rcpt-Args: "))
        .unwrap_or("")
}

#[test]
fn forwarded_mail_leaves_with_an_srs_sender_and_bounces_find_their_way_back() {
    if !have("smtp-sink") {
        return;
    }
    let port = free_port();
    let sink = Sink::start(port, &[]);
    let config = standard_config(&format!(
        "relay \"127.0.0.1:{port}\" {{\n    tls \"none\"\n}}\nlimits {{\n    retry-min \"1s\"\n    retry-max \"1s\"\n}}\n"
    ))
    .replace(
        "    alias \"postmaster\" to=\"alice\"\n",
        "    alias \"postmaster\" to=\"alice\"\n    alias \"fwd\" to=\"friend@remote.example\"\n",
    );
    let y = Yubin::start(&config);

    // A stranger writes to the alias: the copy for friend@ leaves with an SRS sender.
    let r = smtp(y.ports.smtp, "sam@stranger.example", "fwd@example.test");
    assert!(r.last().is_some_and(|l| l.starts_with("250")), "{r:?}");
    let m = &sink.wait_message("the forwarded copy", |m| {
        rcpt_args(m).starts_with("<friend@remote.example>")
    });
    let sender = mail_args(m)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_matches(['<', '>'])
        .to_owned();
    assert!(
        sender.starts_with("SRS0=") && sender.ends_with("=stranger.example=sam@example.test"),
        "{m}"
    );

    // The destination bounces it: the bounce reaches the stranger through us.
    let r = smtp(y.ports.smtp, "", &sender);
    assert!(r.last().is_some_and(|l| l.starts_with("250")), "{r:?}");
    let back = sink.wait_message("the bounce sent on to the original sender", |m| {
        rcpt_args(m).starts_with("<sam@stranger.example>")
    });
    assert!(mail_args(&back).starts_with("<>"), "{back}");

    // A forged or mangled SRS address is refused at RCPT.
    let forged = sender.replace("=sam@", "=pam@");
    let r = smtp(y.ports.smtp, "", &forged);
    assert!(r[2].starts_with("550"), "{r:?}");

    // Our own user's mail through the alias keeps its sender.
    let r = smtp(y.ports.smtp, "alice@example.test", "fwd@example.test");
    assert!(r.last().is_some_and(|l| l.starts_with("250")), "{r:?}");
    sink.wait_message("our own user's message, its sender unchanged", |m| {
        mail_args(m).starts_with("<alice@example.test>")
    });
    let key = y.data.join("srs.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).expect("srs.key").permissions());
    assert_eq!(mode & 0o777, 0o600);
}
