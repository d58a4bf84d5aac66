//! Restoring a snapshot, in two phases.
//!
//! 1. Verify and stage: every chosen component is fetched and read whole; its size and SHA-256
//!    are the manifest's, and every archive entry is a regular file under the component's
//!    folder with all its data, as many as the manifest says. What is to be restored is written
//!    to a work folder inside the data folder (0700, owned by the service's user); nothing else
//!    is touched. One bad entry anywhere refuses the whole restore.
//! 2. Place: only when every component passed, each staged file is linked into place. An
//!    existing file is kept unless `--overwrite`; with it, the file it replaces is moved aside
//!    (into `<data>/restore-replaced/<time>-<snapshot>/`, under its path in the data folder, or
//!    beside itself as `<name>.replaced-<time>-<snapshot>` when it is outside the data folder),
//!    never deleted.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::archive::{self, Owner, Take};
use super::target::Target;
use super::{BackupError, Backups, Manifest, blocking, component_root, io as io_error};
use crate::store::private::FILE_MODE;

/// What to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Components; empty means every component of the snapshot, or only `mailboxes` when
    /// `mailboxes` is given.
    pub components: Vec<String>,
    /// Only these mailboxes (addresses) of the `mailboxes` component; empty means all.
    pub mailboxes: Vec<String>,
    /// Replace files that exist, moving them aside (otherwise they are kept and counted).
    pub overwrite: bool,
}

/// What a restore did to one component's files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Files written where there was none.
    pub written: u64,
    /// Files left alone because they exist (without `--overwrite`).
    pub kept: u64,
    /// Files replaced (with `--overwrite`); the old ones were moved aside.
    pub replaced: u64,
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Per component.
    pub components: BTreeMap<String, Counts>,
    /// Where a restored configuration file was written.
    pub config_written: Option<PathBuf>,
    /// The folder the replaced files of the data folder were moved to, when there were any.
    pub replaced_into: Option<PathBuf>,
}

/// The first 16 bytes of an SQLite database.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// A component that passed phase 1.
enum Staged {
    /// The database copy, staged at this path.
    Database(PathBuf),
    /// The configuration file(s), staged under this folder, to go beside the live file.
    Config(PathBuf, archive::Staged),
    /// Data folder files staged under this folder (their paths relative to both).
    Files(PathBuf, archive::Staged),
}

impl Backups {
    /// The components a restore takes: those asked for; or, with `--mailbox` alone, only the
    /// mailboxes; or every component of the snapshot.
    fn chosen(manifest: &Manifest, opts: &RestoreOptions) -> Result<Vec<String>, BackupError> {
        let wanted: Vec<String> = if !opts.components.is_empty() {
            opts.components.clone()
        } else if !opts.mailboxes.is_empty() {
            vec!["mailboxes".to_owned()]
        } else {
            manifest.components.keys().cloned().collect()
        };
        for c in &wanted {
            if component_root(c).is_none() && c != "database" && c != "config" {
                return Err(BackupError::Invalid(format!("`{c}` is not a backup component")));
            }
            if !manifest.components.contains_key(c) {
                return Err(BackupError::Invalid(format!(
                    "snapshot {} has no `{c}` component",
                    manifest.id
                )));
            }
        }
        if !opts.mailboxes.is_empty() && !wanted.iter().any(|c| c == "mailboxes") {
            return Err(BackupError::Invalid(
                "--mailbox needs the mailboxes component".into(),
            ));
        }
        Ok(wanted)
    }

    /// Restores components of snapshot `id` from `target`: everything is verified and staged
    /// first, then put in place (see the module's documentation). The database and the queue
    /// need the server stopped.
    pub async fn restore(
        &self,
        target: &Target,
        id: &str,
        opts: &RestoreOptions,
    ) -> Result<RestoreReport, BackupError> {
        let manifest = target.manifest(id).await?;
        let wanted = Self::chosen(&manifest, opts)?;
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
        let work = self.work_dir(&format!("restore-{id}"))?;
        let result = async {
            let staged = self
                .stage_all(target, &manifest, &wanted, &prefixes, opts.overwrite, &work)
                .await?;
            let placer = Placer::new(
                &self.data_dir,
                &self.db_path,
                self.config.as_deref(),
                &manifest.id,
            );
            let overwrite = opts.overwrite;
            blocking(move || placer.place_all(staged, overwrite))
                .await
                .map_err(io_error("putting the restored files in place"))
        }
        .await;
        let _ = fs::remove_dir_all(&work);
        result
    }

    /// Phase 1: every component fetched, checked and staged under `work`, or an error and
    /// nothing outside `work` written.
    async fn stage_all(
        &self,
        target: &Target,
        manifest: &Manifest,
        wanted: &[String],
        prefixes: &[PathBuf],
        overwrite: bool,
        work: &Path,
    ) -> Result<Vec<(String, Staged)>, BackupError> {
        // Each component's checksum first: a damaged snapshot is refused before any is read.
        let mut files = Vec::new();
        for c in wanted {
            let entry = manifest.components.get(c).cloned().ok_or_else(|| {
                BackupError::Invalid(format!("snapshot {} has no `{c}` component", manifest.id))
            })?;
            let local = target.fetch_checked(&manifest.id, &entry, work).await?;
            files.push((c.clone(), entry, local));
        }
        let owner = Owner::when_root(&self.data_dir);
        let mut out = Vec::new();
        for (c, entry, local) in files {
            let stage = work.join("stage").join(&c);
            crate::store::private::create_dir(&stage).map_err(io_error("creating a work folder"))?;
            let staged = match c.as_str() {
                "database" => {
                    let to = stage.join("database.sqlite");
                    let at = to.clone();
                    blocking(move || {
                        archive::copy_checked(&local, &at, &entry, owner)?;
                        let mut magic = [0u8; 16];
                        io::Read::read_exact(&mut fs::File::open(&at)?, &mut magic)?;
                        if &magic != SQLITE_MAGIC {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "not an SQLite database",
                            ));
                        }
                        Ok(())
                    })
                    .await
                    .map_err(io_error("checking the database copy"))?;
                    Staged::Database(to)
                }
                "config" => {
                    let owner = self.config.as_deref().and_then(Owner::when_root);
                    let at = stage.clone();
                    let staged = blocking(move || {
                        archive::stage(&local, &entry, None, &mut |_| Take::Stage, &at, owner)
                    })
                    .await
                    .map_err(io_error("checking the configuration archive"))?;
                    Staged::Config(stage, staged)
                }
                _ => {
                    let Some(root) = component_root(&c) else { continue };
                    let data = self.data_dir.clone();
                    let prefixes = if c == "mailboxes" {
                        prefixes.to_vec()
                    } else {
                        Vec::new()
                    };
                    let at = stage.clone();
                    let staged = blocking(move || {
                        let mut seen: HashMap<PathBuf, HashSet<String>> = HashMap::new();
                        // Entries only under the component's own folder (checked by `stage`):
                        // a doctored archive cannot plant keys or queue files through another.
                        let mut take = |rel: &Path| {
                            if !prefixes.is_empty() && !prefixes.iter().any(|p| rel.starts_with(p)) {
                                return Take::Skip;
                            }
                            if overwrite {
                                return Take::Stage;
                            }
                            let dest = data.join(rel);
                            let exists = fs::symlink_metadata(&dest).is_ok()
                                || dest
                                    .parent()
                                    .is_some_and(|parent| archive::in_maildir(&mut seen, parent, rel));
                            if exists { Take::Keep } else { Take::Stage }
                        };
                        archive::stage(&local, &entry, Some(root), &mut take, &at, owner)
                    })
                    .await
                    .map_err(io_error(format!("checking the {c} archive")))?;
                    Staged::Files(stage, staged)
                }
            };
            out.push((c, staged));
        }
        Ok(out)
    }
}

/// Phase 2: puts staged files in place, existing ones kept or moved aside.
struct Placer {
    data_dir: PathBuf,
    db_path: PathBuf,
    config: Option<PathBuf>,
    id: String,
    /// `<data>/restore-replaced/<time>-<id>`.
    aside_root: PathBuf,
    /// `.replaced-<time>-<id>`, for files outside the data folder.
    aside_suffix: String,
    aside_used: bool,
    owner: Option<Owner>,
    /// Folders whose entries changed, fsynced at the end.
    dirs: BTreeSet<PathBuf>,
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placed {
    Written,
    Kept,
    Replaced,
}

impl Counts {
    fn add(&mut self, p: Placed) {
        match p {
            Placed::Written => self.written += 1,
            Placed::Kept => self.kept += 1,
            Placed::Replaced => self.replaced += 1,
        }
    }
}

impl Placer {
    fn new(data_dir: &Path, db_path: &Path, config: Option<&Path>, id: &str) -> Placer {
        let stamp = format!("{}-{id}", crate::time::compact_utc(crate::time::now_secs()));
        Placer {
            data_dir: data_dir.to_path_buf(),
            db_path: db_path.to_path_buf(),
            config: config.map(Path::to_path_buf),
            id: id.to_owned(),
            aside_root: data_dir.join("restore-replaced").join(&stamp),
            aside_suffix: format!(".replaced-{stamp}"),
            aside_used: false,
            owner: Owner::when_root(data_dir),
            dirs: BTreeSet::new(),
        }
    }

    fn place_all(mut self, staged: Vec<(String, Staged)>, overwrite: bool) -> io::Result<RestoreReport> {
        let mut report = RestoreReport::default();
        for (c, staged) in staged {
            let mut counts = Counts::default();
            match staged {
                Staged::Database(file) => {
                    let db = self.db_path.clone();
                    counts.add(self.place_database(&file, &db, overwrite)?);
                }
                Staged::Config(dir, staged) => {
                    // Never over the live file: next to it, for the administrator to compare.
                    let base = match &self.config {
                        Some(p) => p.parent().unwrap_or(Path::new("/")).to_path_buf(),
                        None => self.data_dir.clone(),
                    };
                    for rel in &staged.files {
                        let Some(name) = rel.file_name() else { continue };
                        let dest = base.join(format!("{}.restored-{}", name.to_string_lossy(), self.id));
                        let placed = self.place(&dir.join(rel), &dest, overwrite)?;
                        if placed != Placed::Kept {
                            report.config_written = Some(dest);
                        }
                        counts.add(placed);
                    }
                }
                Staged::Files(dir, staged) => {
                    counts.kept += staged.kept;
                    for rel in &staged.files {
                        let dest = self.data_dir.join(rel);
                        counts.add(self.place(&dir.join(rel), &dest, overwrite)?);
                    }
                }
            }
            report.components.insert(c, counts);
        }
        for d in self.dirs.iter().rev() {
            crate::mailbox::maildir::fsync_dir(d)?;
        }
        if self.aside_used {
            report.replaced_into = Some(self.aside_root.clone());
        }
        Ok(report)
    }

    /// Where `dest` goes when it is replaced.
    fn aside_for(&self, dest: &Path) -> PathBuf {
        match dest.strip_prefix(&self.data_dir) {
            Ok(rel) => self.aside_root.join(rel),
            Err(_) => {
                let name = dest
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                dest.with_file_name(format!("{name}{}", self.aside_suffix))
            }
        }
    }

    /// Creates `dir` and its missing parents 0700, owned by the service's user.
    fn ensure_dir(&mut self, dir: &Path) -> io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.ensure_dir(parent)?;
            self.dirs.insert(parent.to_path_buf());
        }
        match fs::DirBuilder::new()
            .mode(crate::store::private::DIR_MODE)
            .create(dir)
        {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
            Err(e) => return Err(e),
        }
        if let Some(o) = self.owner {
            o.give_path(dir)?;
        }
        self.dirs.insert(dir.to_path_buf());
        Ok(())
    }

    /// `staged`, or a copy of it in `dir` when `dir` is on another file system (a link or a
    /// rename cannot cross it).
    fn beside(&self, staged: &Path, dir: &Path) -> io::Result<PathBuf> {
        if fs::metadata(staged)?.dev() == fs::metadata(dir)?.dev() {
            return Ok(staged.to_path_buf());
        }
        let name = staged
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let copy = dir.join(format!(".{name}.restoring"));
        let _ = fs::remove_file(&copy);
        let meta = fs::metadata(staged)?;
        let mut from = fs::File::open(staged)?;
        let mut to = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(meta.mode() & FILE_MODE)
            .open(&copy)?;
        if let Some(o) = Owner::when_root(staged) {
            o.give(&to)?;
        }
        io::copy(&mut from, &mut to)?;
        to.sync_all()?;
        Ok(copy)
    }

    /// Moves `from` (an existing file) to `to`, keeping it: a link (the file stays in place
    /// until replaced) or, across file systems, a copy.
    fn keep_aside(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        self.aside_used |= to.starts_with(&self.aside_root);
        if let Some(parent) = to.parent() {
            self.ensure_dir(parent)?;
            self.dirs.insert(parent.to_path_buf());
        }
        if fs::hard_link(from, to).is_err() {
            copy_as(from, to)?;
        }
        Ok(())
    }

    /// Puts the staged file at `dest`: linked where there is no file (atomically: a file that
    /// appeared meanwhile is kept); over an existing one only with `overwrite`, that one kept
    /// aside first.
    fn place(&mut self, staged: &Path, dest: &Path, overwrite: bool) -> io::Result<Placed> {
        let parent = dest
            .parent()
            .ok_or_else(|| io::Error::other(format!("{} has no folder", dest.display())))?
            .to_path_buf();
        self.ensure_dir(&parent)?;
        let src = self.beside(staged, &parent)?;
        self.dirs.insert(parent);
        if overwrite && fs::symlink_metadata(dest).is_ok() {
            let aside = self.aside_for(dest);
            self.keep_aside(dest, &aside)?;
            fs::rename(&src, dest)?;
            return Ok(Placed::Replaced);
        }
        let placed = match fs::hard_link(&src, dest) {
            Ok(()) => Placed::Written,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Placed::Kept,
            // A file system without links: the same, not atomically.
            Err(_) if fs::symlink_metadata(dest).is_ok() => Placed::Kept,
            Err(_) => {
                copy_as(&src, dest)?;
                Placed::Written
            }
        };
        fs::remove_file(&src)?;
        Ok(placed)
    }

    /// Puts the staged database at `db` (the server is stopped): where there is none, or with
    /// `overwrite` over the existing one, which is kept aside with its `-wal` and `-shm` (a
    /// stale write-ahead log would be applied to the restored file).
    fn place_database(&mut self, staged: &Path, db: &Path, overwrite: bool) -> io::Result<Placed> {
        let exists = fs::symlink_metadata(db).is_ok();
        if exists && !overwrite {
            return Ok(Placed::Kept);
        }
        let parent = db
            .parent()
            .ok_or_else(|| io::Error::other(format!("{} has no folder", db.display())))?
            .to_path_buf();
        self.ensure_dir(&parent)?;
        let src = self.beside(staged, &parent)?;
        let aside = self.aside_for(db);
        if exists {
            self.keep_aside(db, &aside)?;
        }
        for ext in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{ext}", db.display()));
            if fs::symlink_metadata(&side).is_ok() {
                let to = PathBuf::from(format!("{}{ext}", aside.display()));
                self.keep_aside(&side, &to)?;
                fs::remove_file(&side)?;
            }
        }
        fs::rename(&src, db)?;
        self.dirs.insert(parent);
        Ok(if exists { Placed::Replaced } else { Placed::Written })
    }
}

/// Copies `from` to `to` with its mode (and, as root, its owner), fsynced.
fn copy_as(from: &Path, to: &Path) -> io::Result<()> {
    fs::copy(from, to)?;
    if let Some(o) = Owner::when_root(from) {
        o.give_path(to)?;
    }
    fs::File::open(to)?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::backup::ComponentEntry;

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("yubin-restore-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn staged(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join("stage").join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }

    /// Issue 10 item 17: `--mailbox` without `--component` is the mailboxes component only.
    #[test]
    fn a_mailbox_alone_chooses_the_mailboxes_only() {
        let entry = ComponentEntry {
            file: String::new(),
            size: 0,
            sha256: String::new(),
            files: 0,
        };
        let manifest = Manifest {
            format: crate::backup::FORMAT,
            id: "20261122T030000Z-daily".into(),
            created: String::new(),
            job: "daily".into(),
            hostname: String::new(),
            version: String::new(),
            components: ["config", "database", "dkim", "mailboxes", "queue", "tls"]
                .iter()
                .map(|c| (c.to_string(), entry.clone()))
                .collect::<BTreeMap<_, _>>(),
        };
        let mut opts = RestoreOptions {
            mailboxes: vec!["bob@example.test".into()],
            ..RestoreOptions::default()
        };
        assert_eq!(Backups::chosen(&manifest, &opts).unwrap(), ["mailboxes"]);
        opts.components = vec!["database".into(), "mailboxes".into()];
        assert_eq!(
            Backups::chosen(&manifest, &opts).unwrap(),
            ["database", "mailboxes"]
        );
        opts.components = vec!["database".into()];
        assert!(Backups::chosen(&manifest, &opts).is_err());
        opts.mailboxes.clear();
        opts.components.clear();
        assert_eq!(Backups::chosen(&manifest, &opts).unwrap().len(), 6);
    }

    #[test]
    fn existing_files_are_kept_or_moved_aside_never_deleted() {
        let d = temp("place");
        let data = d.join("data");
        let msg = data.join("mail/example.test/bob/Maildir/cur/1.host:2,S");
        fs::create_dir_all(msg.parent().unwrap()).unwrap();
        fs::write(&msg, "changed since").unwrap();
        let mut p = Placer::new(&data, &data.join("yubin.db"), None, "20261122T030000Z-daily");

        let s = staged(&d, "a", "from the backup");
        assert_eq!(p.place(&s, &msg, false).unwrap(), Placed::Kept);
        assert_eq!(fs::read_to_string(&msg).unwrap(), "changed since");
        assert!(!p.aside_used);

        let new = data.join("mail/example.test/bob/Maildir/new/2.host");
        let s = staged(&d, "b", "restored");
        assert_eq!(p.place(&s, &new, false).unwrap(), Placed::Written);
        assert_eq!(fs::read_to_string(&new).unwrap(), "restored");
        assert!(!s.exists());

        let s = staged(&d, "c", "from the backup");
        assert_eq!(p.place(&s, &msg, true).unwrap(), Placed::Replaced);
        assert_eq!(fs::read_to_string(&msg).unwrap(), "from the backup");
        let aside = p.aside_root.join("mail/example.test/bob/Maildir/cur/1.host:2,S");
        assert_eq!(fs::read_to_string(&aside).unwrap(), "changed since");
        assert!(p.aside_used && p.aside_root.starts_with(data.join("restore-replaced")));

        // Outside the data folder (a restored configuration): beside itself.
        let outside = d.join("mail.kdl.restored-x");
        fs::write(&outside, "old").unwrap();
        let s = staged(&d, "d", "new");
        assert_eq!(p.place(&s, &outside, true).unwrap(), Placed::Replaced);
        assert_eq!(fs::read_to_string(&outside).unwrap(), "new");
        let beside = d.join(format!("mail.kdl.restored-x{}", p.aside_suffix));
        assert_eq!(fs::read_to_string(beside).unwrap(), "old");
        let _ = fs::remove_dir_all(&d);
    }

    /// Issue 10 item 17: the database is not replaced without `--overwrite`; with it, the old
    /// one is kept aside together with its write-ahead log.
    #[test]
    fn the_database_is_kept_or_moved_aside_with_its_log() {
        let d = temp("db");
        let data = d.join("data");
        fs::create_dir_all(&data).unwrap();
        let db = data.join("yubin.db");
        fs::write(&db, "live").unwrap();
        fs::write(data.join("yubin.db-wal"), "live log").unwrap();
        let mut p = Placer::new(&data, &db, None, "20261122T030000Z-daily");
        let s = staged(&d, "database.sqlite", "restored");
        assert_eq!(p.place_database(&s, &db, false).unwrap(), Placed::Kept);
        assert_eq!(fs::read_to_string(&db).unwrap(), "live");
        assert_eq!(p.place_database(&s, &db, true).unwrap(), Placed::Replaced);
        assert_eq!(fs::read_to_string(&db).unwrap(), "restored");
        assert!(!data.join("yubin.db-wal").exists());
        assert_eq!(fs::read_to_string(p.aside_root.join("yubin.db")).unwrap(), "live");
        assert_eq!(
            fs::read_to_string(p.aside_root.join("yubin.db-wal")).unwrap(),
            "live log"
        );
        let _ = fs::remove_dir_all(&d);
    }
}
