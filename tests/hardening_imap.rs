//! Hostile clients against IMAP, POP3 and SMTP logins (issue 10): deeply nested SEARCH keys
//! before and after login, LIST patterns that used to overflow the stack or backtrack
//! exponentially, names too long for the disk, huge pre-auth literals, and bans that reach
//! sessions opened before them. The daemon must answer each with a clear error and keep
//! serving.

mod common;

use common::mail::{ca, mail_server, script};

fn assert_no_panic(log: &str) {
    assert!(
        !log.contains("panicked") && !log.contains("overflowed its stack"),
        "the daemon panicked:\n{log}"
    );
}

#[test]
fn hostile_imap_commands_get_clear_errors() {
    let (y, tls) = mail_server("");
    let p = y.ports;
    let out = script(
        "imap_hostile.py",
        &[p.imap.to_string(), p.imaps.to_string(), ca(&tls)],
    );
    assert!(out.contains("hostile IMAP: all checks passed"), "{out}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", p.imaps)).is_ok(),
        "the daemon is gone:\n{}",
        y.log()
    );
    assert_no_panic(&y.log());
}

#[test]
fn bans_reach_sessions_opened_before_them() {
    let (y, tls) = mail_server("limits {\n    auth-failures 3 within=\"10m\" ban=\"1h\"\n}\n");
    let p = y.ports;
    let out = script(
        "ban_open_sessions.py",
        &[
            p.imaps.to_string(),
            p.pop3s.to_string(),
            p.submission.to_string(),
            ca(&tls),
        ],
    );
    assert!(out.contains("ban on open sessions: all checks passed"), "{out}");
    assert_no_panic(&y.log());
}

#[test]
fn each_session_gets_three_login_attempts() {
    let (y, tls) = mail_server("limits {\n    auth-failures 100 within=\"10m\" ban=\"1h\"\n}\n");
    let p = y.ports;
    let out = script(
        "session_attempts.py",
        &[
            p.imaps.to_string(),
            p.pop3s.to_string(),
            p.submission.to_string(),
            ca(&tls),
        ],
    );
    assert!(out.contains("attempts per session: all checks passed"), "{out}");
    assert_no_panic(&y.log());
}

/// After login, an APPEND literal is held in memory whole: twenty clients half-way through
/// 12 MiB literals each took the RSS up by ~240 MiB. Literals now take their size from the
/// server-wide memory budget first, and the clients beyond it wait with their bytes unread.
#[test]
fn twenty_appends_half_way_through_12_mib_stay_within_the_budget() {
    let (y, tls) = mail_server("limits {\n    message-size \"25MiB\"\n}\n");
    let out = script(
        "imap_append_memory.py",
        &[y.ports.imaps.to_string(), ca(&tls), y.pid().to_string()],
    );
    assert!(out.contains("append memory: all checks passed"), "{out}");
    let cur = y.data.join("mail/example.test/bob/Maildir/cur");
    let sizes: Vec<u64> = std::fs::read_dir(&cur)
        .expect("cur")
        .flatten()
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .collect();
    assert_eq!(sizes.len(), 20, "{sizes:?}");
    assert!(sizes.iter().all(|s| *s == 12 * 1024 * 1024), "{sizes:?}");
    assert_no_panic(&y.log());
}
