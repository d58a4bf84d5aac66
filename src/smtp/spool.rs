//! Message bodies on their way in: a few hundred KiB in memory, the rest in a spool file, so
//! that a session's memory stays small whatever the message size limit (twenty strangers each
//! half-way through a 24 MiB DATA cost a few MiB, not 500).
//!
//! Once the body is complete and passes the cheap checks (size, bare CR), the checks that
//! need all of it (SPF/DKIM/DMARC, scanning, DKIM signing) read it back into memory under a
//! server-wide byte budget ([`Spool::load_budget`]): large messages are processed a few at a
//! time instead of all at once. Spool files are not durable (nothing was acknowledged yet);
//! they are removed when the body is dropped and, after a crash, at the next start.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::warn;

/// Bytes a body keeps in memory before they go to its spool file.
pub const SPILL_AT: usize = 256 * 1024;

/// The spool folder and the memory budget for reading bodies back.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    budget: Arc<Semaphore>,
    budget_bytes: u32,
    seq: AtomicU64,
}

impl Spool {
    /// Opens (creates, mode 0700) the spool folder `dir` and removes files a crash left there.
    /// At most `budget_bytes` of spooled bodies are read back into memory at once.
    pub fn open(dir: PathBuf, budget_bytes: u64) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)?;
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
            }
        }
        let budget_bytes = u32::try_from(budget_bytes).unwrap_or(u32::MAX);
        Ok(Spool {
            dir,
            budget: Arc::new(Semaphore::new(budget_bytes as usize)),
            budget_bytes,
            seq: AtomicU64::new(0),
        })
    }

    /// The server-wide budget: twice the size limit, at least 64 MiB.
    pub fn load_budget(message_size_limit: u64) -> u64 {
        message_size_limit.saturating_mul(2).max(64 * 1024 * 1024)
    }

    /// An empty body.
    pub fn body(self: &Arc<Self>) -> Body {
        Body {
            spool: self.clone(),
            mem: Vec::new(),
            file: None,
            spilled: 0,
            failed: false,
        }
    }

    /// `bytes` of the memory budget for something else held whole in memory (an IMAP
    /// literal), waiting at most `wait`; `None` when the budget stayed too full.
    pub async fn reserve(&self, bytes: u64, wait: std::time::Duration) -> Option<OwnedSemaphorePermit> {
        let want = u32::try_from(bytes).unwrap_or(u32::MAX).min(self.budget_bytes);
        tokio::time::timeout(wait, self.budget.clone().acquire_many_owned(want))
            .await
            .ok()?
            .ok()
    }

    fn next_path(&self) -> PathBuf {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{}.{n}", std::process::id()))
    }
}

/// A body being received.
#[derive(Debug)]
pub struct Body {
    spool: Arc<Spool>,
    mem: Vec<u8>,
    file: Option<(tokio::fs::File, PathBuf)>,
    spilled: u64,
    /// Writing to the spool failed: the rest is dropped and the message refused (451).
    failed: bool,
}

/// A complete body in memory, holding its share of the load budget while it lives.
#[derive(Debug)]
pub struct Loaded {
    /// The message as received.
    pub bytes: Vec<u8>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Body {
    /// Where the readers append received bytes; [`Body::spill`] moves them to disk.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.mem
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.spilled + self.mem.len() as u64
    }

    /// True when nothing was received.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves what is in memory to the spool file once it reaches [`SPILL_AT`].
    pub async fn spill(&mut self) {
        if self.mem.len() < SPILL_AT {
            return;
        }
        if self.failed {
            self.mem.clear();
            return;
        }
        if let Err(e) = self.write_out().await {
            warn!(error = %e, dir = %self.spool.dir.display(), "cannot spool a message body");
            self.failed = true;
            self.mem = Vec::new();
        }
    }

    async fn write_out(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            let path = self.spool.next_path();
            let file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .await?;
            self.file = Some((file, path));
        }
        if let Some((file, _)) = &mut self.file {
            file.write_all(&self.mem).await?;
            self.spilled += self.mem.len() as u64;
            self.mem.clear();
            if self.mem.capacity() > 2 * SPILL_AT {
                self.mem.shrink_to(SPILL_AT);
            }
        }
        Ok(())
    }

    /// The whole body in memory, once the budget has room for it.
    pub async fn load(mut self) -> io::Result<Loaded> {
        if self.failed {
            return Err(io::Error::other("the message body could not be spooled"));
        }
        let Some((mut file, path)) = self.file.take() else {
            return Ok(Loaded {
                bytes: std::mem::take(&mut self.mem),
                _permit: None,
            });
        };
        let _remove = Remove(path.clone());
        file.flush().await?;
        drop(file);
        let total = self.len();
        let want = u32::try_from(total)
            .unwrap_or(u32::MAX)
            .min(self.spool.budget_bytes);
        let permit = self
            .spool
            .budget
            .clone()
            .acquire_many_owned(want)
            .await
            .map_err(io::Error::other)?;
        let mem = std::mem::take(&mut self.mem);
        let bytes = tokio::task::spawn_blocking(move || read_with(&path, total, mem))
            .await
            .map_err(io::Error::other)??;
        Ok(Loaded {
            bytes,
            _permit: Some(permit),
        })
    }
}

fn read_with(path: &Path, total: u64, tail: Vec<u8>) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    bytes.extend_from_slice(&tail);
    if bytes.len() as u64 != total {
        return Err(io::Error::other("the spool file changed size"));
    }
    Ok(bytes)
}

/// Removes a spool file when dropped.
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Some((_, path)) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool(tag: &str, budget: u64) -> Arc<Spool> {
        let dir = std::env::temp_dir().join(format!("yubin-spool-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Arc::new(Spool::open(dir, budget).unwrap())
    }

    fn files(s: &Spool) -> usize {
        std::fs::read_dir(&s.dir).unwrap().count()
    }

    #[tokio::test]
    async fn reservations_share_the_budget_and_give_up_after_the_wait() {
        let s = spool("reserve", 1000);
        let wait = std::time::Duration::from_millis(50);
        let a = s.reserve(700, wait).await.expect("room");
        assert!(s.reserve(400, wait).await.is_none(), "the budget is full");
        drop(a);
        assert!(s.reserve(400, wait).await.is_some());
    }

    #[tokio::test]
    async fn small_bodies_stay_in_memory() {
        let s = spool("small", 1 << 20);
        let mut b = s.body();
        b.buf().extend_from_slice(b"Subject: hi\r\n\r\nbody\r\n");
        b.spill().await;
        assert_eq!(files(&s), 0);
        let l = b.load().await.unwrap();
        assert_eq!(l.bytes, b"Subject: hi\r\n\r\nbody\r\n");
    }

    #[tokio::test]
    async fn large_bodies_go_to_disk_and_come_back_whole() {
        let s = spool("large", 1 << 20);
        let mut b = s.body();
        let mut expect = Vec::new();
        for i in 0..10u8 {
            let chunk = vec![b'a' + i; SPILL_AT / 3 + 7];
            b.buf().extend_from_slice(&chunk);
            expect.extend_from_slice(&chunk);
            b.spill().await;
            assert!(b.mem.len() < SPILL_AT, "memory stays below the spill mark");
        }
        assert_eq!(files(&s), 1);
        assert_eq!(b.len(), expect.len() as u64);
        let l = b.load().await.unwrap();
        assert_eq!(l.bytes, expect);
        assert_eq!(files(&s), 0, "the spool file is gone once loaded");
        drop(l);
        assert_eq!(s.budget.available_permits(), 1 << 20);
    }

    #[tokio::test]
    async fn dropped_bodies_leave_nothing_behind() {
        let s = spool("dropped", 1 << 20);
        let mut b = s.body();
        b.buf().extend_from_slice(&vec![b'x'; SPILL_AT + 1]);
        b.spill().await;
        assert_eq!(files(&s), 1);
        drop(b);
        assert_eq!(files(&s), 0);
    }

    #[tokio::test]
    async fn loads_wait_for_the_budget() {
        let s = spool("budget", (SPILL_AT * 2) as u64);
        let mut a = s.body();
        a.buf().extend_from_slice(&vec![b'a'; SPILL_AT * 2]);
        a.spill().await;
        let mut b = s.body();
        b.buf().extend_from_slice(&vec![b'b'; SPILL_AT * 2]);
        b.spill().await;
        let first = a.load().await.unwrap();
        let second = tokio::spawn(b.load());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !second.is_finished(),
            "the second load waits while the first holds the budget"
        );
        drop(first);
        let second = second.await.unwrap().unwrap();
        assert_eq!(second.bytes.len(), SPILL_AT * 2);
    }

    #[test]
    fn leftovers_are_removed_at_open() {
        let dir = std::env::temp_dir().join(format!("yubin-spool-left-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("123.4"), b"partial").unwrap();
        let s = Spool::open(dir.clone(), 1 << 20).unwrap();
        assert_eq!(files(&s), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
