//! Receiving mail with real clients (swaks, Python smtplib, raw sockets) against a real
//! `yubin serve`: MX delivery, submission with STARTTLS and implicit TLS, AUTH, BDAT, UTF-8,
//! size and quota limits, aliases, catch-alls, sub-addresses, spoofing and bans.

mod common;

use common::server::{RawClient, Yubin, have, python, read, standard_config, swaks};

fn port(p: u16) -> String {
    format!("127.0.0.1:{p}")
}

#[test]
fn mx_delivery_with_swaks() {
    if !have("swaks") {
        return;
    }
    let y = Yubin::start(&standard_config(""));
    let (code, out) = swaks(&[
        "--server",
        &port(y.ports.smtp),
        "--from",
        "sender@remote.example",
        "--to",
        "alice@example.test",
        "--header",
        "Subject: swaks MX test",
        "--add-header",
        "Authentication-Results: mx.example.test; dkim=pass (forged by the sender)",
        "--body",
        "Hello Alice",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("250 2.0.0 OK: message"), "{out}");
    assert!(out.contains("forged by the sender"), "swaks sent it: {out}");
    let msgs = y.messages("alice@example.test");
    assert_eq!(msgs.len(), 1, "{}", y.log());
    let m = &msgs[0];
    assert!(m.starts_with("Return-Path: <sender@remote.example>\r\n"), "{m}");
    assert!(
        m.contains("Authentication-Results: mx.example.test;"),
        "MX mail is checked: {m}"
    );
    assert_eq!(
        m.matches("Authentication-Results: mx.example.test").count(),
        1,
        "{m}"
    );
    assert!(
        !m.contains("forged by the sender"),
        "a forged verdict is removed: {m}"
    );
    assert!(m.contains("\r\nReceived: from "), "{m}");
    assert!(m.contains("by mx.example.test (yubin)"), "{m}");
    assert!(m.contains("for <alice@example.test>"), "{m}");
    assert!(
        m.contains("Subject: swaks MX test\r\n") && m.contains("Hello Alice"),
        "{m}"
    );
    // The file is in new/, nothing is left in tmp/.
    let tmp = y.data.join("mail/example.test/alice/Maildir/tmp");
    assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
    assert!(
        y.log().contains("message accepted"),
        "one log line per transaction"
    );
}

#[test]
fn submission_starttls_and_auth() {
    if !have("swaks") {
        return;
    }
    let y = Yubin::start(&standard_config(""));
    let (code, out) = swaks(&[
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
        "bob@example.test",
        "--header",
        "Subject: via 587",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("235 2.7.0"), "{out}");
    let m = &y.messages("bob@example.test")[0];
    assert!(m.contains("with ESMTPSA id"), "{m}");
    assert!(m.contains("(using TLSv1.3 with cipher"), "{m}");

    // AUTH LOGIN works as well.
    let (code, out) = swaks(&[
        "--server",
        &port(y.ports.submission),
        "--tls",
        "--auth",
        "LOGIN",
        "--auth-user",
        "bob@example.test",
        "--auth-password",
        "bob-password",
        "--from",
        "bob@example.test",
        "--to",
        "alice@example.test",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(y.messages("alice@example.test").len(), 1);
}

#[test]
fn submissions_implicit_tls_and_auth() {
    if !have("swaks") {
        return;
    }
    let y = Yubin::start(&standard_config(""));
    let (code, out) = swaks(&[
        "--server",
        &port(y.ports.submissions),
        "--tlsc",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        "alice-password",
        "--from",
        "info@example.test",
        "--to",
        "bob@example.test",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("250-AUTH PLAIN LOGIN"), "{out}");
    assert_eq!(y.messages("bob@example.test").len(), 1);
}

#[test]
fn auth_before_tls_is_refused_and_not_offered() {
    if !have("swaks") {
        return;
    }
    let y = Yubin::start(&standard_config(""));
    let (code, out) = swaks(&[
        "--server",
        &port(y.ports.submission),
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        "alice-password",
        "--from",
        "alice@example.test",
        "--to",
        "bob@example.test",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(
        !out.contains("250-AUTH"),
        "AUTH must not be offered before TLS: {out}"
    );
    let (mut c, _) = RawClient::connect(y.ports.submission);
    c.cmd("EHLO client.example");
    let r = c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1wYXNzd29yZA==");
    assert!(r.starts_with("530 5.7.0"), "{r}");
    // No mail without AUTH either.
    let r = c.cmd("MAIL FROM:<alice@example.test>");
    assert!(r.starts_with("530"), "{r}");
    // And the MX port never offers AUTH.
    let (mut mx, _) = RawClient::connect(y.ports.smtp);
    let ehlo = mx.cmd("EHLO client.example");
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    assert!(mx.cmd("AUTH PLAIN AGFsaWNlAGFsaWNl").starts_with("503"));
    assert!(y.messages("bob@example.test").is_empty());
}

const SMTPLIB: &str = r#"
import smtplib, ssl, sys
from email.message import EmailMessage
port = int(sys.argv[1]); mode = sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def msg(frm, to, subject, body='hello\n'):
    m = EmailMessage(); m['From'] = frm; m['To'] = to; m['Subject'] = subject; m.set_content(body); return m
if mode == 'submission':
    with smtplib.SMTP('127.0.0.1', port) as s:
        s.starttls(context=ctx); s.login('alice@example.test', 'alice-password')
        s.send_message(msg('alice@example.test', 'bob@example.test', 'smtplib 587'))
        # Spoofing: another user's address as MAIL FROM is refused with 553.
        try:
            s.send_message(msg('bob@example.test', 'alice@example.test', 'spoof'), from_addr='bob@example.test')
            print('SPOOF ACCEPTED'); sys.exit(1)
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 553, e
        # A From: header that is not hers is refused at the end of DATA.
        try:
            s.send_message(msg('bob@example.test', 'alice@example.test', 'spoof2'), from_addr='alice@example.test')
            print('HEADER SPOOF ACCEPTED'); sys.exit(1)
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 550, e
elif mode == 'wrongpass':
    with smtplib.SMTP('127.0.0.1', port) as s:
        s.starttls(context=ctx)
        try:
            s.login('alice@example.test', 'not-her-password'); print('LOGIN ACCEPTED'); sys.exit(1)
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535, e
elif mode == 'utf8':
    with smtplib.SMTP('127.0.0.1', port) as s:
        s.ehlo(); assert s.has_extn('smtputf8') and s.has_extn('8bitmime')
        m = EmailMessage(); m['From'] = 'Zoë <zoë@remote.example>'; m['To'] = 'jörg@bücher.test'
        m['Subject'] = 'Grüße'; m.set_content('Schöne Grüße\n', cte='8bit')
        s.send_message(m, mail_options=['SMTPUTF8', 'BODY=8BITMIME'])
        # Without SMTPUTF8 a UTF-8 address is refused (RFC 6531).
        code, _ = s.mail('zoë@remote.example')
        assert code == 553, code
elif mode == 'oversize':
    with smtplib.SMTP('127.0.0.1', port) as s:
        s.ehlo(); limit = int(s.esmtp_features['size'])
        big = 'x' * 100 + '\n'
        m = msg('a@remote.example', 'alice@example.test', 'big', big * (limit // 100 + 10))
        try:
            s.send_message(m); print('OVERSIZE ACCEPTED'); sys.exit(1)
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 552, e   # refused at MAIL FROM thanks to SIZE=
        s.rset()
        # Lying about the size (no SIZE=) still ends in 552 5.3.4 after DATA.
        s.esmtp_features.pop('size')
        try:
            s.sendmail('a@remote.example', ['alice@example.test'], m.as_bytes()); print('OVERSIZE DATA ACCEPTED'); sys.exit(1)
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 552 and b'5.3.4' in e.smtp_error, e
print('ok')
"#;

#[test]
fn smtplib_submission_spoofing_refused() {
    let y = Yubin::start(&standard_config(""));
    let (code, out) = python(SMTPLIB, &[&y.ports.submission.to_string(), "submission"]);
    assert_eq!(code, 0, "{out}\n{}", y.log());
    let bob = y.messages("bob@example.test");
    assert_eq!(bob.len(), 1);
    assert!(
        y.messages("alice@example.test").is_empty(),
        "no spoofed message delivered"
    );
}

#[test]
fn smtplib_wrong_password() {
    let y = Yubin::start(&standard_config(""));
    let (code, out) = python(SMTPLIB, &[&y.ports.submission.to_string(), "wrongpass"]);
    assert_eq!(code, 0, "{out}");
    assert!(y.log().contains("authentication failed"));
}

#[test]
fn smtplib_utf8_addresses_and_8bit() {
    let y = Yubin::start(&standard_config(""));
    let (code, out) = python(SMTPLIB, &[&y.ports.smtp.to_string(), "utf8"]);
    assert_eq!(code, 0, "{out}\n{}", y.log());
    let msgs = y.messages("jörg@xn--bcher-kva.test");
    assert_eq!(msgs.len(), 1, "{}", y.log());
    assert!(msgs[0].contains("Schöne Grüße"), "8-bit body kept: {}", msgs[0]);
    assert!(
        msgs[0].starts_with("Return-Path: <zoë@remote.example>"),
        "{}",
        msgs[0]
    );
}

#[test]
fn oversize_is_refused_before_and_after_data() {
    let y = Yubin::start(&standard_config("limits {\n    message-size \"64KiB\"\n}\n"));
    let (code, out) = python(SMTPLIB, &[&y.ports.smtp.to_string(), "oversize"]);
    assert_eq!(code, 0, "{out}\n{}", y.log());
    assert!(y.messages("alice@example.test").is_empty());
}

#[test]
fn recipients_unknown_disabled_aliases_catch_all_and_tags() {
    let y = Yubin::start(&standard_config(""));
    let (mut c, greeting) = RawClient::connect(y.ports.smtp);
    assert!(greeting.starts_with("220 mx.example.test"), "{greeting}");
    assert!(c.cmd("EHLO client.example").starts_with("250-mx.example.test"));
    assert!(c.cmd("MAIL FROM:<sender@remote.example>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<nobody@example.test>").starts_with("550 5.1.1"));
    assert!(
        c.cmd("RCPT TO:<carol@example.test>").starts_with("550 5.2.1"),
        "disabled user"
    );
    assert!(
        c.cmd("RCPT TO:<alice+lists@example.test>").starts_with("250"),
        "+tag"
    );
    assert!(
        c.cmd("RCPT TO:<INFO@Example.Org>").starts_with("250"),
        "user alias in alias domain"
    );
    assert!(
        c.cmd("RCPT TO:<all@example.test>").starts_with("250"),
        "nested aliases"
    );
    assert!(
        c.cmd("RCPT TO:<whatever@catchall.test>").starts_with("250"),
        "catch-all"
    );
    assert!(
        c.cmd("RCPT TO:<postmaster>").starts_with("250"),
        "RFC 5321 <postmaster>"
    );
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"Subject: fan-out\r\n\r\nOne copy per mailbox.\r\n.\r\n");
    assert!(c.read_reply().starts_with("250 2.0.0"));
    assert!(c.cmd("QUIT").starts_with("221"));
    // alice once (tag, alias, team, all, postmaster deduplicated), bob via team, dave via catch-all.
    assert_eq!(y.messages("alice@example.test").len(), 1);
    assert_eq!(y.messages("bob@example.test").len(), 1);
    assert_eq!(y.messages("dave@catchall.test").len(), 1);
    assert!(y.messages("carol@example.test").is_empty());
    // Several recipients: no `for <...>` clause naming one of them.
    assert!(!y.messages("bob@example.test")[0].contains("\tfor <"));
    // One file, hard-linked: same inode for alice and bob.
    use std::os::unix::fs::MetadataExt;
    let a = std::fs::metadata(&y.inbox("alice@example.test")[0]).unwrap();
    let b = std::fs::metadata(&y.inbox("bob@example.test")[0]).unwrap();
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn quota_full_is_refused_at_rcpt() {
    // bob's quota is 20 KiB: the first 25 KiB message fits (usage was 0), the next is refused.
    let y = Yubin::start(&standard_config(""));
    let body = "y".repeat(25 * 1024);
    for (i, expect) in [(1, "250 2.0.0"), (2, "552 5.2.2")] {
        let (mut c, _) = RawClient::connect(y.ports.smtp);
        c.cmd("EHLO client.example");
        c.cmd("MAIL FROM:<sender@remote.example>");
        let r = c.cmd("RCPT TO:<bob@example.test>");
        if i == 1 {
            assert!(r.starts_with("250"), "{r}");
            c.cmd("DATA");
            c.send(format!("Subject: {i}\r\n\r\n{body}\r\n.\r\n").as_bytes());
            let r = c.read_reply();
            assert!(r.starts_with(expect), "{r}");
        } else {
            assert!(r.starts_with(expect), "{r}");
        }
    }
    // A team message still reaches alice even though bob is full.
    let (mut c, _) = RawClient::connect(y.ports.smtp);
    c.cmd("EHLO client.example");
    c.cmd("MAIL FROM:<sender@remote.example>");
    assert!(c.cmd("RCPT TO:<team@example.test>").starts_with("250"));
    c.cmd("DATA");
    c.send(b"Subject: team\r\n\r\nhi\r\n.\r\n");
    assert!(c.read_reply().starts_with("250"));
    assert_eq!(y.messages("bob@example.test").len(), 1);
    assert_eq!(y.messages("alice@example.test").len(), 1);
}

#[test]
fn bdat_chunks_are_assembled() {
    let y = Yubin::start(&standard_config(""));
    let (mut c, _) = RawClient::connect(y.ports.smtp);
    let ehlo = c.cmd("EHLO client.example");
    assert!(ehlo.contains("250-CHUNKING"), "{ehlo}");
    assert!(
        c.cmd("MAIL FROM:<sender@remote.example> BODY=8BITMIME")
            .starts_with("250")
    );
    assert!(c.cmd("RCPT TO:<alice@example.test>").starts_with("250"));
    let part1 = b"Subject: chunked\r\n\r\nfirst part, ";
    let part2 = b"second part.\r\n.leading dot stays\r\n";
    c.send(format!("BDAT {}\r\n", part1.len()).as_bytes());
    c.send(part1);
    assert!(c.read_reply().starts_with("250"), "chunk 1");
    c.send(format!("BDAT {} LAST\r\n", part2.len()).as_bytes());
    c.send(part2);
    let r = c.read_reply();
    assert!(r.starts_with("250 2.0.0"), "{r}");
    // BDAT without a transaction: the chunk is read and refused.
    c.send(b"BDAT 5 LAST\r\nhello");
    assert!(c.read_reply().starts_with("503"));
    assert!(c.cmd("NOOP").starts_with("250"), "session still in sync");
    let m = &y.messages("alice@example.test")[0];
    assert!(
        m.ends_with("Subject: chunked\r\n\r\nfirst part, second part.\r\n.leading dot stays\r\n"),
        "{m}"
    );
}

#[test]
fn pipelining_and_dot_stuffing() {
    let y = Yubin::start(&standard_config(""));
    let (mut c, _) = RawClient::connect(y.ports.smtp);
    c.cmd("EHLO client.example");
    // Everything in one write, as a PIPELINING client does.
    c.send(
        b"MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n",
    );
    assert!(c.read_reply().starts_with("250"));
    assert!(c.read_reply().starts_with("250"));
    assert!(c.read_reply().starts_with("550"));
    assert!(c.read_reply().starts_with("354"));
    c.send(b"Subject: dots\r\n\r\n..one dot\r\n...two dots\r\n.\r\nQUIT\r\n");
    assert!(c.read_reply().starts_with("250"));
    assert!(c.read_reply().starts_with("221"));
    let m = &y.messages("alice@example.test")[0];
    assert!(m.ends_with("\r\n.one dot\r\n..two dots\r\n"), "{m}");
}

#[test]
fn smuggling_attempt_stays_in_one_message() {
    let y = Yubin::start(&standard_config(""));
    let (mut c, _) = RawClient::connect(y.ports.smtp);
    c.cmd("EHLO client.example");
    c.cmd("MAIL FROM:<s@remote.example>");
    c.cmd("RCPT TO:<alice@example.test>");
    c.cmd("DATA");
    // `<LF>.<LF>` followed by a smuggled transaction, then the real end of data.
    c.send(b"Subject: outer\r\n\r\nhi\n.\nMAIL FROM:<admin@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n");
    let r = c.read_reply();
    assert!(r.starts_with("250"), "{r}");
    assert!(c.cmd("NOOP").starts_with("250"));
    assert_eq!(y.messages("alice@example.test").len(), 1);
    assert!(
        y.messages("bob@example.test").is_empty(),
        "nothing smuggled to bob"
    );
    // A bare CR makes the message invalid.
    c.cmd("MAIL FROM:<s@remote.example>");
    c.cmd("RCPT TO:<alice@example.test>");
    c.cmd("DATA");
    c.send(b"Subject: cr\r\n\r\na\r.\rb\r\n.\r\n");
    assert!(c.read_reply().starts_with("550 5.6.11"));
    assert_eq!(y.messages("alice@example.test").len(), 1);
    let _ = read(&y.inbox("alice@example.test")[0]);
}

#[test]
fn failed_logins_ban_the_client() {
    let y = Yubin::start(&standard_config(
        "limits {\n    auth-failures 3 within=\"10m\" ban=\"1h\"\n}\n",
    ));
    let script = r#"
import smtplib, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for i in range(3):
    s = smtplib.SMTP('127.0.0.1', port); s.starttls(context=ctx); s.ehlo()
    s.user, s.password = 'alice@example.test', 'wrong-%d' % i
    try:
        s.auth('PLAIN', s.auth_plain)
        sys.exit('login accepted')
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535, e
# Now banned: even the right password is not tried; the greeting is 421.
try:
    s = smtplib.SMTP('127.0.0.1', port)
    sys.exit('connected while banned')
except smtplib.SMTPConnectError as e:
    assert e.smtp_code == 421, e
except smtplib.SMTPServerDisconnected:
    pass
print('ok')
"#;
    let (code, out) = python(script, &[&y.ports.submission.to_string()]);
    assert_eq!(code, 0, "{out}\n{}", y.log());
    // The ban covers every listener.
    let (_, greeting) = RawClient::connect(y.ports.smtp);
    assert!(greeting.starts_with("421 4.7.0"), "{greeting}");
}

#[test]
fn sequence_errors_and_limits() {
    let y = Yubin::start(&standard_config("limits {\n    recipients-per-message 2\n}\n"));
    let (mut c, _) = RawClient::connect(y.ports.smtp);
    assert!(
        c.cmd("MAIL FROM:<a@remote.example>").starts_with("503"),
        "EHLO first"
    );
    c.cmd("EHLO client.example");
    assert!(
        c.cmd("RCPT TO:<alice@example.test>").starts_with("503"),
        "MAIL first"
    );
    assert!(c.cmd("DATA").starts_with("503"));
    assert!(c.cmd("VRFY alice").starts_with("252"));
    assert!(c.cmd("EXPN team").starts_with("502"));
    assert!(c.cmd("FROB").starts_with("500"));
    assert!(
        c.cmd(&format!("NOOP {}", "x".repeat(3000)))
            .starts_with("500 5.5.2"),
        "line too long"
    );
    c.cmd("MAIL FROM:<a@remote.example>");
    assert!(
        c.cmd("MAIL FROM:<a@remote.example>").starts_with("503"),
        "nested MAIL"
    );
    assert!(c.cmd("RCPT TO:<alice@example.test>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<bob@example.test>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<info@example.test>").starts_with("452 4.5.3"));
    assert!(c.cmd("RSET").starts_with("250"));
    // Ten errors close the session.
    let mut last = String::new();
    for _ in 0..12 {
        last = c.cmd("BOGUS");
        if last.contains("421") {
            break;
        }
    }
    assert!(last.contains("421 4.7.0"), "{last}");
    assert!(c.closed());
    // HTTP on the SMTP port is answered and closed at once.
    let (mut h, _) = RawClient::connect(y.ports.smtp);
    assert!(h.cmd("GET / HTTP/1.1").starts_with("521"));
}

#[test]
fn starttls_discards_pipelined_plaintext() {
    let script = r#"
import socket, ssl, sys
port = int(sys.argv[1])
s = socket.create_connection(('127.0.0.1', port)); f = s.makefile('rb')
def reply():
    lines = []
    while True:
        l = f.readline(); lines.append(l)
        if len(l) < 4 or l[3:4] == b' ': return b''.join(lines)
reply(); s.sendall(b'EHLO c\r\n'); reply()
# CVE-2011-0411: a command injected after STARTTLS in the same packet must be ignored.
s.sendall(b'STARTTLS\r\nRSET\r\n')
r = reply(); assert r.startswith(b'220'), r
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname='mx.example.test'); tf = t.makefile('rb')
t.sendall(b'NOOP\r\n'); r = tf.readline()
assert r.startswith(b'250 2.0.0 OK'), r  # the reply to NOOP, not to the injected RSET
t.sendall(b'MAIL FROM:<a@remote.example>\r\n'); r = tf.readline()
assert r.startswith(b'503'), r  # EHLO is required again after TLS
print('ok')
"#;
    let y = Yubin::start(&standard_config(""));
    let (code, out) = python(script, &[&y.ports.smtp.to_string()]);
    assert_eq!(code, 0, "{out}\n{}", y.log());
    assert!(y.log().contains("discarded plaintext pipelined after STARTTLS"));
}

#[test]
fn graceful_shutdown_finishes_a_transaction_in_flight() {
    let mut y = Yubin::start(&standard_config(""));
    let (mut c, _) = RawClient::connect(y.ports.smtp);
    c.cmd("EHLO client.example");
    c.cmd("MAIL FROM:<s@remote.example>");
    c.cmd("RCPT TO:<alice@example.test>");
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"Subject: in flight\r\n\r\nfirst half\r\n");
    // SIGTERM while the message is half sent.
    let stopper = std::thread::scope(|s| {
        let h = s.spawn(|| y.stop());
        std::thread::sleep(std::time::Duration::from_millis(300));
        c.send(b"second half\r\n.\r\n");
        let r = c.read_reply();
        assert!(r.starts_with("250"), "transaction in flight finished: {r}");
        let r = c.cmd("NOOP");
        assert!(
            r.starts_with("421 4.3.2") || r.is_empty(),
            "then the session ends: {r}"
        );
        h.join().unwrap()
    });
    assert_eq!(stopper, Some(0), "clean exit");
    assert_eq!(y.messages("alice@example.test").len(), 1);
}

#[test]
fn per_ip_connection_limit() {
    let y = Yubin::start(&standard_config("limits {\n    connections 100 per-ip=3\n}\n"));
    let held: Vec<_> = (0..3).map(|_| RawClient::connect(y.ports.smtp)).collect();
    for (_, greeting) in &held {
        assert!(greeting.starts_with("220"), "{greeting}");
    }
    let (mut fourth, greeting) = RawClient::connect(y.ports.smtp);
    assert!(greeting.starts_with("421 4.7.0"), "{greeting}");
    assert!(fourth.closed());
    drop(held);
    // Slots come back when sessions end.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, g) = RawClient::connect(y.ports.smtp);
        if g.starts_with("220") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slots not released: {g}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn users_are_synced_into_the_database() {
    let y = Yubin::start(&standard_config(""));
    let db = y.data.join("yubin.db");
    let script = r#"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = c.execute("SELECT address, disabled, maildir FROM users WHERE removed = 0 ORDER BY address").fetchall()
print(rows)
assert [r[0] for r in rows] == ['alice@example.test', 'bob@example.test', 'carol@example.test', 'dave@catchall.test', 'jörg@xn--bcher-kva.test'], rows
assert [r[1] for r in rows] == [0, 0, 1, 0, 0], rows
assert rows[0][2] == 'mail/example.test/alice/Maildir', rows
print('ok')
"#;
    let (code, out) = python(script, &[db.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
}
