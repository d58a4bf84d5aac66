//! The SMTP server: MX (`smtp`), submission with STARTTLS (`submission`) and implicit TLS
//! (`submissions`). One session state machine ([`session`]) with two policies chosen by the
//! listener's role; parsing ([`parse`]), message bodies ([`data`]) and replies ([`reply`]) are
//! pure and separately tested.

pub mod conn;
pub mod data;
pub mod headers;
pub mod intake;
pub mod parse;
pub mod reply;
pub mod session;
pub mod spool;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio_rustls::TlsAcceptor;

use crate::auth::rate::RateLimiter;
use crate::auth::{Bans, ConnectionLimits, Directory};
use crate::delivery::Routing;
use crate::live::Live;
use crate::mailbox::maildir::Store;
use crate::msgauth::Verifier;
use crate::msgauth::dkim::Signer;
use crate::plan::{self, SmtpRole};
use crate::queue::Queue;

/// Session timeouts (RFC 5321 §4.5.3.2 gives the minimums a server should allow). Each is a
/// deadline for a whole step, not only the wait for the next byte: a client that trickles one
/// byte every few seconds still runs out of time.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A whole command line, from when the server starts waiting for it (5 minutes).
    pub command: Duration,
    /// Waiting for the next block of DATA/BDAT (3 minutes).
    pub data: Duration,
    /// TLS handshake.
    pub tls: Duration,
    /// A session that completes no message for this long is closed (421), however busy it
    /// keeps itself with other commands.
    pub progress: Duration,
    /// A message body has at least this long to arrive in full...
    pub data_floor: Duration,
    /// ...or longer for large messages: the size limit at this many bytes per second.
    pub data_min_rate: u64,
    /// An IMAP or POP3 client has this long from connecting to logging in, however busy it
    /// keeps itself.
    pub login: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            command: Duration::from_secs(300),
            data: Duration::from_secs(180),
            tls: Duration::from_secs(30),
            progress: Duration::from_secs(600),
            data_floor: Duration::from_secs(600),
            data_min_rate: 16 * 1024,
            login: Duration::from_secs(180),
        }
    }
}

impl Timeouts {
    /// How long a whole message body of at most `limit` bytes may take to arrive.
    pub fn data_total(&self, limit: u64) -> Duration {
        let by_rate = Duration::from_secs(limit / self.data_min_rate.max(1));
        self.data_floor.max(by_rate)
    }
}

/// Everything sessions share.
pub struct Services {
    /// This server's name.
    pub hostname: String,
    /// Recipients and senders.
    pub routing: Arc<Live<Routing>>,
    /// Logins.
    pub directory: Live<Directory>,
    /// Maildir delivery.
    pub store: Arc<Store>,
    /// TLS, when a certificate is configured.
    pub tls: Option<TlsAcceptor>,
    /// Limits from the plan.
    pub limits: plan::Limits,
    /// Networks that may submit without AUTH.
    pub trusted: Vec<IpNet>,
    /// Domains submitted mail may come from.
    pub allowed_sender_domains: HashSet<String>,
    /// Failed-login bans.
    pub bans: Arc<Bans>,
    /// Connection limits.
    pub connections: Arc<ConnectionLimits>,
    /// SPF/DKIM/DMARC checks for the MX.
    pub verifier: Option<Verifier>,
    /// DKIM signing of submitted mail.
    pub signer: Live<Signer>,
    /// The outbound queue (absent in tests that do not need it).
    pub queue: Option<Arc<Queue>>,
    /// Submission rate limit.
    pub send_rate: RateLimiter,
    /// Whether the send rate counts per authenticated user (else per client IP).
    pub send_rate_per_user: bool,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Becomes true when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Sessions in progress.
    pub active: Arc<ActiveSessions>,
    /// The IMAP/POP3 view of the mailboxes.
    pub index: Arc<crate::mailbox::index::Index>,
    /// The database.
    pub db: sqlx::SqlitePool,
    /// Virus and spam scanning, when the plan configures it.
    pub scanner: Option<crate::scan::Scanner>,
    /// The inbound webhook, when the plan has one.
    pub webhook: Option<crate::http::webhook::Webhook>,
    /// Message bodies being received (on disk past a few hundred KiB).
    pub spool: Arc<spool::Spool>,
    /// The sender rewriting of forwarded mail.
    pub srs: Arc<crate::delivery::srs::Srs>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

/// What a listener is.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    /// `smtp`, `submission`, `submissions`.
    pub name: String,
    /// MX or submission policy.
    pub role: SmtpRole,
    /// TLS from the first byte.
    pub implicit_tls: bool,
}

/// Counts sessions so shutdown can wait for them.
#[derive(Debug, Default)]
pub struct ActiveSessions {
    count: AtomicUsize,
    idle: Notify,
}

/// Held by a running session.
#[derive(Debug)]
pub struct SessionGuard(Arc<ActiveSessions>);

impl ActiveSessions {
    /// Registers a session.
    pub fn enter(self: &Arc<Self>) -> SessionGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        SessionGuard(self.clone())
    }

    /// Sessions running now.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until no session runs, or `timeout` passes; returns the sessions still running.
    pub async fn wait_idle(&self, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let n = self.count();
            if n == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.count();
            }
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Accepts SMTP connections on `listener` until shutdown, one task per session.
pub async fn accept_loop(listener: TcpListener, info: Arc<ListenerInfo>, svc: Arc<Services>) {
    let busy = (!info.implicit_tls).then(|| {
        let mut out = Vec::new();
        reply::too_many_connections().write_to(&mut out);
        out
    });
    let name = info.name.clone();
    let shared = svc.clone();
    crate::listen::accept_loop(listener, name, busy, svc, move |stream, peer| {
        session::serve(stream, peer, info.clone(), shared.clone())
    })
    .await;
}
