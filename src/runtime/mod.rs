//! `yubin serve`: starts what the plan says and stops it cleanly.
//!
//! Start-up checks everything that can fail before the first connection is accepted: secrets
//! resolve, the data folder is writable, the database opens and migrates, the certificate
//! loads, every port binds. Any failure is a clear one-line error and a non-zero exit.
//! SIGTERM/SIGINT stop accepting, tell idle sessions `421`, let transactions in flight finish
//! (up to 30 s), then exit 0. SIGHUP reloads the configuration ([`reload`]).

pub mod reload;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::auth::rate::RateLimiter;
use crate::auth::{Bans, ConnectionLimits, Directory};
use crate::config::secrets;
use crate::delivery::Routing;
use crate::live::Live;
use crate::mailbox::maildir::Store;
use crate::msgauth::Verifier;
use crate::msgauth::dkim::Signer;
use crate::plan::{BackupTarget, Database, ListenerTls, Plan, Protocol, SecretRef};
use crate::queue::store::QueueStore;
use crate::queue::{Queue, QueueConfig, RelayTarget};
use crate::smtp::{self, ActiveSessions, ListenerInfo, Services, Timeouts};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A secret reference does not resolve.
    #[error("secret {reference} ({what}): {reason}")]
    Secret {
        /// What needs it.
        what: String,
        /// The reference.
        reference: String,
        /// Why it does not resolve.
        reason: String,
    },
    /// The data folder cannot be used.
    #[error("data folder {path} is not writable: {reason}")]
    DataDir {
        /// The folder.
        path: String,
        /// Why.
        reason: String,
    },
    /// A port could not be bound.
    #[error("cannot listen on {address} (listener `{listener}` in `listen`): {reason}")]
    Bind {
        /// Listener kind.
        listener: String,
        /// Address.
        address: String,
        /// The OS error.
        reason: String,
    },
    /// The database could not be opened.
    #[error("{0}")]
    Database(#[from] crate::store::DbError),
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// Something else the plan asks for is not available.
    #[error("{0}")]
    Unsupported(String),
    /// An I/O error while preparing storage.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

fn secret_refs(plan: &Plan) -> Vec<(String, &SecretRef)> {
    let mut out = Vec::new();
    if let Database::Postgres {
        password: Some(p), ..
    } = &plan.storage.database
    {
        out.push(("database password".to_owned(), p));
    }
    if let Some(r) = &plan.outbound.relay
        && let Some(p) = &r.password
    {
        out.push(("relay password".to_owned(), p));
    }
    if let Some(w) = &plan.inbound_webhook {
        out.push(("inbound webhook token".to_owned(), &w.token));
    }
    if let Some(b) = &plan.backup {
        for t in &b.targets {
            if let BackupTarget::S3 {
                credentials: Some(c),
                bucket,
                ..
            } = t
            {
                out.push((format!("S3 credentials for {bucket}"), c));
            }
        }
    }
    out
}

/// Resolves every secret of the plan; `serve` refuses to start without them.
pub fn check_secrets(plan: &Plan) -> Result<(), StartError> {
    for (what, r) in secret_refs(plan) {
        if let Err(reason) = secrets::resolve(r) {
            return Err(StartError::Secret {
                what,
                reference: r.to_string(),
                reason,
            });
        }
    }
    Ok(())
}

fn check_data_dir(dir: &Path) -> Result<(), StartError> {
    let err = |reason: String| StartError::DataDir {
        path: dir.display().to_string(),
        reason,
    };
    crate::store::private::prepare_data_dir(dir).map_err(|e| err(e.to_string()))?;
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|e| err(e.to_string()))?;
    std::fs::remove_file(&probe).map_err(|e| err(e.to_string()))?;
    Ok(())
}

fn bind(address: &str, listener: &str) -> Result<TcpListener, StartError> {
    let err = |reason: String| StartError::Bind {
        listener: listener.to_owned(),
        address: address.to_owned(),
        reason,
    };
    let addr: SocketAddr = address
        .parse()
        .map_err(|_| err("not an IP:port address".into()))?;
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(|e| err(e.to_string()))?;
    socket.set_reuse_address(true).map_err(|e| err(e.to_string()))?;
    if addr.is_ipv6() {
        // `[::]:25` and `0.0.0.0:25` are separate listeners, as the plan lists them.
        socket.set_only_v6(true).map_err(|e| err(e.to_string()))?;
    }
    socket.bind(&addr.into()).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "another program (or another yubin) holds this port: stop it, or give `{listener}` another address in `listen`"
            ),
            std::io::ErrorKind::PermissionDenied => {
                "ports below 1024 need root or CAP_NET_BIND_SERVICE (the systemd unit and the container grant it)".to_owned()
            }
            std::io::ErrorKind::AddrNotAvailable => "this machine has no such address".to_owned(),
            _ => String::new(),
        };
        err(if hint.is_empty() { e.to_string() } else { format!("{e}; {hint}") })
    })?;
    socket.listen(1024).map_err(|e| err(e.to_string()))?;
    socket.set_nonblocking(true).map_err(|e| err(e.to_string()))?;
    TcpListener::from_std(socket.into()).map_err(|e| err(e.to_string()))
}

/// What `serve` needs besides the plan.
#[derive(Debug, Clone)]
pub struct Options {
    /// Session timeouts (tests shorten them).
    pub timeouts: Option<Timeouts>,
    /// Run SPF/DKIM/DMARC checks on the MX (tests without DNS turn them off).
    pub message_checks: bool,
    /// Run the outbound queue.
    pub queue: bool,
    /// Where to read the configuration again on SIGHUP (none: SIGHUP is ignored).
    pub reload: Option<reload::Source>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeouts: None,
            message_checks: true,
            queue: true,
            reload: None,
        }
    }
}

/// Everything `serve` prepared before binding ports.
pub struct Prepared {
    /// What sessions share.
    pub services: Arc<Services>,
    /// Set to true to shut down.
    pub shutdown: watch::Sender<bool>,
    /// The database.
    pub pool: sqlx::SqlitePool,
    /// The listeners' certificate, for ACME to swap.
    pub certificate: Arc<crate::tls::LiveCert>,
}

/// Checks and prepares everything the plan needs, short of binding ports: secrets, data
/// folder, database, Maildirs, TLS, resolver.
pub async fn prepare(plan: &Plan, options: Options) -> Result<Prepared, StartError> {
    check_secrets(plan)?;
    let data_dir = PathBuf::from(&plan.storage.data_dir);
    check_data_dir(&data_dir)?;

    let pool = match &plan.storage.database {
        Database::Sqlite { path } => crate::store::open_sqlite(Path::new(path)).await?,
        Database::Postgres { .. } => {
            return Err(StartError::Unsupported(
                "PostgreSQL storage is not available in this version yet".into(),
            ));
        }
    };
    crate::store::sync_directory(&pool, plan).await?;

    let routing = Arc::new(Live::new(Routing::from_plan(plan)));
    let store = Arc::new(Store::new(&plan.hostname));
    let store_handle = store.clone();
    {
        let store = store.clone();
        let dirs: Vec<PathBuf> = routing
            .get()
            .mailboxes()
            .map(|(_, m)| m.maildir.clone())
            .collect();
        tokio::task::spawn_blocking(move || {
            for d in dirs {
                store.prepare(&d).map_err(|e| (d, e))?;
            }
            Ok::<(), (PathBuf, std::io::Error)>(())
        })
        .await
        .map_err(|e| StartError::Unsupported(e.to_string()))?
        .map_err(|(d, e)| StartError::Io {
            what: format!("preparing {}", d.display()),
            source: e,
        })?;
    }

    let (tls_config, certificate) = crate::tls::server_config(plan)?;
    let tls = Some(tokio_rustls::TlsAcceptor::from(tls_config));

    let has_mx = plan
        .listeners
        .values()
        .any(|l| l.role == Some(crate::plan::SmtpRole::Mx));
    let verifier = if has_mx && options.message_checks {
        match Verifier::new(&plan.hostname, &plan.dns.resolvers) {
            Ok(v) => Some(v),
            Err(e) => {
                warn!(error = %e, "SPF/DKIM/DMARC checks are off: no resolver");
                None
            }
        }
    } else {
        None
    };

    let signer = Live::new(Signer::load(plan).map_err(|e| StartError::Unsupported(e.to_string()))?);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let queue = if options.queue {
        let store = QueueStore::open(&data_dir, pool.clone(), plan.limits.queue_history_seconds as i64)
            .await
            .map_err(|e| StartError::Unsupported(e.to_string()))?;
        let resolver = crate::msgauth::resolver(&plan.dns.resolvers)
            .map_err(|e| StartError::Unsupported(e.to_string()))?;
        let queue = Queue::new(
            queue_config(plan)?,
            store,
            resolver,
            routing.clone(),
            store_handle.clone(),
        );
        tokio::spawn(queue.clone().run(shutdown_rx.clone()));
        Some(queue)
    } else {
        None
    };
    let index = Arc::new(crate::mailbox::index::Index::new(
        pool.clone(),
        reload::mailbox_roots(&routing.get()),
        &plan.hostname,
    ));
    {
        let index = index.clone();
        store.on_delivery(move |dir| index.delivered(dir));
    }
    let webhook = match &plan.inbound_webhook {
        Some(w) => Some(crate::http::webhook::Webhook {
            path: w.path.clone(),
            token: secrets::resolve(&w.token).map_err(|reason| StartError::Secret {
                what: "inbound webhook token".to_owned(),
                reference: w.token.to_string(),
                reason,
            })?,
        }),
        None => None,
    };
    let limits = plan.limits.clone();
    let spool_dir = data_dir.join("spool");
    let spool = crate::smtp::spool::Spool::open(
        spool_dir.clone(),
        crate::smtp::spool::Spool::load_budget(limits.message_size_bytes),
    )
    .map_err(|e| StartError::Io {
        what: format!("preparing {}", spool_dir.display()),
        source: e,
    })?;
    let srs = crate::delivery::srs::Srs::load_or_create(&data_dir).map_err(|e| StartError::Io {
        what: format!("reading {}", data_dir.join("srs.key").display()),
        source: e,
    })?;
    let services = Arc::new(Services {
        hostname: plan.hostname.clone(),
        routing,
        directory: Live::new(Directory::from_plan(plan)),
        store,
        tls,
        trusted: plan
            .submission
            .trusted_networks
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect(),
        allowed_sender_domains: plan
            .submission
            .allowed_sender_domains
            .iter()
            .cloned()
            .collect::<HashSet<_>>(),
        bans: Arc::new(Bans::new(
            limits.auth_failures.max_failures,
            Duration::from_secs(limits.auth_failures.within_seconds),
            Duration::from_secs(limits.auth_failures.ban_seconds),
        )),
        connections: Arc::new(ConnectionLimits::new(
            limits.connections_total,
            limits.connections_per_ip,
        )),
        limits,
        verifier,
        signer,
        queue,
        send_rate: RateLimiter::new(
            plan.limits.send_rate.messages,
            Duration::from_secs(plan.limits.send_rate.per_seconds),
        ),
        send_rate_per_user: plan.limits.send_rate.scope == "user",
        timeouts: options.timeouts.unwrap_or_default(),
        shutdown: shutdown_rx,
        active: Arc::new(ActiveSessions::default()),
        index,
        db: pool.clone(),
        scanner: crate::scan::Scanner::from_plan(plan),
        webhook,
        spool: Arc::new(spool),
        srs: Arc::new(srs),
    });
    Ok(Prepared {
        services,
        shutdown: shutdown_tx,
        pool,
        certificate,
    })
}

/// The queue's settings from the plan; the relay password is resolved here.
pub fn queue_config(plan: &Plan) -> Result<QueueConfig, StartError> {
    use crate::queue::client::{ClientConfig, TlsMode};
    use crate::queue::tls::{opportunistic_connector, verifying_connector};
    let timeout = Duration::from_secs(60);
    let relay = match &plan.outbound.relay {
        None => None,
        Some(r) => {
            let verifying = || {
                {
                    let pins = r
                        .tls_fingerprints
                        .iter()
                        .map(|f| crate::config::values::sha256_fingerprint(f).map(|p| p.0))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| StartError::Unsupported(format!("relay tls-fingerprint: {e}")))?;
                    verifying_connector(r.ca_file.as_deref().map(Path::new), &pins)
                }
                .map_err(|e| StartError::Unsupported(format!("relay ca-file: {e}")))
            };
            let tls = match r.tls.as_str() {
                "required" => TlsMode::Required(verifying()?),
                "implicit" => TlsMode::Implicit(verifying()?),
                "starttls" => TlsMode::Opportunistic(opportunistic_connector()),
                _ => TlsMode::None,
            };
            let auth = match (&r.username, &r.password) {
                (Some(u), Some(p)) => {
                    let secret = secrets::resolve(p).map_err(|reason| StartError::Secret {
                        what: "relay password".into(),
                        reference: p.to_string(),
                        reason,
                    })?;
                    Some((u.clone(), secret.expose().to_owned()))
                }
                _ => None,
            };
            Some(RelayTarget {
                host: r.host.clone(),
                port: r.port,
                client: ClientConfig {
                    helo: plan.hostname.clone(),
                    tls,
                    auth,
                    timeout,
                },
            })
        }
    };
    Ok(QueueConfig {
        hostname: plan.hostname.clone(),
        relay,
        mx_port: 25,
        direct: ClientConfig {
            helo: plan.hostname.clone(),
            tls: TlsMode::Opportunistic(opportunistic_connector()),
            auth: None,
            timeout,
        },
        lifetime: plan.limits.queue_lifetime_seconds as i64,
        retry_min: plan.limits.retry_min_seconds as i64,
        retry_max: plan.limits.retry_max_seconds as i64,
        delay_warning: plan.limits.delay_warning_seconds as i64,
        max_connections: plan.limits.outbound_connections as usize,
        per_destination: plan.limits.outbound_per_destination as usize,
    })
}

/// Runs the plan until SIGTERM/SIGINT.
pub async fn serve(plan: Plan, options: Options) -> Result<(), StartError> {
    let reload_from = options.reload.clone();
    let Prepared {
        services: svc,
        shutdown: shutdown_tx,
        pool,
        certificate,
    } = prepare(&plan, options).await?;
    // ACME answers its HTTP-01 challenges on a port of its own, bound with the others.
    let acme = match &plan.tls.source {
        crate::plan::CertificateSource::Acme {
            email,
            directory,
            ca_file,
            cache_dir,
            http_challenge,
        } => {
            let listener = bind(http_challenge, "acme http-challenge")?;
            let client = crate::tls::acme::Acme::new(
                &plan.hostname,
                email,
                directory,
                ca_file.as_deref(),
                Path::new(cache_dir),
                certificate.clone(),
            );
            Some((client, listener))
        }
        _ => None,
    };

    // Bind everything before serving anything: a taken port is a start-up error.
    enum Kind {
        Smtp(Arc<ListenerInfo>),
        Imap(Arc<crate::imap::ImapListener>),
        Pop3(Arc<crate::pop3::Pop3Listener>),
        Http(Arc<crate::http::HttpListener>),
    }
    let started = std::time::Instant::now();
    let mut bound = Vec::new();
    for (name, l) in &plan.listeners {
        let implicit_tls = l.tls == ListenerTls::Implicit;
        let kind = match l.protocol {
            Protocol::Smtp => Kind::Smtp(Arc::new(ListenerInfo {
                name: name.clone(),
                role: l.role.unwrap_or(crate::plan::SmtpRole::Mx),
                implicit_tls,
            })),
            Protocol::Imap => Kind::Imap(Arc::new(crate::imap::ImapListener {
                name: name.clone(),
                implicit_tls,
            })),
            Protocol::Pop3 => Kind::Pop3(Arc::new(crate::pop3::Pop3Listener {
                name: name.clone(),
                implicit_tls,
            })),
            Protocol::Http => Kind::Http(Arc::new(crate::http::HttpListener {
                name: name.clone(),
                started,
                implicit_tls,
            })),
        };
        let kind = Arc::new(kind);
        for address in &l.addresses {
            bound.push((bind(address, name)?, kind.clone(), name.clone(), address.clone()));
        }
    }
    let mut tasks = Vec::new();
    for (listener, kind, name, address) in bound {
        info!(listener = %name, %address, "listening");
        let svc = svc.clone();
        tasks.push(match &*kind {
            Kind::Smtp(info) => tokio::spawn(smtp::accept_loop(listener, info.clone(), svc)),
            Kind::Imap(info) => tokio::spawn(crate::imap::accept_loop(listener, info.clone(), svc)),
            Kind::Pop3(info) => tokio::spawn(crate::pop3::accept_loop(listener, info.clone(), svc)),
            Kind::Http(info) => tokio::spawn(crate::http::accept_loop(listener, info.clone(), svc)),
        });
    }
    if let Some((client, listener)) = acme {
        info!(address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "answering ACME HTTP-01 challenges");
        let challenges = client.clone();
        let shutdown = svc.shutdown.clone();
        tasks.push(tokio::spawn(async move {
            challenges.serve_challenges(listener, shutdown).await
        }));
        tasks.push(tokio::spawn(client.run(svc.shutdown.clone())));
    }
    if plan.backup.is_some() {
        let config = match &reload_from {
            Some(reload::Source::Config(p)) => Some(p.as_path()),
            _ => None,
        };
        match crate::backup::Backups::from_plan(&plan, config) {
            Ok(b) => {
                tasks.push(tokio::spawn(b.scheduler(svc.shutdown.clone())));
            }
            Err(e) => warn!(error = %e, "scheduled backups are off"),
        }
    }
    info!(hostname = %plan.hostname, mailboxes = plan.mailboxes.len(), "yubin is ready");

    let mut signals = Signals::new();
    let mut current = plan.clone();
    while let Signal::Reload = signals.next().await {
        match &reload_from {
            Some(source) => reload::apply(source, &plan, &mut current, &svc).await,
            None => warn!("SIGHUP ignored: this server was not started from a file"),
        }
    }
    info!("shutting down: no new connections; finishing transactions in flight");
    let _ = shutdown_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let left = svc.active.wait_idle(Duration::from_secs(30)).await;
    if left > 0 {
        error!(
            sessions = left,
            "sessions still running after 30 s; exiting anyway"
        );
    }
    pool.close().await;
    info!("stopped");
    Ok(())
}

enum Signal {
    Stop,
    Reload,
}

/// SIGTERM and SIGINT stop the server, SIGHUP reloads its configuration.
struct Signals {
    streams: Option<[tokio::signal::unix::Signal; 3]>,
}

impl Signals {
    fn new() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(t), Ok(i), Ok(h)) => Some([t, i, h]),
            _ => None,
        };
        Signals { streams }
    }

    async fn next(&mut self) -> Signal {
        let Some([term, int, hup]) = &mut self.streams else {
            let _ = tokio::signal::ctrl_c().await;
            return Signal::Stop;
        };
        tokio::select! {
            _ = term.recv() => Signal::Stop,
            _ = int.recv() => Signal::Stop,
            _ = hup.recv() => Signal::Reload,
        }
    }
}
