//! Outbound mail through a smarthost: the seed scenario against a real Postfix that requires
//! SASL AUTH over STARTTLS with its own CA, DKIM verified by dkimpy; retries while the relay is
//! down; bounces for 5xx; wrong relay passwords; the queue commands; the sending rate.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TempDir;
use common::postfix::Postfix;
use common::server::{ALICE_HASH, RawClient, Yubin, free_port, have, swaks};
use common::tls::make_ca;

/// A Postfix relay on `port` that accepts mail for remote.test only from SASL-authenticated
/// clients over TLS (user relayuser@relay.test), delivering into Maildirs.
fn sasl_relay(password: &str) -> (Postfix, u16, TempDir) {
    sasl_relay_mode(password, false)
}

fn sasl_relay_mode(password: &str, implicit: bool) -> (Postfix, u16, TempDir) {
    let tls = TempDir::new("relay-tls");
    make_ca(&tls.0);
    let t = std::fs::canonicalize(&tls.0).unwrap();
    let (pf, port) = common::postfix::sasl_relay(password, implicit, &t.join("cert.pem"), &t.join("key.pem"));
    (pf, port, tls)
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn relay_config(port: u16, ca: &Path, extra: &str) -> String {
    format!(
        r#"hostname "mx.example.test"
listen {{
    smtp "127.0.0.1:{{SMTP}}"
    submission "127.0.0.1:{{SUBMISSION}}"
    submissions "127.0.0.1:{{SUBMISSIONS}}"
}}
storage {{
    data "data"
}}
dns {{
    resolver "127.0.0.1:{{DNS}}"
}}
domain "example.test" {{
    dkim selector="ed1" algorithm="ed25519"
    dkim selector="rsa1" algorithm="rsa-2048"
    user "alice" password-hash="{ALICE_HASH}"
    alias "postmaster" to="alice"
}}
trusted-networks "127.0.0.0/8"
allowed-sender-domains "example.test"
relay "127.0.0.1:{port}" {{
    username "relayuser@relay.test"
    password env="YUBIN_TEST_RELAY_PASSWORD"
    tls "required"
    ca-file "{ca}"
}}
limits {{
    retry-min "1s"
    retry-max "2s"
}}
{extra}
"#,
        ca = ca.display()
    )
}

const VERIFY: &str = r#"
import dkim, sys
msg = open(sys.argv[1], 'rb').read()
records = {}
for line in open(sys.argv[2]):
    if '._domainkey.' in line and 'TXT' in line:
        name = line.split()[0]
        value = ''.join(p for p in line.split('"')[1::2])
        records[name] = value
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    return records.get(name if name.endswith('.') else name + '.', '').encode()
sigs = msg.count(b'DKIM-Signature:')
d = dkim.DKIM(msg)
ok = all(d.verify(idx=i, dnsfunc=dnsfunc) for i in range(sigs))
print('signatures', sigs, 'pass' if ok else 'fail')
sys.exit(0 if ok and sigs == 2 else 1)
"#;

#[test]
fn seed_scenario_trusted_app_relays_through_authenticated_postfix() {
    if !have("postfix") || !have("saslpasswd2") || !have("openssl") || !have("swaks") || !have("dknewkey") {
        return;
    }
    let (pf, relay_port, tls) = sasl_relay("relay-secret");
    let ca = std::fs::canonicalize(&tls.0).unwrap().join("ca.pem");
    let y = Yubin::start_with(
        &relay_config(relay_port, &ca, ""),
        &[("YUBIN_TEST_RELAY_PASSWORD", "relay-secret")],
    );

    // The web app: no AUTH, from a trusted network, to the submission port.
    let (code, out) = swaks(&[
        "--server",
        &format!("127.0.0.1:{}", y.ports.submission),
        "--from",
        "alice@example.test",
        "--to",
        "bob@remote.test",
        "--header",
        "Subject: from the web app",
        "--body",
        "Order #1234 confirmed.",
    ]);
    assert_eq!(code, 0, "{out}");
    let maildir = pf.dir.join("vmail/bob/Maildir/new");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_dir(&maildir)
        .map(|d| d.count() == 1)
        .unwrap_or(false)
    {
        assert!(
            Instant::now() < deadline,
            "not delivered at Postfix.\nyubin:\n{}\npostfix:\n{}",
            y.log(),
            pf.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let file = std::fs::read_dir(&maildir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
    assert!(text.contains("Order #1234 confirmed."), "{text}");
    assert!(
        pf.log().contains("sasl_username=relayuser@relay.test"),
        "{}",
        pf.log()
    );
    assert!(pf.log().contains("TLS connection established"), "{}", pf.log());

    // dkimpy verifies both signatures against the keys `yubin dns` prints.
    let dns = y.dir.join("dns.txt");
    let out = Command::new(env!("CARGO_BIN_EXE_yubin"))
        .args(["dns", y.config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&dns, &out.stdout).unwrap();
    let v = Command::new("/usr/bin/python3")
        .args(["-c", VERIFY, file.to_str().unwrap(), dns.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "dkimpy: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(y.log().contains("delivered"), "{}", y.log());
}

#[test]
fn implicit_tls_relay_with_auth() {
    if !have("postfix") || !have("saslpasswd2") || !have("openssl") || !have("swaks") {
        return;
    }
    let (pf, relay_port, tls) = sasl_relay_mode("relay-secret", true);
    let ca = std::fs::canonicalize(&tls.0).unwrap().join("ca.pem");
    let config = relay_config(relay_port, &ca, "").replace("tls \"required\"", "tls \"implicit\"");
    let y = Yubin::start_with(&config, &[("YUBIN_TEST_RELAY_PASSWORD", "relay-secret")]);
    let (code, out) = swaks(&[
        "--server",
        &format!("127.0.0.1:{}", y.ports.smtp),
        "--from",
        "alice@example.test",
        "--to",
        "bob@remote.test",
        "--header",
        "Subject: over implicit TLS",
    ]);
    assert_eq!(code, 0, "{out}");
    let maildir = pf.dir.join("vmail/bob/Maildir/new");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_dir(&maildir)
        .map(|d| d.count() == 1)
        .unwrap_or(false)
    {
        assert!(
            Instant::now() < deadline,
            "not delivered.\nyubin:\n{}\npostfix:\n{}",
            y.log(),
            pf.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        pf.log().contains("sasl_username=relayuser@relay.test"),
        "{}",
        pf.log()
    );
}

#[test]
fn untrusted_relay_certificate_defers() {
    if !have("postfix") || !have("saslpasswd2") || !have("openssl") || !have("swaks") {
        return;
    }
    // Without the relay's CA, the certificate does not verify: nothing is sent, it is deferred.
    let (_pf, relay_port, _tls) = sasl_relay("relay-secret");
    let other = TempDir::new("other-ca");
    make_ca(&other.0);
    let wrong_ca = std::fs::canonicalize(&other.0).unwrap().join("ca.pem");
    let y = Yubin::start_with(
        &relay_config(relay_port, &wrong_ca, ""),
        &[("YUBIN_TEST_RELAY_PASSWORD", "relay-secret")],
    );
    let (code, out) = swaks(&[
        "--server",
        &format!("127.0.0.1:{}", y.ports.smtp),
        "--from",
        "alice@example.test",
        "--to",
        "bob@remote.test",
    ]);
    assert_eq!(code, 0, "{out}");
    wait_for("a deferral", Duration::from_secs(20), || {
        y.log().contains("deferred")
    });
    assert!(y.log().contains("TLS"), "{}", y.log());
}

#[test]
fn wrong_relay_password_defers_and_logs() {
    if !have("postfix") || !have("saslpasswd2") || !have("openssl") || !have("swaks") {
        return;
    }
    let (_pf, relay_port, tls) = sasl_relay("relay-secret");
    let ca = std::fs::canonicalize(&tls.0).unwrap().join("ca.pem");
    let y = Yubin::start_with(
        &relay_config(relay_port, &ca, ""),
        &[("YUBIN_TEST_RELAY_PASSWORD", "not-the-password")],
    );
    let (code, out) = swaks(&[
        "--server",
        &format!("127.0.0.1:{}", y.ports.smtp),
        "--from",
        "alice@example.test",
        "--to",
        "bob@remote.test",
    ]);
    assert_eq!(code, 0, "{out}");
    wait_for("a deferral", Duration::from_secs(20), || {
        y.log().contains("deferred")
    });
    let log = y.log();
    assert!(log.contains("AUTH: 535"), "{log}");
    let list = Command::new(env!("CARGO_BIN_EXE_yubin"))
        .args(["queue", "-c", y.config.to_str().unwrap(), "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains("bob@remote.test") && list.contains("pending") && list.contains("535"),
        "{list}"
    );
    assert!(
        !log.contains("bounced"),
        "a wrong password is not the sender's fault: {log}"
    );
}

fn sink(port: u16, dump: &Path, extra: &[&str]) -> std::process::Child {
    let _ = Command::new("chown")
        .args(["postfix", dump.to_str().unwrap()])
        .status();
    let child = Command::new("smtp-sink")
        .args(["-u", "postfix", "-d", &format!("{}/%M.", dump.display())])
        .args(extra)
        .arg(format!("127.0.0.1:{port}"))
        .arg("256")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("smtp-sink");
    wait_for("smtp-sink", Duration::from_secs(5), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    child
}

struct Reaper(std::process::Child);
impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn plain_relay_config(port: u16, extra: &str) -> String {
    common::server::standard_config(&format!(
        "relay \"127.0.0.1:{port}\" {{\n    tls \"none\"\n}}\nlimits {{\n    retry-min \"1s\"\n    retry-max \"2s\"\n    connections 500 per-ip=200\n    send-rate \"100000/hour\"\n}}\n{extra}"
    ))
    .replace("trusted-networks \"10.99.0.0/16\"", "trusted-networks \"127.0.0.0/8\"")
}

fn message_ids(dump: &Path) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for e in std::fs::read_dir(dump).into_iter().flatten().flatten() {
        let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default()).into_owned();
        if let Some(id) = text
            .split("Message-ID: <")
            .nth(1)
            .and_then(|r| r.split('>').next())
        {
            *ids.entry(id.to_owned()).or_default() += 1;
        }
    }
    ids
}

fn send_many(port: u16, n: usize, prefix: &str) {
    let script = r#"
import smtplib, sys
port, n, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = smtplib.SMTP('127.0.0.1', port)
for i in range(n):
    msg = 'From: alice@example.test\r\nTo: bob@remote.example\r\nMessage-ID: <%s-%d@test>\r\nSubject: %d\r\n\r\nbody %d\r\n' % (prefix, i, i, i)
    s.sendmail('alice@example.test', ['bob@remote.example'], msg)
s.quit()
"#;
    let (code, out) = common::server::python(script, &[&port.to_string(), &n.to_string(), prefix]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn relay_down_then_up_delivers_everything_once() {
    if !have("smtp-sink") {
        return;
    }
    let sink_port = free_port();
    let y = Yubin::start(&plain_relay_config(sink_port, ""));
    send_many(y.ports.smtp, 20, "down");
    wait_for("deferrals", Duration::from_secs(10), || {
        y.log().matches("deferred").count() >= 20
    });
    let dump = TempDir::new("sink");
    let _sink = Reaper(sink(sink_port, &dump.0, &[]));
    wait_for("all 20 at the sink", Duration::from_secs(30), || {
        message_ids(&dump.0).len() == 20
    });
    std::thread::sleep(Duration::from_secs(3));
    let ids = message_ids(&dump.0);
    assert_eq!(ids.len(), 20);
    assert!(ids.values().all(|n| *n == 1), "each exactly once: {ids:?}");
    let list = Command::new(env!("CARGO_BIN_EXE_yubin"))
        .args(["queue", "-c", y.config.to_str().unwrap(), "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("the queue is empty"));
}

#[test]
fn relay_550_bounces_to_the_local_sender() {
    if !have("smtp-sink") || !have("swaks") {
        return;
    }
    let sink_port = free_port();
    let dump = TempDir::new("sink");
    let _sink = Reaper(sink(sink_port, &dump.0, &["-f", "RCPT"]));
    let y = Yubin::start(&plain_relay_config(sink_port, ""));
    let (code, out) = swaks(&[
        "--server",
        &format!("127.0.0.1:{}", y.ports.submission),
        "--tls",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        "alice-password",
        "--from",
        "alice@example.test",
        "--to",
        "ghost@remote.example",
        "--header",
        "Subject: to a ghost",
    ]);
    assert_eq!(code, 0, "{out}");
    wait_for("the bounce", Duration::from_secs(20), || {
        !y.messages("alice@example.test").is_empty()
    });
    let bounce = &y.messages("alice@example.test")[0];
    assert!(bounce.starts_with("Return-Path: <>"), "{bounce}");
    assert!(
        bounce.contains("Content-Type: multipart/report; report-type=delivery-status"),
        "{bounce}"
    );
    assert!(
        bounce.contains("Final-Recipient: rfc822; ghost@remote.example"),
        "{bounce}"
    );
    assert!(bounce.contains("Action: failed"), "{bounce}");
    assert!(
        bounce.contains("Subject: to a ghost"),
        "original headers attached: {bounce}"
    );
    let list = Command::new(env!("CARGO_BIN_EXE_yubin"))
        .args(["queue", "-c", y.config.to_str().unwrap(), "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("the queue is empty"));
}

#[test]
fn queue_commands_list_show_retry_delete() {
    if !have("smtp-sink") {
        return;
    }
    let sink_port = free_port();
    let y = Yubin::start(
        &plain_relay_config(sink_port, "")
            .replace("retry-min \"1s\"", "retry-min \"1h\"")
            .replace("retry-max \"2s\"", "retry-max \"2h\""),
    );
    send_many(y.ports.smtp, 2, "cli");
    wait_for("deferrals", Duration::from_secs(10), || {
        y.log().matches("deferred").count() >= 2
    });
    let q = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_yubin"))
            .args(["queue", "-c", y.config.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, list) = q(&["list"]);
    assert_eq!(code, Some(0), "{list}");
    let ids: Vec<String> = list
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert!(list.contains("next try in"), "{list}");
    let (code, show) = q(&["show", &ids[0]]);
    assert_eq!(code, Some(0));
    assert!(
        show.contains("from:    <alice@example.test>") && show.contains("Message-ID: <cli-"),
        "{show}"
    );
    let (code, del) = q(&["delete", &ids[1]]);
    assert_eq!(code, Some(0), "{del}");
    assert_eq!(q(&["show", &ids[1]]).0, Some(1));
    // Bring the relay up and retry now instead of in an hour.
    let dump = TempDir::new("sink");
    let _sink = Reaper(sink(sink_port, &dump.0, &[]));
    let (code, retry) = q(&["retry", "--all"]);
    assert_eq!(code, Some(0), "{retry}");
    wait_for("the retried message", Duration::from_secs(15), || {
        message_ids(&dump.0).len() == 1
    });
    assert!(
        message_ids(&dump.0).contains_key("cli-0@test") || message_ids(&dump.0).contains_key("cli-1@test")
    );
    wait_for("an empty queue", Duration::from_secs(10), || {
        q(&["list"]).1.contains("the queue is empty")
    });
}

#[test]
fn send_rate_is_enforced_at_mail_from() {
    let y = Yubin::start(
        &plain_relay_config(free_port(), "")
            .replace("send-rate \"100000/hour\"", "send-rate \"3/hour\" per=\"ip\""),
    );
    let (mut c, _) = RawClient::connect(y.ports.smtp);
    c.cmd("EHLO app.example");
    for _ in 0..3 {
        assert!(c.cmd("MAIL FROM:<alice@example.test>").starts_with("250"));
        c.cmd("RSET");
    }
    let r = c.cmd("MAIL FROM:<alice@example.test>");
    assert!(r.starts_with("451 4.7.1") && r.contains("try again in"), "{r}");
}

#[test]
fn kill_9_during_delivery_of_1000_queued_messages_loses_none() {
    if !have("smtp-sink") {
        return;
    }
    let sink_port = free_port();
    let mut y = Yubin::start(&plain_relay_config(sink_port, ""));
    // Fill the queue while the relay is down.
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let port = y.ports.smtp;
            std::thread::spawn(move || send_many(port, 250, &format!("q{t}")))
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let dump = TempDir::new("sink");
    let _sink = Reaper(sink(sink_port, &dump.0, &[]));
    wait_for("deliveries to start", Duration::from_secs(30), || {
        message_ids(&dump.0).len() >= 100
    });
    y.kill9();
    let at_kill = message_ids(&dump.0).len();
    y.spawn(&[]);
    wait_for("all 1000 at the sink", Duration::from_secs(120), || {
        message_ids(&dump.0).len() == 1000
    });
    let ids = message_ids(&dump.0);
    for t in 0..4 {
        for i in 0..250 {
            assert!(ids.contains_key(&format!("q{t}-{i}@test")), "q{t}-{i} lost");
        }
    }
    let dupes = ids.values().filter(|n| **n > 1).count();
    eprintln!("kill -9 after {at_kill} of 1000 delivered; all 1000 delivered after restart, {dupes} twice");
}
