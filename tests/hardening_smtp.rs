//! Abuse that must stay bounded (issue 10): strangers half-way through huge DATA transfers,
//! strangers holding every connection of the MX port, and From: spoofing on submission.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::server::{Yubin, free_port, python, standard_config};

fn read_reply(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while let Ok(1) = s.read(&mut b) {
        out.push(b[0]);
        if out.ends_with(b"\r\n") {
            let text = String::from_utf8_lossy(&out).into_owned();
            let last = text.trim_end().rsplit("\r\n").next().unwrap_or("").to_owned();
            if last.len() < 4 || last.as_bytes()[3] == b' ' {
                return text;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn cmd(s: &mut TcpStream, line: &str) -> String {
    s.write_all(format!("{line}\r\n").as_bytes()).expect("write");
    read_reply(s)
}

#[test]
fn twenty_strangers_half_way_through_24_mib_stay_small() {
    // Issue 10, case 6: each message used to be held in memory: 20 × 24 MiB took the RSS
    // from 27 to 508 MiB. Bodies are spooled to disk now.
    let y = Yubin::start(&standard_config("limits {\n    message-size \"25MiB\"\n}\n"));
    let baseline = y.rss_kib();
    let line = {
        let mut l = vec![b'x'; 998];
        l.extend_from_slice(b"\r\n");
        l
    };
    let mut sessions = Vec::new();
    for i in 0..20 {
        let mut s = TcpStream::connect(("127.0.0.1", y.ports.smtp)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        assert!(read_reply(&mut s).starts_with("220"));
        assert!(cmd(&mut s, "EHLO stranger.example").starts_with("250"));
        assert!(cmd(&mut s, "MAIL FROM:<someone@elsewhere.example>").starts_with("250"));
        assert!(cmd(&mut s, "RCPT TO:<alice@example.test>").starts_with("250"));
        assert!(cmd(&mut s, "DATA").starts_with("354"));
        s.write_all(format!("Subject: big {i}\r\n\r\n").as_bytes())
            .unwrap();
        // 12 MiB: half of a 24 MiB message, no final dot yet.
        for _ in 0..(12 * 1024 * 1024 / line.len()) {
            s.write_all(&line).unwrap();
        }
        sessions.push(s);
    }
    // Let the server read what was sent.
    std::thread::sleep(Duration::from_secs(2));
    let mid = y.rss_kib();
    assert!(
        mid < 100 * 1024,
        "20 sessions half-way through 24 MiB took the RSS from {baseline} KiB to {mid} KiB"
    );
    // Finishing them delivers every message (read back from the spool a few at a time).
    for s in &mut sessions {
        s.write_all(b".\r\n").unwrap();
    }
    for s in &mut sessions {
        let r = read_reply(s);
        assert!(r.starts_with("250"), "{r}");
    }
    assert_eq!(y.inbox("alice@example.test").len(), 20);
    let spool: Vec<_> = std::fs::read_dir(y.data.join("spool")).unwrap().collect();
    assert!(spool.is_empty(), "spool files left behind: {spool:?}");
}

/// Connects from `source` (any 127.0.0.0/8 address) to `port`.
fn connect_from(source: std::net::IpAddr, port: u16) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())?;
    Ok(socket.into())
}

#[test]
fn strangers_holding_port_25_do_not_lock_users_out() {
    // Issue 10, case 7: 500 idle SMTP strangers used to fill the one connection pool of every
    // listener; IMAPS handshakes then failed and /healthz answered 503.
    let (http, imaps) = (free_port(), free_port());
    let config = standard_config("").replace(
        "    submissions \"127.0.0.1:{SUBMISSIONS}\"\n",
        &format!(
            "    submissions \"127.0.0.1:{{SUBMISSIONS}}\"\n    imaps \"127.0.0.1:{imaps}\"\n    http \"127.0.0.1:{http}\"\n"
        ),
    );
    let y = Yubin::start(&config);
    let mut strangers = Vec::new();
    for i in 0..500u32 {
        let ip = std::net::IpAddr::from([127, 0, 1, (i / 20 + 2) as u8]);
        let mut s = connect_from(ip, y.ports.smtp).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let greeting = read_reply(&mut s);
        assert!(greeting.starts_with("220"), "stranger {i}: {greeting}");
        strangers.push(s);
    }
    // The MX listener is full now...
    let mut extra = connect_from([127, 0, 2, 1].into(), y.ports.smtp).expect("connect");
    extra.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let busy = read_reply(&mut extra);
    assert!(busy.starts_with("421"), "{busy}");
    // ...but users still log in over IMAPS, and the health check is healthy.
    let script = format!(
        "import imaplib, ssl\nctx = ssl._create_unverified_context()\n\
         m = imaplib.IMAP4_SSL('127.0.0.1', {imaps}, ssl_context=ctx, timeout=20)\n\
         m.login('alice@example.test', 'alice-password')\nprint(m.select('INBOX')[0])\nm.logout()\n"
    );
    let (code, out) = python(&script, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK"), "{out}");
    let mut h = TcpStream::connect(("127.0.0.1", http)).expect("http");
    h.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    h.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = h.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(strangers);
}

fn submit(y: &Yubin, user: &str, password: &str, message: &str) -> (i32, String) {
    let script = format!(
        "import smtplib, ssl, sys\nctx = ssl._create_unverified_context()\n\
         s = smtplib.SMTP('127.0.0.1', {port}, timeout=20)\ns.starttls(context=ctx)\n\
         s.login({user:?}, {password:?})\n\
         try:\n    s.sendmail({user:?}, ['alice@example.test'], {message:?}.encode())\n    print('ACCEPTED')\n\
         except smtplib.SMTPDataError as e:\n    print('REFUSED', e.smtp_code, e.smtp_error.decode())\n\
         s.quit()\n",
        port = y.ports.submission,
    );
    python(&script, &[])
}

#[test]
fn submission_refuses_spoofable_headers() {
    // Issue 10, case 12: logged in as bob, `From: alice` then `From: bob` was accepted (only
    // the last From: was checked; readers show the first).
    let y = Yubin::start(&standard_config(""));
    let cases = [
        (
            "From: alice@example.test\r\nFrom: bob@example.test\r\nSubject: x\r\n\r\nspoof\r\n",
            "REFUSED 550 5.6.0 Message has more than one From:",
        ),
        (
            "From: bob@example.test\r\nSender: bob@example.test\r\nSender: alice@example.test\r\n\r\nx\r\n",
            "REFUSED 550 5.6.0 Message has more than one Sender:",
        ),
        (
            "From: bob@example.test\r\nSubject: a\r\nSubject: b\r\n\r\nx\r\n",
            "REFUSED 550 5.6.0 Message has more than one Subject:",
        ),
        (
            "From: bob@example.test\r\nTo: a@example.test\r\nTo: b@example.test\r\n\r\nx\r\n",
            "REFUSED 550 5.6.0 Message has more than one To:",
        ),
        (
            "From: alice\r\nSubject: x\r\n\r\nx\r\n",
            "REFUSED 550 5.6.0 From: header needs",
        ),
        (
            "From: <>\r\nSubject: x\r\n\r\nx\r\n",
            "REFUSED 550 5.6.0 From: header needs",
        ),
        (
            "From: alice@example.test\r\nSubject: x\r\n\r\nx\r\n",
            "REFUSED 550 5.7.1 From: header address not allowed",
        ),
        (
            "From: Bob <bob@example.test>\r\nSubject: fine\r\n\r\nx\r\n",
            "ACCEPTED",
        ),
    ];
    for (message, expect) in cases {
        let (code, out) = submit(&y, "bob@example.test", "bob-password", message);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains(expect),
            "{message:?}: expected {expect:?}, got {out}"
        );
    }
    assert_eq!(y.inbox("alice@example.test").len(), 1);
}

/// Issue 13: a relay that closed its sessions and reconnected at once was refused ("refused:
/// connection limit") while the closed sessions' slots were still held. Rounds of as many
/// connections as the per-IP limit, each opened the moment the previous round said goodbye or
/// hung up: none is refused.
#[test]
fn reconnecting_at_the_limit_the_moment_sessions_close_is_not_refused() {
    let y = Yubin::start(&standard_config("limits {\n    connections 500 per-ip=5\n}\n"));
    for round in 0..40 {
        let mut sessions = Vec::new();
        for _ in 0..5 {
            let mut s = TcpStream::connect(("127.0.0.1", y.ports.smtp)).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let greeting = read_reply(&mut s);
            assert!(greeting.starts_with("220"), "round {round}: {greeting}");
            sessions.push(s);
        }
        // Half of the rounds say goodbye, the others just hang up.
        if round % 2 == 0 {
            for s in &mut sessions {
                assert!(cmd(s, "QUIT").starts_with("221"));
            }
        }
        drop(sessions);
    }
    // The limit still holds for connections that stay.
    let held: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", y.ports.smtp)).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            assert!(read_reply(&mut s).starts_with("220"));
            s
        })
        .collect();
    let mut extra = TcpStream::connect(("127.0.0.1", y.ports.smtp)).expect("connect");
    extra.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = read_reply(&mut extra);
    assert!(r.starts_with("421"), "{r}");
    drop(held);
}
