//! Message summaries: what SORT and THREAD (RFC 5256, RFC 5957) need from a message's header,
//! kept so that a sort or a threading of a large folder reads no message file twice.
//!
//! A summary is computed once per message, when a SORT or THREAD first needs it (the IMAP
//! layer does that: `crate::imap::summarize`), then lives in the folder's memory and in the
//! `summary` column of `messages` (JSON with a format version; a summary of another version is
//! computed again). Maildir files never change under a UID, so a summary never goes stale; it
//! goes with its row when the message is expunged.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::index::{Folder, IndexError};

/// The format of stored summaries; a change to what is extracted bumps it.
pub const VERSION: u32 = 1;

/// Most header bytes read from a message file.
pub const MAX_HEADER: usize = 256 * 1024;

/// What SORT and THREAD use of one message. Text keys are compared as they are stored (case
/// already mapped with i;ascii-casemap); a missing field is the empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The Date header (unix seconds), when present and valid; else SORT and THREAD use the
    /// INTERNALDATE.
    pub sent: Option<i64>,
    /// The local part (RFC 5256 `addr-mailbox`) of the first From address.
    pub from: String,
    /// The local part of the first To address.
    pub to: String,
    /// The local part of the first Cc address.
    pub cc: String,
    /// The display name of the first From address, or its address (RFC 5957).
    pub display_from: String,
    /// The display name of the first To address, or its address.
    pub display_to: String,
    /// The base subject (RFC 5256 §2.1).
    pub subject: String,
    /// The subject marked a reply or forward.
    pub reply: bool,
    /// The first valid Message-ID.
    pub message_id: Option<String>,
    /// The message IDs of References (oldest first), or the first of In-Reply-To.
    pub references: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Stored<T> {
    v: u32,
    s: T,
}

impl Summary {
    /// The stored form.
    pub fn encode(&self) -> String {
        serde_json::to_string(&Stored { v: VERSION, s: self }).unwrap_or_default()
    }

    /// A stored summary of the current version.
    pub fn decode(text: &str) -> Option<Summary> {
        let stored: Stored<Summary> = serde_json::from_str(text).ok()?;
        (stored.v == VERSION).then_some(stored.s)
    }
}

/// Reads the header of a message file: up to and including the blank line that ends it (or
/// the whole file when there is none), at most [`MAX_HEADER`] bytes. Blocking.
pub fn read_header(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = f.read(&mut chunk)?;
        if n == 0 {
            return Ok(buf);
        }
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = header_end(&buf, from) {
            buf.truncate(end);
            return Ok(buf);
        }
        if buf.len() >= MAX_HEADER {
            buf.truncate(MAX_HEADER);
            return Ok(buf);
        }
    }
}

/// The end of the header (after its blank line), looking from `from` on.
fn header_end(buf: &[u8], from: usize) -> Option<usize> {
    if buf.starts_with(b"\r\n") {
        return Some(2);
    }
    if buf.starts_with(b"\n") {
        return Some(1);
    }
    let tail = buf.get(from..)?;
    tail.windows(2).enumerate().find_map(|(i, w)| match w {
        b"\n\n" => Some(from + i + 2),
        b"\n\r" if tail.get(i + 2) == Some(&b'\n') => Some(from + i + 3),
        _ => None,
    })
}

/// Rows per statement when summaries are written.
const ROWS: usize = 100;

impl Folder {
    /// The summaries known for `uids`: from memory, else from the database (then kept in
    /// memory). UIDs without one are left out.
    pub async fn summaries(&self, uids: &[u32]) -> Result<HashMap<u32, Arc<Summary>>, IndexError> {
        let mut out = HashMap::with_capacity(uids.len());
        let mut missing: Vec<u32> = Vec::new();
        {
            let mem = super::index::lock(&self.summaries);
            for u in uids {
                match mem.get(u) {
                    Some(s) => {
                        out.insert(*u, s.clone());
                    }
                    None => missing.push(*u),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let mut loaded: Vec<(u32, Arc<Summary>)> = Vec::new();
        let mut take = |rows: Vec<sqlx::sqlite::SqliteRow>, wanted: Option<&HashSet<u32>>| {
            for r in rows {
                let uid = r.get::<i64, _>("uid") as u32;
                if wanted.is_some_and(|w| !w.contains(&uid)) {
                    continue;
                }
                if let Some(s) = r
                    .get::<Option<String>, _>("summary")
                    .as_deref()
                    .and_then(Summary::decode)
                {
                    loaded.push((uid, Arc::new(s)));
                }
            }
        };
        if missing.len() > 500 {
            // Most of a large folder: one pass over its rows.
            let rows =
                sqlx::query("SELECT uid, summary FROM messages WHERE folder_id = ? AND summary IS NOT NULL")
                    .bind(self.id)
                    .fetch_all(&self.pool)
                    .await?;
            let wanted: HashSet<u32> = missing.iter().copied().collect();
            take(rows, Some(&wanted));
        } else {
            let placeholders = vec!["?"; missing.len()].join(",");
            let sql = format!(
                "SELECT uid, summary FROM messages WHERE folder_id = ? AND summary IS NOT NULL AND uid IN ({placeholders})"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(self.id);
            for u in &missing {
                q = q.bind(i64::from(*u));
            }
            take(q.fetch_all(&self.pool).await?, None);
        }
        let mut mem = super::index::lock(&self.summaries);
        for (uid, s) in loaded {
            mem.insert(uid, s.clone());
            out.insert(uid, s);
        }
        Ok(out)
    }

    /// Keeps computed summaries in memory (the caller stores them with
    /// [`Folder::store_summaries`]). Summaries of expunged messages are dropped once they
    /// outnumber the folder's messages.
    pub async fn remember_summaries(&self, items: &[(u32, Arc<Summary>)]) {
        let present: Option<HashSet<u32>> = {
            let count = super::index::lock(&self.summaries).len() + items.len();
            let st = self.state().await;
            (count > 2 * st.msgs.len() + 1024).then(|| st.msgs.iter().map(|m| m.uid).collect())
        };
        let mut mem = super::index::lock(&self.summaries);
        if let Some(present) = present {
            mem.retain(|u, _| present.contains(u));
        }
        for (uid, s) in items {
            mem.insert(*uid, s.clone());
        }
    }

    /// Writes summaries to the database: one transaction, a statement per hundred.
    pub async fn store_summaries(&self, items: &[(u32, Arc<Summary>)]) -> Result<(), IndexError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for chunk in items.chunks(ROWS) {
            let sql = format!(
                "UPDATE messages SET summary = v.column2 FROM (VALUES {}) AS v \
                 WHERE messages.folder_id = ? AND messages.uid = v.column1",
                vec!["(?, ?)"; chunk.len()].join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (uid, s) in chunk {
                q = q.bind(i64::from(*uid)).bind(s.encode());
            }
            q.bind(self.id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_round_trips_and_versions() {
        let s = Summary {
            sent: Some(1_203_631_200),
            from: "ALICE".into(),
            subject: "テスト".into(),
            reply: true,
            message_id: Some("a@b".into()),
            references: vec!["x@y".into(), "z@w".into()],
            ..Summary::default()
        };
        assert_eq!(Summary::decode(&s.encode()), Some(s.clone()));
        let old = s.encode().replace("{\"v\":1,", "{\"v\":0,");
        assert_eq!(Summary::decode(&old), None);
        assert_eq!(Summary::decode("not json"), None);
    }

    #[test]
    fn headers_end_at_the_blank_line() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody", 0), Some(8));
        assert_eq!(header_end(b"A: b\n\nbody", 0), Some(6));
        assert_eq!(header_end(b"\r\nbody", 0), Some(2));
        assert_eq!(header_end(b"A: b\r\nC: d\r\n", 0), None);
    }

    #[test]
    fn reading_stops_after_the_header() {
        let dir = std::env::temp_dir().join(format!("yubin-summary-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("m");
        let mut big = b"Subject: x\r\nFrom: a@b\r\n\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'x', 100_000));
        std::fs::write(&p, &big).unwrap();
        assert_eq!(read_header(&p).unwrap(), b"Subject: x\r\nFrom: a@b\r\n\r\n");
        // A blank line split across two reads.
        let mut split = vec![b'X'; 16 * 1024 - 3];
        split.splice(0..3, b"A: ".iter().copied());
        split.extend_from_slice(b"\r\n\r\nbody");
        std::fs::write(&p, &split).unwrap();
        assert_eq!(read_header(&p).unwrap().len(), 16 * 1024 + 1);
        std::fs::write(&p, b"no blank line").unwrap();
        assert_eq!(read_header(&p).unwrap(), b"no blank line");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
