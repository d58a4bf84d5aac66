//! SIGHUP (`systemctl reload yubin`) reloads mail.kdl: new users and passwords take effect at
//! once, an invalid file is refused while the server keeps serving, and changes that need a
//! restart are named.

mod common;

use common::mail::{ca, mail_server};
use common::server::{ALICE_HASH, have, python, swaks};

fn send(port: u16, to: &str) -> (i32, String) {
    swaks(&[
        "--server",
        &format!("127.0.0.1:{port}"),
        "--to",
        to,
        "--from",
        "x@example.net",
    ])
}

fn imap_login(port: u16, ca: &str, user: &str, password: &str) -> String {
    let script = format!(
        "import imaplib, ssl\nctx = ssl.create_default_context(cafile={ca:?})\nm = imaplib.IMAP4_SSL('localhost', {port}, ssl_context=ctx)\n\
         try:\n    m.login({user:?}, {password:?})\n    print('LOGIN OK', m.select('INBOX')[1])\nexcept imaplib.IMAP4.error as e:\n    print('LOGIN NO', e)\n"
    );
    python(&script, &[]).1
}

#[test]
fn sighup_applies_users_and_refuses_invalid_files() {
    if !have("swaks") {
        return;
    }
    let (y, tls) = mail_server("");
    let p = y.ports;
    let ca = ca(&tls);
    let (code, out) = send(p.smtp, "carol@example.test");
    assert_ne!(code, 0, "carol does not exist yet: {out}");

    // A new user, and bob's password changed to alice's.
    let original = std::fs::read_to_string(&y.config).unwrap();
    let bob_line = original
        .lines()
        .find(|l| l.contains("user \"bob\""))
        .unwrap()
        .to_owned();
    let changed = original.replace(
        &bob_line,
        &format!("    user \"bob\" password-hash=\"{ALICE_HASH}\"\n    user \"carol\" password-hash=\"{ALICE_HASH}\""),
    );
    std::fs::write(&y.config, &changed).unwrap();
    y.signal("HUP");
    y.wait_log("configuration reloaded", 20);
    let (code, out) = send(p.smtp, "carol@example.test");
    assert_eq!(code, 0, "{out}\n{}", y.log());
    let carol = imap_login(p.imaps, &ca, "carol@example.test", "alice-password");
    assert!(carol.contains("LOGIN OK [b'1']"), "{carol}");
    assert!(imap_login(p.imaps, &ca, "bob@example.test", "bob-password").contains("LOGIN NO"));
    assert!(imap_login(p.imaps, &ca, "bob@example.test", "alice-password").contains("LOGIN OK"));
    assert!(y.log().contains("+ mailbox carol@example.test"), "{}", y.log());

    // An invalid file is refused; the server keeps the configuration it has.
    std::fs::write(
        &y.config,
        changed.replace("user \"carol\"", "user \"carol\" bogus=1"),
    )
    .unwrap();
    y.signal("HUP");
    y.wait_log("reload refused", 20);
    assert!(y.log().contains("still serving the previous configuration"));
    let (code, out) = send(p.smtp, "carol@example.test");
    assert_eq!(code, 0, "{out}");

    // A listener change is reported as needing a restart; the rest applies.
    std::fs::write(
        &y.config,
        changed.replace("listen {", "listen {\n    http \"127.0.0.1:1\""),
    )
    .unwrap();
    y.signal("HUP");
    y.wait_log("take effect after a restart", 20);
    assert!(y.log().contains("sections=listeners"), "{}", y.log());
}

/// Waits until "reload refused" appears `n` times in the log.
fn wait_refusals(y: &common::server::Yubin, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while y.log().matches("reload refused").count() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "refusal {n} not logged:\n{}",
            y.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn sighup_refuses_hostile_files_and_keeps_serving() {
    // Issue 10 item 4: reloading a file with 500 nested nodes killed the server (the parser
    // overflowed the 2 MiB stack of the tokio thread it ran on).
    if !have("swaks") {
        return;
    }
    let (y, _tls) = mail_server("");
    let p = y.ports;
    let original = std::fs::read_to_string(&y.config).unwrap();
    let hostile = [
        (
            format!("{original}\n{}{}", "a {\n".repeat(500), "}\n".repeat(500)),
            "yubin::config::too_deep",
        ),
        (
            format!("{original}\n{}", "/-a {".repeat(20_000)),
            "yubin::config::too_deep",
        ),
        (
            format!("{original}\n{}", "}".repeat(100_000)),
            "yubin::config::syntax",
        ),
        (
            format!("{original}\n/*{}", "*".repeat(100_000)),
            "yubin::config::syntax",
        ),
    ];
    for (i, (text, code)) in hostile.iter().enumerate() {
        std::fs::write(&y.config, text).unwrap();
        y.signal("HUP");
        wait_refusals(&y, i + 1);
        let log = y.log();
        let refusal = log
            .lines()
            .filter(|l| l.contains("reload refused"))
            .nth(i)
            .unwrap();
        assert!(refusal.contains(code), "{refusal}");
        let (status, out) = send(p.smtp, "alice@example.test");
        assert_eq!(status, 0, "still serving after refusal {i}: {out}\n{log}");
    }
    // A file over the size limit is refused without being read.
    std::fs::File::create(&y.config)
        .and_then(|f| f.set_len(100_000_000))
        .unwrap();
    y.signal("HUP");
    wait_refusals(&y, hostile.len() + 1);
    assert!(y.log().contains("yubin::config::too_large"), "{}", y.log());
    let (status, out) = send(p.smtp, "alice@example.test");
    assert_eq!(status, 0, "{out}");
}
