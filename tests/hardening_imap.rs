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
