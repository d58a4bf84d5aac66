//! Where snapshots go. A local folder (a second disk, a mounted share): each snapshot is a
//! sub-folder, written as `<id>.partial` and renamed once whole, files and folders fsynced. An
//! S3 bucket ([`s3`]): each snapshot is `<prefix><id>/<file>`, the manifest uploaded last,
//! every object under Object Lock retention when the target asks for it. Local snapshots are
//! private like the data folder: folders 0700, files 0600.

use std::fmt;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::s3::Bucket;
use super::{BackupError, ComponentEntry, Manifest, archive};
use crate::plan::BackupTarget;

/// A backup destination.
#[derive(Debug, Clone)]
pub enum Target {
    /// A local folder.
    Local(PathBuf),
    /// An S3 bucket.
    S3(Bucket),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Local(p) => write!(f, "{}", p.display()),
            Target::S3(b) => write!(f, "s3://{}/{}", b.bucket, b.prefix),
        }
    }
}

fn err(t: &Target, message: impl fmt::Display) -> BackupError {
    BackupError::Target {
        target: t.to_string(),
        message: message.to_string(),
    }
}

/// Copies `from` to the new file `to`, 0600 whatever the mode of `from`, fsynced.
fn copy_private(from: &Path, to: &Path) -> io::Result<()> {
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(crate::store::private::FILE_MODE)
        .open(to)?;
    io::copy(&mut std::fs::File::open(from)?, &mut out)?;
    out.sync_all()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() < 100 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Target {
    /// The target a plan names; S3 credentials are resolved here.
    pub fn from_plan(t: &BackupTarget) -> Result<Target, BackupError> {
        Ok(match t {
            BackupTarget::Local { path } => Target::Local(PathBuf::from(path)),
            BackupTarget::S3 { .. } => Target::S3(Bucket::from_plan(t)?),
        })
    }

    /// Whether `name` names this target (its path or bucket).
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Target::Local(p) => Path::new(name) == p,
            Target::S3(b) => name == b.bucket || name == format!("s3://{}", b.bucket),
        }
    }

    fn local(&self) -> Result<&Path, BackupError> {
        match self {
            Target::Local(p) => Ok(p),
            Target::S3(_) => Err(err(self, "not a local folder")),
        }
    }

    /// Stores the snapshot staged in `staging` (its component files) with its manifest.
    pub async fn store(&self, manifest: &Manifest, staging: &Path) -> Result<(), BackupError> {
        if let Target::S3(b) = self {
            return b.store(manifest, staging).await.map_err(|e| err(self, e));
        }
        let root = self.local()?.to_path_buf();
        let manifest = manifest.clone();
        let staging = staging.to_path_buf();
        let t = self.clone();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            crate::mailbox::maildir::create_dir_durable(&root)?;
            let partial = root.join(format!("{}.partial", manifest.id));
            let _ = std::fs::remove_dir_all(&partial);
            std::fs::DirBuilder::new()
                .mode(crate::store::private::DIR_MODE)
                .create(&partial)?;
            for c in manifest.components.values() {
                copy_private(&staging.join(&c.file), &partial.join(&c.file))?;
            }
            let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
            crate::mailbox::maildir::write_durable(&partial.join("manifest.json"), &json)?;
            crate::mailbox::maildir::fsync_dir(&partial)?;
            std::fs::rename(&partial, root.join(&manifest.id))?;
            crate::mailbox::maildir::fsync_dir(&root)
        })
        .await
        .map_err(|e| err(&t, e))?
        .map_err(|e| err(&t, e))
    }

    /// Every complete snapshot's manifest, oldest first.
    pub async fn list(&self) -> Result<Vec<Manifest>, BackupError> {
        if let Target::S3(b) = self {
            let mut out = Vec::new();
            for id in b.snapshots().await.map_err(|e| err(self, e))? {
                if valid_id(&id)
                    && let Ok(m) = self.manifest(&id).await
                {
                    out.push(m);
                }
            }
            out.sort_by(|a, b| a.id.cmp(&b.id));
            return Ok(out);
        }
        let root = self.local()?;
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(err(self, e)),
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !valid_id(&name) {
                continue;
            }
            if let Ok(m) = self.manifest(&name).await {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The manifest of snapshot `id`.
    pub async fn manifest(&self, id: &str) -> Result<Manifest, BackupError> {
        if !valid_id(id) {
            return Err(BackupError::Invalid(format!("`{id}` is not a snapshot id")));
        }
        let text = match self {
            Target::S3(b) => b
                .get_small(&format!("{id}/manifest.json"))
                .await
                .map_err(|e| BackupError::Invalid(format!("snapshot {id} on {self}: {e}")))?,
            Target::Local(root) => std::fs::read(root.join(id).join("manifest.json"))
                .map_err(|e| BackupError::Invalid(format!("snapshot {id} on {self}: {e}")))?,
        };
        let m: Manifest = serde_json::from_slice(&text)
            .map_err(|e| BackupError::Invalid(format!("snapshot {id} on {self}: bad manifest: {e}")))?;
        if m.id != id || m.format != super::FORMAT {
            return Err(BackupError::Invalid(format!(
                "snapshot {id} on {self}: manifest does not match"
            )));
        }
        Ok(m)
    }

    /// A component of snapshot `id`, checked against its size and SHA-256: its local path
    /// (fetched into `work` when the target is remote).
    pub async fn fetch_checked(
        &self,
        id: &str,
        c: &ComponentEntry,
        work: &Path,
    ) -> Result<PathBuf, BackupError> {
        if c.file.contains('/') || c.file.starts_with('.') {
            return Err(BackupError::Invalid(format!(
                "bad component file name {}",
                c.file
            )));
        }
        let path = match self {
            Target::Local(root) => root.join(id).join(&c.file),
            Target::S3(b) => {
                let to = work.join(&c.file);
                b.download(&format!("{id}/{}", c.file), &to)
                    .await
                    .map_err(|e| err(self, e))?;
                to
            }
        };
        let p = path.clone();
        let sum = tokio::task::spawn_blocking(move || archive::sum_file(&p))
            .await
            .map_err(|e| err(self, e))?
            .map_err(|e| BackupError::Invalid(format!("{}: {e}", path.display())))?;
        if sum.size != c.size || sum.sha256 != c.sha256 {
            return Err(BackupError::Invalid(format!(
                "{}: checksum mismatch (expected {} bytes sha256 {}, found {} bytes sha256 {})",
                path.display(),
                c.size,
                c.sha256,
                sum.size,
                sum.sha256
            )));
        }
        Ok(path)
    }

    /// Removes snapshot `id`.
    pub async fn delete(&self, id: &str) -> Result<(), BackupError> {
        if !valid_id(id) {
            return Err(BackupError::Invalid(format!("`{id}` is not a snapshot id")));
        }
        if let Target::S3(b) = self {
            return b.delete_snapshot(id).await.map_err(|e| err(self, e));
        }
        let root = self.local()?;
        // The manifest first: a half-deleted snapshot is no longer listed as complete.
        let dir = root.join(id);
        std::fs::remove_file(dir.join("manifest.json")).map_err(|e| err(self, e))?;
        std::fs::remove_dir_all(&dir).map_err(|e| err(self, e))
    }
}
