//! A real Postfix (Debian's package) relays a message to yubin's MX port over STARTTLS, and
//! yubin delivers it to the user's Maildir.

mod common;

use std::time::{Duration, Instant};

use common::postfix::Postfix;
use common::server::{Yubin, have, standard_config, swaks};

#[test]
fn postfix_delivers_to_yubin_mx() {
    if !have("postfix") || !have("swaks") {
        return;
    }
    let y = Yubin::start(&standard_config(""));
    let pf = Postfix::start(
        &format!(
            "relayhost = [127.0.0.1]:{}\nsmtp_tls_security_level = may\nsmtp_tls_loglevel = 1\n",
            y.ports.smtp
        ),
        "",
    );
    let (code, out) = swaks(&[
        "--server",
        &format!("127.0.0.1:{}", pf.port),
        "--from",
        "sender@sender.test",
        "--to",
        "alice@example.test",
        "--header",
        "Subject: through postfix",
        "--body",
        "Postfix was here.",
    ]);
    assert_eq!(code, 0, "postfix accepted the message: {out}");

    let deadline = Instant::now() + Duration::from_secs(60);
    while y.messages("alice@example.test").is_empty() {
        assert!(
            Instant::now() < deadline,
            "not delivered.\npostfix log:\n{}\nyubin log:\n{}",
            pf.log(),
            y.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let m = &y.messages("alice@example.test")[0];
    assert!(m.contains("Subject: through postfix"), "{m}");
    assert!(m.contains("Postfix was here."), "{m}");
    assert!(m.contains("from postfix.sender.test ([127.0.0.1])"), "{m}");
    assert!(m.contains("with ESMTPS id"), "Postfix used STARTTLS: {m}");
    assert!(
        pf.wait_log("status=sent", Duration::from_secs(10)),
        "{}",
        pf.log()
    );
    assert!(pf.log().contains("TLS connection established"), "{}", pf.log());
}
