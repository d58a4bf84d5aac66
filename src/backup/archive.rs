//! Component archives: a folder tree into one tar file while its SHA-256 is computed, and a
//! tar file back into a folder, durably, without ever writing outside it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use aws_lc_rs::digest;

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

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    ctx: digest::Context,
    size: u64,
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

/// Archives the trees `roots` (relative to `base`) into the tar file `out`, fsynced; returns
/// its size and SHA-256 and the number of files in it.
pub fn create(base: &Path, roots: &[&str], out: &Path) -> io::Result<(Sum, u64)> {
    let mut files = Vec::new();
    for r in roots {
        walk(base, &base.join(r), &mut files)?;
    }
    let file = File::create(out)?;
    let hashing = Hashing {
        inner: BufWriter::with_capacity(256 * 1024, file),
        ctx: digest::Context::new(&digest::SHA256),
        size: 0,
    };
    let mut tar = tar::Builder::new(hashing);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.sparse(false);
    let mut count = 0u64;
    for rel in files {
        let (rel, mut f) = match File::open(base.join(&rel)) {
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
        tar.append_file(&rel, &mut f)?;
        count += 1;
    }
    let mut hashing = tar.into_inner()?;
    hashing.flush()?;
    let Hashing { inner, ctx, size } = hashing;
    let file = inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok((
        Sum {
            size,
            sha256: hex(ctx.finish().as_ref()),
        },
        count,
    ))
}

/// Whether a Maildir message (`.../cur/<base>:2,FLAGS` or `.../new/<base>`) is already in
/// that Maildir under another name: moved from new/ to cur/ or re-flagged since the backup.
fn in_maildir(seen: &mut HashMap<PathBuf, HashSet<String>>, parent: &Path, rel: &Path) -> bool {
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

/// What an extraction did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// Files written.
    pub written: u64,
    /// Files left alone because they exist (and `overwrite` was off).
    pub kept: u64,
}

/// Extracts the tar file `archive` under `base`: only entries for which `wanted` is true, never
/// outside `base` (absolute paths and `..` are refused), each file written to a temporary name,
/// fsynced and renamed, and every folder touched fsynced at the end. Existing files are kept
/// unless `overwrite`.
pub fn extract(
    archive: &Path,
    base: &Path,
    wanted: &dyn Fn(&Path) -> bool,
    overwrite: bool,
) -> io::Result<Extracted> {
    let mut tar = tar::Archive::new(BufReader::with_capacity(256 * 1024, File::open(archive)?));
    let mut report = Extracted::default();
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut seen: HashMap<PathBuf, HashSet<String>> = HashMap::new();
    for entry in tar.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let rel = entry.path()?.into_owned();
        if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("refusing the archive entry {}", rel.display()),
            ));
        }
        if !wanted(&rel) {
            continue;
        }
        let dest = base.join(&rel);
        let Some(parent) = dest.parent().filter(|p| p.starts_with(base)) else {
            continue;
        };
        if !overwrite && (dest.exists() || in_maildir(&mut seen, parent, &rel)) {
            report.kept += 1;
            continue;
        }
        if !parent.is_dir() {
            fs::create_dir_all(parent)?;
            let mut p = parent.to_path_buf();
            while p.starts_with(base) && p != base {
                dirs.insert(p.clone());
                if !p.pop() {
                    break;
                }
            }
            dirs.insert(base.to_path_buf());
        }
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!(".{name}.restoring"));
        {
            let mut out = File::create(&tmp)?;
            io::copy(&mut entry, &mut out)?;
            out.sync_all()?;
        }
        fs::rename(&tmp, &dest)?;
        dirs.insert(parent.to_path_buf());
        report.written += 1;
    }
    for d in dirs.iter().rev() {
        crate::mailbox::maildir::fsync_dir(d)?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("yubin-archive-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_skips_tmp_and_keeps_existing() {
        let src = tempdir("src");
        let md = src.join("mail/example.test/alice/Maildir");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(md.join(sub)).unwrap();
        }
        let long = "x".repeat(150);
        fs::write(md.join("cur").join(format!("1.{long}:2,S")), "one").unwrap();
        fs::write(md.join("new/2.host"), "two").unwrap();
        fs::write(md.join("tmp/3.host"), "in progress").unwrap();
        let out = src.join("mailboxes.tar");
        let (sum, n) = create(&src, &["mail"], &out).unwrap();
        assert_eq!(n, 2);
        assert_eq!(sum, sum_file(&out).unwrap());

        let dst = tempdir("dst");
        let r = extract(&out, &dst, &|_| true, false).unwrap();
        assert_eq!(r, Extracted { written: 2, kept: 0 });
        let back = dst.join("mail/example.test/alice/Maildir");
        assert_eq!(fs::read_to_string(back.join("new/2.host")).unwrap(), "two");
        assert!(!back.join("tmp/3.host").exists());
        fs::write(back.join("new/2.host"), "changed").unwrap();
        let r = extract(&out, &dst, &|p| p.to_string_lossy().contains("/new/"), false).unwrap();
        assert_eq!(r, Extracted { written: 0, kept: 1 });
        assert_eq!(fs::read_to_string(back.join("new/2.host")).unwrap(), "changed");
        // A message read since the backup (new/ → cur/ with flags) is not restored twice.
        fs::rename(back.join("new/2.host"), back.join("cur/2.host:2,S")).unwrap();
        let r = extract(&out, &dst, &|_| true, false).unwrap();
        assert_eq!(r, Extracted { written: 0, kept: 2 });
        assert!(!back.join("new/2.host").exists());
        let _ = fs::remove_dir_all(&src);
        let _ = fs::remove_dir_all(&dst);
    }

    #[test]
    fn refuses_paths_outside() {
        let d = tempdir("evil");
        let out = d.join("evil.tar");
        {
            let mut b = tar::Builder::new(File::create(&out).unwrap());
            let mut h = tar::Header::new_gnu();
            let data = b"owned";
            h.set_size(data.len() as u64);
            h.set_entry_type(tar::EntryType::Regular);
            // Write the name bytes directly: the builder refuses `..` itself.
            let name = b"../escape";
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, &data[..]).unwrap();
            b.finish().unwrap();
        }
        let target = d.join("t");
        fs::create_dir_all(&target).unwrap();
        assert!(extract(&out, &target, &|_| true, true).is_err());
        assert!(!d.join("escape").exists());
        let _ = fs::remove_dir_all(&d);
    }
}
