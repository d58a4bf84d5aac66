//! Delivery status notifications (issue 12, RFC 3461–3464): the DSN parameters go on to a
//! relay that offers DSN (smtp-sink shows what it received); a relay without DSN earns the
//! sender a "relayed" report; NOTIFY=DELAY brings one delay report however often delivery is
//! retried; a local delivery with NOTIFY=SUCCESS brings a "delivered" report; NOTIFY=NEVER
//! silences a bounce; bounces carry precise status codes.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::server::{Yubin, free_port, have, python, standard_config};
use common::sink::Sink;

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn relay_config(port: u16, extra: &str) -> String {
    standard_config(&format!(
        "relay \"127.0.0.1:{port}\" {{\n    tls \"none\"\n}}\nlimits {{\n    retry-min \"1s\"\n    retry-max \"1s\"\n    \
         delay-warning \"2s\"\n    send-rate \"100000/hour\"\n}}\n{extra}"
    ))
    .replace("trusted-networks \"10.99.0.0/16\"", "trusted-networks \"127.0.0.0/8\"")
}

/// Sends one message from alice@example.test with DSN parameters over SMTP (Python smtplib).
fn send(port: u16, to: &str, mail_options: &[&str], rcpt_options: &[&str]) {
    let script = r#"
import smtplib, sys
port, to, mopts, ropts = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with smtplib.SMTP("127.0.0.1", port) as s:
    s.ehlo("client.example")
    s.sendmail("alice@example.test", [to],
               "From: alice@example.test\r\nTo: %s\r\nSubject: dsn test\r\n\r\nbody\r\n" % to,
               mail_options=mopts.split() if mopts else [],
               rcpt_options=ropts.split() if ropts else [])
print("sent")
"#;
    let (code, out) = python(
        script,
        &[
            &port.to_string(),
            to,
            &mail_options.join(" "),
            &rcpt_options.join(" "),
        ],
    );
    assert_eq!(code, 0, "{out}");
}

fn reports(y: &Yubin, action: &str) -> Vec<String> {
    y.messages("alice@example.test")
        .into_iter()
        .filter(|m| m.contains(&format!("Action: {action}")))
        .collect()
}

#[test]
fn dsn_parameters_go_on_to_a_relay_that_offers_dsn() {
    if !have("smtp-sink") || !have("python3") {
        return;
    }
    let port = free_port();
    let sink = Sink::start(port, &[]);
    let y = Yubin::start(&relay_config(port, ""));
    send(
        y.ports.submission,
        "bob@remote.example",
        &["RET=HDRS", "ENVID=order+2B42"],
        &["NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;bob@remote.example"],
    );
    let m = &sink.wait_message("the message at the sink", |m| m.contains("X-Rcpt-Args:"));
    assert!(
        m.contains("X-Mail-Args: <alice@example.test> RET=HDRS ENVID=order+2B42"),
        "{m}"
    );
    assert!(
        m.contains("X-Rcpt-Args: <bob@remote.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;bob@remote.example"),
        "{m}"
    );
    // The relay reports from here on: no report from yubin.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        y.messages("alice@example.test").is_empty(),
        "{:?}",
        y.messages("alice@example.test")
    );
}

#[test]
fn a_relay_without_dsn_earns_a_relayed_report() {
    if !have("smtp-sink") || !have("python3") {
        return;
    }
    let port = free_port();
    let sink = Sink::start(port, &["-N"]);
    let y = Yubin::start(&relay_config(port, ""));
    send(
        y.ports.submission,
        "bob@remote.example",
        &["ENVID=env-7"],
        &["NOTIFY=SUCCESS", "ORCPT=rfc822;bob@remote.example"],
    );
    wait_for("the relayed report", Duration::from_secs(20), || {
        !reports(&y, "relayed").is_empty()
    });
    let m = &sink.wait_message("the message at the sink", |m| m.contains("X-Rcpt-Args:"));
    assert!(
        m.contains("X-Mail-Args: <alice@example.test>\n"),
        "no DSN parameters to a non-DSN server: {m}"
    );
    let r = &reports(&y, "relayed")[0];
    assert!(r.starts_with("Return-Path: <>"), "{r}");
    assert!(r.contains("Subject: Successful Mail Delivery Report"), "{r}");
    assert!(r.contains("Final-Recipient: rfc822; bob@remote.example"), "{r}");
    assert!(r.contains("Original-Recipient: rfc822;bob@remote.example"), "{r}");
    assert!(r.contains("Original-Envelope-Id: env-7"), "{r}");
    assert!(r.contains("Status: 2.0.0"), "{r}");
    assert!(r.contains("Its headers are attached below."), "{r}");

    // The queue remembers the message after it left: `yubin queue show` gives its history.
    let log = y.log();
    let id = log
        .lines()
        .find(|l| l.contains("delivered") && l.contains("bob@remote.example"))
        .and_then(|l| l.split("id=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("queue id in the log")
        .trim_matches('"')
        .to_owned();
    let out = Command::new(env!("CARGO_BIN_EXE_yubin"))
        .args(["queue", "-c", y.config.to_str().expect("path"), "show", &id])
        .output()
        .expect("yubin queue show");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("left the queue"), "{text}");
    assert!(text.contains("<bob@remote.example> delivered by "), "{text}");
}

#[test]
fn notify_delay_brings_one_delay_report_and_never_silences_the_bounce() {
    if !have("smtp-sink") || !have("python3") {
        return;
    }
    let port = free_port();
    // 450 for every RCPT: deferred again and again.
    let _sink = Sink::start(port, &["-r", "RCPT"]);
    let y = Yubin::start(&relay_config(port, ""));
    send(
        y.ports.submission,
        "late@remote.example",
        &[],
        &["NOTIFY=DELAY,FAILURE"],
    );
    wait_for("the delay report", Duration::from_secs(20), || {
        !reports(&y, "delayed").is_empty()
    });
    // Several more attempts: still one report.
    wait_for("more attempts", Duration::from_secs(20), || {
        y.log().matches("deferred").count() >= 6
    });
    let delayed = reports(&y, "delayed");
    assert_eq!(delayed.len(), 1, "{delayed:?}");
    let r = &delayed[0];
    assert!(r.contains("Subject: Delayed Mail (still being retried)"), "{r}");
    assert!(r.contains("Status: 4."), "{r}");
    assert!(r.contains("Will-Retry-Until: "), "{r}");

    // NOTIFY=NEVER: a failure is not reported.
    let port2 = free_port();
    let _sink2 = Sink::start(port2, &["-f", "RCPT"]);
    let y2 = Yubin::start(&relay_config(port2, ""));
    send(
        y2.ports.submission,
        "ghost@remote.example",
        &[],
        &["NOTIFY=NEVER"],
    );
    wait_for("the failure", Duration::from_secs(20), || {
        y2.log().contains("bounced")
    });
    std::thread::sleep(Duration::from_secs(1));
    assert!(y2.messages("alice@example.test").is_empty());
}

#[test]
fn a_local_delivery_with_notify_success_is_reported_delivered() {
    if !have("python3") {
        return;
    }
    let y = Yubin::start(&relay_config(free_port(), ""));
    send(
        y.ports.smtp,
        "alice@example.test",
        &["RET=FULL", "ENVID=local-1"],
        &["NOTIFY=SUCCESS", "ORCPT=rfc822;alice@example.test"],
    );
    wait_for("the delivered report", Duration::from_secs(20), || {
        !reports(&y, "delivered").is_empty()
    });
    let r = &reports(&y, "delivered")[0];
    assert!(r.contains("Original-Envelope-Id: local-1"), "{r}");
    assert!(r.contains("Status: 2.0.0"), "{r}");
    assert!(
        r.contains("The message is attached below.") && r.contains("body\r\n"),
        "{r}"
    );
    assert_eq!(
        y.messages("alice@example.test").len(),
        2,
        "the message and its report"
    );
}
