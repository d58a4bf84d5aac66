//! Slow clients (issue 10, case 8): a deadline for the whole command, the whole message and the
//! whole login phase, not only for each read. One byte every few seconds used to keep an SMTP
//! session forever; an idle POP3 connection before login was still open after 330 s. Sessions
//! run in-process with the timeouts shortened.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::inproc::Fixture;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use yubin::imap::ImapListener;
use yubin::plan::SmtpRole;
use yubin::pop3::Pop3Listener;
use yubin::smtp::{ListenerInfo, Timeouts};

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        common::inproc::fixture(
            "slow",
            "",
            Some(Timeouts {
                command: Duration::from_secs(2),
                data: Duration::from_secs(2),
                tls: Duration::from_secs(2),
                progress: Duration::from_secs(4),
                data_floor: Duration::from_secs(3),
                data_min_rate: 1 << 40,
                login: Duration::from_secs(2),
            }),
        )
    })
}

/// Writes `opening`, then `drip` every `every` until the session closes; returns what the
/// server wrote and how long the session lasted.
fn trickle<F>(
    opening: &[u8],
    drip: &'static [u8],
    every: Duration,
    serve: impl FnOnce(DuplexStream) -> F,
) -> (String, Duration)
where
    F: Future<Output = ()> + Send + 'static,
{
    let f = fixture();
    let opening = opening.to_vec();
    f.rt.block_on(async move {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let started = Instant::now();
        let session = tokio::spawn(serve(server));
        let (mut rd, mut wr) = tokio::io::split(client);
        let writer = tokio::spawn(async move {
            if wr.write_all(&opening).await.is_err() {
                return;
            }
            while started.elapsed() < Duration::from_secs(30) {
                tokio::time::sleep(every).await;
                if wr.write_all(drip).await.is_err() {
                    return;
                }
            }
        });
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(40), rd.read_to_end(&mut out)).await;
        let lasted = started.elapsed();
        writer.abort();
        let joined = tokio::time::timeout(Duration::from_secs(10), session).await;
        assert!(
            matches!(joined, Ok(Ok(()))),
            "the session did not end cleanly: {joined:?}"
        );
        (String::from_utf8_lossy(&out).into_owned(), lasted)
    })
}

fn smtp(server: DuplexStream) -> impl Future<Output = ()> + Send + 'static {
    let listener = Arc::new(ListenerInfo {
        name: "smtp".into(),
        role: SmtpRole::Mx,
        implicit_tls: false,
    });
    let peer: SocketAddr = "192.0.2.50:2525".parse().unwrap();
    yubin::smtp::session::serve(server, peer, listener, fixture().services.clone())
}

fn imap(server: DuplexStream) -> impl Future<Output = ()> + Send + 'static {
    let listener = Arc::new(ImapListener {
        name: "imap".into(),
        implicit_tls: false,
    });
    let peer: SocketAddr = "192.0.2.51:143".parse().unwrap();
    yubin::imap::session::serve(server, peer, listener, fixture().services.clone())
}

fn pop3(server: DuplexStream) -> impl Future<Output = ()> + Send + 'static {
    let listener = Arc::new(Pop3Listener {
        name: "pop3".into(),
        implicit_tls: false,
    });
    let peer: SocketAddr = "192.0.2.52:110".parse().unwrap();
    yubin::pop3::session::serve(server, peer, listener, fixture().services.clone())
}

#[test]
fn smtp_command_line_trickled_byte_by_byte() {
    // One byte every 300 ms never completes a line: the 2 s command deadline ends it.
    let (out, lasted) = trickle(b"EHLO ", b"x", Duration::from_millis(300), smtp);
    assert!(out.contains("421 4.4.2"), "{out}");
    assert!(lasted < Duration::from_secs(5), "lasted {lasted:?}");
}

#[test]
fn smtp_session_busy_with_noops_but_no_mail() {
    // Complete commands every 500 ms, well within the per-command deadline, but no message:
    // the 4 s progress deadline ends it.
    let (out, lasted) = trickle(
        b"EHLO slow.example\r\n",
        b"NOOP\r\n",
        Duration::from_millis(500),
        smtp,
    );
    assert!(out.contains("250 2.0.0 OK"), "{out}");
    assert!(out.contains("421 4.4.2"), "{out}");
    assert!(
        lasted >= Duration::from_secs(3) && lasted < Duration::from_secs(7),
        "lasted {lasted:?}"
    );
}

#[test]
fn smtp_message_body_trickled() {
    // A body that keeps arriving, one line every 500 ms (each read within the 2 s per-read
    // timeout), is cut off at the 3 s whole-body deadline.
    let opening = b"EHLO slow.example\r\nMAIL FROM:<a@elsewhere.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: slow\r\n\r\n";
    let (out, lasted) = trickle(opening, b"line\r\n", Duration::from_millis(500), smtp);
    assert!(out.contains("354"), "{out}");
    assert!(out.contains("421 4.4.2"), "{out}");
    assert!(lasted < Duration::from_secs(6), "lasted {lasted:?}");
}

#[test]
fn imap_client_that_never_logs_in() {
    // NOOPs keep each read short, but the login phase as a whole has 2 s.
    let (out, lasted) = trickle(b"a NOOP\r\n", b"a NOOP\r\n", Duration::from_millis(300), imap);
    assert!(out.contains("a OK"), "{out}");
    assert!(out.contains("* BYE"), "{out}");
    assert!(lasted < Duration::from_secs(5), "lasted {lasted:?}");
}

#[test]
fn pop3_client_that_never_logs_in() {
    let (out, lasted) = trickle(b"NOOP\r\n", b"CAPA\r\n", Duration::from_millis(300), pop3);
    assert!(out.contains("+OK"), "{out}");
    assert!(out.contains("-ERR"), "{out}");
    assert!(lasted < Duration::from_secs(5), "lasted {lasted:?}");
}

#[test]
fn pop3_idle_before_login() {
    // Nothing at all after connecting: closed at the login deadline, not after 10 minutes.
    let (out, lasted) = trickle(b"", b"", Duration::from_secs(60), pop3);
    assert!(out.starts_with("+OK"), "{out}");
    assert!(lasted < Duration::from_secs(5), "lasted {lasted:?}");
}
