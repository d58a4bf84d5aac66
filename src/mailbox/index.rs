//! The mailbox index: every folder of every account with its UIDVALIDITY, UIDNEXT and
//! HIGHESTMODSEQ, and every message with its UID, flags and MODSEQ, kept in memory for open
//! folders and written through to the database.
//!
//! Folders are Maildir++: INBOX is the Maildir itself, other folders are `.Name` sub-folders
//! (modified UTF-7 on disk, as Dovecot writes them), `.` is the hierarchy separator. SMTP
//! delivers into `new/`; [`Folder::sync`] moves new files to `cur/` and gives them UIDs, so
//! UIDs are stable across restarts and deliveries. Flags live in the database and are mirrored
//! into the file names (`:2,FRS`).
//!
//! Implementation notes: a folder's state is behind an async mutex; every change bumps
//! HIGHESTMODSEQ and the folder's version, which wakes IDLE sessions; deliveries nudge the
//! folder so idle sessions sync at once.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Row, SqlitePool};
use tokio::sync::watch;

use super::events::MailboxEvent;
use super::maildir::{create_maildir, fsync_dir, write_durable};
use super::mutf7;

/// `\Seen`.
pub const SEEN: u8 = 1;
/// `\Answered`.
pub const ANSWERED: u8 = 2;
/// `\Flagged`.
pub const FLAGGED: u8 = 4;
/// `\Deleted`.
pub const DELETED: u8 = 8;
/// `\Draft`.
pub const DRAFT: u8 = 16;

const SYSTEM: [(u8, &str, char); 5] = [
    (DRAFT, "\\Draft", 'D'),
    (FLAGGED, "\\Flagged", 'F'),
    (ANSWERED, "\\Answered", 'R'),
    (SEEN, "\\Seen", 'S'),
    (DELETED, "\\Deleted", 'T'),
];

/// The special folders every account gets, with their RFC 6154 attribute.
pub const SPECIAL: [(&str, &str); 5] = [
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
];

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A message's flags: the system flags as bits, keywords as words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// `SEEN | ANSWERED | ...`.
    pub system: u8,
    /// Keywords, in the case first seen, no duplicates (compared case-insensitively).
    pub keywords: Vec<String>,
}

impl Flags {
    /// Parses flag words (`\Seen`, `$Forwarded`, ...). Unknown `\` flags are refused.
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Option<Flags> {
        let mut f = Flags::default();
        for w in words {
            if let Some((bit, _, _)) = SYSTEM.iter().find(|(_, name, _)| name.eq_ignore_ascii_case(w)) {
                f.system |= bit;
            } else if w.starts_with('\\') {
                if w.eq_ignore_ascii_case("\\Recent") {
                    continue;
                }
                return None;
            } else if !f.keywords.iter().any(|k| k.eq_ignore_ascii_case(w)) {
                f.keywords.push(w.to_owned());
            }
        }
        Some(f)
    }

    /// True when `other`'s flags are all set here.
    pub fn contains(&self, other: &Flags) -> bool {
        self.system & other.system == other.system
            && other
                .keywords
                .iter()
                .all(|k| self.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)))
    }

    /// True when the keyword is set.
    pub fn has_keyword(&self, k: &str) -> bool {
        self.keywords.iter().any(|x| x.eq_ignore_ascii_case(k))
    }

    /// Adds `other`.
    pub fn add(&mut self, other: &Flags) {
        self.system |= other.system;
        for k in &other.keywords {
            if !self.has_keyword(k) {
                self.keywords.push(k.clone());
            }
        }
    }

    /// Removes `other`.
    pub fn remove(&mut self, other: &Flags) {
        self.system &= !other.system;
        self.keywords.retain(|k| !other.has_keyword(k));
    }

    /// The words, system flags first in RFC order (as Dovecot writes them): `\Flagged \Seen
    /// $Label1`.
    pub fn words(&self) -> Vec<&str> {
        const ORDER: [(u8, &str); 5] = [
            (ANSWERED, "\\Answered"),
            (FLAGGED, "\\Flagged"),
            (DELETED, "\\Deleted"),
            (SEEN, "\\Seen"),
            (DRAFT, "\\Draft"),
        ];
        let mut out: Vec<&str> = ORDER
            .iter()
            .filter(|(b, _)| self.system & b != 0)
            .map(|(_, n)| *n)
            .collect();
        out.extend(self.keywords.iter().map(String::as_str));
        out
    }

    fn to_db(&self) -> String {
        self.words().join(" ")
    }

    fn from_db(s: &str) -> Flags {
        Flags::parse(s.split_whitespace()).unwrap_or_default()
    }

    /// The Maildir info suffix letters, in ASCII order (`FRS`).
    pub fn maildir_letters(&self) -> String {
        SYSTEM
            .iter()
            .filter(|(b, _, _)| self.system & b != 0)
            .map(|(_, _, c)| *c)
            .collect()
    }

    fn from_maildir_info(info: &str) -> Flags {
        let mut f = Flags::default();
        if let Some(letters) = info.strip_prefix("2,") {
            for c in letters.chars() {
                if let Some((b, _, _)) = SYSTEM.iter().find(|(_, _, l)| *l == c) {
                    f.system |= b;
                } else if c == 'P' {
                    f.keywords.push("$Forwarded".into());
                }
            }
        }
        f
    }
}

/// One message in a folder.
#[derive(Debug, Clone)]
pub struct Msg {
    /// UID.
    pub uid: u32,
    /// Maildir base name (without `:2,...`).
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// INTERNALDATE, unix seconds.
    pub internaldate: i64,
    /// Flags.
    pub flags: Flags,
    /// MODSEQ of the last change.
    pub modseq: u64,
}

/// A folder's state.
#[derive(Debug, Default)]
pub struct State {
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// UIDNEXT.
    pub uidnext: u32,
    /// HIGHESTMODSEQ.
    pub highestmodseq: u64,
    /// Messages, ascending UID.
    pub msgs: Vec<Msg>,
    /// UIDs expunged with the MODSEQ of their removal (for QRESYNC-style catch-up).
    pub cur_mtime: Option<SystemTime>,
    /// The highest UID a session has been told is \Recent (RFC 3501 §2.3.2).
    pub recent_uid: u32,
}

impl State {
    /// The index of a UID in `msgs`.
    pub fn position(&self, uid: u32) -> Option<usize> {
        self.msgs.binary_search_by_key(&uid, |m| m.uid).ok()
    }
}

/// Why an index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// No such folder.
    #[error("no such mailbox")]
    NoSuchFolder,
    /// The folder exists already.
    #[error("mailbox already exists")]
    Exists,
    /// The name is not acceptable.
    #[error("{0}")]
    BadName(String),
    /// A limit of the store: the name is too long for the file system once encoded, or the
    /// account has as many folders as it may.
    #[error("{0}")]
    Limit(String),
    /// The operation is not allowed on this folder.
    #[error("{0}")]
    NotAllowed(String),
    /// A message is missing from disk.
    #[error("message {0} is gone")]
    Gone(u32),
    /// Disk I/O.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    /// The database.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A folder of an account.
pub struct Folder {
    /// Database id.
    pub id: i64,
    /// Account (mailbox address).
    pub account: String,
    /// IMAP name (UTF-8).
    pub name: String,
    /// The Maildir folder.
    pub dir: PathBuf,
    pub(super) pool: SqlitePool,
    state: tokio::sync::Mutex<State>,
    version: watch::Sender<u64>,
    /// SORT/THREAD summaries ([`super::summary`]).
    pub(super) summaries: super::summary::Cache,
}

impl std::fmt::Debug for Folder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Folder")
            .field("account", &self.account)
            .field("name", &self.name)
            .finish()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn new_uidvalidity() -> u32 {
    static LAST: AtomicU32 = AtomicU32::new(0);
    let t = now() as u32;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = t.max(last.wrapping_add(1)).max(1);
        match LAST.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(x) => last = x,
        }
    }
}

/// The base name and flags of a Maildir file name.
fn split_name(name: &str) -> (&str, Flags) {
    match name.split_once(':') {
        Some((base, info)) => (base, Flags::from_maildir_info(info)),
        None => (name, Flags::default()),
    }
}

fn size_of(base: &str, path: &Path) -> u64 {
    base.split(',')
        .find_map(|p| p.strip_prefix("S=").and_then(|s| s.parse().ok()))
        .or_else(|| fs::metadata(path).ok().map(|m| m.len()))
        .unwrap_or(0)
}

/// The microseconds (`M`) and sequence number (`Q`) of a Maildir name `secs.M..P..Q...host`,
/// which order deliveries within one second (the plain name does not: `M99` sorts after
/// `M100`).
fn arrival(base: &str) -> (u64, u64) {
    let Some(unique) = base.split('.').nth(1) else {
        return (0, 0);
    };
    let number = |tag: char| -> u64 {
        unique
            .split_once(tag)
            .map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).collect::<String>())
            .and_then(|d| d.parse().ok())
            .unwrap_or(0)
    };
    (number('M'), number('Q'))
}

fn date_of(base: &str, path: &Path) -> i64 {
    base.split('.')
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|t| *t > 0)
        .or_else(|| {
            fs::metadata(path)
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64)
        })
        .unwrap_or_else(now)
}

fn file_name(m: &Msg) -> String {
    format!("{}:2,{}", m.file, m.flags.maildir_letters())
}

impl Folder {
    /// The path of a message file.
    pub fn path(&self, m: &Msg) -> PathBuf {
        self.dir.join("cur").join(file_name(m))
    }

    /// Watches this folder's version (bumped on every change).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Wakes sessions watching this folder (a delivery arrived).
    pub fn nudge(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Claims the messages no session has seen as \Recent yet: they are recent for the caller
    /// (a session with the folder selected read-write) and for nobody else (RFC 3501 §2.3.2).
    pub async fn claim_recent(&self) -> Result<Vec<u32>, IndexError> {
        self.claim_recent_up_to(u32::MAX).await
    }

    /// Like [`Folder::claim_recent`], for the messages with UIDs up to `max` only: a session
    /// claims what its view holds, not what arrived since (it would announce more \Recent
    /// messages than it has reported to exist).
    pub async fn claim_recent_up_to(&self, max: u32) -> Result<Vec<u32>, IndexError> {
        let mut st = self.state.lock().await;
        let floor = st.recent_uid;
        let claimed: Vec<u32> = st
            .msgs
            .iter()
            .map(|m| m.uid)
            .filter(|u| *u > floor && *u <= max)
            .collect();
        if let Some(&last) = claimed.last() {
            sqlx::query("UPDATE folders SET recent_uid = ? WHERE id = ?")
                .bind(i64::from(last))
                .bind(self.id)
                .execute(&self.pool)
                .await?;
            st.recent_uid = last;
        }
        Ok(claimed)
    }

    /// The messages still recent, without claiming them (EXAMINE, STATUS).
    pub async fn unclaimed_recent(&self) -> Vec<u32> {
        let st = self.state.lock().await;
        st.msgs
            .iter()
            .map(|m| m.uid)
            .filter(|u| *u > st.recent_uid)
            .collect()
    }

    /// Locks the state (read it, or compute a view).
    pub async fn state(&self) -> tokio::sync::MutexGuard<'_, State> {
        self.state.lock().await
    }

    async fn save_header(&self, st: &State, tx: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE folders SET uidnext = ?, highestmodseq = ? WHERE id = ?")
            .bind(i64::from(st.uidnext))
            .bind(st.highestmodseq as i64)
            .bind(self.id)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// Picks up new deliveries (new/ → cur/, with UIDs) and changes made by other Maildir tools.
    pub async fn sync(&self) -> Result<bool, IndexError> {
        let mut st = self.state.lock().await;
        let dir = self.dir.clone();
        let cur_mtime = st.cur_mtime;
        type Entry = (String, Flags, u64, i64);
        // Disk work on the blocking pool: list cur/ when something other than this index may
        // have changed it (first, so the files moved next need not be listed), then move
        // new/ to cur/.
        let scan = tokio::task::spawn_blocking(move || -> io::Result<(Vec<Entry>, Option<Vec<Entry>>)> {
            let mtime = fs::metadata(dir.join("cur")).and_then(|m| m.modified()).ok();
            let full = if cur_mtime.is_none() || mtime != cur_mtime {
                let mut all = Vec::new();
                if let Ok(entries) = fs::read_dir(dir.join("cur")) {
                    for e in entries.flatten() {
                        let name = e.file_name().to_string_lossy().into_owned();
                        if name.starts_with('.') {
                            continue;
                        }
                        let (base, flags) = split_name(&name);
                        let p = e.path();
                        all.push((base.to_owned(), flags, size_of(base, &p), date_of(base, &p)));
                    }
                }
                Some(all)
            } else {
                None
            };
            let mut fresh = Vec::new();
            if let Ok(entries) = fs::read_dir(dir.join("new")) {
                let mut names: Vec<String> = entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect();
                names.sort();
                for name in names {
                    let (base, flags) = split_name(&name);
                    let from = dir.join("new").join(&name);
                    let size = size_of(base, &from);
                    let date = date_of(base, &from);
                    let to = dir
                        .join("cur")
                        .join(format!("{base}:2,{}", flags.maildir_letters()));
                    match fs::rename(&from, &to) {
                        Ok(()) => fresh.push((base.to_owned(), flags, size, date)),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok((fresh, full))
        })
        .await
        .map_err(io::Error::other)??;
        let (mut fresh, full) = scan;
        let mut changed = false;
        let mut removed: Vec<u32> = Vec::new();
        if let Some(all) = full {
            let present: HashSet<&str> = all.iter().map(|e| e.0.as_str()).collect();
            let fresh_names: HashSet<String> = fresh.iter().map(|e| e.0.clone()).collect();
            removed = st
                .msgs
                .iter()
                .filter(|m| !present.contains(m.file.as_str()))
                .map(|m| m.uid)
                .collect();
            let indexed: HashSet<&str> = st.msgs.iter().map(|m| m.file.as_str()).collect();
            let extra: Vec<Entry> = all
                .iter()
                .filter(|e| !indexed.contains(e.0.as_str()) && !fresh_names.contains(&e.0))
                .cloned()
                .collect();
            fresh.extend(extra);
        }
        // Arrival order: UIDs must grow with delivery time.
        fresh.sort_by(|a, b| (a.3, arrival(&a.0), &a.0).cmp(&(b.3, arrival(&b.0), &b.0)));
        fresh.dedup_by(|a, b| a.0 == b.0);
        if !fresh.is_empty() || !removed.is_empty() {
            let mut conn = self.pool.acquire().await?;
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            if !removed.is_empty() {
                st.msgs.retain(|m| !removed.contains(&m.uid));
                st.highestmodseq += 1;
                for uid in &removed {
                    sqlx::query("DELETE FROM messages WHERE folder_id = ? AND uid = ?")
                        .bind(self.id)
                        .bind(i64::from(*uid))
                        .execute(&mut *tx)
                        .await?;
                }
                super::vanished::record(&mut tx, self.id, &removed, st.highestmodseq).await?;
            }
            let entries = fresh
                .into_iter()
                .map(|(file, flags, size, date)| (file, size, date, flags))
                .collect();
            self.add_locked(&mut st, entries, &mut tx).await?;
            self.save_header(&st, &mut tx).await?;
            tx.commit().await?;
            changed = true;
        }
        st.cur_mtime = fs::metadata(self.dir.join("cur")).and_then(|m| m.modified()).ok();
        drop(st);
        if changed {
            self.bump();
        }
        Ok(changed)
    }

    /// Changes flags. `op`: +1 add, -1 remove, 0 replace. With `unchanged_since`, messages
    /// modified after it are left alone and returned as failed (RFC 7162 §3.1.3).
    /// Returns the changed messages (uid, flags, modseq) and the failed UIDs.
    pub async fn store(
        &self,
        uids: &[u32],
        op: i8,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<(Vec<(u32, Flags, u64)>, Vec<u32>), IndexError> {
        let mut st = self.state.lock().await;
        let mut changed = Vec::new();
        let mut failed = Vec::new();
        let mut renames: Vec<(PathBuf, PathBuf)> = Vec::new();
        for uid in uids {
            let Some(i) = st.position(*uid) else { continue };
            if unchanged_since.is_some_and(|u| st.msgs[i].modseq > u) {
                failed.push(*uid);
                continue;
            }
            let old = st.msgs[i].flags.clone();
            let mut new = old.clone();
            match op {
                1 => new.add(flags),
                -1 => new.remove(flags),
                _ => new = flags.clone(),
            }
            if new == old {
                continue;
            }
            let from = self.dir.join("cur").join(file_name(&st.msgs[i]));
            st.highestmodseq += 1;
            let modseq = st.highestmodseq;
            let m = &mut st.msgs[i];
            m.flags = new.clone();
            m.modseq = modseq;
            let to = self.dir.join("cur").join(file_name(m));
            if from != to {
                renames.push((from, to));
            }
            changed.push((*uid, new, modseq));
        }
        if changed.is_empty() {
            return Ok((changed, failed));
        }
        let mut conn = self.pool.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for (uid, f, modseq) in &changed {
            sqlx::query("UPDATE messages SET flags = ?, modseq = ? WHERE folder_id = ? AND uid = ?")
                .bind(f.to_db())
                .bind(*modseq as i64)
                .bind(self.id)
                .bind(i64::from(*uid))
                .execute(&mut *tx)
                .await?;
        }
        self.save_header(&st, &mut tx).await?;
        tx.commit().await?;
        tokio::task::spawn_blocking(move || {
            for (from, to) in renames {
                let _ = fs::rename(from, to);
            }
        })
        .await
        .map_err(io::Error::other)?;
        st.cur_mtime = fs::metadata(self.dir.join("cur")).and_then(|m| m.modified()).ok();
        drop(st);
        self.bump();
        Ok((changed, failed))
    }

    /// Removes messages marked `\Deleted` (only those in `only`, when given). Returns their UIDs.
    pub async fn expunge(&self, only: Option<&[u32]>) -> Result<Vec<u32>, IndexError> {
        let mut st = self.state.lock().await;
        let gone: Vec<Msg> = st
            .msgs
            .iter()
            .filter(|m| m.flags.system & DELETED != 0 && only.is_none_or(|o| o.contains(&m.uid)))
            .cloned()
            .collect();
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        let uids: Vec<u32> = gone.iter().map(|m| m.uid).collect();
        self.remove_locked(&mut st, &gone).await?;
        drop(st);
        self.bump();
        Ok(uids)
    }

    async fn remove_locked(&self, st: &mut State, gone: &[Msg]) -> Result<(), IndexError> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for m in gone {
            sqlx::query("DELETE FROM messages WHERE folder_id = ? AND uid = ?")
                .bind(self.id)
                .bind(i64::from(m.uid))
                .execute(&mut *tx)
                .await?;
        }
        st.highestmodseq += 1;
        let set: HashSet<u32> = gone.iter().map(|m| m.uid).collect();
        let uids: Vec<u32> = gone.iter().map(|m| m.uid).collect();
        super::vanished::record(&mut tx, self.id, &uids, st.highestmodseq).await?;
        st.msgs.retain(|m| !set.contains(&m.uid));
        self.save_header(st, &mut tx).await?;
        tx.commit().await?;
        let paths: Vec<PathBuf> = gone.iter().map(|m| self.path(m)).collect();
        tokio::task::spawn_blocking(move || {
            for p in paths {
                let _ = fs::remove_file(p);
            }
        })
        .await
        .map_err(io::Error::other)?;
        st.cur_mtime = fs::metadata(self.dir.join("cur")).and_then(|m| m.modified()).ok();
        Ok(())
    }

    /// Removes the given messages regardless of flags (POP3 DELE, MOVE).
    pub async fn remove(&self, uids: &[u32]) -> Result<Vec<u32>, IndexError> {
        let mut st = self.state.lock().await;
        let gone: Vec<Msg> = st
            .msgs
            .iter()
            .filter(|m| uids.contains(&m.uid))
            .cloned()
            .collect();
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        self.remove_locked(&mut st, &gone).await?;
        drop(st);
        self.bump();
        Ok(gone.iter().map(|m| m.uid).collect())
    }

    /// Gives the new messages `(file, size, internal date, flags)` the next UIDs and MODSEQs
    /// and records them; returns their UIDs. Rows go in multi-row INSERTs: a folder of ten
    /// thousand new messages is indexed with a hundred statements, not ten thousand.
    async fn add_locked(
        &self,
        st: &mut State,
        entries: Vec<(String, u64, i64, Flags)>,
        tx: &mut sqlx::SqliteConnection,
    ) -> Result<Vec<u32>, sqlx::Error> {
        const ROWS: usize = 100;
        let first = st.msgs.len();
        for (file, size, internaldate, flags) in entries {
            st.highestmodseq += 1;
            st.msgs.push(Msg {
                uid: st.uidnext,
                file,
                size,
                internaldate,
                flags,
                modseq: st.highestmodseq,
            });
            st.uidnext += 1;
        }
        for chunk in st.msgs[first..].chunks(ROWS) {
            let mut sql = String::from(
                "INSERT INTO messages (folder_id, uid, file, size, internaldate, flags, modseq) VALUES ",
            );
            sql.push_str(&vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for m in chunk {
                q = q
                    .bind(self.id)
                    .bind(i64::from(m.uid))
                    .bind(m.file.clone())
                    .bind(m.size as i64)
                    .bind(m.internaldate)
                    .bind(m.flags.to_db())
                    .bind(m.modseq as i64);
            }
            q.execute(&mut *tx).await?;
        }
        Ok(st.msgs[first..].iter().map(|m| m.uid).collect())
    }

    /// Stores a new message durably (APPEND). Returns its UID.
    pub async fn append(
        &self,
        data: Vec<u8>,
        flags: Flags,
        date: Option<i64>,
        host: &str,
    ) -> Result<u32, IndexError> {
        let date = date.unwrap_or_else(now);
        let base = unique_name(host, data.len());
        let dir = self.dir.clone();
        let letters = flags.maildir_letters();
        let b = base.clone();
        let size = data.len() as u64;
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let tmp = dir.join("tmp").join(&b);
            write_durable(&tmp, &data)?;
            let dest = dir.join("cur").join(format!("{b}:2,{letters}"));
            fs::rename(&tmp, &dest)?;
            let t = UNIX_EPOCH + std::time::Duration::from_secs(date.max(0) as u64);
            let _ = fs::File::options()
                .write(true)
                .open(&dest)
                .and_then(|f| f.set_modified(t));
            fsync_dir(&dir.join("cur"))
        })
        .await
        .map_err(io::Error::other)??;
        let mut st = self.state.lock().await;
        let mut conn = self.pool.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let uids = self
            .add_locked(&mut st, vec![(base, size, date, flags)], &mut tx)
            .await?;
        let uid = uids.first().copied().unwrap_or_default();
        self.save_header(&st, &mut tx).await?;
        tx.commit().await?;
        st.cur_mtime = fs::metadata(self.dir.join("cur")).and_then(|m| m.modified()).ok();
        drop(st);
        self.bump();
        Ok(uid)
    }

    /// Copies messages into `dest` (hard links; a copy when linking fails). Returns (old, new)
    /// UID pairs.
    pub async fn copy_to(
        &self,
        uids: &[u32],
        dest: &Folder,
        host: &str,
    ) -> Result<Vec<(u32, u32)>, IndexError> {
        let src: Vec<Msg> = {
            let st = self.state.lock().await;
            uids.iter()
                .filter_map(|u| st.position(*u).map(|i| st.msgs[i].clone()))
                .collect()
        };
        if src.is_empty() {
            return Ok(Vec::new());
        }
        let jobs: Vec<(PathBuf, String, Msg)> = src
            .iter()
            .map(|m| (self.path(m), unique_name(host, m.size as usize), m.clone()))
            .collect();
        let ddir = dest.dir.clone();
        let done = tokio::task::spawn_blocking(move || -> io::Result<Vec<(Msg, String)>> {
            let mut out = Vec::new();
            for (from, base, m) in jobs {
                let to = ddir
                    .join("cur")
                    .join(format!("{base}:2,{}", m.flags.maildir_letters()));
                if fs::hard_link(&from, &to).is_err() {
                    let data = match fs::read(&from) {
                        Ok(d) => d,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(e),
                    };
                    let tmp = ddir.join("tmp").join(&base);
                    write_durable(&tmp, &data)?;
                    fs::rename(&tmp, &to)?;
                }
                out.push((m, base));
            }
            fsync_dir(&ddir.join("cur"))?;
            Ok(out)
        })
        .await
        .map_err(io::Error::other)??;
        let mut st = dest.state.lock().await;
        let mut conn = dest.pool.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let old_uids: Vec<u32> = done.iter().map(|(m, _)| m.uid).collect();
        let entries = done
            .into_iter()
            .map(|(m, base)| (base, m.size, m.internaldate, m.flags))
            .collect();
        let new_uids = dest.add_locked(&mut st, entries, &mut tx).await?;
        let pairs: Vec<(u32, u32)> = old_uids.into_iter().zip(new_uids).collect();
        dest.save_header(&st, &mut tx).await?;
        tx.commit().await?;
        st.cur_mtime = fs::metadata(dest.dir.join("cur")).and_then(|m| m.modified()).ok();
        drop(st);
        dest.bump();
        Ok(pairs)
    }

    /// Reads a message file.
    pub async fn read(&self, uid: u32) -> Result<Vec<u8>, IndexError> {
        let path = {
            let st = self.state.lock().await;
            let i = st.position(uid).ok_or(IndexError::Gone(uid))?;
            self.path(&st.msgs[i])
        };
        match tokio::fs::read(&path).await {
            Ok(d) => Ok(d),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(IndexError::Gone(uid)),
            Err(e) => Err(e.into()),
        }
    }

    /// Cached ENVELOPE and BODYSTRUCTURE strings of messages (computed once, then from the
    /// database).
    pub async fn cached(
        &self,
        uids: &[u32],
    ) -> Result<HashMap<u32, (Option<String>, Option<String>)>, IndexError> {
        let mut out = HashMap::new();
        if uids.is_empty() {
            return Ok(out);
        }
        // One query per chunk of UIDs keeps SQLite's variable limit happy.
        for chunk in uids.chunks(500) {
            let placeholders = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT uid, envelope, bodystructure FROM messages WHERE folder_id = ? AND uid IN ({placeholders})"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(self.id);
            for u in chunk {
                q = q.bind(i64::from(*u));
            }
            for r in q.fetch_all(&self.pool).await? {
                let uid: i64 = r.get("uid");
                out.insert(uid as u32, (r.get("envelope"), r.get("bodystructure")));
            }
        }
        Ok(out)
    }

    /// Stores computed ENVELOPE/BODYSTRUCTURE strings.
    pub async fn cache(&self, items: &[(u32, String, String)]) -> Result<(), IndexError> {
        const ROWS: usize = 100;
        if items.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        // One UPDATE ... FROM (VALUES ...) per hundred messages.
        for chunk in items.chunks(ROWS) {
            let sql = format!(
                "UPDATE messages SET envelope = v.column2, bodystructure = v.column3 FROM (VALUES {}) AS v \
                 WHERE messages.folder_id = ? AND messages.uid = v.column1",
                vec!["(?, ?, ?)"; chunk.len()].join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (uid, env, bs) in chunk {
                q = q.bind(i64::from(*uid)).bind(env.clone()).bind(bs.clone());
            }
            q.bind(self.id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn unique_name(host: &str, size: usize) -> String {
    use std::sync::atomic::AtomicU64;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!(
        "{}.M{}P{}Q{}I.{},S={size}",
        t.as_secs(),
        t.subsec_micros(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        host.replace('/', "\\057").replace(':', "\\072")
    )
}

/// A folder as LIST shows it.
#[derive(Debug, Clone)]
pub struct FolderInfo {
    /// IMAP name (UTF-8).
    pub name: String,
    /// RFC 6154 attribute.
    pub special_use: Option<String>,
    /// Subscribed.
    pub subscribed: bool,
}

/// An account's POP3 lock, released on drop.
#[derive(Debug)]
pub struct AccountLock {
    held: Arc<Mutex<HashSet<String>>>,
    account: String,
}

impl Drop for AccountLock {
    fn drop(&mut self) {
        lock(&self.held).remove(&self.account);
    }
}

/// Every account's folders.
pub struct Index {
    pub(super) pool: SqlitePool,
    roots: Mutex<HashMap<String, PathBuf>>,
    open: Mutex<HashMap<(String, String), Arc<Folder>>>,
    by_dir: Mutex<HashMap<PathBuf, Arc<Folder>>>,
    /// Serialises folder creation, deletion and renames.
    layout: tokio::sync::Mutex<()>,
    /// Accounts a POP3 session holds (RFC 1939 §8: exclusive access in the TRANSACTION state).
    pop3: Arc<Mutex<HashSet<String>>>,
    /// The host name in new file names.
    pub host: String,
    /// Listeners to changes of accounts' folder lists.
    pub(super) events: super::events::Channels,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("accounts", &lock(&self.roots).len())
            .finish()
    }
}

/// Checks an IMAP folder name; returns it normalised (`INBOX` in upper case).
pub fn check_name(name: &str) -> Result<String, IndexError> {
    if name.is_empty() || name.len() > 255 {
        return Err(IndexError::BadName("mailbox names are 1-255 bytes".into()));
    }
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".into());
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\' || c == '*' || c == '%')
        || name.starts_with('.')
        || name.ends_with('.')
        || name.contains("..")
    {
        return Err(IndexError::BadName(format!(
            "\"{name}\" is not a valid mailbox name (\".\" separates levels)"
        )));
    }
    // INBOX's children keep the upper-case prefix.
    if let Some(rest) = name.get(6..)
        && name.len() > 6
        && name.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("INBOX."))
    {
        return Ok(format!("INBOX.{rest}"));
    }
    Ok(name.to_owned())
}

/// The longest file name most file systems take (ext4, XFS, btrfs: 255 bytes).
const MAX_FILE_NAME: usize = 255;

/// Most folders one account may have.
pub const MAX_FOLDERS: usize = 5_000;

/// Checks that the folder `name` fits on disk: Maildir++ stores every level of it in one
/// directory name, `.` + the modified UTF-7 of the name (127 × `é` is 255 bytes of UTF-8 but
/// 344 once encoded).
pub fn check_disk_name(name: &str) -> Result<(), IndexError> {
    let on_disk = 1 + mutf7::encode(name).len();
    if on_disk > MAX_FILE_NAME {
        return Err(IndexError::Limit(format!(
            "mailbox name too long: it takes {on_disk} bytes on disk, at most {MAX_FILE_NAME} fit"
        )));
    }
    Ok(())
}

impl Index {
    /// An index over the accounts `(address, Maildir root)`.
    pub fn new(pool: SqlitePool, roots: HashMap<String, PathBuf>, host: &str) -> Self {
        Index {
            pool,
            roots: Mutex::new(roots),
            open: Mutex::new(HashMap::new()),
            by_dir: Mutex::new(HashMap::new()),
            layout: tokio::sync::Mutex::new(()),
            pop3: Arc::default(),
            host: host.to_owned(),
            events: super::events::Channels::default(),
        }
    }

    /// Replaces the accounts (configuration reload). Folders already open stay open.
    pub fn set_roots(&self, roots: HashMap<String, PathBuf>) {
        *lock(&self.roots) = roots;
    }

    /// Takes the account's POP3 lock; `None` when another POP3 session holds it.
    pub fn lock_pop3(&self, account: &str) -> Option<AccountLock> {
        let mut held = lock(&self.pop3);
        if !held.insert(account.to_owned()) {
            return None;
        }
        Some(AccountLock {
            held: self.pop3.clone(),
            account: account.to_owned(),
        })
    }

    fn dir_of(&self, account: &str, name: &str) -> Result<PathBuf, IndexError> {
        let root = lock(&self.roots)
            .get(account)
            .cloned()
            .ok_or(IndexError::NoSuchFolder)?;
        Ok(if name == "INBOX" {
            root
        } else {
            root.join(format!(".{}", mutf7::encode(name)))
        })
    }

    /// Wakes sessions of the folder stored in `dir` (after an SMTP delivery).
    pub fn delivered(&self, dir: &Path) {
        if let Some(f) = lock(&self.by_dir).get(dir) {
            f.nudge();
        }
    }

    /// Creates INBOX and the special-use folders of an account when they are missing.
    pub async fn ensure_account(&self, account: &str) -> Result<(), IndexError> {
        let _g = self.layout.lock().await;
        let existing: Vec<String> = sqlx::query_scalar("SELECT name FROM folders WHERE account = ?")
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        if existing.iter().any(|n| n == "INBOX")
            && SPECIAL.iter().all(|(n, _)| existing.iter().any(|e| e == n))
        {
            return Ok(());
        }
        let mut todo: Vec<(&str, Option<&str>)> = vec![("INBOX", None)];
        todo.extend(SPECIAL.iter().map(|(n, s)| (*n, Some(*s))));
        for (name, special) in todo {
            if existing.iter().any(|e| e == name) {
                continue;
            }
            self.create_locked(account, name, special).await?;
            sqlx::query("INSERT OR IGNORE INTO subscriptions (account, name) VALUES (?, ?)")
                .bind(account)
                .bind(name)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn create_locked(
        &self,
        account: &str,
        name: &str,
        special: Option<&str>,
    ) -> Result<(), IndexError> {
        let dir = self.dir_of(account, name)?;
        tokio::task::spawn_blocking({
            let dir = dir.clone();
            let sub = name != "INBOX";
            move || -> io::Result<()> {
                create_maildir(&dir)?;
                if sub {
                    let _ = fs::File::create(dir.join("maildirfolder"));
                }
                Ok(())
            }
        })
        .await
        .map_err(io::Error::other)??;
        sqlx::query("INSERT INTO folders (account, name, uidvalidity, uidnext, highestmodseq, special_use) VALUES (?, ?, ?, 1, 1, ?)")
            .bind(account)
            .bind(name)
            .bind(i64::from(new_uidvalidity()))
            .bind(special)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The folders of an account, with their subscription.
    pub async fn list(&self, account: &str) -> Result<Vec<FolderInfo>, IndexError> {
        let rows = sqlx::query(
            "SELECT f.name, f.special_use, s.name IS NOT NULL AS subscribed FROM folders f \
             LEFT JOIN subscriptions s ON s.account = f.account AND s.name = f.name \
             WHERE f.account = ? ORDER BY f.name",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| FolderInfo {
                name: r.get("name"),
                special_use: r.get("special_use"),
                subscribed: r.get::<i64, _>("subscribed") != 0,
            })
            .collect())
    }

    /// Opens a folder (loading it on first use).
    pub async fn open(&self, account: &str, name: &str) -> Result<Arc<Folder>, IndexError> {
        let name = check_name(name)?;
        if let Some(f) = lock(&self.open).get(&(account.to_owned(), name.clone())) {
            return Ok(f.clone());
        }
        let row = sqlx::query(
            "SELECT id, uidvalidity, uidnext, highestmodseq, recent_uid FROM folders WHERE account = ? AND name = ?",
        )
        .bind(account)
        .bind(&name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(IndexError::NoSuchFolder)?;
        let id: i64 = row.get("id");
        let rows = sqlx::query("SELECT uid, file, size, internaldate, flags, modseq FROM messages WHERE folder_id = ? ORDER BY uid")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let msgs = rows
            .iter()
            .map(|r| Msg {
                uid: r.get::<i64, _>("uid") as u32,
                file: r.get("file"),
                size: r.get::<i64, _>("size") as u64,
                internaldate: r.get("internaldate"),
                flags: Flags::from_db(r.get("flags")),
                modseq: r.get::<i64, _>("modseq") as u64,
            })
            .collect();
        let state = State {
            uidvalidity: row.get::<i64, _>("uidvalidity") as u32,
            uidnext: row.get::<i64, _>("uidnext") as u32,
            highestmodseq: row.get::<i64, _>("highestmodseq") as u64,
            msgs,
            cur_mtime: None,
            recent_uid: row.get::<i64, _>("recent_uid") as u32,
        };
        let dir = self.dir_of(account, &name)?;
        let folder = Arc::new(Folder {
            id,
            account: account.to_owned(),
            name: name.clone(),
            dir: dir.clone(),
            pool: self.pool.clone(),
            state: tokio::sync::Mutex::new(state),
            version: watch::channel(0).0,
            summaries: super::summary::Cache::default(),
        });
        let mut open = lock(&self.open);
        let f = open.entry((account.to_owned(), name)).or_insert(folder).clone();
        lock(&self.by_dir).insert(dir, f.clone());
        Ok(f)
    }

    /// Creates a folder (and its missing parents).
    pub async fn create(&self, account: &str, name: &str) -> Result<(), IndexError> {
        let name = check_name(name)?;
        if name == "INBOX" {
            return Err(IndexError::Exists);
        }
        let _g = self.layout.lock().await;
        let existing: HashSet<String> = sqlx::query_scalar("SELECT name FROM folders WHERE account = ?")
            .bind(account)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect();
        if existing.contains(&name) {
            return Err(IndexError::Exists);
        }
        check_disk_name(&name)?;
        let parts: Vec<&str> = name.split('.').collect();
        if existing.len() + parts.len() > MAX_FOLDERS {
            return Err(IndexError::Limit(format!(
                "an account has at most {MAX_FOLDERS} folders"
            )));
        }
        for i in 1..parts.len() {
            let parent = parts[..i].join(".");
            if parent != "INBOX" && !existing.contains(&parent) {
                self.create_locked(account, &parent, None).await?;
            }
        }
        self.create_locked(account, &name, None).await?;
        self.emit(account, MailboxEvent::Created(name));
        Ok(())
    }

    /// Deletes a folder and its messages (not INBOX; children stay).
    pub async fn delete(&self, account: &str, name: &str) -> Result<(), IndexError> {
        let name = check_name(name)?;
        if name == "INBOX" {
            return Err(IndexError::NotAllowed("INBOX cannot be deleted".into()));
        }
        let _g = self.layout.lock().await;
        let n = sqlx::query("DELETE FROM folders WHERE account = ? AND name = ?")
            .bind(account)
            .bind(&name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(IndexError::NoSuchFolder);
        }
        let dir = self.dir_of(account, &name)?;
        if let Some(f) = lock(&self.open).remove(&(account.to_owned(), name.clone())) {
            lock(&self.by_dir).remove(&f.dir);
            f.bump();
        }
        tokio::task::spawn_blocking(move || fs::remove_dir_all(dir))
            .await
            .map_err(io::Error::other)??;
        self.emit(account, MailboxEvent::Deleted(name));
        Ok(())
    }

    /// Renames a folder and its children. Renaming INBOX moves its messages into a new folder.
    pub async fn rename(&self, account: &str, from: &str, to: &str) -> Result<(), IndexError> {
        let from = check_name(from)?;
        let to = check_name(to)?;
        if to == "INBOX" {
            return Err(IndexError::Exists);
        }
        if from == "INBOX" {
            self.create(account, &to).await?;
            let inbox = self.open(account, "INBOX").await?;
            inbox.sync().await?;
            let dest = self.open(account, &to).await?;
            let uids: Vec<u32> = inbox.state().await.msgs.iter().map(|m| m.uid).collect();
            inbox.copy_to(&uids, &dest, &self.host).await?;
            inbox.remove(&uids).await?;
            return Ok(());
        }
        let _g = self.layout.lock().await;
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM folders WHERE account = ?")
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        if !names.contains(&from) {
            return Err(IndexError::NoSuchFolder);
        }
        if names.contains(&to) {
            return Err(IndexError::Exists);
        }
        let moving: Vec<String> = names
            .into_iter()
            .filter(|n| *n == from || n.starts_with(&format!("{from}.")))
            .collect();
        // Every new name must fit before anything moves.
        for old in &moving {
            check_disk_name(&format!("{to}{}", old.get(from.len()..).unwrap_or_default()))?;
        }
        for old in &moving {
            let new = format!("{to}{}", old.get(from.len()..).unwrap_or_default());
            let (od, nd) = (self.dir_of(account, old)?, self.dir_of(account, &new)?);
            fs::rename(&od, &nd)?;
            sqlx::query("UPDATE folders SET name = ? WHERE account = ? AND name = ?")
                .bind(&new)
                .bind(account)
                .bind(old)
                .execute(&self.pool)
                .await?;
            if let Some(f) = lock(&self.open).remove(&(account.to_owned(), old.clone())) {
                lock(&self.by_dir).remove(&f.dir);
                f.bump();
            }
        }
        self.rename_subscriptions(account, &from, &to).await?;
        self.emit(account, MailboxEvent::Renamed(from, to));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_in_one_second_keep_their_order() {
        assert!(arrival("1795.M99P7Q3.host,S=1") < arrival("1795.M100P7Q4.host,S=1"));
        assert!(arrival("1795.M5P7Q9.host") < arrival("1795.M5P7Q10.host"));
        assert_eq!(arrival("weird"), (0, 0));
    }

    #[test]
    fn flags_round_trip_through_maildir_letters() {
        let f = Flags::parse(["\\Seen", "\\Flagged", "$Label1", "\\Answered"]).unwrap();
        assert_eq!(f.maildir_letters(), "FRS");
        assert_eq!(f.words(), ["\\Answered", "\\Flagged", "\\Seen", "$Label1"]);
        assert_eq!(Flags::from_maildir_info("2,FRS").system, f.system);
        assert!(Flags::parse(["\\Bogus"]).is_none());
        let mut g = f.clone();
        g.remove(&Flags::parse(["\\seen", "$label1"]).unwrap());
        assert_eq!(g.words(), ["\\Answered", "\\Flagged"]);
    }

    #[test]
    fn names() {
        assert_eq!(check_name("inbox").unwrap(), "INBOX");
        assert_eq!(check_name("inbox.Sub").unwrap(), "INBOX.Sub");
        assert!(check_name("a/b").is_err());
        assert!(check_name(".a").is_err());
        assert!(check_name("a..b").is_err());
        assert_eq!(check_name("Archive.2026").unwrap(), "Archive.2026");
        // A multi-byte character right after "INBOX" used to be sliced in half.
        assert_eq!(check_name("INBOXé").unwrap(), "INBOXé");
        assert_eq!(check_name("inbox.é").unwrap(), "INBOX.é");
    }

    #[test]
    fn names_that_do_not_fit_on_disk_are_a_limit() {
        // Issue 10, case 5: legal IMAP names whose Maildir++ directory is over 255 bytes.
        let ascii = "a".repeat(255);
        assert!(check_name(&ascii).is_ok());
        assert!(matches!(check_disk_name(&ascii), Err(IndexError::Limit(_))));
        assert!(check_disk_name(&"a".repeat(254)).is_ok());
        let accents = "é".repeat(127);
        assert!(check_name(&accents).is_ok());
        assert!(matches!(check_disk_name(&accents), Err(IndexError::Limit(_))));
        assert!(check_disk_name(&"é".repeat(60)).is_ok());
    }
}
