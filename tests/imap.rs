//! IMAP against a running yubin with real clients: every announced command (Python's imaplib and
//! an exact client in tests/scripts), IDLE seeing an SMTP delivery and another session's
//! changes, UIDs unchanged across a restart, SORT and THREAD answers (and their summaries
//! kept across a restart), and failed logins feeding the shared ban.

mod common;

use common::mail::{ca, count_files, mail_server, maildir, script};
use common::server::have;

#[test]
fn every_command_with_imaplib_and_exact_responses() {
    let (y, tls) = mail_server("");
    let p = y.ports;
    let out = script(
        "imap_session.py",
        &[
            p.smtp.to_string(),
            p.imap.to_string(),
            p.imaps.to_string(),
            ca(&tls),
        ],
    );
    assert!(out.contains("all checks passed"), "{out}\n{}", y.log());
    // Folders are Maildir++ on disk, international names in modified UTF-7 (as Dovecot does).
    let root = maildir(&y, "alice");
    for f in [
        ".Sent",
        ".Drafts",
        ".Trash",
        ".Junk",
        ".Archive",
        ".&AMQ-rger",
        ".Work",
    ] {
        assert!(root.join(f).join("cur").is_dir(), "{f} missing");
    }
    // Flags are mirrored into file names, so other Maildir tools see them.
    let drafts: Vec<String> = std::fs::read_dir(root.join(".Drafts/cur"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(drafts.len() == 1 && drafts[0].ends_with(":2,DS"), "{drafts:?}");
    assert_eq!(count_files(&root.join("cur")), 0, "INBOX was emptied by CLOSE");
}

#[test]
fn idle_sees_deliveries_and_other_sessions() {
    let (y, tls) = mail_server("");
    let p = y.ports;
    let out = script(
        "imap_idle.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls)],
    );
    assert!(out.contains("idle: all checks passed"), "{out}");
}

#[test]
fn uids_survive_a_restart() {
    let (mut y, tls) = mail_server("");
    let p = y.ports;
    let first = script(
        "imap_uids.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls), "3".into()],
    );
    y.stop();
    y.spawn(&[]);
    let second = script(
        "imap_uids.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls), "1".into()],
    );
    let line = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("state "))
            .map(str::to_owned)
            .expect("state line")
    };
    let (a, b) = (line(&first), line(&second));
    // "state UIDVALIDITY uid,uid,..." — same UIDVALIDITY, the old UIDs unchanged, one new.
    let (av, auids) = a[6..].split_once(' ').unwrap();
    let (bv, buids) = b[6..].split_once(' ').unwrap();
    assert_eq!(av, bv, "UIDVALIDITY changed across the restart");
    assert_eq!(auids, "1,2,3");
    assert_eq!(buids, "1,2,3,4");
}

#[test]
fn sort_and_thread_with_exact_responses() {
    let (mut y, tls) = mail_server("");
    let p = y.ports;
    let args = |phase: &str| {
        vec![
            p.smtp.to_string(),
            p.imaps.to_string(),
            ca(&tls),
            phase.to_owned(),
        ]
    };
    let out = script("imap_sort.py", &args("1"));
    assert!(out.contains("sort phase 1: all checks passed"), "{out}");
    y.stop();
    // Message 1's file changes on disk (a Maildir file never does under its name): SORT and
    // THREAD must answer from the summaries stored when the messages were first sorted.
    let cur = maildir(&y, "alice").join("cur");
    let first = std::fs::read_dir(&cur)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("Date: Fri, 02 Nov 2001 10:00:00")))
        .expect("message 1 in cur/");
    let text = std::fs::read_to_string(&first).unwrap();
    let changed = text.replace("Subject: Project plan", "Subject: AAAA project");
    assert_ne!(text, changed);
    std::fs::write(&first, changed).unwrap();
    y.spawn(&[]);
    let out = script("imap_sort.py", &args("2"));
    assert!(out.contains("sort phase 2: all checks passed"), "{out}");
}

#[test]
fn failed_logins_ban_the_address_for_every_protocol() {
    if !have("swaks") {
        return;
    }
    let (y, tls) = mail_server("limits {\n    auth-failures 3 within=\"10m\" ban=\"1h\"\n}\n");
    let p = y.ports;
    let out = script(
        "imap_ban.py",
        &[p.imaps.to_string(), p.pop3s.to_string(), ca(&tls)],
    );
    assert!(out.contains("ban: all checks passed"), "{out}");
    // SMTP refuses the banned address too.
    let (_, text) = common::server::swaks(&[
        "--server",
        &format!("127.0.0.1:{}", p.submission),
        "--to",
        "bob@example.test",
        "--quit-after",
        "CONNECT",
    ]);
    assert!(text.contains("421") || text.contains("554"), "{text}");
}

#[test]
fn pop3_with_poplib() {
    let (y, tls) = mail_server("");
    let p = y.ports;
    let out = script(
        "pop3_session.py",
        &[
            p.smtp.to_string(),
            p.pop3.to_string(),
            p.pop3s.to_string(),
            p.imaps.to_string(),
            ca(&tls),
        ],
    );
    assert!(out.contains("pop3: all checks passed"), "{out}");
    // Deleted at QUIT: one file left in the Maildir.
    let root = maildir(&y, "alice");
    assert_eq!(count_files(&root.join("cur")) + count_files(&root.join("new")), 1);
}

#[test]
fn connection_limits_apply_to_imap_and_pop3() {
    let (y, _tls) = mail_server("limits {\n    connections 10 per-ip=2\n}\n");
    let p = y.ports;
    let read_line = |s: &mut std::net::TcpStream| {
        use std::io::Read;
        let mut buf = Vec::new();
        let mut b = [0u8; 1];
        while !buf.ends_with(b"\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
            buf.push(b[0]);
        }
        String::from_utf8_lossy(&buf).into_owned()
    };
    // Each listener has its own pool: two IMAP and two POP3 connections from one address.
    let mut a = std::net::TcpStream::connect(("127.0.0.1", p.imap)).unwrap();
    let mut a2 = std::net::TcpStream::connect(("127.0.0.1", p.imap)).unwrap();
    let mut b = std::net::TcpStream::connect(("127.0.0.1", p.pop3)).unwrap();
    let mut b2 = std::net::TcpStream::connect(("127.0.0.1", p.pop3)).unwrap();
    assert!(read_line(&mut a).starts_with("* OK [CAPABILITY"));
    assert!(read_line(&mut a2).starts_with("* OK [CAPABILITY"));
    assert!(read_line(&mut b).starts_with("+OK"));
    assert!(read_line(&mut b2).starts_with("+OK"));
    // A third connection from the same address is turned away with a clear reason.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", p.imap)).unwrap();
    assert_eq!(
        read_line(&mut c),
        "* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
    );
    let mut d = std::net::TcpStream::connect(("127.0.0.1", p.pop3)).unwrap();
    assert_eq!(
        read_line(&mut d),
        "-ERR [SYS/TEMP] Too many connections, try again later\r\n"
    );
    // Closing one frees a slot.
    drop(a);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut e = std::net::TcpStream::connect(("127.0.0.1", p.imap)).unwrap();
    assert!(read_line(&mut e).starts_with("* OK [CAPABILITY"));
}

#[test]
fn behaviours_imaptest_found_wrong() {
    let (y, tls) = mail_server("");
    let p = y.ports;
    let out = script(
        "imap_conformance.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls)],
    );
    assert!(out.contains("conformance: all checks passed"), "{out}");
}

#[test]
fn qresync_after_expunges_and_flag_changes() {
    let (y, tls) = mail_server("");
    let p = y.ports;
    let out = script(
        "imap_qresync.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls)],
    );
    assert!(out.contains("qresync: all checks passed"), "{out}");
}

/// Issue 11: CONTEXT=SEARCH (imaptest's search-context-update, -update2, -update3 and
/// search-partial), with what imaptest does not try: updates caused by other sessions and
/// deliveries, the NOUPDATE limit, CANCELUPDATE of unknown tags, contexts ending with the folder.
#[test]
fn search_contexts_stay_up_to_date() {
    let (y, tls) = mail_server("");
    let p = y.ports;
    let out = script(
        "imap_context.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls)],
    );
    assert!(out.contains("context: all checks passed"), "{out}");
}

#[test]
fn notify_reports_changes_without_polling() {
    let (y, tls) = mail_server("");
    let p = y.ports;
    let out = script(
        "imap_notify.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls)],
    );
    assert!(out.contains("notify: all checks passed"), "{out}");
}
