//! Durable Maildir delivery.
//!
//! A message is written once to the first recipient's `tmp/`, `fdatasync`ed, renamed into
//! `new/`, and hard-linked into every other recipient's `new/` (same file system: one copy on
//! disk, as Dovecot's single-instance storage does). Then each `new/` directory is fsynced.
//! Only after all of that does [`Store::deliver`] return, and only then does SMTP say 250.
//!
//! Group commit: the directory fsyncs of concurrent deliveries into the same folder are
//! coalesced by [`DirSync`]: one fsync that starts after a rename covers every rename that
//! happened before it, so twenty sessions delivering to one mailbox cost a handful of directory
//! syncs, not twenty. File fsyncs run in parallel on the blocking pool, where the file
//! system's journal batches them.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

/// Coalesces fsyncs of one directory.
#[derive(Debug)]
pub struct DirSync {
    path: PathBuf,
    state: Mutex<SyncState>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct SyncState {
    requested: u64,
    synced: u64,
    running: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// fsyncs a directory so the names created in it survive a crash.
pub fn fsync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

impl DirSync {
    /// A syncer for `path`.
    pub fn new(path: PathBuf) -> Self {
        DirSync {
            path,
            state: Mutex::new(SyncState::default()),
            notify: Notify::new(),
        }
    }

    /// Returns once an fsync of the directory that started after this call has completed.
    pub async fn sync(&self) -> io::Result<()> {
        let mine = {
            let mut s = lock(&self.state);
            s.requested += 1;
            s.requested
        };
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let target = {
                let mut s = lock(&self.state);
                if s.synced >= mine {
                    return Ok(());
                }
                if s.running {
                    None
                } else {
                    s.running = true;
                    Some(s.requested)
                }
            };
            match target {
                Some(target) => {
                    let path = self.path.clone();
                    let result = tokio::task::spawn_blocking(move || fsync_dir(&path))
                        .await
                        .unwrap_or_else(|e| Err(io::Error::other(e)));
                    {
                        let mut s = lock(&self.state);
                        s.running = false;
                        if result.is_ok() {
                            s.synced = s.synced.max(target);
                        }
                    }
                    self.notify.notify_waiters();
                    result?;
                }
                None => notified.await,
            }
        }
    }
}

/// One destination of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The Maildir root (holding `tmp/`, `new/`, `cur/`).
    pub maildir: PathBuf,
    /// A Maildir++ sub-folder such as `.Junk`, or none for the inbox.
    pub folder: Option<String>,
}

impl Target {
    fn dir(&self) -> PathBuf {
        match &self.folder {
            Some(f) => self.maildir.join(f),
            None => self.maildir.clone(),
        }
    }
}

/// The Maildir store under the data folder.
#[derive(Debug)]
pub struct Store {
    host: String,
    seq: AtomicU64,
    syncs: Mutex<HashMap<PathBuf, Arc<DirSync>>>,
    usage: Mutex<HashMap<PathBuf, u64>>,
    delivered: DeliveryHook,
}

/// Called with each folder a delivery landed in (IMAP IDLE wakes up on it).
#[derive(Default)]
struct DeliveryHook(std::sync::OnceLock<Box<HookFn>>);

type HookFn = dyn Fn(&Path) + Send + Sync;

impl std::fmt::Debug for DeliveryHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "DeliveryHook(set)"
        } else {
            "DeliveryHook(none)"
        })
    }
}

/// Creates a folder (and its parents) 0700 and fsyncs the new entries.
pub fn create_dir_durable(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    crate::store::private::create_dir(dir)?;
    let mut p = Some(dir);
    for _ in 0..4 {
        let Some(d) = p else { break };
        fsync_dir(d)?;
        p = d.parent();
    }
    Ok(())
}

/// Creates `dir/{tmp,new,cur}` (0700) and fsyncs what was created.
pub fn create_maildir(dir: &Path) -> io::Result<()> {
    let mut created = false;
    for sub in ["tmp", "new", "cur"] {
        let p = dir.join(sub);
        if !p.is_dir() {
            crate::store::private::create_dir(&p)?;
            created = true;
        }
    }
    if created {
        // Make the new directories themselves durable, up to the first existing parent.
        for sub in ["tmp", "new", "cur"] {
            fsync_dir(&dir.join(sub))?;
        }
        let mut p = Some(dir);
        for _ in 0..4 {
            let Some(d) = p else { break };
            fsync_dir(d)?;
            p = d.parent();
        }
    }
    Ok(())
}

fn size_from_name(name: &str) -> Option<u64> {
    let info = name.split(':').next()?;
    info.split(',')
        .find_map(|part| part.strip_prefix("S=")?.parse().ok())
}

fn scan_usage(maildir: &Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![maildir.to_path_buf()];
    if let Ok(entries) = fs::read_dir(maildir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') && e.path().is_dir() {
                dirs.push(e.path());
            }
        }
    }
    for d in dirs {
        for sub in ["new", "cur"] {
            let Ok(entries) = fs::read_dir(d.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name();
                total += size_from_name(&name.to_string_lossy())
                    .or_else(|| e.metadata().ok().map(|m| m.len()))
                    .unwrap_or(0);
            }
        }
    }
    total
}

impl Store {
    /// A store whose file names carry `hostname`.
    pub fn new(hostname: &str) -> Self {
        // Maildir: `/` and `:` in the host part are written as octal escapes.
        let host = hostname.replace('/', "\\057").replace(':', "\\072");
        Store {
            host,
            seq: AtomicU64::new(0),
            syncs: Mutex::new(HashMap::new()),
            usage: Mutex::new(HashMap::new()),
            delivered: DeliveryHook::default(),
        }
    }

    /// Sets the function told about every folder a delivery lands in (once).
    pub fn on_delivery(&self, hook: impl Fn(&Path) + Send + Sync + 'static) {
        let _ = self.delivered.0.set(Box::new(hook));
    }

    /// Makes sure a Maildir exists and removes leftovers of interrupted deliveries from its
    /// `tmp/` (they were never acknowledged).
    pub fn prepare(&self, maildir: &Path) -> io::Result<()> {
        create_maildir(maildir)?;
        if let Ok(entries) = fs::read_dir(maildir.join("tmp")) {
            for e in entries.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(())
    }

    fn dir_sync(&self, dir: &Path) -> Arc<DirSync> {
        lock(&self.syncs)
            .entry(dir.to_path_buf())
            .or_insert_with(|| Arc::new(DirSync::new(dir.to_path_buf())))
            .clone()
    }

    /// Bytes used by a Maildir (scanned once, then kept up to date by deliveries).
    pub fn usage(&self, maildir: &Path) -> u64 {
        if let Some(u) = lock(&self.usage).get(maildir) {
            return *u;
        }
        let scanned = scan_usage(maildir);
        *lock(&self.usage).entry(maildir.to_path_buf()).or_insert(scanned)
    }

    /// Counts `bytes` more in a Maildir (a message was added outside [`Store::deliver`]).
    pub fn add_usage(&self, maildir: &Path, bytes: u64) {
        if let Some(u) = lock(&self.usage).get_mut(maildir) {
            *u += bytes;
        }
    }

    /// Forgets a Maildir's usage so the next [`Store::usage`] scans it again (messages
    /// were removed).
    pub fn forget_usage(&self, maildir: &Path) {
        lock(&self.usage).remove(maildir);
    }

    /// `<secs>.M<micros, 6 digits>P<pid>Q<seq>.<host>,S=<size>`: the micros are padded so that
    /// names sort in delivery order within a second.
    fn unique_name(&self, size: usize) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}.M{:06}P{}Q{}.{},S={}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            seq,
            self.host,
            size
        )
    }

    /// Delivers `message` to every target durably: when this returns `Ok`, the message is in
    /// each target's `new/` and survives a crash. Returns the file paths.
    pub async fn deliver(
        self: &Arc<Self>,
        message: Arc<Vec<u8>>,
        targets: Vec<Target>,
    ) -> io::Result<Vec<PathBuf>> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let name = self.unique_name(message.len());
        let store = self.clone();
        let (paths, dirs) = tokio::task::spawn_blocking({
            let targets = targets.clone();
            move || store.write_all(&message, &targets, &name)
        })
        .await
        .map_err(io::Error::other)??;
        for dir in &dirs {
            self.dir_sync(dir).sync().await?;
        }
        if let Some(hook) = self.delivered.0.get() {
            for dir in &dirs {
                if let Some(folder) = dir.parent() {
                    hook(folder);
                }
            }
        }
        Ok(paths)
    }

    fn write_all(
        &self,
        message: &[u8],
        targets: &[Target],
        name: &str,
    ) -> io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
        let mut paths = Vec::with_capacity(targets.len());
        let mut dirs: Vec<PathBuf> = Vec::with_capacity(targets.len());
        for t in targets.iter().filter(|t| t.folder.is_some()) {
            // Maildir++ sub-folders (`.Junk`) are created on first use.
            let dir = t.dir();
            if !dir.join("tmp").is_dir() {
                create_maildir(&dir)?;
                let _ = File::create(dir.join("maildirfolder"));
            }
        }
        let first = &targets[0];
        let first_dir = first.dir();
        let tmp = first_dir.join("tmp").join(name);
        let dest = first_dir.join("new").join(name);
        write_durable(&tmp, message)?;
        fs::rename(&tmp, &dest)?;
        self.add_usage(&first.maildir, message.len() as u64);
        paths.push(dest.clone());
        dirs.push(first_dir.join("new"));
        for t in &targets[1..] {
            let dir = t.dir();
            let to = dir.join("new").join(name);
            if fs::hard_link(&dest, &to).is_err() {
                // Another file system or too many links: write a separate copy.
                let tmp = dir.join("tmp").join(name);
                write_durable(&tmp, message)?;
                fs::rename(&tmp, &to)?;
            }
            self.add_usage(&t.maildir, message.len() as u64);
            paths.push(to);
            if !dirs.contains(&dir.join("new")) {
                dirs.push(dir.join("new"));
            }
        }
        Ok((paths, dirs))
    }
}

/// Writes a new file and fdatasyncs it (its folder still needs an fsync).
pub fn write_durable(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("yubin-maildir-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        p
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delivers_once_and_links_to_other_recipients() {
        let root = temp("deliver");
        let store = Arc::new(Store::new("mail.example.test"));
        let a = root.join("a/Maildir");
        let b = root.join("b/Maildir");
        store.prepare(&a).unwrap();
        store.prepare(&b).unwrap();
        let msg = Arc::new(b"Subject: hi\r\n\r\nbody\r\n".to_vec());
        let targets = vec![
            Target {
                maildir: a.clone(),
                folder: None,
            },
            Target {
                maildir: b.clone(),
                folder: None,
            },
        ];
        let paths = store.deliver(msg.clone(), targets).await.unwrap();
        assert_eq!(paths.len(), 2);
        for p in &paths {
            assert_eq!(fs::read(p).unwrap(), *msg);
            assert!(p.to_string_lossy().ends_with(&format!(",S={}", msg.len())));
        }
        assert_eq!(fs::read_dir(a.join("tmp")).unwrap().count(), 0);
        assert_eq!(store.usage(&a), msg.len() as u64);
        fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_deliveries_share_directory_syncs() {
        let root = temp("group");
        let store = Arc::new(Store::new("h"));
        let a = root.join("a/Maildir");
        store.prepare(&a).unwrap();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let store = store.clone();
            let a = a.clone();
            tasks.push(tokio::spawn(async move {
                let msg = Arc::new(format!("Subject: {i}\r\n\r\n").into_bytes());
                store
                    .deliver(
                        msg,
                        vec![Target {
                            maildir: a,
                            folder: None,
                        }],
                    )
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(fs::read_dir(a.join("new")).unwrap().count(), 50);
        let sync = store.dir_sync(&a.join("new"));
        let s = lock(&sync.state);
        assert_eq!(s.requested, 50);
        assert!(s.synced >= 50);
        drop(s);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn usage_reads_sizes_from_names() {
        assert_eq!(size_from_name("1.M2P3Q4.host,S=1234"), Some(1234));
        assert_eq!(size_from_name("1.M2P3Q4.host,S=1234:2,S"), Some(1234));
        assert_eq!(size_from_name("1.M2P3Q4.host"), None);
    }
}
