//! `yubin queue list|show|retry|delete`: inspect and steer the outbound queue of a server,
//! through its database (the running daemon picks changes up within a second).

use std::path::Path;

use sqlx::Row;

use super::EXIT_OK;
use crate::plan::Database;

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Every queued message and recipient with its state.
    List,
    /// One message: envelope, recipients, headers, and its delivery history (kept after it
    /// left the queue for `limits { queue-history }`).
    Show {
        /// The queue id.
        id: String,
    },
    /// Try again now.
    Retry {
        /// The queue id.
        #[arg(required_unless_present = "all")]
        id: Option<String>,
        /// Every pending recipient.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
    /// Remove a message from the queue without delivering or bouncing it.
    Delete {
        /// The queue id.
        id: String,
    },
}

fn age(created: i64) -> String {
    let s = (crate::queue::store::now() - created).max(0);
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn when(at: i64) -> String {
    crate::smtp::headers::rfc5322_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(at.max(0) as u64),
    )
}

/// `queue show ID`: a queued message (envelope, recipients, headers), or one that left the
/// queue within `limits { queue-history }`; either way with its delivery history.
async fn show(pool: &sqlx::SqlitePool, data: &Path, id: &str) -> Result<(), String> {
    let queued = sqlx::query("SELECT sender, created, size FROM queue_messages WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(|e| e.to_string())?;
    let done = match &queued {
        Some(_) => None,
        None => sqlx::query("SELECT sender, created, size, finished FROM queue_done WHERE id = ?")
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(|e| e.to_string())?,
    };
    let Some(m) = queued.as_ref().or(done.as_ref()) else {
        return Err(format!("no message {id} in the queue or its history"));
    };
    println!("id:      {id}");
    println!("from:    <{}>", m.get::<String, _>("sender"));
    println!("age:     {}", age(m.get("created")));
    println!("size:    {} bytes", m.get::<i64, _>("size"));
    if let Some(d) = &done {
        println!("state:   left the queue {}", when(d.get("finished")));
    }
    if queued.is_some() {
        let rcpts = sqlx::query(
            "SELECT address, status, attempts, last_error FROM queue_recipients WHERE message_id = ? ORDER BY idx",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .map_err(|e| e.to_string())?;
        for r in rcpts {
            let err: Option<String> = r.get("last_error");
            println!(
                "to:      <{}> {} (attempts {}){}",
                r.get::<String, _>("address"),
                r.get::<String, _>("status"),
                r.get::<i64, _>("attempts"),
                err.map(|e| format!(": {e}")).unwrap_or_default()
            );
        }
    }
    let history = sqlx::query(
        "SELECT address, at, event, detail, remote FROM queue_history WHERE message_id = ? ORDER BY at, rowid",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(|e| e.to_string())?;
    if !history.is_empty() {
        println!("history:");
    }
    for h in history {
        let remote: Option<String> = h.get("remote");
        println!(
            "  {}  <{}> {}{}: {}",
            when(h.get("at")),
            h.get::<String, _>("address"),
            h.get::<String, _>("event"),
            remote.map(|r| format!(" by {r}")).unwrap_or_default(),
            h.get::<String, _>("detail")
        );
    }
    if queued.is_some() {
        let body = std::fs::read(crate::queue::queue_dir(data).join("msg").join(id)).unwrap_or_default();
        let end = body
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(body.len(), |p| p + 2);
        println!();
        print!("{}", String::from_utf8_lossy(&body[..end]));
    }
    Ok(())
}

async fn run_async(config: &Path, action: Action) -> Result<u8, String> {
    let plan = super::plan::compile_file(config).map_err(|_| String::new())?;
    let Database::Sqlite { path } = &plan.storage.database else {
        return Err("only SQLite storage is supported in this version".into());
    };
    if !Path::new(path).exists() {
        return Err(format!("{path} does not exist: has the server run yet?"));
    }
    let pool = crate::store::open_sqlite(Path::new(path))
        .await
        .map_err(|e| e.to_string())?;
    let data = Path::new(&plan.storage.data_dir);
    match action {
        Action::List => {
            let rows = sqlx::query(
                "SELECT m.id, m.sender, m.created, m.size, r.address, r.status, r.attempts, r.next_attempt, r.last_error
                 FROM queue_messages m JOIN queue_recipients r ON r.message_id = m.id ORDER BY m.created, m.id, r.idx",
            )
            .fetch_all(&pool)
            .await
            .map_err(|e| e.to_string())?;
            if rows.is_empty() {
                println!("the queue is empty");
            }
            let mut last = String::new();
            for r in rows {
                let id: String = r.get("id");
                if id != last {
                    let sender: String = r.get("sender");
                    println!(
                        "{id}  {:>6}  {:>8} bytes  from <{sender}>",
                        age(r.get("created")),
                        r.get::<i64, _>("size")
                    );
                    last = id;
                }
                let status: String = r.get("status");
                let next: i64 = r.get("next_attempt");
                let when = if status == "pending" {
                    let wait = next - crate::queue::store::now();
                    if wait > 0 {
                        format!("next try in {wait}s")
                    } else {
                        "due".to_owned()
                    }
                } else {
                    status.clone()
                };
                let err: Option<String> = r.get("last_error");
                println!(
                    "    {:<40} {:<9} attempts {:<3} {when}{}",
                    r.get::<String, _>("address"),
                    status,
                    r.get::<i64, _>("attempts"),
                    err.map(|e| format!("  ({e})")).unwrap_or_default()
                );
            }
        }
        Action::Show { id } => show(&pool, data, &id).await?,
        Action::Retry { id, all } => {
            let q = if all {
                sqlx::query("UPDATE queue_recipients SET next_attempt = 0 WHERE status = 'pending'")
            } else {
                sqlx::query("UPDATE queue_recipients SET next_attempt = 0 WHERE status = 'pending' AND message_id = ?")
                    .bind(id.clone().unwrap_or_default())
            };
            let n = q.execute(&pool).await.map_err(|e| e.to_string())?.rows_affected();
            if n == 0 && !all {
                return Err(format!(
                    "no pending recipient of {} in the queue",
                    id.unwrap_or_default()
                ));
            }
            println!(
                "{n} recipient{} scheduled for delivery now",
                if n == 1 { "" } else { "s" }
            );
        }
        Action::Delete { id } => {
            let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
            sqlx::query("DELETE FROM queue_recipients WHERE message_id = ?")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            let n = sqlx::query("DELETE FROM queue_messages WHERE id = ?")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?
                .rows_affected();
            tx.commit().await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err(format!("no message {id} in the queue"));
            }
            let _ = std::fs::remove_file(crate::queue::queue_dir(data).join("msg").join(&id));
            println!("deleted {id}");
        }
    }
    pool.close().await;
    Ok(EXIT_OK)
}

/// Runs `yubin queue`.
pub fn run(config: &Path, action: Action) -> u8 {
    super::block_on(run_async(config, action))
}
