//! Issue 12: relaying through your own Postfix whose certificate was made the usual way,
//! `openssl req -x509` (OpenSSL 3 marks it CA:TRUE, which webpki refuses as an end-entity
//! certificate). Given in `ca-file` it is pinned; `tls-fingerprint` pins by SHA-256; a wrong
//! pin and an expired certificate from a private CA defer, and the log names the certificate
//! the relay presented and how to pin it. Bounces from the relay come back to the sender.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::TempDir;
use common::postfix::{Postfix, sasl_relay};
use common::server::{ALICE_HASH, Yubin, have, swaks};
use common::tls::{fingerprint, make_ca, make_expired, make_self_signed};

const PASSWORD: &str = "relay-secret";

fn needs() -> bool {
    have("postfix") && have("saslpasswd2") && have("openssl") && have("swaks")
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// yubin relaying everything to 127.0.0.1:`port` with STARTTLS required and `trust` (the
/// `ca-file` / `tls-fingerprint` lines).
fn start(port: u16, trust: &str) -> Yubin {
    let config = format!(
        r#"hostname "mx.example.test"
listen {{
    smtp "127.0.0.1:{{SMTP}}"
    submission "127.0.0.1:{{SUBMISSION}}"
}}
storage {{
    data "data"
}}
domain "example.test" {{
    user "alice" password-hash="{ALICE_HASH}"
    alias "postmaster" to="alice"
}}
trusted-networks "127.0.0.0/8"
allowed-sender-domains "example.test"
relay "127.0.0.1:{port}" {{
    username "relayuser@relay.test"
    password env="YUBIN_TEST_RELAY_PASSWORD"
    tls "required"
    {trust}
}}
limits {{
    retry-min "1s"
    retry-max "2s"
}}
"#
    );
    Yubin::start_with(&config, &[("YUBIN_TEST_RELAY_PASSWORD", PASSWORD)])
}

fn send(y: &Yubin, to: &str, subject: &str) {
    let (code, out) = swaks(&[
        "--server",
        &format!("127.0.0.1:{}", y.ports.submission),
        "--from",
        "alice@example.test",
        "--to",
        to,
        "--header",
        &format!("Subject: {subject}"),
    ]);
    assert_eq!(code, 0, "{out}");
}

fn delivered_at(pf: &Postfix) -> usize {
    std::fs::read_dir(pf.dir.join("vmail/bob/Maildir/new")).map_or(0, |d| d.count())
}

fn wait_delivered(pf: &Postfix, y: &Yubin, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivered_at(pf) < n {
        assert!(
            Instant::now() < deadline,
            "not delivered at Postfix.\nyubin:\n{}\npostfix:\n{}",
            y.log(),
            pf.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn canonical(dir: &Path) -> std::path::PathBuf {
    std::fs::canonicalize(dir).expect("canonical path")
}

#[test]
fn a_self_signed_relay_certificate_in_ca_file_is_pinned_and_bounces_come_back() {
    if !needs() {
        return;
    }
    let certs = TempDir::new("self-signed");
    make_self_signed(&certs.0, "relay.example");
    let dir = canonical(&certs.0);
    let (pf, port) = sasl_relay(PASSWORD, false, &dir.join("self.pem"), &dir.join("self.key"));

    let y = start(port, &format!("ca-file \"{}\"", dir.join("self.pem").display()));
    send(&y, "bob@remote.test", "through a self-signed relay");
    wait_delivered(&pf, &y, 1);
    assert!(pf.log().contains("TLS connection established"), "{}", pf.log());

    // The relay refuses an unknown recipient: the bounce reaches the sender.
    send(&y, "ghost@remote.test", "to a ghost");
    wait_for("the bounce", Duration::from_secs(30), || {
        !y.messages("alice@example.test").is_empty()
    });
    let bounce = &y.messages("alice@example.test")[0];
    assert!(
        bounce.contains("Final-Recipient: rfc822; ghost@remote.test"),
        "{bounce}"
    );
    assert!(bounce.contains("Action: failed"), "{bounce}");

    // Without the pin the same certificate is refused, and the log says what it is and how
    // to pin it.
    let other = TempDir::new("other-ca");
    make_ca(&other.0);
    let unpinned = start(
        port,
        &format!("ca-file \"{}\"", canonical(&other.0).join("ca.pem").display()),
    );
    send(&unpinned, "bob@remote.test", "not pinned");
    wait_for("a deferral", Duration::from_secs(20), || {
        unpinned.log().contains("deferred")
    });
    let fp = fingerprint(&dir.join("self.pem"));
    let log = unpinned.log();
    assert!(log.contains("CN=relay.example"), "{log}");
    assert!(log.contains(&format!("SHA-256 fingerprint {fp}")), "{log}");
    assert!(
        log.contains(&format!("sha256:{fp}")),
        "the log shows the pin to write: {log}"
    );
    assert_eq!(delivered_at(&pf), 1, "nothing went through unpinned");
}

#[test]
fn a_pinned_fingerprint_is_enough_and_a_wrong_one_defers() {
    if !needs() {
        return;
    }
    let certs = TempDir::new("self-signed");
    make_self_signed(&certs.0, "relay.example");
    let dir = canonical(&certs.0);
    let (pf, port) = sasl_relay(PASSWORD, false, &dir.join("self.pem"), &dir.join("self.key"));
    let fp = fingerprint(&dir.join("self.pem"));
    assert_eq!(fp.len(), 95, "{fp}");

    let y = start(port, &format!("tls-fingerprint \"sha256:{fp}\""));
    send(&y, "bob@remote.test", "pinned by fingerprint");
    wait_delivered(&pf, &y, 1);

    let wrong = format!("sha256:{}", "00".repeat(32));
    let w = start(port, &format!("tls-fingerprint \"{wrong}\""));
    send(&w, "bob@remote.test", "wrong pin");
    wait_for("a deferral", Duration::from_secs(20), || {
        w.log().contains("deferred")
    });
    assert!(w.log().contains("matches no tls-fingerprint"), "{}", w.log());
    assert_eq!(delivered_at(&pf), 1, "nothing went through the wrong pin");
}

#[test]
fn an_expired_certificate_from_a_private_ca_defers() {
    if !needs() || !have("python3") {
        return;
    }
    let certs = TempDir::new("expired");
    make_ca(&certs.0);
    make_expired(&certs.0);
    let dir = canonical(&certs.0);
    let (pf, port) = sasl_relay(
        PASSWORD,
        false,
        &dir.join("expired.pem"),
        &dir.join("expired.key"),
    );
    let y = start(port, &format!("ca-file \"{}\"", dir.join("ca.pem").display()));
    send(&y, "bob@remote.test", "to an expired relay");
    wait_for("a deferral", Duration::from_secs(20), || {
        y.log().contains("deferred")
    });
    let log = y.log();
    assert!(log.to_lowercase().contains("expired"), "{log}");
    assert!(log.contains("issuer"), "{log}");
    assert_eq!(delivered_at(&pf), 0);
}
