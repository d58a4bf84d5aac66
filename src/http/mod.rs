//! The `http` listener: `GET /healthz` for container health checks and load balancers, and
//! `GET /metrics` in the Prometheus text format. Meant for loopback or a private network; one
//! request per connection (`Connection: close`), a small request head, short timeouts.
//!
//! The inbound webhook and the admin API will live here too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tracing::debug;

use crate::smtp::Services;

/// Longest request head.
const MAX_HEAD: usize = 16 * 1024;
/// Time for a client to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What an HTTP listener is.
#[derive(Debug, Clone)]
pub struct HttpListener {
    /// `http`.
    pub name: String,
    /// When the server started (for `yubin_uptime_seconds`).
    pub started: Instant,
}

/// Accepts HTTP connections on `listener` until shutdown.
pub async fn accept_loop(listener: TcpListener, info: Arc<HttpListener>, svc: Arc<Services>) {
    let busy = Some(response(503, "text/plain", "too many connections\n").into_bytes());
    let name = info.name.clone();
    let shared = svc.clone();
    crate::listen::accept_loop(listener, name, busy, svc, move |stream, peer| {
        serve(stream, peer, info.clone(), shared.clone())
    })
    .await;
}

fn response(status: u16, content_type: &str, body: &str) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    )
}

/// Serves one HTTP connection (one request).
pub async fn serve<IO>(mut io: IO, peer: SocketAddr, info: Arc<HttpListener>, svc: Arc<Services>)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut io)).await {
        Ok(Ok(h)) => h,
        Ok(Err(status)) => {
            let _ = io
                .write_all(response(status, "text/plain", "bad request\n").as_bytes())
                .await;
            return;
        }
        Err(_) => return,
    };
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    debug!(%peer, method, path, "http request");
    let reply = match (method, path) {
        ("GET" | "HEAD", "/healthz") => match health(&svc).await {
            Ok(()) => response(200, "text/plain", "ok\n"),
            Err(why) => response(503, "text/plain", &format!("unhealthy: {why}\n")),
        },
        ("GET" | "HEAD", "/metrics") => {
            response(200, "text/plain; version=0.0.4", &metrics(&svc, &info).await)
        }
        (_, "/healthz" | "/metrics") => response(405, "text/plain", "method not allowed\n"),
        _ => response(404, "text/plain", "not found\n"),
    };
    let reply = if method == "HEAD" {
        reply
            .split_once("\r\n\r\n")
            .map(|(h, _)| format!("{h}\r\n\r\n"))
            .unwrap_or(reply)
    } else {
        reply
    };
    let _ = tokio::time::timeout(READ_TIMEOUT, io.write_all(reply.as_bytes())).await;
    let _ = io.shutdown().await;
}

/// Reads up to the blank line after the headers; an error is the status to answer with.
async fn read_head<IO: AsyncRead + Unpin>(io: &mut IO) -> Result<String, u16> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = io.read(&mut chunk).await.map_err(|_| 400u16)?;
        if n == 0 {
            return Err(400);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return String::from_utf8(buf).map_err(|_| 400);
        }
        if buf.len() > MAX_HEAD {
            return Err(431);
        }
    }
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
    out
}
