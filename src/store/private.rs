//! The data folder is private to the service's user: folders 0700, files 0600. The commands
//! that write there run with a process umask of 0o077 ([`restrict_umask`]), so whatever they
//! create (Maildirs, queue files, keys, SQLite's `-wal` and `-shm`) is private whichever code
//! creates it; the data folder and the database are also created with explicit modes; and a
//! data folder an older version left wider is tightened at start-up ([`prepare_data_dir`]).

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tracing::warn;

/// The mode of every folder in the data folder.
pub const DIR_MODE: u32 = 0o700;
/// The widest mode of a file in the data folder.
pub const FILE_MODE: u32 = 0o600;

/// Folders whose whole tree is tightened at start-up: keys and certificates (small).
const KEY_FOLDERS: &[&str] = &["dkim", "tls"];

/// Sets the process umask to 0o077: files and folders this process creates are for its user
/// alone. Called by `serve` (before the data folder is touched) and `yubin backup`.
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates `dir` and its missing parents 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// A mode that was narrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tightened {
    /// The file or folder.
    pub path: PathBuf,
    /// Its mode before.
    pub from: u32,
    /// Its mode now.
    pub to: u32,
}

/// Narrows `path` to `max` (0700 for a folder, 0600 for a file) when it allows more; bits
/// outside `max` are removed, a narrower mode is left as it is. Nothing when it is missing.
fn tighten(path: &Path, out: &mut Vec<Tightened>) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let max = if meta.is_dir() {
        DIR_MODE
    } else if meta.is_file() {
        FILE_MODE
    } else {
        return Ok(());
    };
    let from = meta.permissions().mode() & 0o7777;
    if from & !max == 0 {
        return Ok(());
    }
    let to = from & max;
    fs::set_permissions(path, fs::Permissions::from_mode(to))?;
    out.push(Tightened {
        path: path.to_path_buf(),
        from,
        to,
    });
    Ok(())
}

fn tighten_tree(dir: &Path, out: &mut Vec<Tightened>) -> io::Result<()> {
    tighten(dir, out)?;
    if !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    for e in fs::read_dir(dir)?.flatten() {
        tighten_tree(&e.path(), out)?;
    }
    Ok(())
}

/// Creates the data folder 0700, or tightens the one an older version left wider: the folder,
/// everything directly in it, and the key folders' trees. The Maildirs' trees are not walked
/// (they can be large): the data folder and `mail/` being 0700 already closes them. Returns
/// what was changed.
pub fn tighten_data_dir(dir: &Path) -> io::Result<Vec<Tightened>> {
    create_dir(dir)?;
    let mut out = Vec::new();
    tighten(dir, &mut out)?;
    for e in fs::read_dir(dir)?.flatten() {
        let name = e.file_name();
        if KEY_FOLDERS.iter().any(|k| name == *k) {
            tighten_tree(&e.path(), &mut out)?;
        } else {
            tighten(&e.path(), &mut out)?;
        }
    }
    Ok(out)
}

fn log(changed: &[Tightened]) {
    for t in changed {
        warn!(
            path = %t.path.display(),
            from = format!("{:o}", t.from),
            to = format!("{:o}", t.to),
            "permissions tightened: the data folder is for the service's user alone"
        );
    }
}

/// What `serve` does to its data folder before anything else: the umask, then
/// [`tighten_data_dir`], each change logged.
pub fn prepare_data_dir(dir: &Path) -> io::Result<()> {
    restrict_umask();
    log(&tighten_data_dir(dir)?);
    Ok(())
}

/// The SQLite database at `db` is created 0600 before SQLite opens it (SQLite would create it
/// 0644, and gives its `-wal` and `-shm` the database's mode), or narrowed to 0600 with its
/// `-wal` and `-shm` when it exists wider. Changes are logged; a change that fails (a file of
/// another user) is logged and the database opened anyway.
pub fn private_database(db: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(db)
    {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let mut changed = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        if let Err(e) = tighten(&path, &mut changed) {
            warn!(path = %path.display(), error = %e, "cannot narrow the database's permissions");
        }
    }
    log(&changed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("yubin-private-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        p
    }

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn set(p: &Path, m: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    }

    #[test]
    fn a_wide_data_folder_is_tightened_and_narrow_modes_are_kept() {
        let d = temp("tighten");
        let data = d.join("data");
        fs::create_dir_all(data.join("dkim/example.test")).unwrap();
        fs::create_dir_all(data.join("mail/example.test/alice/Maildir/cur")).unwrap();
        fs::write(data.join("yubin.db"), "").unwrap();
        fs::write(data.join("dkim/example.test/t1.key"), "key").unwrap();
        fs::write(data.join("mail/example.test/alice/Maildir/cur/1.host"), "m").unwrap();
        set(&data, 0o755);
        set(&data.join("dkim"), 0o755);
        set(&data.join("dkim/example.test"), 0o750);
        set(&data.join("yubin.db"), 0o644);
        set(&data.join("dkim/example.test/t1.key"), 0o444);
        set(&data.join("mail"), 0o700);
        let changed = tighten_data_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("dkim")), 0o700);
        assert_eq!(mode(&data.join("dkim/example.test")), 0o700);
        assert_eq!(mode(&data.join("yubin.db")), 0o600);
        // Narrower than 0600 stays narrower: only group and world bits go.
        assert_eq!(mode(&data.join("dkim/example.test/t1.key")), 0o400);
        let mut names: Vec<String> = changed
            .iter()
            .map(|t| {
                format!(
                    "{} {:o}->{:o}",
                    t.path.strip_prefix(&d).unwrap().display(),
                    t.from,
                    t.to
                )
            })
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "data 755->700",
                "data/dkim 755->700",
                "data/dkim/example.test 750->700",
                "data/dkim/example.test/t1.key 444->400",
                "data/yubin.db 644->600",
            ]
        );
        assert!(
            tighten_data_dir(&data).unwrap().is_empty(),
            "nothing left to change"
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_new_data_folder_is_0700_and_a_new_database_0600() {
        let d = temp("new");
        let data = d.join("a/b/data");
        prepare_data_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        let db = data.join("yubin.db");
        private_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        set(&db, 0o644);
        fs::write(data.join("yubin.db-wal"), "").unwrap();
        set(&data.join("yubin.db-wal"), 0o644);
        private_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&data.join("yubin.db-wal")), 0o600);
        let _ = fs::remove_dir_all(&d);
    }
}
