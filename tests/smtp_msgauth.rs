//! SPF, DKIM and DMARC on the MX, against a real DNS server on loopback (dnsmasq) serving
//! test zones, with messages signed by an independent implementation (dkimpy): passing mail is
//! stamped `Authentication-Results: ... dkim=pass spf=pass dmarc=pass`, spoofed mail under
//! `p=reject` is refused with 550 5.7.1, and `p=quarantine` failures land in Junk.

mod common;

use std::process::Command;

use common::TempDir;
use common::server::{RawClient, Yubin, have, standard_config};

fn txt(name: &str, value: &str) -> String {
    // dnsmasq wants TXT values over 255 bytes split into several strings (comma-separated;
    // no shell here, so no quotes either).
    let parts: Vec<String> = value
        .as_bytes()
        .chunks(250)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!("--txt-record={name},{}", parts.join(","))
}

const SIGN: &str = r#"
import dkim, sys
msg = sys.stdin.buffer.read()
d = sys.argv[1]
ed = open(sys.argv[2] + '/ed1.key', 'rb').read().strip()
rsa = open(sys.argv[2] + '/rsa1.key', 'rb').read()
h = [b'from', b'to', b'subject', b'date', b'message-id']
sig1 = dkim.sign(msg, b'ed1', d.encode(), ed, include_headers=h, signature_algorithm=b'ed25519-sha256')
sig2 = dkim.sign(msg, b'rsa1', d.encode(), rsa, include_headers=h)
sys.stdout.buffer.write(sig1 + sig2 + msg)
"#;

fn send(port: u16, from: &str, msg: &[u8]) -> String {
    let (mut c, _) = RawClient::connect(port);
    c.cmd("EHLO sender.good.example");
    let r = c.cmd(&format!("MAIL FROM:<{from}>"));
    assert!(r.starts_with("250"), "{r}");
    let r = c.cmd("RCPT TO:<alice@example.test>");
    assert!(r.starts_with("250"), "{r}");
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(msg);
    c.send(b".\r\n");
    c.read_reply()
}

fn message(from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Sender <{from}>\r\nTo: alice@example.test\r\nSubject: {subject}\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <{subject}@test>\r\n\r\nBody of {subject}.\r\n"
    )
    .into_bytes()
}

#[test]
fn spf_dkim_dmarc_with_real_dns_and_dkimpy() {
    if !have("dnsmasq") || !have("dknewkey") {
        return;
    }
    let keys = TempDir::new("dkim");
    for (sel, args) in [("ed1", vec!["--ktype", "ed25519", "ed1"]), ("rsa1", vec!["rsa1"])] {
        let st = Command::new("dknewkey")
            .args(&args)
            .current_dir(&keys.0)
            .output()
            .unwrap();
        assert!(st.status.success(), "dknewkey {sel}");
    }
    let dns_of = |sel: &str| {
        std::fs::read_to_string(keys.join(&format!("{sel}.dns")))
            .unwrap()
            .trim()
            .to_owned()
    };
    let records = vec![
        txt("good.example", "v=spf1 ip4:127.0.0.1 -all"),
        txt("_dmarc.good.example", "v=DMARC1; p=reject"),
        txt("ed1._domainkey.good.example", &dns_of("ed1")),
        txt("rsa1._domainkey.good.example", &dns_of("rsa1")),
        txt("spoofed.example", "v=spf1 ip4:192.0.2.1 -all"),
        txt("_dmarc.spoofed.example", "v=DMARC1; p=reject"),
        txt("quar.example", "v=spf1 ip4:192.0.2.1 -all"),
        txt("_dmarc.quar.example", "v=DMARC1; p=quarantine"),
    ];
    let y = Yubin::start_full(&standard_config(""), &[], &records);

    // 1. Signed by dkimpy with ed25519 and RSA, sent from an SPF-authorised IP.
    let mut sign = Command::new("/usr/bin/python3")
        .args(["-c", SIGN, "good.example", keys.0.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    sign.stdin
        .take()
        .unwrap()
        .write_all(&message("news@good.example", "signed"))
        .unwrap();
    let signed = sign.wait_with_output().unwrap();
    assert!(signed.status.success(), "dkimpy failed");
    let r = send(y.ports.smtp, "news@good.example", &signed.stdout);
    assert!(r.starts_with("250"), "{r}\n{}", y.log());
    let m = &y.messages("alice@example.test")[0];
    let ar: String = m
        .split("Authentication-Results:")
        .nth(1)
        .unwrap()
        .split("\r\nReceived:")
        .next()
        .unwrap()
        .to_owned();
    assert!(
        ar.contains("dkim=pass") && ar.contains("header.i=@good.example"),
        "{ar}"
    );
    assert!(
        ar.contains("header.s=ed1") && ar.contains("header.s=rsa1"),
        "both signatures checked: {ar}"
    );
    assert!(
        ar.contains("spf=pass") && ar.contains("smtp.mailfrom=news@good.example"),
        "{ar}"
    );
    assert!(
        ar.contains("dmarc=pass") && ar.contains("policy.dmarc=reject"),
        "{ar}"
    );

    // 2. The same signed message, tampered with: DKIM fails, SPF still passes and aligns.
    let tampered = String::from_utf8_lossy(&signed.stdout).replace("Body of signed.", "Body of forged.");
    let r = send(y.ports.smtp, "news@good.example", tampered.as_bytes());
    assert!(r.starts_with("250"), "{r}");
    let m = &y.messages("alice@example.test")[1];
    assert!(
        !m.contains("dkim=pass") && m.contains("body hash did not verify"),
        "{m}"
    );
    assert!(m.contains("dmarc=pass"), "{m}");

    // 3. Spoofed domain with p=reject: refused.
    let r = send(
        y.ports.smtp,
        "ceo@spoofed.example",
        &message("ceo@spoofed.example", "spoof"),
    );
    assert!(
        r.starts_with("550 5.7.1"),
        "{r}\n{:?}\n{}",
        y.messages("alice@example.test").last(),
        y.log()
    );
    assert_eq!(y.messages("alice@example.test").len(), 2);

    // 4. p=quarantine failure: accepted into Junk, not the inbox.
    let r = send(
        y.ports.smtp,
        "x@quar.example",
        &message("x@quar.example", "quarantined"),
    );
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(y.messages("alice@example.test").len(), 2);
    let junk = y.folder("alice@example.test", Some(".Junk"));
    assert_eq!(junk.len(), 1, "{}", y.log());
    assert!(y.log().contains("dmarc=fail"), "{}", y.log());
}
