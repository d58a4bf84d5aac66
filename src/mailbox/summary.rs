//! Message summaries: what SORT and THREAD (RFC 5256, RFC 5957) need from a message's header,
//! kept so that a sort or a threading of a large folder reads no message file twice.
//!
//! A summary is computed once per message, when a SORT or THREAD first needs it (the IMAP
//! layer does that: `crate::imap::summarize`), then lives in the folder's memory and in the
//! table `message_summaries`, a page (JSON with a format version) per batch computed together:
//! a folder's ten thousand summaries load with a few rows, not ten thousand. Maildir files
//! never change under a UID, so a summary never goes stale; the pages keep those of expunged
//! messages until they are rewritten, which happens once a folder has [`MAX_PAGES`] pages or
//! when a load finds a quarter of what they hold expunged. A page of another version counts
//! as absent (its summaries are computed again).

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::index::{Folder, IndexError, lock};

/// The format of stored summaries; a change to what is extracted bumps it.
pub const VERSION: u32 = 1;

/// Most header bytes read from a message file.
pub const MAX_HEADER: usize = 256 * 1024;

/// What SORT and THREAD use of one message. Text keys are compared as they are stored (case
/// already mapped with i;ascii-casemap); a missing field is the empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "Row")]
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

/// The stored form of a summary: a JSON array, its fields in order (no names to repeat ten
/// thousand times, nothing to look up when it is read).
type Row = (
    Option<i64>,
    String,
    String,
    String,
    String,
    String,
    String,
    bool,
    Option<String>,
    Vec<String>,
);

impl From<Row> for Summary {
    fn from(r: Row) -> Summary {
        let (sent, from, to, cc, display_from, display_to, subject, reply, message_id, references) = r;
        Summary {
            sent,
            from,
            to,
            cc,
            display_from,
            display_to,
            subject,
            reply,
            message_id,
            references,
        }
    }
}

impl Serialize for Summary {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (
            self.sent,
            &self.from,
            &self.to,
            &self.cc,
            &self.display_from,
            &self.display_to,
            &self.subject,
            self.reply,
            &self.message_id,
            &self.references,
        )
            .serialize(s)
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

/// Most summaries in one stored page.
const PAGE: usize = 2048;

/// Pages of a folder beyond which they are rewritten as few full pages.
const MAX_PAGES: usize = 64;

/// A folder's summaries: in memory once loaded, and stored in pages.
#[derive(Default)]
pub struct Cache {
    mem: Mutex<Known>,
    /// Serialises loading and storing.
    io: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Known {
    /// The stored pages have been read into `map`.
    loaded: bool,
    map: HashMap<u32, Arc<Summary>>,
    /// Pages stored for the folder.
    pages: usize,
}

#[derive(Serialize)]
struct PageOut<'a> {
    v: u32,
    m: Vec<(u32, &'a Summary)>,
}

#[derive(Deserialize)]
struct PageIn {
    v: u32,
    m: Vec<(u32, Summary)>,
}

/// Decodes a stored page (empty when it is of another version or unreadable).
fn decode_page(text: &str) -> Vec<(u32, Summary)> {
    match serde_json::from_str::<PageIn>(text) {
        Ok(p) if p.v == VERSION => p.m,
        _ => Vec::new(),
    }
}

impl Folder {
    /// The summaries known for `uids`, in their order (`None`: not computed yet). The first
    /// call reads the folder's stored pages into memory; after that memory knows them all.
    pub async fn summaries(&self, uids: &[u32]) -> Result<Vec<Option<Arc<Summary>>>, IndexError> {
        if !lock(&self.summaries.mem).loaded {
            self.load_summaries().await?;
        }
        let mem = lock(&self.summaries.mem);
        Ok(uids.iter().map(|u| mem.map.get(u).cloned()).collect())
    }

    /// Starts loading the stored summaries in the background (IMAP SELECT does: a folder
    /// sorted before is likely sorted again, and the load then overlaps the SELECT).
    pub fn preload_summaries(self: &Arc<Self>) {
        if lock(&self.summaries.mem).loaded {
            return;
        }
        let f = self.clone();
        tokio::spawn(async move {
            if let Err(e) = f.load_summaries().await {
                tracing::warn!(error = %e, "cannot load message summaries");
            }
        });
    }

    async fn load_summaries(&self) -> Result<(), IndexError> {
        let _io = self.summaries.io.lock().await;
        if lock(&self.summaries.mem).loaded {
            return Ok(());
        }
        let pages: Vec<String> =
            sqlx::query_scalar("SELECT summaries FROM message_summaries WHERE folder_id = ?")
                .bind(self.id)
                .fetch_all(&self.pool)
                .await?;
        let count = pages.len();
        // Decoding is most of the work: the pages are shared out among the cores.
        let width = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut shares: Vec<Vec<String>> = (0..width).map(|_| Vec::new()).collect();
        for (i, page) in pages.into_iter().enumerate() {
            if let Some(share) = shares.get_mut(i % width) {
                share.push(page);
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for share in shares.into_iter().filter(|s| !s.is_empty()) {
            tasks.spawn_blocking(move || {
                share
                    .iter()
                    .flat_map(|p| decode_page(p))
                    .map(|(uid, s)| (uid, Arc::new(s)))
                    .collect::<Vec<_>>()
            });
        }
        let mut decoded = Vec::new();
        while let Some(done) = tasks.join_next().await {
            decoded.extend(done.map_err(io::Error::other)?);
        }
        // Only now the folder's lock (a SELECT may be syncing the folder meanwhile).
        let present: HashSet<u32> = self.state().await.msgs.iter().map(|m| m.uid).collect();
        let total = decoded.len();
        let live = decoded.into_iter().filter(|(uid, _)| present.contains(uid));
        let mut mem = lock(&self.summaries.mem);
        for (uid, s) in live {
            mem.map.entry(uid).or_insert(s);
        }
        mem.loaded = true;
        // Expunged messages' summaries stay in their pages until the pages are rewritten.
        mem.pages = if mem.map.len() < total * 3 / 4 {
            MAX_PAGES
        } else {
            count
        };
        Ok(())
    }

    /// Keeps computed summaries in memory; [`Folder::store_summaries`] stores them. Those of
    /// expunged messages are dropped once they outnumber the folder's messages.
    pub async fn remember_summaries(&self, items: &[(u32, Arc<Summary>)]) {
        let present: Option<HashSet<u32>> = {
            let count = lock(&self.summaries.mem).map.len() + items.len();
            let st = self.state().await;
            (count > 2 * st.msgs.len() + 1024).then(|| st.msgs.iter().map(|m| m.uid).collect())
        };
        let mut mem = lock(&self.summaries.mem);
        if let Some(present) = present {
            mem.map.retain(|u, _| present.contains(u));
        }
        for (uid, s) in items {
            mem.map.insert(*uid, s.clone());
        }
    }

    /// Stores summaries as new pages (one statement per [`PAGE`]); once the folder has
    /// [`MAX_PAGES`] pages, rewrites them all from memory as full pages, without the
    /// summaries of expunged messages.
    pub async fn store_summaries(&self, items: &[(u32, Arc<Summary>)]) -> Result<(), IndexError> {
        if items.is_empty() {
            return Ok(());
        }
        let _io = self.summaries.io.lock().await;
        let rewrite = lock(&self.summaries.mem).pages + items.len().div_ceil(PAGE) > MAX_PAGES;
        let items: Vec<(u32, Arc<Summary>)> = if rewrite {
            let present: HashSet<u32> = self.state().await.msgs.iter().map(|m| m.uid).collect();
            let mem = lock(&self.summaries.mem);
            let mut all: Vec<(u32, Arc<Summary>)> = mem
                .map
                .iter()
                .filter(|(u, _)| present.contains(u))
                .map(|(u, s)| (*u, s.clone()))
                .collect();
            all.sort_unstable_by_key(|(u, _)| *u);
            all
        } else {
            items.to_vec()
        };
        let pages = tokio::task::spawn_blocking(move || {
            items
                .chunks(PAGE)
                .map(|chunk| {
                    let page = PageOut {
                        v: VERSION,
                        m: chunk.iter().map(|(u, s)| (*u, s.as_ref())).collect(),
                    };
                    serde_json::to_string(&page).unwrap_or_default()
                })
                .collect::<Vec<String>>()
        })
        .await
        .map_err(io::Error::other)?;
        let mut conn = self.pool.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        if rewrite {
            sqlx::query("DELETE FROM message_summaries WHERE folder_id = ?")
                .bind(self.id)
                .execute(&mut *tx)
                .await?;
        }
        for page in &pages {
            sqlx::query("INSERT INTO message_summaries (folder_id, summaries) VALUES (?, ?)")
                .bind(self.id)
                .bind(page)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let mut mem = lock(&self.summaries.mem);
        mem.pages = if rewrite {
            pages.len()
        } else {
            mem.pages + pages.len()
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: u32) -> Summary {
        Summary {
            sent: Some(1_203_631_200 + i64::from(n)),
            from: "ALICE".into(),
            subject: format!("テスト {n}"),
            reply: n.is_multiple_of(2),
            message_id: Some(format!("{n}@x")),
            references: vec!["x@y".into(), "z@w".into()],
            ..Summary::default()
        }
    }

    #[test]
    fn pages_round_trip_and_version() {
        let items: Vec<(u32, Arc<Summary>)> = (1..4).map(|n| (n, Arc::new(sample(n)))).collect();
        let page = PageOut {
            v: VERSION,
            m: items.iter().map(|(u, s)| (*u, s.as_ref())).collect(),
        };
        let text = serde_json::to_string(&page).unwrap();
        let back = decode_page(&text);
        assert_eq!(back.len(), 3);
        assert_eq!(back[2], (3, sample(3)));
        let other = text.replacen("{\"v\":1,", "{\"v\":0,", 1);
        assert!(decode_page(&other).is_empty());
        assert!(decode_page("not json").is_empty());
    }

    /// An account with `n` delivered messages in INBOX, synced.
    async fn folder(n: u32) -> (std::path::PathBuf, Arc<Folder>) {
        let dir = std::env::temp_dir().join(format!(
            "yubin-summary-db-{}-{n}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let maildir = dir.join("Maildir");
        super::super::maildir::create_maildir(&maildir).unwrap();
        for i in 0..n {
            std::fs::write(
                maildir
                    .join("new")
                    .join(format!("{}.M{i}P1.test", 1_790_000_000 + i)),
                format!("Subject: {i}\r\n\r\nbody\r\n"),
            )
            .unwrap();
        }
        let pool = crate::store::open_sqlite(&dir.join("db")).await.unwrap();
        let roots = HashMap::from([("a@x".to_owned(), maildir)]);
        let index = super::super::index::Index::new(pool, roots, "test");
        index.ensure_account("a@x").await.unwrap();
        let f = index.open("a@x", "INBOX").await.unwrap();
        f.sync().await.unwrap();
        (dir, f)
    }

    #[tokio::test]
    async fn summaries_are_stored_in_pages_and_rewritten() {
        let (dir, f) = folder(10).await;
        let uids: Vec<u32> = (1..=10).collect();
        assert!(f.summaries(&uids).await.unwrap().iter().all(Option::is_none));
        let items: Vec<(u32, Arc<Summary>)> = (1..=6).map(|u| (u, Arc::new(sample(u)))).collect();
        f.remember_summaries(&items).await;
        f.store_summaries(&items[..3]).await.unwrap();
        f.store_summaries(&items[3..]).await.unwrap();
        let known = f.summaries(&uids).await.unwrap();
        assert_eq!(known.iter().filter(|s| s.is_some()).count(), 6);
        assert_eq!(known[4].as_deref(), Some(&sample(5)));

        // Another process: the pages load, less the expunged message.
        let pool = f.pool.clone();
        let pages: i64 = sqlx::query_scalar("SELECT count(*) FROM message_summaries WHERE folder_id = ?")
            .bind(f.id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(pages, 2);
        f.remove(&[2]).await.unwrap();
        *lock(&f.summaries.mem) = Known::default();
        let known = f.summaries(&uids).await.unwrap();
        assert_eq!(known.iter().filter(|s| s.is_some()).count(), 5);
        assert!(known[1].is_none());

        // Past MAX_PAGES pages, they are rewritten as one, without message 2.
        lock(&f.summaries.mem).pages = MAX_PAGES;
        let seventh = vec![(7, Arc::new(sample(7)))];
        f.remember_summaries(&seventh).await;
        f.store_summaries(&seventh).await.unwrap();
        let pages: Vec<String> =
            sqlx::query_scalar("SELECT summaries FROM message_summaries WHERE folder_id = ?")
                .bind(f.id)
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(pages.len(), 1);
        let uids_stored: Vec<u32> = decode_page(&pages[0]).iter().map(|(u, _)| *u).collect();
        assert_eq!(uids_stored, [1, 3, 4, 5, 6, 7]);
        std::fs::remove_dir_all(&dir).unwrap();
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
