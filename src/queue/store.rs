//! The queue on disk: message bytes in `<data>/queue/msg/<id>` (written, fsynced, renamed,
//! folder fsynced) and the envelope and per-recipient state in the database.
//!
//! Group commit: every change goes through one writer task that collects whatever requests
//! are waiting and applies them in a single transaction, so twenty sessions enqueueing at once
//! cost one database sync, not twenty.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::{Row, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::mailbox::maildir::DirSync;

/// A recipient of a new message.
#[derive(Debug, Clone)]
pub struct NewRecipient {
    /// The address.
    pub address: String,
    /// Its domain (lower-case ASCII; what MX lookups use).
    pub domain: String,
    /// RFC 3461 ORCPT.
    pub orcpt: Option<String>,
    /// RFC 3461 NOTIFY.
    pub notify: Option<String>,
}

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Queue id.
    pub id: String,
    /// Envelope sender ('' for bounces).
    pub sender: String,
    /// Recipients.
    pub recipients: Vec<NewRecipient>,
    /// RFC 3461 ENVID.
    pub envid: Option<String>,
    /// RFC 3461 RET.
    pub ret: Option<String>,
}

/// A delivery result to record.
#[derive(Debug, Clone)]
pub enum Status {
    /// Done.
    Delivered,
    /// Given up on.
    Failed(String),
    /// Try again at this time (unix seconds).
    Deferred(i64, String),
}

/// A change to one recipient.
#[derive(Debug, Clone)]
pub struct Update {
    /// Message id.
    pub message_id: String,
    /// Recipient index.
    pub idx: i64,
    /// New state.
    pub status: Status,
    /// A delay report went out for this recipient (sent once).
    pub delay_warned: bool,
    /// What was said: the reply or the local reason (kept in the history).
    pub detail: String,
    /// The server that answered.
    pub remote: Option<String>,
}

/// A recipient that is due for delivery.
#[derive(Debug, Clone)]
pub struct Due {
    /// Message id.
    pub message_id: String,
    /// Recipient index.
    pub idx: i64,
    /// Address.
    pub address: String,
    /// Domain.
    pub domain: String,
    /// Envelope sender.
    pub sender: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When the message was queued (unix seconds).
    pub created: i64,
    /// RFC 3461 NOTIFY.
    pub notify: Option<String>,
    /// RFC 3461 ORCPT.
    pub orcpt: Option<String>,
    /// RFC 3461 RET.
    pub ret: Option<String>,
    /// RFC 3461 ENVID.
    pub envid: Option<String>,
    /// A delay report was sent already.
    pub delay_warned: bool,
}

enum Op {
    Enqueue(NewMessage, i64, i64),
    Update(Vec<Update>),
}

struct Request {
    op: Op,
    done: oneshot::Sender<Result<Vec<String>, String>>,
}

/// The queue's durable storage.
pub struct QueueStore {
    dir: PathBuf,
    pool: SqlitePool,
    writer: mpsc::Sender<Request>,
    msg_sync: DirSync,
}

impl std::fmt::Debug for QueueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueStore").field("dir", &self.dir).finish()
    }
}

/// Why the queue could not store something.
#[derive(Debug, thiserror::Error)]
#[error("queue: {0}")]
pub struct QueueError(pub String);

/// Unix time now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl QueueStore {
    /// Opens the queue under `data_dir`, removing message files no row refers to.
    ///
    /// Delivery history is kept `history` seconds after a message leaves the queue.
    pub async fn open(data_dir: &Path, pool: SqlitePool, history: i64) -> Result<Arc<Self>, QueueError> {
        let dir = data_dir.join("queue");
        for sub in ["tmp", "msg"] {
            crate::mailbox::maildir::create_dir_durable(&dir.join(sub))
                .map_err(|e| QueueError(e.to_string()))?;
        }
        // Files of messages whose rows are gone (a crash between commit and unlink), and
        // half-written ones in tmp/, are leftovers.
        let ids: HashSet<String> = sqlx::query_scalar("SELECT id FROM queue_messages")
            .fetch_all(&pool)
            .await
            .map_err(|e| QueueError(e.to_string()))?
            .into_iter()
            .collect();
        for sub in ["tmp", "msg"] {
            if let Ok(entries) = fs::read_dir(dir.join(sub)) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if sub == "tmp" || !ids.contains(&name) {
                        let _ = fs::remove_file(e.path());
                    }
                }
            }
        }
        let (tx, rx) = mpsc::channel(4096);
        let store = Arc::new(QueueStore {
            msg_sync: DirSync::new(dir.join("msg")),
            dir,
            pool: pool.clone(),
            writer: tx,
        });
        tokio::spawn(writer(pool, rx, store.dir.join("msg"), history));
        Ok(store)
    }

    /// The database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Where a message's bytes are.
    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join("msg").join(id)
    }

    async fn request(&self, op: Op) -> Result<Vec<String>, QueueError> {
        let (done, rx) = oneshot::channel();
        self.writer
            .send(Request { op, done })
            .await
            .map_err(|_| QueueError("the queue writer stopped".into()))?;
        rx.await
            .map_err(|_| QueueError("the queue writer stopped".into()))?
            .map_err(QueueError)
    }

    /// Stores a message durably: its bytes fsynced and its rows committed.
    pub async fn enqueue(&self, msg: &NewMessage, body: Arc<Vec<u8>>) -> Result<(), QueueError> {
        let tmp = self.dir.join("tmp").join(&msg.id);
        let dest = self.path(&msg.id);
        let size = body.len() as i64;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&body)?;
            f.sync_data()?;
            fs::rename(&tmp, &dest)
        })
        .await
        .map_err(|e| QueueError(e.to_string()))?
        .map_err(|e| QueueError(e.to_string()))?;
        self.msg_sync
            .sync()
            .await
            .map_err(|e| QueueError(e.to_string()))?;
        self.request(Op::Enqueue(msg.clone(), size, now())).await?;
        Ok(())
    }

    /// Records delivery results. Messages with no pending recipient left are removed; their
    /// ids are returned.
    pub async fn update(&self, updates: Vec<Update>) -> Result<Vec<String>, QueueError> {
        self.request(Op::Update(updates)).await
    }

    /// Recipients due at `now`, oldest first, at most `limit`.
    pub async fn due(&self, now: i64, limit: i64) -> Result<Vec<Due>, QueueError> {
        let rows = sqlx::query(
            "SELECT r.message_id, r.idx, r.address, r.domain, r.attempts, r.notify, r.orcpt,
                    r.delay_warned, m.sender, m.created, m.ret, m.envid
             FROM queue_recipients r JOIN queue_messages m ON m.id = r.message_id
             WHERE r.status = 'pending' AND r.next_attempt <= ?
             ORDER BY r.next_attempt, r.message_id, r.idx LIMIT ?",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| QueueError(e.to_string()))?;
        Ok(rows
            .iter()
            .map(|r| Due {
                message_id: r.get("message_id"),
                idx: r.get("idx"),
                address: r.get("address"),
                domain: r.get("domain"),
                attempts: r.get("attempts"),
                notify: r.get("notify"),
                orcpt: r.get("orcpt"),
                sender: r.get("sender"),
                created: r.get("created"),
                ret: r.get("ret"),
                envid: r.get("envid"),
                delay_warned: r.get::<i64, _>("delay_warned") != 0,
            })
            .collect())
    }
}

async fn apply(
    tx: &mut sqlx::SqliteConnection,
    op: &Op,
    touched: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    match op {
        Op::Enqueue(m, size, created) => {
            sqlx::query("INSERT INTO queue_messages (id, sender, size, created, envid, ret) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(&m.id)
                .bind(&m.sender)
                .bind(size)
                .bind(created)
                .bind(&m.envid)
                .bind(&m.ret)
                .execute(&mut *tx)
                .await?;
            for (i, r) in m.recipients.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO queue_recipients (message_id, idx, address, domain, orcpt, notify, status, next_attempt)
                     VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                )
                .bind(&m.id)
                .bind(i as i64)
                .bind(&r.address)
                .bind(&r.domain)
                .bind(&r.orcpt)
                .bind(&r.notify)
                .bind(created)
                .execute(&mut *tx)
                .await?;
            }
        }
        Op::Update(updates) => {
            for u in updates {
                let (status, next, error) = match &u.status {
                    Status::Delivered => ("delivered", None, None),
                    Status::Failed(e) => ("failed", None, Some(e.as_str())),
                    Status::Deferred(at, e) => ("pending", Some(*at), Some(e.as_str())),
                };
                sqlx::query(
                    "UPDATE queue_recipients SET status = ?, attempts = attempts + 1,
                         next_attempt = coalesce(?, next_attempt), last_error = coalesce(?, last_error),
                         delay_warned = max(delay_warned, ?)
                     WHERE message_id = ? AND idx = ?",
                )
                .bind(status)
                .bind(next)
                .bind(error)
                .bind(i64::from(u.delay_warned))
                .bind(&u.message_id)
                .bind(u.idx)
                .execute(&mut *tx)
                .await?;
                let event = match (&u.status, u.delay_warned) {
                    (Status::Delivered, _) => "delivered",
                    (Status::Failed(_), _) => "failed",
                    (Status::Deferred(..), true) => "delay-report",
                    (Status::Deferred(..), false) => "deferred",
                };
                sqlx::query(
                    "INSERT INTO queue_history (message_id, idx, address, at, event, detail, remote)
                     SELECT message_id, idx, address, ?, ?, ?, ? FROM queue_recipients WHERE message_id = ? AND idx = ?",
                )
                .bind(now())
                .bind(event)
                .bind(&u.detail)
                .bind(&u.remote)
                .bind(&u.message_id)
                .bind(u.idx)
                .execute(&mut *tx)
                .await?;
                if status != "pending" && !touched.contains(&u.message_id) {
                    touched.push(u.message_id.clone());
                }
            }
        }
    }
    Ok(())
}

/// Applies batches of requests, one transaction each; finished messages are deleted.
async fn writer(pool: SqlitePool, mut rx: mpsc::Receiver<Request>, msg_dir: PathBuf, history: i64) {
    let mut pruned = 0i64;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let mut touched = Vec::new();
        let result: Result<Vec<String>, sqlx::Error> = async {
            let mut conn = pool.acquire().await?;
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            for r in &batch {
                apply(&mut tx, &r.op, &mut touched).await?;
            }
            let mut finished = Vec::new();
            for id in &touched {
                let pending: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM queue_recipients WHERE message_id = ? AND status = 'pending'",
                )
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if pending == 0 {
                    sqlx::query(
                        "INSERT OR REPLACE INTO queue_done (id, sender, size, created, finished)
                         SELECT id, sender, size, created, ? FROM queue_messages WHERE id = ?",
                    )
                    .bind(now())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM queue_recipients WHERE message_id = ?")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM queue_messages WHERE id = ?")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    finished.push(id.clone());
                }
            }
            // History past its time goes, once a minute at most.
            if now() - pruned >= 60 {
                pruned = now();
                let horizon = pruned - history;
                sqlx::query("DELETE FROM queue_done WHERE finished < ?")
                    .bind(horizon)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "DELETE FROM queue_history WHERE at < ?
                     AND message_id NOT IN (SELECT id FROM queue_messages)",
                )
                .bind(horizon)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(finished)
        }
        .await;
        if let Ok(finished) = &result {
            for id in finished {
                if let Err(e) = fs::remove_file(msg_dir.join(id)) {
                    warn!(id = %id, error = %e, "cannot remove a delivered message file");
                }
            }
        }
        let result = result.map_err(|e| e.to_string());
        if let Err(e) = &result {
            warn!(error = %e, "queue database write failed");
        }
        for r in batch {
            let _ = r.done.send(result.clone());
        }
    }
}
