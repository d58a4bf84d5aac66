//! A mail server with every reading protocol for the IMAP/POP3 and client tests, and running
//! the Python scripts in tests/scripts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use super::TempDir;
use super::server::{ALICE_HASH, BOB_HASH, Yubin};
use super::tls::make_ca;

/// A server with IMAP, IMAPS, POP3 and POP3S on a certificate for localhost signed by a test
/// CA (returned: its folder holds `ca.pem`).
pub fn mail_server(extra: &str) -> (Yubin, TempDir) {
    let tls = TempDir::new("imap-tls");
    make_ca(&tls.0);
    let t = std::fs::canonicalize(&tls.0).expect("tls dir");
    let config = format!(
        r#"hostname "mx.example.test"
listen {{
    smtp "127.0.0.1:{{SMTP}}"
    submission "127.0.0.1:{{SUBMISSION}}"
    imap "127.0.0.1:{{IMAP}}"
    imaps "127.0.0.1:{{IMAPS}}"
    pop3 "127.0.0.1:{{POP3}}"
    pop3s "127.0.0.1:{{POP3S}}"
}}
tls {{
    certificate "{cert}" key="{key}"
}}
storage {{
    data "data"
}}
domain "example.test" {{
    user "alice" password-hash="{ALICE_HASH}" quota="10MiB"
    user "bob" password-hash="{BOB_HASH}"
}}
{extra}
"#,
        cert = t.join("cert.pem").display(),
        key = t.join("key.pem").display(),
    );
    (Yubin::start(&config), tls)
}

/// Runs a script from tests/scripts with its helper modules; panics with its output on failure.
pub fn script(name: &str, args: &[String]) -> String {
    let dir = super::root().join("tests/scripts");
    let out = Command::new("python3")
        .arg(dir.join(name))
        .args(args)
        .env("PYTHONPATH", &dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} failed:\n{text}");
    text
}

/// The test CA's file.
pub fn ca(tls: &TempDir) -> String {
    std::fs::canonicalize(tls.0.join("ca.pem"))
        .expect("ca")
        .display()
        .to_string()
}

/// A user's Maildir root.
pub fn maildir(y: &Yubin, user: &str) -> PathBuf {
    y.data.join("mail/example.test").join(user).join("Maildir")
}

/// Files in a folder.
pub fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.flatten().count()).unwrap_or(0)
}
