//! The embedded database (SQLite through sqlx): schema migrations embedded in the binary, and
//! the directory sync from the plan.

pub mod private;

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row};

use crate::plan::Plan;

/// The migrations, in order: (version, SQL). Their files live in `schema/migrations/`.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../schema/migrations/0001_directory.sql")),
    (2, include_str!("../../schema/migrations/0002_queue.sql")),
    (3, include_str!("../../schema/migrations/0003_mailbox_index.sql")),
    (4, include_str!("../../schema/migrations/0004_webhook.sql")),
    (5, include_str!("../../schema/migrations/0005_imap_state.sql")),
    (
        6,
        include_str!("../../schema/migrations/0006_message_summaries.sql"),
    ),
    (7, include_str!("../../schema/migrations/0007_vanished.sql")),
    (
        8,
        include_str!("../../schema/migrations/0008_structure_cache.sql"),
    ),
    (9, include_str!("../../schema/migrations/0009_delay_reports.sql")),
    (10, include_str!("../../schema/migrations/0010_queue_history.sql")),
];

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
#[error("database: {0}")]
pub struct DbError(#[from] sqlx::Error);

/// Opens (creating if needed, 0600: [`private::private_database`]) the SQLite database and
/// applies pending migrations.
pub async fn open_sqlite(path: &Path) -> Result<SqlitePool, DbError> {
    private::private_database(path).map_err(|e| DbError(sqlx::Error::Io(e)))?;
    let url = format!("sqlite://{}", path.display());
    let options = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Applies every migration not yet recorded in `schema_migrations`, each in a transaction.
pub async fn migrate(pool: &SqlitePool) -> Result<(), DbError> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY NOT NULL)")
        .execute(pool)
        .await?;
    for (version, sql) in MIGRATIONS {
        let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = ?")
            .bind(version)
            .fetch_optional(pool)
            .await?;
        if done.is_some() {
            continue;
        }
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(AssertSqlSafe(*sql)).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_migrations (version) VALUES (?)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Writes the plan's mailboxes into `users`; users no longer in the plan are marked removed.
pub async fn sync_directory(pool: &SqlitePool, plan: &Plan) -> Result<(), DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE users SET removed = 1")
        .execute(&mut *tx)
        .await?;
    for (address, m) in &plan.mailboxes {
        sqlx::query(
            "INSERT INTO users (address, domain, local_part, password_hash, quota_bytes, disabled, maildir, removed)
             VALUES (?, ?, ?, ?, ?, ?, ?, 0)
             ON CONFLICT (address) DO UPDATE SET domain = excluded.domain, local_part = excluded.local_part,
                 password_hash = excluded.password_hash, quota_bytes = excluded.quota_bytes,
                 disabled = excluded.disabled, maildir = excluded.maildir, removed = 0",
        )
        .bind(address)
        .bind(&m.domain)
        .bind(&m.local_part)
        .bind(&m.password_hash)
        .bind(m.quota_bytes.map(|q| q as i64))
        .bind(m.disabled)
        .bind(&m.maildir)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Number of active users in the database (for logs and tests).
pub async fn active_users(pool: &SqlitePool) -> Result<i64, DbError> {
    let row = sqlx::query("SELECT count(*) AS n FROM users WHERE removed = 0")
        .fetch_one(pool)
        .await?;
    Ok(row.try_get::<i64, _>("n")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 8: ENVELOPE/BODYSTRUCTURE strings cached by the old address parser are
    /// forgotten (issue 11), so FETCH computes them again.
    #[tokio::test]
    async fn structure_cache_is_recomputed() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("memory database");
        sqlx::query("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL)")
            .execute(&pool)
            .await
            .expect("table");
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v < 8) {
            sqlx::raw_sql(AssertSqlSafe(*sql))
                .execute(&pool)
                .await
                .expect("migration");
            sqlx::query("INSERT INTO schema_migrations (version) VALUES (?)")
                .bind(version)
                .execute(&pool)
                .await
                .expect("version");
        }
        sqlx::raw_sql(
            "INSERT INTO folders (id, account, name, uidvalidity, uidnext, highestmodseq) \
             VALUES (1, 'a@example.test', 'INBOX', 1, 2, 1);
             INSERT INTO messages (folder_id, uid, file, size, internaldate, flags, modseq, envelope, bodystructure) \
             VALUES (1, 1, 'f', 1, 0, '', 1, '(NIL NIL ((NIL NIL \"user\" \"domain (Real Name)\")))', '(\"text\")');",
        )
        .execute(&pool)
        .await
        .expect("rows");
        migrate(&pool).await.expect("migrate");
        let row = sqlx::query("SELECT envelope, bodystructure FROM messages")
            .fetch_one(&pool)
            .await
            .expect("row");
        assert_eq!(row.get::<Option<String>, _>("envelope"), None);
        assert_eq!(row.get::<Option<String>, _>("bodystructure"), None);
    }
}
