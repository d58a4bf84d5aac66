//! The outbound queue: durable storage ([`store`]), destinations (relay or MX, [`route`]), an
//! SMTP client ([`client`]) with connection reuse, retries with exponential backoff up to the
//! queue lifetime, and bounces ([`dsn`]) to the envelope sender, never to `<>`.
//!
//! Scheduling: a new message is handed to its destinations at once; a poller picks up what is
//! due from the database (retries, and everything after a restart). Each destination (the
//! relay, or one recipient domain) has a job list and up to `per_destination` connection
//! tasks that each carry message after message over one SMTP connection. A message is deleted
//! from the queue only when every recipient is delivered or bounced; a crash in between means
//! a possible second delivery, never a lost message.

pub mod client;
pub mod dsn;
pub mod route;
pub mod store;
pub mod tls;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_resolver::TokioResolver;
use tokio::sync::{Notify, Semaphore, watch};
use tracing::{debug, info, warn};

use self::client::{ClientConfig, ClientError, Connection, DsnParams, Outcome, TlsMode};
use self::dsn::Action;
use self::route::Hops;
use self::store::{Due, NewMessage, NewRecipient, QueueError, QueueStore, Status, Update, now};
use crate::delivery::{Resolution, Routing};
use crate::live::Live;
use crate::mailbox::maildir::{Store, Target};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The smarthost.
#[derive(Debug, Clone)]
pub struct RelayTarget {
    /// Host name or IP.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS and AUTH.
    pub client: ClientConfig,
}

/// How the queue behaves.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// This server's name (EHLO, DSNs).
    pub hostname: String,
    /// The smarthost, or direct MX delivery when absent.
    pub relay: Option<RelayTarget>,
    /// The port MX hosts are contacted on (25).
    pub mx_port: u16,
    /// Client settings for direct delivery.
    pub direct: ClientConfig,
    /// Give up after this many seconds.
    pub lifetime: i64,
    /// First retry delay in seconds; doubles per attempt.
    pub retry_min: i64,
    /// Longest retry delay in seconds.
    pub retry_max: i64,
    /// Seconds after which NOTIFY=DELAY recipients get one delay report; 0: never.
    pub delay_warning: i64,
    /// Outbound connections in total.
    pub max_connections: usize,
    /// Outbound connections per destination.
    pub per_destination: usize,
}

struct Job {
    message_id: String,
    sender: String,
    recipients: Vec<Due>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum DestKey {
    Relay,
    Domain(String),
}

impl std::fmt::Display for DestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DestKey::Relay => f.write_str("relay"),
            DestKey::Domain(d) => f.write_str(d),
        }
    }
}

struct Destination {
    key: DestKey,
    jobs: Mutex<VecDeque<Job>>,
    notify: Notify,
    active: AtomicUsize,
    waiting: AtomicUsize,
}

struct ConnectError {
    permanent: bool,
    message: String,
}

/// The running queue.
pub struct Queue {
    cfg: QueueConfig,
    store: Arc<QueueStore>,
    resolver: TokioResolver,
    routing: Arc<Live<Routing>>,
    maildir: Arc<Store>,
    inflight: Mutex<HashSet<(String, i64)>>,
    dests: Mutex<HashMap<DestKey, Arc<Destination>>>,
    connections: Arc<Semaphore>,
    wake: Notify,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("relay", &self.cfg.relay.as_ref().map(|r| &r.host))
            .finish()
    }
}

/// A new queue id: time and a counter, in hex.
pub fn new_id() -> String {
    use std::sync::atomic::AtomicU64;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:X}{:05X}{:X}",
        t.as_secs(),
        t.subsec_micros() & 0xFFFFF,
        n & 0xFFFFF
    )
}

impl Queue {
    /// Creates the queue over its storage.
    pub fn new(
        cfg: QueueConfig,
        store: Arc<QueueStore>,
        resolver: TokioResolver,
        routing: Arc<Live<Routing>>,
        maildir: Arc<Store>,
    ) -> Arc<Self> {
        let connections = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
        Arc::new(Queue {
            cfg,
            store,
            resolver,
            routing,
            maildir,
            inflight: Mutex::new(HashSet::new()),
            dests: Mutex::new(HashMap::new()),
            connections,
            wake: Notify::new(),
        })
    }

    /// The storage (for `yubin queue`).
    pub fn store(&self) -> &Arc<QueueStore> {
        &self.store
    }

    fn dest_key(&self, domain: &str) -> DestKey {
        if self.cfg.relay.is_some() {
            DestKey::Relay
        } else {
            DestKey::Domain(domain.to_owned())
        }
    }

    /// Stores a message durably and starts delivering it. Returns after the queue owns it.
    pub async fn submit(self: &Arc<Self>, msg: NewMessage, body: Arc<Vec<u8>>) -> Result<(), QueueError> {
        self.store.enqueue(&msg, body).await?;
        let created = now();
        let due: Vec<Due> = msg
            .recipients
            .iter()
            .enumerate()
            .map(|(i, r)| Due {
                message_id: msg.id.clone(),
                idx: i as i64,
                address: r.address.clone(),
                domain: r.domain.clone(),
                sender: msg.sender.clone(),
                attempts: 0,
                created,
                notify: r.notify.clone(),
                orcpt: r.orcpt.clone(),
                ret: msg.ret.clone(),
                envid: msg.envid.clone(),
                delay_warned: false,
            })
            .collect();
        self.schedule(due);
        Ok(())
    }

    /// Groups due recipients into jobs (one per message and destination) and dispatches those
    /// not already in flight.
    fn schedule(self: &Arc<Self>, due: Vec<Due>) {
        let mut groups: Vec<((String, DestKey), Vec<Due>)> = Vec::new();
        {
            let mut inflight = lock(&self.inflight);
            for d in due {
                if !inflight.insert((d.message_id.clone(), d.idx)) {
                    continue;
                }
                let key = (d.message_id.clone(), self.dest_key(&d.domain));
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, v)) => v.push(d),
                    None => groups.push((key, vec![d])),
                }
            }
        }
        for ((message_id, key), recipients) in groups {
            let sender = recipients[0].sender.clone();
            self.dispatch(
                key,
                Job {
                    message_id,
                    sender,
                    recipients,
                },
            );
        }
    }

    fn dispatch(self: &Arc<Self>, key: DestKey, job: Job) {
        let dest = lock(&self.dests)
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Destination {
                    key,
                    jobs: Mutex::new(VecDeque::new()),
                    notify: Notify::new(),
                    active: AtomicUsize::new(0),
                    waiting: AtomicUsize::new(0),
                })
            })
            .clone();
        lock(&dest.jobs).push_back(job);
        if dest.waiting.load(Ordering::SeqCst) > 0 {
            dest.notify.notify_one();
        } else if dest.active.load(Ordering::SeqCst) < self.cfg.per_destination.max(1) {
            dest.active.fetch_add(1, Ordering::SeqCst);
            let queue = self.clone();
            tokio::spawn(async move { queue.connection_task(dest).await });
        }
    }

    /// Runs until shutdown: picks up due recipients every second (and when woken).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.store.due(now(), 2000).await {
                Ok(due) if !due.is_empty() => {
                    debug!(count = due.len(), "recipients due");
                    self.schedule(due);
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "cannot read the queue"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => if *shutdown.borrow() { return },
            }
        }
    }

    async fn next_job(&self, dest: &Destination) -> Option<Job> {
        loop {
            if let Some(j) = lock(&dest.jobs).pop_front() {
                return Some(j);
            }
            dest.waiting.fetch_add(1, Ordering::SeqCst);
            let notified = dest.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let again = lock(&dest.jobs).pop_front();
            if let Some(j) = again {
                dest.waiting.fetch_sub(1, Ordering::SeqCst);
                return Some(j);
            }
            let woke = tokio::time::timeout(Duration::from_secs(5), notified)
                .await
                .is_ok();
            dest.waiting.fetch_sub(1, Ordering::SeqCst);
            if !woke {
                return lock(&dest.jobs).pop_front();
            }
        }
    }

    async fn connection_task(self: Arc<Self>, dest: Arc<Destination>) {
        let mut conn: Option<(Connection, tokio::sync::OwnedSemaphorePermit)> = None;
        while let Some(job) = self.next_job(&dest).await {
            if conn.is_none() {
                let Ok(permit) = self.connections.clone().acquire_owned().await else {
                    break;
                };
                match self.connect(&dest.key).await {
                    Ok(c) => conn = Some((c, permit)),
                    Err(e) => {
                        // The destination is unreachable: every job waiting for it shares the fate.
                        let mut jobs = vec![job];
                        jobs.extend(lock(&dest.jobs).drain(..));
                        for j in jobs {
                            self.finish_error(j, e.permanent, &e.message, None).await;
                        }
                        continue;
                    }
                }
            }
            let Some((c, _)) = conn.as_mut() else { continue };
            let body = match tokio::fs::read(self.store.path(&job.message_id)).await {
                Ok(b) => b,
                Err(e) => {
                    // Deleted by `yubin queue delete` meanwhile.
                    warn!(id = %job.message_id, error = %e, "queued message file is gone");
                    self.release(&job);
                    continue;
                }
            };
            let rcpts: Vec<String> = job.recipients.iter().map(|r| r.address.clone()).collect();
            let remote = c.remote.clone();
            let dsn = DsnParams {
                ret: job.recipients.first().and_then(|r| r.ret.clone()),
                envid: job.recipients.first().and_then(|r| r.envid.clone()),
                recipients: job
                    .recipients
                    .iter()
                    .map(|r| (r.notify.clone(), r.orcpt.clone()))
                    .collect(),
            };
            match c.send_with(&job.sender, &rcpts, &body, &dsn).await {
                Ok(outcomes) => {
                    // A server that offers DSN reports on from here (RFC 3461 §4.2).
                    let passed_on = c.caps.dsn;
                    self.finish(job, outcomes, Some(&remote), &body, passed_on).await;
                    if !c.reusable() {
                        conn = None;
                    }
                }
                Err(e) => {
                    let permanent = e.permanent();
                    self.finish_error(job, permanent, &e.to_string(), Some(&remote))
                        .await;
                    conn = None;
                }
            }
        }
        if let Some((c, _)) = conn {
            c.quit().await;
        }
        dest.active.fetch_sub(1, Ordering::SeqCst);
        // A job may have arrived while this task was stopping.
        if dest.active.load(Ordering::SeqCst) == 0 {
            // Pop first: the lock must be released before dispatch takes it again.
            let job = lock(&dest.jobs).pop_front();
            if let Some(job) = job {
                self.dispatch(dest.key.clone(), job);
            }
        }
    }

    async fn connect(&self, key: &DestKey) -> Result<Connection, ConnectError> {
        let (hops, config) = match key {
            DestKey::Relay => {
                let Some(relay) = &self.cfg.relay else {
                    return Err(ConnectError {
                        permanent: false,
                        message: "no relay configured".into(),
                    });
                };
                (
                    route::relay_hops(&self.resolver, &relay.host, relay.port).await,
                    &relay.client,
                )
            }
            DestKey::Domain(d) => (
                route::mx_hops(&self.resolver, d, self.cfg.mx_port).await,
                &self.cfg.direct,
            ),
        };
        let hops = match hops {
            Hops::Hosts(h) => h,
            Hops::Permanent(e) => {
                return Err(ConnectError {
                    permanent: true,
                    message: e,
                });
            }
            Hops::Temporary(e) => {
                return Err(ConnectError {
                    permanent: false,
                    message: e,
                });
            }
        };
        let mut last = String::from("no host to try");
        for hop in &hops {
            match Connection::open(hop.addr, &hop.name, config).await {
                Ok(c) => return Ok(c),
                Err(ClientError::Tls(e)) if matches!(config.tls, TlsMode::Opportunistic(_)) => {
                    // Opportunistic TLS that fails falls back to plain text (RFC 7435).
                    debug!(host = %hop.name, error = %e, "STARTTLS failed; retrying without TLS");
                    let plain = ClientConfig {
                        tls: TlsMode::None,
                        ..config.clone()
                    };
                    match Connection::open(hop.addr, &hop.name, &plain).await {
                        Ok(c) => return Ok(c),
                        Err(e) => last = format!("{} ({}): {e}", hop.name, hop.addr),
                    }
                }
                Err(e @ ClientError::Rejected { .. }) if e.permanent() && key == &DestKey::Relay => {
                    return Err(ConnectError {
                        permanent: false,
                        message: format!("{} ({}): {e}", hop.name, hop.addr),
                    });
                }
                Err(e) => last = format!("{} ({}): {e}", hop.name, hop.addr),
            }
        }
        Err(ConnectError {
            permanent: false,
            message: last,
        })
    }

    fn release(&self, job: &Job) {
        let mut inflight = lock(&self.inflight);
        for r in &job.recipients {
            inflight.remove(&(r.message_id.clone(), r.idx));
        }
    }

    fn retry_at(&self, due: &Due) -> Option<i64> {
        let attempts = (due.attempts + 1).clamp(1, 30) as u32;
        let delay = self
            .cfg
            .retry_min
            .saturating_mul(1i64 << (attempts - 1).min(20))
            .min(self.cfg.retry_max);
        let at = now() + delay.max(1);
        (at <= due.created + self.cfg.lifetime).then_some(at)
    }

    async fn finish_error(&self, job: Job, permanent: bool, message: &str, remote: Option<&str>) {
        let outcome = if permanent {
            Outcome::Failed(message.to_owned())
        } else {
            Outcome::Deferred(message.to_owned())
        };
        let outcomes = vec![outcome; job.recipients.len()];
        let body = tokio::fs::read(self.store.path(&job.message_id))
            .await
            .unwrap_or_default();
        self.finish(job, outcomes, remote, &body, false).await;
    }

    /// Records what happened to a job's recipients, logs it, and reports to the sender what
    /// it asked to hear: failures, a delay past `delay_warning` (once), and successes that no
    /// further server will report (`passed_on`: the next hop took DSN over).
    async fn finish(
        &self,
        job: Job,
        outcomes: Vec<Outcome>,
        remote: Option<&str>,
        body: &[u8],
        passed_on: bool,
    ) {
        let mut updates = Vec::with_capacity(outcomes.len());
        let mut failures = Vec::new();
        let mut relayed = Vec::new();
        let mut delayed = Vec::new();
        // What to log once the results are recorded: (event, recipient, detail, retry in s).
        let mut events: Vec<(&str, &Due, String, Option<i64>)> = Vec::with_capacity(outcomes.len());
        for (r, o) in job.recipients.iter().zip(outcomes) {
            let mut delay_warned = false;
            let detail = match &o {
                Outcome::Delivered(reply) => reply.to_string(),
                Outcome::Failed(why) | Outcome::Deferred(why) => why.clone(),
            };
            crate::metrics::outbound(match &o {
                Outcome::Delivered(_) => "delivered",
                Outcome::Failed(_) => "bounced",
                Outcome::Deferred(_) => "deferred",
            });
            let status = match o {
                Outcome::Delivered(reply) => {
                    if !passed_on && Action::Relayed.wanted(r.notify.as_deref()) {
                        relayed.push((r.clone(), reply.to_string()));
                    }
                    events.push(("delivered", r, reply.to_string(), None));
                    Status::Delivered
                }
                Outcome::Failed(why) => {
                    events.push(("bounced", r, why.clone(), None));
                    failures.push((r.clone(), why.clone()));
                    Status::Failed(why)
                }
                Outcome::Deferred(why) => match self.retry_at(r) {
                    Some(at) => {
                        let late = self.cfg.delay_warning > 0 && now() >= r.created + self.cfg.delay_warning;
                        if late && !r.delay_warned && Action::Delayed.wanted(r.notify.as_deref()) {
                            delayed.push((r.clone(), why.clone()));
                            delay_warned = true;
                        }
                        events.push(("deferred", r, why.clone(), Some(at - now())));
                        Status::Deferred(at, why)
                    }
                    None => {
                        let why = format!("{why} (gave up after the queue lifetime)");
                        events.push(("expired", r, why.clone(), None));
                        failures.push((r.clone(), why.clone()));
                        Status::Failed(why)
                    }
                },
            };
            let detail = match &status {
                Status::Failed(why) | Status::Deferred(_, why) => why.clone(),
                Status::Delivered => detail,
            };
            updates.push(Update {
                message_id: r.message_id.clone(),
                idx: r.idx,
                status,
                delay_warned,
                detail,
                remote: remote.map(str::to_owned),
            });
        }
        if let Err(e) = self.store.update(updates).await {
            warn!(id = %job.message_id, error = %e, "cannot record delivery results; they will be retried");
        }
        // Logged after the queue recorded them, so the log never runs ahead of `yubin queue`.
        for (event, r, detail, retry_in) in events {
            let relay = remote.unwrap_or("");
            match retry_in {
                Some(s) => {
                    info!(id = %r.message_id, to = %r.address, relay, reason = %detail, retry_in = s, "{event}")
                }
                None if event == "delivered" => {
                    info!(id = %r.message_id, to = %r.address, relay, reply = %detail, "{event}")
                }
                None => info!(id = %r.message_id, to = %r.address, relay, reason = %detail, "{event}"),
            }
        }
        self.release(&job);
        for (action, list) in [
            (Action::Failed, failures),
            (Action::Delayed, delayed),
            (Action::Relayed, relayed),
        ] {
            if !list.is_empty() {
                self.report(&job, action, &list, remote, body).await;
            }
        }
    }

    /// Sends the sender a report on `list` (recipients and what was said), for those whose
    /// NOTIFY asks for it.
    async fn report(
        &self,
        job: &Job,
        action: Action,
        list: &[(Due, String)],
        remote: Option<&str>,
        body: &[u8],
    ) {
        if job.sender.is_empty() {
            info!(id = %job.message_id, "no report on a report");
            return;
        }
        let entries: Vec<dsn::Entry> = list
            .iter()
            .filter(|(d, _)| action.wanted(d.notify.as_deref()))
            .map(|(d, why)| dsn::Entry {
                recipient: d.address.clone(),
                orcpt: d.orcpt.clone(),
                diagnostic: why.clone(),
                remote_mta: remote.map(str::to_owned),
            })
            .collect();
        let Some((first, _)) = list.first() else { return };
        if entries.is_empty() {
            return;
        }
        let report = dsn::report(&dsn::Report {
            hostname: &self.cfg.hostname,
            id: &job.message_id,
            sender: &job.sender,
            original: body,
            action,
            entries: &entries,
            ret_full: first.ret.as_deref() == Some("FULL"),
            envid: first.envid.as_deref(),
            arrival: UNIX_EPOCH + Duration::from_secs(first.created.max(0) as u64),
            retry_until: Some(
                UNIX_EPOCH + Duration::from_secs((first.created + self.cfg.lifetime).max(0) as u64),
            ),
        });
        self.send_report(&job.message_id, &job.sender, report).await;
    }

    /// Delivers a report to `sender`: into its mailboxes when it is local, else through the
    /// queue with the null sender (a report is never reported on).
    pub async fn send_report(&self, message_id: &str, sender: &str, report: Vec<u8>) {
        let job = Job {
            message_id: message_id.to_owned(),
            sender: sender.to_owned(),
            recipients: Vec::new(),
        };
        let Some((local, domain)) = job.sender.rsplit_once('@') else {
            return;
        };
        let domain = domain.to_ascii_lowercase();
        let routing = self.routing.get();
        match routing.resolve(local, &domain) {
            Resolution::Local(route) => {
                let mut msg = b"Return-Path: <>\r\n".to_vec();
                msg.extend_from_slice(&report);
                let targets: Vec<Target> = route
                    .mailboxes
                    .iter()
                    .filter_map(|m| routing.mailbox(m))
                    .filter(|i| !i.disabled)
                    .map(|i| Target {
                        maildir: i.maildir.clone(),
                        folder: None,
                    })
                    .collect();
                match self.maildir.deliver(Arc::new(msg), targets).await {
                    Ok(_) => info!(id = %job.message_id, to = %job.sender, "report delivered locally"),
                    Err(e) => warn!(id = %job.message_id, error = %e, "cannot deliver the report"),
                }
            }
            Resolution::Unknown => {
                warn!(id = %job.message_id, sender = %job.sender, "report to an unknown local sender dropped")
            }
            Resolution::Remote => {
                let msg = NewMessage {
                    id: new_id(),
                    sender: String::new(),
                    recipients: vec![NewRecipient {
                        address: job.sender.clone(),
                        domain,
                        orcpt: None,
                        notify: None,
                    }],
                    envid: None,
                    ret: None,
                };
                let id = msg.id.clone();
                // Stored only; the poller delivers it like any other queued message.
                match self.store.enqueue(&msg, Arc::new(report)).await {
                    Ok(()) => {
                        info!(id = %job.message_id, report = %id, to = %job.sender, "report queued");
                        self.wake.notify_one();
                    }
                    Err(e) => warn!(id = %job.message_id, error = %e, "cannot queue the report"),
                }
            }
        }
    }
}

/// The queue's data folder.
pub fn queue_dir(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("queue")
}
