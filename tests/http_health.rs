//! The `http` listener (`/healthz`, `/metrics`) and `yubin health`, the container health check.

mod common;

use std::io::{Read, Write};
use std::process::Command;

use common::server::{Yubin, free_port, standard_config};

fn get(port: u16, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn health(config: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_yubin"))
        .args(["health", "--timeout", "3"])
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn healthz_metrics_and_the_health_command() {
    let http = free_port();
    let config = standard_config("").replace(
        "    submissions \"127.0.0.1:{SUBMISSIONS}\"\n",
        &format!("    submissions \"127.0.0.1:{{SUBMISSIONS}}\"\n    http \"127.0.0.1:{http}\"\n"),
    );
    assert!(config.contains("http \""));
    let mut y = Yubin::start(&config);

    let ok = get(http, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        ok.starts_with("HTTP/1.1 200 OK\r\n") && ok.ends_with("\r\n\r\nok\n"),
        "{ok}"
    );
    let metrics = get(http, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(metrics.contains("\nyubin_build_info{version=\""), "{metrics}");
    assert!(metrics.contains("\nyubin_mailboxes 5\n"), "{metrics}");
    assert!(
        metrics.contains("\nyubin_queue_recipients_pending 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nyubin_queue_oldest_age_seconds 0\n"),
        "{metrics}"
    );

    // Issue 13: counters and a latency histogram. A message over SMTP, a wrong password over
    // submission (after STARTTLS): each shows.
    let (code, out) = common::server::swaks(&[
        "--server",
        &format!("127.0.0.1:{}", y.ports.smtp),
        "--to",
        "alice@example.test",
        "--from",
        "someone@remote.example",
    ]);
    assert_eq!(code, 0, "{out}");
    let (_, out) = common::server::swaks(&[
        "--server",
        &format!("127.0.0.1:{}", y.ports.submission),
        "--tls",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        "wrong",
        "--to",
        "bob@example.test",
        "--from",
        "alice@example.test",
    ]);
    assert!(out.contains("535"), "{out}");
    let metrics = get(http, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    for want in [
        "\nyubin_messages_received_total{listener=\"smtp\"} 1\n",
        // swaks tries each mechanism it knows: one failure or more.
        "\nyubin_auth_failures_total{protocol=\"smtp\"} ",
        "\nyubin_tls_handshakes_total{version=\"TLSv1_3\"} 1\n",
        "# TYPE yubin_smtp_transaction_seconds histogram\n",
        "\nyubin_smtp_transaction_seconds_count 1\n",
        "\nyubin_smtp_transaction_seconds_bucket{le=\"+Inf\"} 1\n",
        "# TYPE yubin_bans_total counter\n",
    ] {
        assert!(metrics.contains(want), "{want:?} in\n{metrics}");
    }

    assert!(get(http, "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    assert!(get(http, "POST /healthz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    let head = get(http, "HEAD /healthz HTTP/1.1\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    assert!(get(http, &format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(20_000))).starts_with("HTTP/1.1 431"));
    assert!(get(http, "garbage\r\n\r\n").starts_with("HTTP/1.1 400"));

    let (code, out) = health(&y.config);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("healthy"), "{out}");
    y.stop();
    let (code, out) = health(&y.config);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("unhealthy"), "{out}");
}

#[test]
fn health_without_http_listener_checks_the_smtp_greeting() {
    let mut y = Yubin::start(&standard_config(""));
    let (code, out) = health(&y.config);
    assert_eq!(code, Some(0), "{out}");
    y.stop();
    assert_eq!(health(&y.config).0, Some(1));
}
