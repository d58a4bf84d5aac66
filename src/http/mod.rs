//! The `http` and `https` listeners: `GET /healthz` for container health checks and load
//! balancers, `GET /metrics` in the Prometheus text format (on `http` only), and the inbound
//! [`webhook`]. One request per connection (`Connection: close`), a small request head, short
//! timeouts; [`request`] holds the strict HTTP/1.1 reader.

pub mod request;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tracing::debug;

use self::request::{Reader, Status, response};
use crate::smtp::Services;

/// The longest pause while a client sends its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a client to send its whole request head.
const HEAD_DEADLINE: Duration = Duration::from_secs(30);
/// After the answer, how long unread request bytes are drained before closing (so the close
/// does not reset the connection and destroy the answer).
const LINGER: Duration = Duration::from_secs(2);

/// What an HTTP listener is.
#[derive(Debug, Clone)]
pub struct HttpListener {
    /// `http` or `https`.
    pub name: String,
    /// When the server started (for `yubin_uptime_seconds`).
    pub started: Instant,
    /// TLS from the first byte (`https`): no `/metrics` there.
    pub implicit_tls: bool,
}

/// Accepts HTTP connections on `listener` until shutdown.
pub async fn accept_loop(listener: TcpListener, info: Arc<HttpListener>, svc: Arc<Services>) {
    let busy = (!info.implicit_tls).then(|| text(503, "too many connections\n").into_bytes());
    let name = info.name.clone();
    let shared = svc.clone();
    crate::listen::accept_loop(listener, name, busy, svc, move |stream, peer| {
        let info = info.clone();
        let svc = shared.clone();
        async move {
            if !info.implicit_tls {
                return serve(stream, peer, info, svc).await;
            }
            let Some(acceptor) = svc.tls.clone() else {
                return;
            };
            match tokio::time::timeout(svc.timeouts.tls, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    if let Some(v) = tls.get_ref().1.protocol_version() {
                        crate::metrics::tls_handshake(&format!("{v:?}"));
                    }
                    serve(tls, peer, info, svc).await
                }
                Ok(Err(e)) => debug!(%peer, error = %e, "https: TLS handshake failed"),
                Err(_) => debug!(%peer, "https: TLS handshake timed out"),
            }
        }
    })
    .await;
}

fn text(status: u16, body: &str) -> String {
    response(status, "text/plain", &[], body)
}

/// Serves one HTTP connection (one request).
pub async fn serve<IO>(io: IO, peer: SocketAddr, info: Arc<HttpListener>, svc: Arc<Services>)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut reader = Reader::new(io, READ_TIMEOUT);
    let req = match tokio::time::timeout(HEAD_DEADLINE, reader.head()).await {
        Ok(Ok(r)) => r,
        Err(_) | Ok(Err(Status(408, _))) => return,
        Ok(Err(Status(code, why))) => {
            let _ = reader
                .get_mut()
                .write_all(text(code, &format!("{why}\n")).as_bytes())
                .await;
            return;
        }
    };
    let (method, path) = (req.method.as_str(), req.path.as_str());
    debug!(%peer, method, path, "http request");
    let metrics_here = !info.implicit_tls;
    let reply = match (method, path) {
        ("GET" | "HEAD", "/healthz") => match health(&svc).await {
            Ok(()) => text(200, "ok\n"),
            Err(why) => text(503, &format!("unhealthy: {why}\n")),
        },
        ("GET" | "HEAD", "/metrics") if metrics_here => {
            response(200, "text/plain; version=0.0.4", &[], &metrics(&svc, &info).await)
        }
        (_, "/healthz") => text(405, "method not allowed\n"),
        (_, "/metrics") if metrics_here => text(405, "method not allowed\n"),
        (_, p) if svc.webhook.as_ref().is_some_and(|w| w.path == p) => {
            let Some(hook) = &svc.webhook else { return };
            webhook::handle(&mut reader, &req, peer, info.implicit_tls, &svc, hook).await
        }
        _ => text(404, "not found\n"),
    };
    let reply = if method == "HEAD" {
        reply
            .split_once("\r\n\r\n")
            .map(|(h, _)| format!("{h}\r\n\r\n"))
            .unwrap_or(reply)
    } else {
        reply
    };
    let io = reader.get_mut();
    let _ = tokio::time::timeout(READ_TIMEOUT, io.write_all(reply.as_bytes())).await;
    let _ = io.shutdown().await;
    linger(io).await;
}

/// Reads and drops what the client still sends (at most 1 MiB, for [`LINGER`]).
async fn linger<IO: AsyncRead + Unpin>(io: &mut IO) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 8192];
    let mut left = 1024 * 1024usize;
    let _ = tokio::time::timeout(LINGER, async {
        while left > 0 {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// Healthy: not shutting down, and the database answers.
async fn health(svc: &Services) -> Result<(), &'static str> {
    if *svc.shutdown.borrow() {
        return Err("shutting down");
    }
    let ping = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&svc.db);
    match tokio::time::timeout(Duration::from_secs(3), ping).await {
        Ok(Ok(1)) => Ok(()),
        _ => Err("database not answering"),
    }
}

async fn metrics(svc: &Services, info: &HttpListener) -> String {
    let mut out = format!(
        "# HELP yubin_build_info The running version, as labels.\n# TYPE yubin_build_info gauge\n\
         yubin_build_info{{version=\"{}\",revision=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION"),
        env!("YUBIN_GIT_REV")
    );
    let mut gauge = |name: &str, help: &str, value: String| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    };
    gauge(
        "yubin_uptime_seconds",
        "Seconds since start.",
        info.started.elapsed().as_secs().to_string(),
    );
    gauge(
        "yubin_sessions",
        "SMTP, IMAP, POP3 and HTTP sessions open now.",
        svc.active.count().to_string(),
    );
    let pending: Option<i64> =
        sqlx::query_scalar("SELECT COUNT(*) FROM queue_recipients WHERE status = 'pending'")
            .fetch_one(&svc.db)
            .await
            .ok();
    if let Some(n) = pending {
        gauge(
            "yubin_queue_recipients_pending",
            "Outbound recipients waiting for delivery.",
            n.to_string(),
        );
    }
    gauge(
        "yubin_mailboxes",
        "Mailboxes served.",
        svc.routing.get().mailboxes().count().to_string(),
    );
    let oldest: Option<i64> = sqlx::query_scalar("SELECT MIN(created) FROM queue_messages")
        .fetch_one(&svc.db)
        .await
        .ok()
        .flatten();
    gauge(
        "yubin_queue_oldest_age_seconds",
        "Age of the oldest queued message (0: the queue is empty).",
        oldest
            .map_or(0, |c| (crate::time::now_secs() - c).max(0))
            .to_string(),
    );
    out.push_str(&crate::metrics::render());
    out
}
