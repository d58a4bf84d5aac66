//! Backup snapshots as a restore reads them (`yubin::backup`): a snapshot's `manifest.json`
//! read through a local target, its components checked against their sizes and SHA-256, and a
//! component archive verified and staged into a scratch folder. Whatever the manifest and the
//! tar file hold, nothing panics, and staging writes only regular files and folders under the
//! stage folder, only entries under the component's own folder, and nothing anywhere else.
//!
//! The input is `manifest.json NUL archive.tar`. The archive is staged as the `mailboxes`
//! component (root `mail/`, the checksum its own, the entry count the manifest's) and as the
//! `config` component (no root).
#![no_main]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use yubin::backup::archive::{self, Take};
use yubin::backup::target::Target;
use yubin::backup::{ComponentEntry, Manifest};

/// The snapshot id the manifest must name (as in the seeds).
const ID: &str = "20261130T053540Z-manual";

struct Scratch {
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
}

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        let dir = yubin_fuzz::fixture::scratch("backup");
        for d in ["target", "outside", "work"] {
            std::fs::create_dir_all(dir.join(d)).expect("scratch folders");
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        Scratch { dir, rt }
    })
}

/// Every path under `dir`, relative; panics on anything but folders and regular files.
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let kind = e.file_type().expect("file type");
            let path = e.path();
            assert!(
                kind.is_dir() || kind.is_file(),
                "staged a {kind:?}: {}",
                path.display()
            );
            if kind.is_dir() {
                todo.push(path.clone());
            }
            out.insert(path.strip_prefix(dir).expect("under the folder").to_path_buf());
        }
    }
    out
}

/// Stages `tar` as a component with `root`; checks what it wrote.
fn stage(s: &Scratch, tar: &Path, expect: &ComponentEntry, root: Option<&str>) {
    let stage = s.dir.join("stage");
    let _ = std::fs::remove_dir_all(&stage);
    let mut n = 0u32;
    let mut take = |_: &Path| {
        n += 1;
        [Take::Stage, Take::Stage, Take::Keep, Take::Skip][n as usize % 4]
    };
    let result = archive::stage(tar, expect, root, &mut take, &stage, None);
    let written = tree(&stage);
    if let Ok(staged) = &result {
        for f in &staged.files {
            assert!(
                written.contains(f),
                "staged {} is not in the stage folder",
                f.display()
            );
            if let Some(r) = root {
                assert!(
                    f.starts_with(r) && f != Path::new(r),
                    "{} outside {r}/",
                    f.display()
                );
            }
        }
    }
    for p in &written {
        if let Some(r) = root {
            assert!(
                p.starts_with(r),
                "wrote {} outside {r}/ (result {result:?})",
                p.display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&stage);
    let mut entries: Vec<_> = std::fs::read_dir(&s.dir)
        .expect("scratch folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["outside", "target", "work"],
        "something written beside the stage"
    );
    assert!(
        tree(&s.dir.join("outside")).is_empty(),
        "something written outside"
    );
}

fuzz_target!(|data: &[u8]| {
    let s = scratch();
    let (json, tar) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    // The manifest's own parser first, then as a restore reads it from a target.
    let _ = serde_json::from_slice::<Manifest>(json);
    let snapshot = s.dir.join("target").join(ID);
    let _ = std::fs::remove_dir_all(&snapshot);
    std::fs::create_dir_all(&snapshot).expect("snapshot folder");
    std::fs::write(snapshot.join("manifest.json"), json).expect("write manifest");
    let archive_path = snapshot.join("mailboxes.tar");
    std::fs::write(&archive_path, tar).expect("write archive");
    let target = Target::Local(s.dir.join("target"));
    let manifest = s.rt.block_on(target.manifest(ID)).ok();
    let _ = s.rt.block_on(target.list());
    let mut files = 1;
    if let Some(m) = &manifest {
        for (name, c) in &m.components {
            if name == "mailboxes" {
                files = c.files;
            }
            let _ = s.rt.block_on(target.fetch_checked(ID, c, &s.dir.join("work")));
        }
    }
    let sum = archive::sum_file(&archive_path).expect("sum of the archive");
    let expect = ComponentEntry {
        file: "mailboxes.tar".into(),
        size: sum.size,
        sha256: sum.sha256,
        files,
    };
    stage(s, &archive_path, &expect, Some("mail"));
    stage(s, &archive_path, &expect, None);
    let _ = std::fs::remove_dir_all(&snapshot);
});
