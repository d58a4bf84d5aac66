//! Backups: snapshots of the server's data by component, each component one file with its size
//! and SHA-256 in the snapshot's `manifest.json`, copied to every target; verification; and
//! restore of chosen components (or single mailboxes) that verifies everything before it
//! writes and replaces nothing without `--overwrite` ([`restore`]). Snapshots, work folders
//! and restored files are private to the service's user, like the data folder.
//!
//! A snapshot `20261122T030000Z-daily` holds `mailboxes.tar` (every Maildir), `database.sqlite`
//! (a consistent copy by `VACUUM INTO`), `config.tar` (the configuration file), `dkim.tar` and
//! `tls.tar` (keys and certificates under the data folder), `queue.tar` (queued message
//! files). A target's snapshot is complete once its `manifest.json` exists: it is written last.

pub mod archive;
pub mod restore;
pub mod s3;
pub mod schedule;
pub mod target;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

pub use self::restore::{Counts, RestoreOptions, RestoreReport};

use self::archive::{Owner, Sum};
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
        let staging = self.work_dir(&format!("staging-{id}"))?;
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
        let dir = self.work_dir(&format!("verify-{id}"))?;
        let mut problems = Vec::new();
        for (name, c) in &manifest.components {
            if let Err(e) = target.fetch_checked(id, c, &dir).await {
                problems.push(format!("{name}: {e}"));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(problems)
    }

    /// A fresh work folder `<data>/backup/<name>`: 0700 like `<data>/backup`, and owned by the
    /// service's user when root runs `yubin backup` (the scheduled backups use it too).
    fn work_dir(&self, name: &str) -> Result<PathBuf, BackupError> {
        let backup = self.data_dir.join("backup");
        let dir = backup.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        let made = (|| {
            crate::store::private::create_dir(&dir)?;
            if let Some(o) = Owner::when_root(&self.data_dir) {
                o.give_path(&backup)?;
                o.give_path(&dir)?;
            }
            Ok(())
        })();
        made.map_err(io("creating a work folder"))?;
        Ok(dir)
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
