//! Expunged UIDs for QRESYNC (RFC 7162 §3.2.5, §3.2.6): which messages a client that last
//! synchronised at some MODSEQ has lost since. Each expunge records its UIDs with the MODSEQ
//! it took; the table keeps the newest [`KEEP`] per folder and remembers below which MODSEQ it
//! forgot (`vanished_floor`): a client older than that is told every UID that is missing.

use sqlx::Row;

use super::index::{Folder, IndexError};

/// Expunged UIDs remembered per folder.
const KEEP: i64 = 10_000;

/// Records `uids` as expunged at `modseq` (inside the expunge's transaction).
pub(super) async fn record(
    tx: &mut sqlx::SqliteConnection,
    folder_id: i64,
    uids: &[u32],
    modseq: u64,
) -> Result<(), sqlx::Error> {
    for chunk in uids.chunks(100) {
        let mut sql = String::from("INSERT OR REPLACE INTO expunged (folder_id, uid, modseq) VALUES ");
        sql.push_str(&vec!["(?, ?, ?)"; chunk.len()].join(", "));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for uid in chunk {
            q = q.bind(folder_id).bind(i64::from(*uid)).bind(modseq as i64);
        }
        q.execute(&mut *tx).await?;
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM expunged WHERE folder_id = ?")
        .bind(folder_id)
        .fetch_one(&mut *tx)
        .await?;
    if count > 2 * KEEP {
        let floor: i64 = sqlx::query_scalar(
            "SELECT modseq FROM expunged WHERE folder_id = ? ORDER BY modseq DESC LIMIT 1 OFFSET ?",
        )
        .bind(folder_id)
        .bind(KEEP)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM expunged WHERE folder_id = ? AND modseq <= ?")
            .bind(folder_id)
            .bind(floor)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE folders SET vanished_floor = MAX(vanished_floor, ?) WHERE id = ?")
            .bind(floor)
            .bind(folder_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

impl Folder {
    /// The UIDs expunged after `modseq`, ascending. When the folder no longer remembers that
    /// far back, every UID below UIDNEXT that is not in the folder (a superset, which RFC 7162
    /// §3.2.5.2 allows).
    pub async fn vanished_since(&self, modseq: u64) -> Result<Vec<u32>, IndexError> {
        let floor: i64 = sqlx::query_scalar("SELECT vanished_floor FROM folders WHERE id = ?")
            .bind(self.id)
            .fetch_one(&self.pool)
            .await?;
        if (modseq as i64) < floor {
            let st = self.state().await;
            let mut out = Vec::new();
            let mut next = 1u32;
            for m in &st.msgs {
                out.extend(next..m.uid);
                next = m.uid + 1;
            }
            out.extend(next..st.uidnext);
            return Ok(out);
        }
        let rows = sqlx::query("SELECT uid FROM expunged WHERE folder_id = ? AND modseq > ? ORDER BY uid")
            .bind(self.id)
            .bind(modseq as i64)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.get::<i64, _>("uid") as u32).collect())
    }
}
