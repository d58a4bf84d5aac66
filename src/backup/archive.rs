//! Component archives: a folder tree into one tar file while its SHA-256 is computed, each
//! entry with its file's mode; and, for a restore, a tar file read whole and checked (its
//! checksum, every entry's path, size and count) while the entries wanted are staged in a work
//! folder, never written anywhere else.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use aws_lc_rs::digest;

use super::ComponentEntry;
use crate::store::private::FILE_MODE;

/// A file's size and SHA-256 (lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sum {
    /// Bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A writer or reader that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    ctx: digest::Context,
    size: u64,
}

impl<T> Hashing<T> {
    fn new(inner: T) -> Self {
        Hashing {
            inner,
            ctx: digest::Context::new(&digest::SHA256),
            size: 0,
        }
    }

    fn sum(self) -> (T, Sum) {
        let sum = Sum {
            size: self.size,
            sha256: hex(self.ctx.finish().as_ref()),
        };
        (self.inner, sum)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        self.ctx.update(read);
        self.size += read.len() as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.ctx.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The size and SHA-256 of a file.
pub fn sum_file(path: &Path) -> io::Result<Sum> {
    let mut f = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Sum {
        size,
        sha256: hex(ctx.finish().as_ref()),
    })
}

/// Every regular file under `root`, sorted, as paths relative to `base`. Maildir `tmp/`
/// folders (deliveries in progress) are left out.
fn walk(base: &Path, root: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    if root.is_file() {
        if let Ok(rel) = root.strip_prefix(base) {
            out.push(rel.to_path_buf());
        }
        return Ok(());
    }
    let mut entries: Vec<_> = match fs::read_dir(root) {
        Ok(rd) => rd.flatten().collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            // Files still being written: Maildir and queue `tmp/` folders.
            if e.file_name() == "tmp" {
                continue;
            }
            walk(base, &path, out)?;
        } else if kind.is_file()
            && let Ok(rel) = path.strip_prefix(base)
        {
            out.push(rel.to_path_buf());
        }
    }
    Ok(())
}

/// A Maildir message renamed between listing and reading (new/ → cur/, or its flags
/// changed): where it is now.
fn moved(base: &Path, rel: &Path) -> Option<PathBuf> {
    let name = rel.file_name()?.to_string_lossy().into_owned();
    let stem = name.split(':').next()?.to_owned();
    let folder = rel.parent()?.parent()?;
    for sub in ["cur", "new"] {
        let dir = base.join(folder).join(sub);
        if let Ok(rd) = fs::read_dir(&dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.split(':').next() == Some(stem.as_str()) {
                    return Some(folder.join(sub).join(n));
                }
            }
        }
    }
    None
}

/// Archives the trees `roots` (relative to `base`) into the tar file `out` (created 0600),
/// fsynced; returns its size and SHA-256 and the number of files in it. Each entry records its
/// file's permission bits (times and owners are left out: the same files make the same archive).
pub fn create(base: &Path, roots: &[&str], out: &Path) -> io::Result<(Sum, u64)> {
    let mut files = Vec::new();
    for r in roots {
        walk(base, &base.join(r), &mut files)?;
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(out)?;
    let mut tar = tar::Builder::new(Hashing::new(BufWriter::with_capacity(256 * 1024, file)));
    tar.mode(tar::HeaderMode::Deterministic);
    tar.sparse(false);
    let mut count = 0u64;
    for rel in files {
        let (rel, f) = match File::open(base.join(&rel)) {
            Ok(f) => (rel, f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match moved(base, &rel) {
                Some(now) => match File::open(base.join(&now)) {
                    Ok(f) => (now, f),
                    Err(_) => continue,
                },
                None => continue,
            },
            Err(e) => return Err(e),
        };
        let meta = f.metadata()?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
        header.set_mode(meta.mode() & 0o7777);
        tar.append_data(&mut header, &rel, f.take(meta.len()))?;
        count += 1;
    }
    let mut hashing = tar.into_inner()?;
    hashing.flush()?;
    let (inner, sum) = hashing.sum();
    let file = inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok((sum, count))
}

/// Whether a Maildir message (`.../cur/<base>:2,FLAGS` or `.../new/<base>`) is already in
/// that Maildir under another name: moved from new/ to cur/ or re-flagged since the backup.
pub fn in_maildir(seen: &mut HashMap<PathBuf, HashSet<String>>, parent: &Path, rel: &Path) -> bool {
    let Some(sub) = parent.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if sub != "cur" && sub != "new" {
        return false;
    }
    let Some(maildir) = parent.parent() else {
        return false;
    };
    let names = seen.entry(maildir.to_path_buf()).or_insert_with(|| {
        let mut names = HashSet::new();
        for s in ["cur", "new"] {
            if let Ok(rd) = fs::read_dir(maildir.join(s)) {
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    names.insert(n.split(':').next().unwrap_or_default().to_owned());
                }
            }
        }
        names
    });
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    names.contains(name.split(':').next().unwrap_or_default())
}

/// The mode a restored file gets from the one its entry records: never wider, and never more
/// than read and write for the owner (no execute, set-id, group or world bits).
pub fn restored_mode(recorded: u32) -> u32 {
    recorded & FILE_MODE
}

/// Whose files a restore writes: the owner of the data folder (the service's user) when this
/// process runs as root; otherwise the files are this process's own and nothing is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Owner {
    /// The owner of `path`, when this process runs as root.
    pub fn when_root(path: &Path) -> Option<Owner> {
        if !rustix::process::geteuid().is_root() {
            return None;
        }
        let m = fs::metadata(path).ok()?;
        Some(Owner {
            uid: m.uid(),
            gid: m.gid(),
        })
    }

    /// Gives the open `file` to this owner.
    pub fn give(self, file: &File) -> io::Result<()> {
        std::os::unix::fs::fchown(file, Some(self.uid), Some(self.gid))
    }

    /// Gives the folder or file at `path` (not a symlink's target) to this owner.
    pub fn give_path(self, path: &Path) -> io::Result<()> {
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid))
    }
}

/// Creates the new file `path` with `mode`, owned by `owner`, from `data`; fsynced. Returns the
/// number of bytes written.
fn write_new(path: &Path, mode: u32, owner: Option<Owner>, data: &mut dyn Read) -> io::Result<u64> {
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    if let Some(o) = owner {
        o.give(&out)?;
    }
    let n = io::copy(data, &mut out)?;
    out.sync_all()?;
    Ok(n)
}

fn refused(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn check_sum(name: &str, expect: &ComponentEntry, sum: &Sum) -> io::Result<()> {
    if sum.size != expect.size || sum.sha256 != expect.sha256 {
        return Err(refused(format!(
            "{name}: checksum mismatch (expected {} bytes sha256 {}, found {} bytes sha256 {})",
            expect.size, expect.sha256, sum.size, sum.sha256
        )));
    }
    Ok(())
}

/// Copies the component file `from` (a database copy) to the new file `to` (0600, owned by
/// `owner`), checking its size and SHA-256 against `expect` on the way.
pub fn copy_checked(from: &Path, to: &Path, expect: &ComponentEntry, owner: Option<Owner>) -> io::Result<()> {
    let mut reader = Hashing::new(BufReader::with_capacity(256 * 1024, File::open(from)?));
    write_new(to, FILE_MODE, owner, &mut reader)?;
    check_sum(&expect.file, expect, &reader.sum().1)
}

/// What to do with an archive entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Stage it for the restore.
    Stage,
    /// Leave it: the file exists (counted as kept).
    Keep,
    /// Leave it: not asked for.
    Skip,
}

/// What [`stage`] found and staged.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Staged {
    /// The staged files, relative to the stage folder (and to the destination).
    pub files: Vec<PathBuf>,
    /// Entries left alone because their file exists.
    pub kept: u64,
}

/// Reads the whole tar file `archive` and checks it before anything is restored from it: its
/// size and SHA-256 are `expect`'s, it holds `expect.files` entries, each a regular file whose
/// path is relative, of plain names, under `root` (when given), and whose data is all there.
/// Meanwhile the entries `take` asks for are written under `stage` at the same relative path,
/// with [`restored_mode`], owned by `owner`, fsynced. An error means the whole archive is
/// refused: nothing is written outside `stage`, and what is in it is the caller's to remove.
pub fn stage(
    archive: &Path,
    expect: &ComponentEntry,
    root: Option<&str>,
    take: &mut dyn FnMut(&Path) -> Take,
    stage: &Path,
    owner: Option<Owner>,
) -> io::Result<Staged> {
    let mut reader = Hashing::new(BufReader::with_capacity(256 * 1024, File::open(archive)?));
    let mut staged = Staged::default();
    let mut count = 0u64;
    {
        let mut tar = tar::Archive::new(&mut reader);
        for entry in tar.entries()? {
            let mut entry = entry?;
            let rel = entry.path()?.into_owned();
            let kind = entry.header().entry_type();
            if kind != tar::EntryType::Regular {
                return Err(refused(format!(
                    "refusing the archive entry {}: not a regular file ({kind:?})",
                    rel.display()
                )));
            }
            let plain =
                !rel.as_os_str().is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
            let confined = root.is_none_or(|r| rel.starts_with(r) && rel != Path::new(r));
            if !plain || !confined {
                return Err(refused(format!("refusing the archive entry {}", rel.display())));
            }
            count += 1;
            let size = entry.size();
            let read = match take(&rel) {
                Take::Stage => {
                    let to = stage.join(&rel);
                    if let Some(parent) = to.parent() {
                        crate::store::private::create_dir(parent)?;
                    }
                    let mode = restored_mode(entry.header().mode()?);
                    let n = write_new(&to, mode, owner, &mut entry).map_err(|e| {
                        io::Error::new(e.kind(), format!("archive entry {}: {e}", rel.display()))
                    })?;
                    staged.files.push(rel.clone());
                    n
                }
                Take::Keep => {
                    staged.kept += 1;
                    io::copy(&mut entry, &mut io::sink())?
                }
                Take::Skip => io::copy(&mut entry, &mut io::sink())?,
            };
            if read != size {
                return Err(refused(format!(
                    "refusing the archive entry {}: {read} of {size} bytes",
                    rel.display()
                )));
            }
        }
    }
    // The checksum covers the whole file, past the end-of-archive blocks.
    io::copy(&mut reader, &mut io::sink())?;
    check_sum(&expect.file, expect, &reader.sum().1)?;
    if count != expect.files {
        return Err(refused(format!(
            "{}: {count} entries, the manifest says {}",
            expect.file, expect.files
        )));
    }
    Ok(staged)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("yubin-archive-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn expect(path: &Path, files: u64) -> ComponentEntry {
        let sum = sum_file(path).unwrap();
        ComponentEntry {
            file: "mailboxes.tar".into(),
            size: sum.size,
            sha256: sum.sha256,
            files,
        }
    }

    fn all(_: &Path) -> Take {
        Take::Stage
    }

    /// An entry's name (written as it is: the builder refuses `..`), data and type.
    type Raw = (&'static [u8], &'static [u8], tar::EntryType);

    /// A tar file with the given entries.
    fn crafted(out: &Path, entries: &[Raw]) {
        let mut b = tar::Builder::new(File::create(out).unwrap());
        for (name, data, kind) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o600);
            h.set_entry_type(*kind);
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.finish().unwrap();
    }

    #[test]
    fn entries_record_modes_and_staging_never_widens_them() {
        let src = tempdir("src");
        let md = src.join("mail/example.test/alice/Maildir");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(md.join(sub)).unwrap();
        }
        let long = "x".repeat(150);
        let read = md.join("cur").join(format!("1.{long}:2,S"));
        fs::write(&read, "one").unwrap();
        fs::write(md.join("new/2.host"), "two").unwrap();
        fs::write(md.join("new/3.host"), "three").unwrap();
        fs::write(md.join("tmp/4.host"), "in progress").unwrap();
        fs::set_permissions(&read, fs::Permissions::from_mode(0o400)).unwrap();
        fs::set_permissions(md.join("new/2.host"), fs::Permissions::from_mode(0o600)).unwrap();
        // Written by an older version, or by hand: wider than it should be.
        fs::set_permissions(md.join("new/3.host"), fs::Permissions::from_mode(0o4755)).unwrap();
        let out = src.join("mailboxes.tar");
        let (sum, n) = create(&src, &["mail"], &out).unwrap();
        assert_eq!(n, 3);
        assert_eq!(sum, sum_file(&out).unwrap());
        assert_eq!(mode(&out), 0o600);
        let mut recorded = Vec::new();
        for e in tar::Archive::new(File::open(&out).unwrap()).entries().unwrap() {
            let e = e.unwrap();
            recorded.push(e.header().mode().unwrap());
        }
        assert_eq!(recorded, [0o400, 0o600, 0o4755]);

        let stage_dir = tempdir("stage");
        let staged = stage(&out, &expect(&out, 3), Some("mail"), &mut all, &stage_dir, None).unwrap();
        assert_eq!(staged.files.len(), 3);
        let back = stage_dir.join("mail/example.test/alice/Maildir");
        assert_eq!(fs::read_to_string(back.join("new/2.host")).unwrap(), "two");
        assert_eq!(mode(&back.join("cur").join(format!("1.{long}:2,S"))), 0o400);
        assert_eq!(mode(&back.join("new/2.host")), 0o600);
        assert_eq!(mode(&back.join("new/3.host")), 0o600);
        assert!(!back.join("tmp/4.host").exists());
        let _ = fs::remove_dir_all(&src);
        let _ = fs::remove_dir_all(&stage_dir);
    }

    #[test]
    fn kept_and_skipped_entries_are_read_but_not_staged() {
        let d = tempdir("keep");
        let out = d.join("a.tar");
        crafted(
            &out,
            &[
                (b"mail/a/1", b"one", tar::EntryType::Regular),
                (b"mail/b/2", b"two", tar::EntryType::Regular),
                (b"mail/c/3", b"three", tar::EntryType::Regular),
            ],
        );
        let at = d.join("stage");
        let mut take = |p: &Path| match p.to_str() {
            Some("mail/a/1") => Take::Keep,
            Some("mail/b/2") => Take::Skip,
            _ => Take::Stage,
        };
        let staged = stage(&out, &expect(&out, 3), Some("mail"), &mut take, &at, None).unwrap();
        assert_eq!(
            staged,
            Staged {
                files: vec![PathBuf::from("mail/c/3")],
                kept: 1
            }
        );
        assert!(!at.join("mail/a/1").exists() && !at.join("mail/b/2").exists());
        let _ = fs::remove_dir_all(&d);
    }

    /// Issue 10 item 16: a good entry first, then one that climbs out; or one outside the
    /// component's folder, a link, a short entry, a wrong count or checksum. Each refuses the
    /// archive, and the refusal names the entry.
    #[test]
    fn crafted_archives_are_refused() {
        let d = tempdir("evil");
        let good: Raw = (
            b"mail/example.test/alice/Maildir/new/1.planted",
            b"planted",
            tar::EntryType::Regular,
        );
        let cases: Vec<(&str, Vec<Raw>, &str)> = vec![
            (
                "climbs",
                vec![good, (b"mail/../../escape", b"owned", tar::EntryType::Regular)],
                "mail/../../escape",
            ),
            (
                "absolute",
                vec![good, (b"/etc/cron.d/x", b"owned", tar::EntryType::Regular)],
                "/etc/cron.d/x",
            ),
            (
                "other-root",
                vec![
                    good,
                    (b"dkim/example.test/t1.key", b"key", tar::EntryType::Regular),
                ],
                "dkim/example.test/t1.key",
            ),
            (
                "root-itself",
                vec![good, (b"mail", b"x", tar::EntryType::Regular)],
                "entry mail",
            ),
            (
                "symlink",
                vec![good, (b"mail/link", b"", tar::EntryType::Symlink)],
                "not a regular file",
            ),
        ];
        for (tag, entries, said) in cases {
            let out = d.join(format!("{tag}.tar"));
            crafted(&out, &entries);
            let at = d.join(format!("stage-{tag}"));
            let e = stage(
                &out,
                &expect(&out, entries.len() as u64),
                Some("mail"),
                &mut all,
                &at,
                None,
            )
            .expect_err(tag);
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{tag}: {e}");
            assert!(e.to_string().contains(said), "{tag}: {e}");
            assert!(!d.join("escape").exists());
        }

        let out = d.join("count.tar");
        crafted(&out, &[good]);
        let e = stage(
            &out,
            &expect(&out, 2),
            Some("mail"),
            &mut all,
            &d.join("s-count"),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("1 entries, the manifest says 2"), "{e}");
        let mut wrong = expect(&out, 1);
        wrong.sha256 = "0".repeat(64);
        let e = stage(&out, &wrong, Some("mail"), &mut all, &d.join("s-sum"), None).unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");

        // An entry whose header claims more data than the file holds.
        let mut bytes = fs::read(&out).unwrap();
        bytes.truncate(512 + 3);
        let short = d.join("short.tar");
        fs::write(&short, &bytes).unwrap();
        assert!(
            stage(
                &short,
                &expect(&short, 1),
                Some("mail"),
                &mut all,
                &d.join("s-short"),
                None
            )
            .is_err()
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn restored_modes_are_never_wider() {
        assert_eq!(restored_mode(0o644), 0o600);
        assert_eq!(restored_mode(0o400), 0o400);
        assert_eq!(restored_mode(0o6777), 0o600);
        assert_eq!(restored_mode(0o000), 0o000);
    }
}
