//! Backups: snapshots of the server's data by component, each component one file with its size
//! and SHA-256 in the snapshot's `manifest.json`, copied to every target; verification; and
//! restore of chosen components (or single mailboxes) that checks the checksum first.
//!
//! A snapshot `20261122T030000Z-daily` holds `mailboxes.tar` (every Maildir), `database.sqlite`
//! (a consistent copy by `VACUUM INTO`), `config.tar` (the configuration file), `dkim.tar` and
//! `tls.tar` (keys and certificates under the data folder), `queue.tar` (queued message
//! files). A target's snapshot is complete once its `manifest.json` exists: it is written last.

pub mod archive;
pub mod s3;
pub mod schedule;
pub mod target;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use self::archive::Sum;
use self::target::Target;
use crate::plan::{Database, Plan};

/// The manifest's format version.
pub const FORMAT: u32 = 1;

/// Why a backup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The plan has no `backup` node.
    #[error("the configuration has no `backup` node")]
    NotConfigured,
    /// Only SQLite is supported.
    #[error("backups of a PostgreSQL database are not supported; use pg_dump")]
    Postgres,
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The database copy failed.
    #[error("copying the database: {0}")]
    Database(String),
    /// A target failed.
    #[error("target {target}: {message}")]
    Target {
        /// The target.
        target: String,
        /// What went wrong.
        message: String,
    },
    /// A snapshot or component is not there or not whole.
    #[error("{0}")]
    Invalid(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

/// One component of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentEntry {
    /// The file in the snapshot.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Files archived in it (1 for the database).
    pub files: u64,
}

/// A snapshot's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// `20261122T030000Z-daily`.
    pub id: String,
    /// RFC 3339 UTC.
    pub created: String,
    /// `daily`, `weekly` or `manual`.
    pub job: String,
    /// The server's hostname.
    pub hostname: String,
    /// The yubin version that wrote it.
    pub version: String,
    /// Components by name.
    pub components: BTreeMap<String, ComponentEntry>,
}

/// What to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Components; empty means every component of the snapshot.
    pub components: Vec<String>,
    /// Only these mailboxes (addresses) of the `mailboxes` component; empty means all.
    pub mailboxes: Vec<String>,
    /// Replace files that exist (otherwise they are kept and counted).
    pub overwrite: bool,
}

/// What a restore did, per component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Component → (files written, files kept).
    pub components: BTreeMap<String, (u64, u64)>,
    /// Where a restored configuration file was written.
    pub config_written: Option<PathBuf>,
}

/// The backup set-up of a plan.
#[derive(Debug, Clone)]
pub struct Backups {
    hostname: String,
    data_dir: PathBuf,
    db_path: PathBuf,
    config: Option<PathBuf>,
    components: Vec<String>,
    targets: Vec<Target>,
    jobs: Vec<crate::plan::BackupJob>,
    mailboxes: BTreeMap<String, String>,
    listeners: Vec<String>,
}

impl Backups {
    /// The backups of `plan`; `config` is the configuration file (for the `config` component).
    pub fn from_plan(plan: &Plan, config: Option<&Path>) -> Result<Backups, BackupError> {
        let b = plan.backup.as_ref().ok_or(BackupError::NotConfigured)?;
        let Database::Sqlite { path } = &plan.storage.database else {
            return Err(BackupError::Postgres);
        };
        Ok(Backups {
            hostname: plan.hostname.clone(),
            data_dir: PathBuf::from(&plan.storage.data_dir),
            db_path: PathBuf::from(path),
            config: config.map(Path::to_path_buf),
            components: b.components.clone(),
            targets: b
                .targets
                .iter()
                .map(Target::from_plan)
                .collect::<Result<_, _>>()?,
            jobs: b.jobs.clone(),
            mailboxes: plan
                .mailboxes
                .iter()
                .map(|(a, m)| (a.clone(), m.maildir.clone()))
                .collect(),
            listeners: plan
                .listeners
                .values()
                .flat_map(|l| l.addresses.iter().cloned())
                .collect(),
        })
    }

    /// The targets, in the configuration's order.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Takes a snapshot for `job` and stores it on every target; the manifest, and per target
    /// what failed. Fails only when the snapshot itself cannot be made.
    pub async fn run(&self, job: &str) -> Result<(Manifest, Vec<(String, BackupError)>), BackupError> {
        let now = crate::time::now_secs();
        let id = format!("{}-{job}", crate::time::compact_utc(now));
        let staging = self.data_dir.join("backup").join(format!("staging-{id}"));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(io("creating the staging folder"))?;
        let made = self.make(&id, job, now, &staging).await;
        let result = match made {
            Ok(manifest) => {
                let mut failed = Vec::new();
                for t in &self.targets {
                    if let Err(e) = t.store(&manifest, &staging).await {
                        warn!(target = %t, snapshot = %id, error = %e, "backup not stored");
                        failed.push((t.to_string(), e));
                    } else {
                        info!(target = %t, snapshot = %id, "backup stored");
                    }
                }
                Ok((manifest, failed))
            }
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_dir_all(&staging);
        result
    }

    async fn make(&self, id: &str, job: &str, now: i64, staging: &Path) -> Result<Manifest, BackupError> {
        let mut components = BTreeMap::new();
        for c in &self.components {
            let entry = match c.as_str() {
                "database" => {
                    let out = staging.join("database.sqlite");
                    self.copy_database(&out).await?;
                    let sum = blocking(move || archive::sum_file(&out))
                        .await
                        .map_err(io("hashing the database copy"))?;
                    entry("database.sqlite", sum, 1)
                }
                "config" => {
                    let Some(config) = &self.config else {
                        warn!("the configuration file is not known (serve --plan): no config component");
                        continue;
                    };
                    let base = config.parent().unwrap_or(Path::new("/")).to_path_buf();
                    let name = config
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "mail.kdl".into());
                    let out = staging.join("config.tar");
                    let (sum, n) = blocking(move || single_file_tar(&base, &name, &out))
                        .await
                        .map_err(io("archiving the configuration"))?;
                    entry("config.tar", sum, n)
                }
                other => {
                    let Some(root) = component_root(other) else {
                        continue;
                    };
                    let file = format!("{other}.tar");
                    let out = staging.join(&file);
                    let base = self.data_dir.clone();
                    let (sum, n) = blocking(move || archive::create(&base, &[root], &out))
                        .await
                        .map_err(io(format!("archiving {other}")))?;
                    entry(&file, sum, n)
                }
            };
            components.insert(c.clone(), entry);
        }
        Ok(Manifest {
            format: FORMAT,
            id: id.to_owned(),
            created: crate::time::rfc3339_utc(now),
            job: job.to_owned(),
            hostname: self.hostname.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            components,
        })
    }

    async fn copy_database(&self, out: &Path) -> Result<(), BackupError> {
        if !self.db_path.exists() {
            return Err(BackupError::Invalid(format!(
                "{} does not exist: has the server run yet?",
                self.db_path.display()
            )));
        }
        let pool = crate::store::open_sqlite(&self.db_path)
            .await
            .map_err(|e| BackupError::Database(e.to_string()))?;
        let target = out.display().to_string();
        sqlx::query("VACUUM INTO ?")
            .bind(&target)
            .execute(&pool)
            .await
            .map_err(|e| BackupError::Database(e.to_string()))?;
        pool.close().await;
        let out = out.to_path_buf();
        blocking(move || std::fs::File::open(&out)?.sync_all())
            .await
            .map_err(io("syncing the database copy"))
    }

    /// Removes the oldest snapshots of `job` beyond what `keep` allows, on every target.
    /// Snapshots a target refuses to delete (S3 Object Lock) stay and are logged.
    pub async fn prune(&self, job: &str) {
        let Some(keep) = self.jobs.iter().find(|j| j.name == job).map(|j| j.keep as usize) else {
            return;
        };
        for t in &self.targets {
            let Ok(mut list) = t.list().await else { continue };
            list.retain(|m| m.job == job);
            list.sort_by(|a, b| b.id.cmp(&a.id));
            for old in list.iter().skip(keep) {
                match t.delete(&old.id).await {
                    Ok(()) => info!(target = %t, snapshot = %old.id, "old backup removed"),
                    Err(e) => warn!(target = %t, snapshot = %old.id, error = %e, "old backup not removed"),
                }
            }
        }
    }

    /// The target named `name` (its path or bucket, or its position from 1), or the first.
    pub fn target(&self, name: Option<&str>) -> Result<&Target, BackupError> {
        match name {
            None => self.targets.first().ok_or(BackupError::NotConfigured),
            Some(n) => self
                .targets
                .iter()
                .enumerate()
                .find(|(i, t)| t.matches(n) || n.parse::<usize>().ok() == Some(i + 1))
                .map(|(_, t)| t)
                .ok_or_else(|| BackupError::Invalid(format!("no backup target `{n}`"))),
        }
    }

    /// Checks every component of snapshot `id` on `target` against its manifest; the problems.
    pub async fn verify(&self, target: &Target, id: &str) -> Result<Vec<String>, BackupError> {
        let manifest = target.manifest(id).await?;
        let dir = self.data_dir.join("backup").join(format!("verify-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(io("creating a work folder"))?;
        let mut problems = Vec::new();
        for (name, c) in &manifest.components {
            if let Err(e) = target.fetch_checked(id, c, &dir).await {
                problems.push(format!("{name}: {e}"));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(problems)
    }

    /// Whether something answers on one of the server's listeners (it is running).
    fn server_running(&self) -> bool {
        self.listeners.iter().any(|a| {
            let a = a.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]");
            a.parse::<std::net::SocketAddr>().is_ok_and(|addr| {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
            })
        })
    }

    /// Restores components of snapshot `id` from `target`. Each component's checksum is checked
    /// before anything is written. The database and the queue need the server stopped.
    pub async fn restore(
        &self,
        target: &Target,
        id: &str,
        opts: &RestoreOptions,
    ) -> Result<RestoreReport, BackupError> {
        let manifest = target.manifest(id).await?;
        let wanted: Vec<String> = if opts.components.is_empty() {
            manifest.components.keys().cloned().collect()
        } else {
            opts.components.clone()
        };
        for c in &wanted {
            if component_root(c).is_none() && c != "database" && c != "config" {
                return Err(BackupError::Invalid(format!("`{c}` is not a backup component")));
            }
            if !manifest.components.contains_key(c) {
                return Err(BackupError::Invalid(format!(
                    "snapshot {id} has no `{c}` component"
                )));
            }
        }
        if !opts.mailboxes.is_empty() && !wanted.iter().any(|c| c == "mailboxes") {
            return Err(BackupError::Invalid(
                "--mailbox needs the mailboxes component".into(),
            ));
        }
        let mut prefixes = Vec::new();
        for m in &opts.mailboxes {
            let maildir = self
                .mailboxes
                .get(&m.to_lowercase())
                .ok_or_else(|| BackupError::Invalid(format!("{m} is not a mailbox of this configuration")))?;
            prefixes.push(PathBuf::from(maildir));
        }
        if wanted.iter().any(|c| c == "database" || c == "queue") && self.server_running() {
            return Err(BackupError::Invalid(
                "the server is running: stop it before restoring the database or the queue".into(),
            ));
        }
        let dir = self.data_dir.join("backup").join(format!("restore-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(io("creating a work folder"))?;
        let result = self
            .restore_into(target, &manifest, &wanted, &prefixes, opts, &dir)
            .await;
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    async fn restore_into(
        &self,
        target: &Target,
        manifest: &Manifest,
        wanted: &[String],
        prefixes: &[PathBuf],
        opts: &RestoreOptions,
        dir: &Path,
    ) -> Result<RestoreReport, BackupError> {
        // Fetch and check everything first: nothing is written from a damaged snapshot.
        let mut files = BTreeMap::new();
        for c in wanted {
            let entry = &manifest.components[c];
            let local = target.fetch_checked(&manifest.id, entry, dir).await?;
            files.insert(c.clone(), local);
        }
        let mut report = RestoreReport::default();
        for (c, local) in files {
            match c.as_str() {
                "database" => {
                    let db = self.db_path.clone();
                    blocking(move || replace_database(&local, &db))
                        .await
                        .map_err(io("replacing the database"))?;
                    report.components.insert(c, (1, 0));
                }
                "config" => {
                    let base = match &self.config {
                        Some(p) => p.parent().unwrap_or(Path::new("/")).to_path_buf(),
                        None => self.data_dir.clone(),
                    };
                    let out = dir.join("config");
                    let extracted = {
                        let out = out.clone();
                        blocking(move || archive::extract(&local, &out, &|_| true, true))
                            .await
                            .map_err(io("reading the configuration archive"))?
                    };
                    // Never over the live file: next to it, for the administrator to compare.
                    let mut written = None;
                    for e in std::fs::read_dir(&out)
                        .map_err(io("reading the configuration"))?
                        .flatten()
                    {
                        let name = format!("{}.restored-{}", e.file_name().to_string_lossy(), manifest.id);
                        let dest = base.join(name);
                        std::fs::copy(e.path(), &dest).map_err(io(format!("writing {}", dest.display())))?;
                        written = Some(dest);
                    }
                    report.config_written = written;
                    report.components.insert(c, (extracted.written, 0));
                }
                _ => {
                    let Some(root) = component_root(&c) else { continue };
                    let base = self.data_dir.clone();
                    let prefixes = if c == "mailboxes" {
                        prefixes.to_vec()
                    } else {
                        Vec::new()
                    };
                    let overwrite = opts.overwrite;
                    // Entries only under the component's own folder: a doctored archive cannot
                    // plant keys, certificates or queue files through another component.
                    let extracted = blocking(move || {
                        archive::extract(
                            &local,
                            &base,
                            &|p: &Path| {
                                p.starts_with(root)
                                    && (prefixes.is_empty() || prefixes.iter().any(|pre| p.starts_with(pre)))
                            },
                            overwrite,
                        )
                    })
                    .await
                    .map_err(io(format!("restoring {c}")))?;
                    report.components.insert(c, (extracted.written, extracted.kept));
                }
            }
        }
        Ok(report)
    }

    /// Runs the schedule until `shutdown` turns true.
    pub async fn scheduler(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            let now = crate::time::now_secs();
            let Some((at, job)) = schedule::next_run(now, &self.jobs) else {
                return;
            };
            let job = job.name.clone();
            info!(job = %job, at = %crate::time::rfc3339_utc(at), "next backup");
            let wait = Duration::from_secs((at - now).max(1) as u64);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            match self.run(&job).await {
                Ok((m, failed)) if failed.is_empty() => info!(snapshot = %m.id, "backup complete"),
                Ok((m, failed)) => warn!(snapshot = %m.id, failed = failed.len(), "backup incomplete"),
                Err(e) => warn!(error = %e, "backup failed"),
            }
            self.prune(&job).await;
        }
    }
}

/// The folder under the data folder that an archived component holds.
fn component_root(component: &str) -> Option<&'static str> {
    match component {
        "mailboxes" => Some("mail"),
        "dkim" => Some("dkim"),
        "tls" => Some("tls"),
        "queue" => Some("queue"),
        _ => None,
    }
}

fn entry(file: &str, sum: Sum, files: u64) -> ComponentEntry {
    ComponentEntry {
        file: file.to_owned(),
        size: sum.size,
        sha256: sum.sha256,
        files,
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

fn single_file_tar(base: &Path, name: &str, out: &Path) -> std::io::Result<(Sum, u64)> {
    let dir = out.with_extension("src");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(base.join(name), dir.join(name))?;
    let r = archive::create(&dir, &[name], out);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// Puts a database copy in place of the server's: beside it first, then renamed over it, and
/// its write-ahead log removed (a stale WAL would be applied to the restored file).
fn replace_database(copy: &Path, db: &Path) -> std::io::Result<()> {
    let tmp = db.with_extension("restoring");
    std::fs::copy(copy, &tmp)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    for ext in ["wal", "shm"] {
        let side = PathBuf::from(format!("{}-{ext}", db.display()));
        let _ = std::fs::remove_file(side);
    }
    std::fs::rename(&tmp, db)?;
    if let Some(parent) = db.parent() {
        crate::mailbox::maildir::fsync_dir(parent)?;
    }
    Ok(())
}
