//! Virus and spam scanning against a real clamd (with signatures the test writes) and a real
//! rspamd (offline), driven by swaks and curl: a virus is refused at DATA (554 5.7.1) on the MX
//! and on submission, quarantined or tagged when configured so; GTUBE is refused (550 5.7.1); a
//! spammy message lands in Junk with X-Spam headers; submitted mail is not spam-scored; a
//! scanner that is down defers (451 4.7.1) or lets mail through marked unscanned, as
//! `on-failure` says; the webhook applies the same scanners.

mod common;

use std::path::Path;
use std::process::Command;

use common::scanners::{Clamd, EICAR, GTUBE, Rspamd};
use common::server::{Yubin, free_port, have, swaks};

fn port(p: u16) -> String {
    format!("127.0.0.1:{p}")
}

/// A message with EICAR as a base64 attachment.
fn eicar_message(from: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(EICAR);
    format!(
        "From: {from}\r\nTo: alice@example.test\r\nSubject: invoice\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n\
         Message-ID: <eicar-{n}@test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nPlease see the attachment.\r\n\
         --b1\r\nContent-Type: application/octet-stream; name=invoice.com\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=invoice.com\r\n\r\n{b64}\r\n--b1--\r\n",
        n = free_port()
    )
}

fn clean_message(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: Sender <{from}>\r\nTo: alice@example.test\r\nSubject: {subject}\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n\
         Message-ID: <{subject}-{n}@test>\r\n\r\n{body}\r\n",
        n = free_port()
    )
}

/// Sends `data` to the MX with swaks; returns (exit code, transcript).
fn mx(y: &Yubin, from: &str, to: &str, data: &str) -> (i32, String) {
    let file = y.dir.join(&format!("msg-{}.eml", free_port()));
    std::fs::write(&file, data).unwrap();
    swaks(&[
        "--server",
        &port(y.ports.smtp),
        "--from",
        from,
        "--to",
        to,
        "--data",
        &file.display().to_string(),
    ])
}

fn submit(y: &Yubin, data: &str, to: &str) -> (i32, String) {
    let file = y.dir.join(&format!("msg-{}.eml", free_port()));
    std::fs::write(&file, data).unwrap();
    swaks(&[
        "--server",
        &port(y.ports.submission),
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        "alice-password",
        "--from",
        "alice@example.test",
        "--to",
        to,
        "--data",
        &file.display().to_string(),
    ])
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn server(antivirus: &str, antispam: &str, extra: &str, env: &[(&str, &str)]) -> Yubin {
    let config = common::server::standard_config(&format!("{antivirus}\n{antispam}\n{extra}"));
    Yubin::start_with(&config, env)
}

#[test]
fn clamd_and_rspamd_scan_mail_before_it_is_acknowledged() {
    if !have("clamd") || !have("rspamd") || !have("swaks") || !have("curl") {
        return;
    }
    let clamd = Clamd::start();
    let rspamd = Rspamd::start();
    let sender = "someone@elsewhere.example";

    // --- reject viruses, score spam, defer when clamd is down ---
    let http = free_port();
    let token = "scan-test-token";
    let mut config = common::server::standard_config(&format!(
        "antivirus clamd=\"127.0.0.1:{}\" action=\"reject\" on-failure=\"defer\"\n\
         antispam rspamd=\"{}\" reject-score=15.0 junk-score=6.0\n\
         inbound-webhook path=\"/inbound\" {{\n    token env=\"YUBIN_SCAN_TOKEN\"\n}}\n",
        clamd.port,
        rspamd.url()
    ));
    config = config.replace(
        "    submissions \"127.0.0.1:{SUBMISSIONS}\"\n",
        &format!("    submissions \"127.0.0.1:{{SUBMISSIONS}}\"\n    http \"127.0.0.1:{http}\"\n"),
    );
    let y = Yubin::start_with(&config, &[("YUBIN_SCAN_TOKEN", token)]);

    let (code, out) = mx(
        &y,
        sender,
        "alice@example.test",
        &clean_message(sender, "hello", "Just saying hello."),
    );
    assert_eq!(code, 0, "{out}");
    let inbox = y.messages("alice@example.test");
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].contains("X-Spam-Status: No, score="), "{}", inbox[0]);

    let (code, out) = mx(&y, sender, "alice@example.test", &eicar_message(sender));
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("554 5.7.1 Message contains a virus (Test.EICAR"),
        "{out}"
    );

    let (code, out) = mx(
        &y,
        sender,
        "alice@example.test",
        &clean_message(sender, "offer", GTUBE),
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("550 5.7.1 Message rejected as spam"), "{out}");
    assert_eq!(
        y.messages("alice@example.test").len(),
        1,
        "nothing refused was stored"
    );

    // No To, Subject, Date or Message-ID: rspamd scores it about 7.5, above junk-score 6.
    let (code, out) = mx(
        &y,
        sender,
        "alice@example.test",
        &format!("From: {sender}\r\n\r\nbuy now\r\n"),
    );
    assert_eq!(code, 0, "{out}");
    let junk = y.folder("alice@example.test", Some(".Junk"));
    assert_eq!(junk.len(), 1, "{out}");
    let j = std::fs::read_to_string(&junk[0]).unwrap();
    assert!(
        j.contains("X-Spam-Status: Yes, score=") && j.contains("X-Spam: Yes"),
        "{j}"
    );
    assert!(j.contains("MISSING_SUBJECT"), "{j}");

    // Submission: viruses are refused from our own users too; spam scores are not applied.
    let (code, out) = submit(&y, &eicar_message("alice@example.test"), "bob@example.test");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("554 5.7.1"), "{out}");
    let (code, out) = submit(
        &y,
        &clean_message("alice@example.test", "gtube-note", GTUBE),
        "bob@example.test",
    );
    assert_eq!(code, 0, "{out}");
    let bob = y.messages("bob@example.test");
    assert_eq!(bob.len(), 1);
    assert!(!bob[0].contains("X-Spam-Status"), "{}", bob[0]);

    // The webhook scans the same way.
    let body = y.dir.join("gtube.eml");
    std::fs::write(&body, clean_message(sender, "hook", GTUBE)).unwrap();
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["-H", "Content-Type: message/rfc822"])
        .args(["-H", &format!("Mail-From: {sender}")])
        .args(["-H", "Rcpt-To: alice@example.test"])
        .arg("--data-binary")
        .arg(format!("@{}", body.display()))
        .arg(format!("http://127.0.0.1:{http}/inbound"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.ends_with("\n422") && out.contains("rejected as spam"),
        "{out}"
    );

    // --- quarantine: the virus is kept out of every mailbox, the sender gets 250 ---
    let q = server(
        &format!(
            "antivirus clamd=\"unix:{}\" action=\"quarantine\"",
            clamd.socket.display()
        ),
        "",
        "",
        &[],
    );
    let (code, out) = mx(&q, sender, "alice@example.test", &eicar_message(sender));
    assert_eq!(code, 0, "{out}");
    assert!(q.messages("alice@example.test").is_empty());
    let kept = files(&q.data.join("quarantine"));
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(std::fs::read_to_string(&kept[0]).unwrap().contains("invoice.com"));
    q.wait_log("message quarantined", 5);

    // --- tag, and rspamd down with on-failure accept: delivered, marked ---
    let dead = free_port();
    let t = server(
        &format!("antivirus clamd=\"127.0.0.1:{}\" action=\"tag\"", clamd.port),
        &format!("antispam rspamd=\"http://127.0.0.1:{dead}\" on-failure=\"accept\""),
        "",
        &[],
    );
    let (code, out) = mx(&t, sender, "alice@example.test", &eicar_message(sender));
    assert_eq!(code, 0, "{out}");
    let m = &t.messages("alice@example.test")[0];
    assert!(m.contains("X-Virus: Test.EICAR"), "{m}");
    assert!(
        m.contains("X-Spam-Status: Unknown (spam filter unavailable)"),
        "{m}"
    );

    // --- clamd down: on-failure defer answers 451 4.7.1 and stores nothing ---
    drop(clamd);
    let (code, out) = mx(
        &y,
        sender,
        "alice@example.test",
        &clean_message(sender, "later", "Try again."),
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("451 4.7.1 Message could not be scanned"), "{out}");
    assert_eq!(y.messages("alice@example.test").len(), 1);
    y.wait_log("virus scan failed", 5);
    drop(rspamd);
}
