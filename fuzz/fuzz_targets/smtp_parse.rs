//! The SMTP command parser (`yubin::smtp::parse`): any line yields a command or a reply, never
//! a panic; an address it accepts has no control characters (they would reach Received: and
//! Return-Path: fields), keeps RFC 5321's length limits, and reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yubin::smtp::parse::{self, Command, MAX_LOCAL, MAX_PATH, Path, ReversePath};

fn check(p: &Path, utf8: bool) {
    let text = p.to_address();
    assert!(
        !text.chars().any(char::is_control),
        "control character in {text:?}"
    );
    assert!(p.local.len() <= MAX_LOCAL + 2, "local part too long: {text:?}");
    assert!(text.len() <= MAX_PATH + 2, "path too long: {text:?}");
    // What is recorded (Return-Path:, the envelope) parses back to the same address.
    if let Ok(again) = parse::path(&format!("<{text}>"), utf8) {
        assert_eq!(again.to_address(), text, "address does not read back as itself");
    }
}

fuzz_target!(|line: &[u8]| {
    let Ok(cmd) = parse::command(line) else { return };
    let _ = cmd.verb();
    match &cmd {
        Command::Mail(ReversePath::Path(p), params) => check(p, params.smtputf8),
        Command::Rcpt(p, _) => check(p, true),
        Command::Ehlo(d) | Command::Helo(d) => {
            assert!(!d.chars().any(char::is_control), "control character in {d:?}");
        }
        _ => {}
    }
});
