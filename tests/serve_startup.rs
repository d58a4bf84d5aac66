//! `yubin serve` refuses to start, with one clear line, when it cannot do its job; and the
//! README's run command works as documented.

mod common;

use std::process::Command;
use std::time::Duration;

use common::TempDir;
use common::server::{ALICE_HASH, free_port, have, swaks};

fn config(dir: &TempDir, port: u16, data: &str, extra: &str) -> String {
    let text = format!(
        "hostname \"mx.example.test\"\nlisten {{\n    smtp \"127.0.0.1:{port}\"\n}}\nstorage {{\n    data \"{data}\"\n}}\ndomain \"example.test\" {{\n    dkim selector=\"t\"\n    user \"alice\" password-hash=\"{ALICE_HASH}\"\n    alias \"postmaster\" to=\"alice\"\n}}\n{extra}"
    );
    let path = dir.join("mail.kdl");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn serve_fails(config: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yubin"));
    cmd.args(["serve", config]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (status.code(), err);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = TempDir::new("startup");
    let (code, err) = serve_fails(&config(&dir, port, "data", ""), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "cannot listen on 127.0.0.1:{port} (listener `smtp` in `listen`)"
        )),
        "{err}"
    );
    assert!(err.contains("in use"), "{err}");
    // Issue 13: said once, with what to do.
    assert_eq!(err.matches("cannot listen on").count(), 1, "{err}");
    assert!(
        err.contains("another program (or another yubin) holds this port"),
        "{err}"
    );
}

#[test]
fn unwritable_data_folder_is_a_clear_error() {
    let dir = TempDir::new("startup");
    std::fs::write(dir.join("not-a-folder"), "x").unwrap();
    let (code, err) = serve_fails(&config(&dir, free_port(), "not-a-folder/data", ""), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("data folder") && err.contains("is not writable"),
        "{err}"
    );
}

#[test]
fn missing_secret_refuses_to_start() {
    let dir = TempDir::new("startup");
    let extra = "relay \"smtp.example.net:587\" {\n    username \"u\"\n    password env=\"YUBIN_TEST_NO_SUCH_SECRET\"\n}\n";
    let (code, err) = serve_fails(&config(&dir, free_port(), "data", extra), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("YUBIN_TEST_NO_SUCH_SECRET is not set"), "{err}");
    assert!(err.contains("relay password"), "{err}");
}

#[test]
fn invalid_config_does_not_start() {
    let dir = TempDir::new("startup");
    let path = dir.join("mail.kdl");
    std::fs::write(
        &path,
        "hostname \"mx.example.test\"\nlisten {\n    smtp \"nonsense\"\n}\n",
    )
    .unwrap();
    let (code, err) = serve_fails(path.to_str().unwrap(), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("invalid_socket_address"), "{err}");
}

#[test]
fn plan_file_can_be_served() {
    let dir = TempDir::new("startup");
    let port = free_port();
    let cfg = config(&dir, port, "data", "");
    let plan = dir.join("plan.json");
    let out = Command::new(env!("CARGO_BIN_EXE_yubin"))
        .args(["plan", &cfg, "-o", plan.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_yubin"))
        .args(["serve", "--plan", plan.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "serve --plan did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}

/// README: `cargo run --release -- serve examples/quickstart.kdl`, then swaks to port 2525 and
/// 2587, and curl reading the message over IMAPS on 2993.
#[test]
fn readme_quickstart_accepts_mail_at_once() {
    if !have("swaks") || !have("curl") {
        return;
    }
    // A copy of the example, so its `var` lands in a temp dir and not in the checkout.
    let dir = TempDir::new("quickstart");
    std::fs::create_dir_all(dir.join("examples")).unwrap();
    let example = common::root().join("examples/quickstart.kdl");
    let copy = dir.join("examples/quickstart.kdl");
    std::fs::copy(&example, &copy).unwrap();
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_yubin"))
        .args(["serve", copy.to_str().unwrap()])
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect("127.0.0.1:2525").is_err() {
        assert!(std::time::Instant::now() < deadline, "quickstart did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, out) = swaks(&[
        "--server",
        "127.0.0.1:2525",
        "--to",
        "alice@example.test",
        "--from",
        "me@example.net",
    ]);
    let (code2, out2) = swaks(&[
        "--server",
        "127.0.0.1:2587",
        "--tls",
        "--auth-user",
        "bob@example.test",
        "--auth-password",
        "bob-password",
        "--from",
        "bob@example.test",
        "--to",
        "team@example.test",
    ]);
    let imap = Command::new("curl")
        .args([
            "-sk",
            "--user",
            "alice@example.test:alice-password",
            "imaps://127.0.0.1:2993/INBOX;UID=1",
        ])
        .output()
        .unwrap();
    // A client that sends the IP address as SNI (RFC 6066 says it must not; some do).
    if have("openssl") {
        let _ = Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                "127.0.0.1:2993",
                "-servername",
                "127.0.0.1",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    // Issue 13: the config's warnings and the certificate's fingerprint are in the log; rustls's
    // per-connection SNI complaint is not.
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap();
    assert!(log.contains("example_password_hash"), "{log}");
    assert!(
        log.contains("self-signed certificate") && log.contains("sha256="),
        "{log}"
    );
    assert!(!log.contains("Illegal SNI"), "{log}");
    assert_eq!(code, 0, "{out}");
    assert_eq!(code2, 0, "{out2}");
    let fetched = String::from_utf8_lossy(&imap.stdout);
    assert!(
        fetched.contains("From: me@example.net"),
        "curl over IMAPS: {fetched}"
    );
    let alice = dir.join("examples/var/mail/example.test/alice/Maildir");
    let files = |sub: &str| std::fs::read_dir(alice.join(sub)).unwrap().count();
    assert_eq!(files("new") + files("cur"), 2, "MX message and team message");
}

#[test]
fn json_logs_have_one_line_per_transaction() {
    if !have("swaks") {
        return;
    }
    let dir = TempDir::new("jsonlog");
    let port = free_port();
    let cfg = config(&dir, port, "data", "");
    let log = dir.join("log.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_yubin"))
        .args(["serve", &cfg, "--log-format", "json"])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, out) = swaks(&[
        "--server",
        &format!("127.0.0.1:{port}"),
        "--to",
        "alice@example.test",
        "--from",
        "a@remote.example",
    ]);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert_eq!(code, 0, "{out}");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log line"))
        .collect();
    let accepted: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "message accepted")
        .collect();
    assert_eq!(accepted.len(), 1, "{text}");
    let a = accepted[0];
    assert_eq!(a["from"], "a@remote.example");
    assert!(a["id"].is_string() && a["size"].is_number(), "{a}");
    assert_eq!(a["span"]["listener"], "smtp", "{a}");
}
