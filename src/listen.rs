//! The accept loop shared by the SMTP, IMAP and POP3 listeners: connection limits, one task
//! per session, a session count for graceful shutdown, and back-off when accept fails.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tracing::{info, warn};

use crate::smtp::Services;

/// How long a connection over a limit waits for a slot before it is refused.
const SLOT_WAIT: Duration = Duration::from_secs(2);

/// Accepts connections on `listener` until shutdown and runs `session` for each in its own
/// task. A client over the connection limits of the listener called `name` gets `busy` (when
/// the listener speaks plain text first) and is closed.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    name: String,
    busy: Option<Vec<u8>>,
    svc: Arc<Services>,
    session: F,
) where
    F: Fn(TcpStream, SocketAddr) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut shutdown = svc.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => {
                if *shutdown.borrow() { break } else { continue }
            }
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                warn!(listener = %name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let guard = svc.active.enter();
        match svc.connections.acquire(&name, peer.ip()) {
            Some(slot) => {
                let fut = session(stream, peer);
                tokio::spawn(async move {
                    fut.await;
                    drop(slot);
                    drop(guard);
                });
            }
            None => {
                // At a limit: wait a moment for a slot (a session that just ended may not
                // have let go of its own yet), then refuse.
                let (svc, name, busy, session) = (svc.clone(), name.clone(), busy.clone(), session.clone());
                let mut stream = stream;
                tokio::spawn(async move {
                    match svc.connections.acquire_within(&name, peer.ip(), SLOT_WAIT).await {
                        Some(slot) => {
                            session(stream, peer).await;
                            drop(slot);
                        }
                        None => {
                            info!(listener = %name, peer = %peer, "refused: connection limit");
                            if let Some(msg) = &busy {
                                let _ =
                                    tokio::time::timeout(Duration::from_secs(5), stream.write_all(msg)).await;
                            }
                        }
                    }
                    drop(guard);
                });
            }
        }
    }
}
