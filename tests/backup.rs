//! Backups of a running server to a local target with `yubin backup`: a snapshot while mail
//! arrives, `list` and `verify`, restoring one user's lost mailbox (read back over IMAP with
//! imaplib) without touching the others, refusing the database while the server runs and
//! restoring it once stopped, the configuration written beside the live file, damage found by
//! `verify` and refused by `restore`, and retention keeping the newest snapshots of a job.
//! Secrets stay secret (issue 10, 15-17): the data folder, snapshots and restored files are
//! private and owned by the service's user, a crafted archive writes nothing, and `--mailbox`
//! restores that Maildir only and replaces nothing without `--overwrite`.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::server::{Yubin, have, python, standard_config, swaks};

fn backup(y: &Yubin, args: &[&str]) -> Output {
    common::yubin()
        .args(["backup", "-c"])
        .arg(&y.config)
        .args(args)
        .output()
        .expect("run yubin backup")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn send(y: &Yubin, to: &str, subject: &str) {
    let (code, out) = swaks(&[
        "--server",
        &format!("127.0.0.1:{}", y.ports.smtp),
        "--from",
        "someone@elsewhere.example",
        "--to",
        to,
        "--header",
        &format!("Subject: {subject}"),
    ]);
    assert_eq!(code, 0, "{out}");
}

fn imap_subjects(y: &Yubin, user: &str, password: &str) -> String {
    let script = format!(
        "import imaplib, ssl\nctx = ssl._create_unverified_context()\n\
         m = imaplib.IMAP4_SSL('127.0.0.1', {port}, ssl_context=ctx)\nm.login({user:?}, {password:?})\n\
         typ, data = m.select('INBOX')\nprint('EXISTS', data[0].decode())\n\
         typ, data = m.fetch('1:*', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')\n\
         print(sorted(p[1].decode().strip() for p in data if isinstance(p, tuple)))\nm.logout()\n",
        port = y.ports.imaps
    );
    let (code, out) = python(&script, &[]);
    assert_eq!(code, 0, "{out}");
    out
}

fn snapshot_id(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    let id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(id.ends_with("-manual"), "{}", text(out));
    id
}

/// Every folder under `dir` (itself included) that is not 0700, every file with group, world or
/// execute bits, and (with `uid`) everything not owned by `uid`.
fn not_private(dir: &Path, uid: Option<u32>) -> Vec<String> {
    let mut bad = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        // Files come and go while the server runs (SQLite's -shm, Maildir tmp/).
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let mode = m.mode() & 0o7777;
        if m.is_dir() {
            if mode != 0o700 {
                bad.push(format!("folder {} is {mode:o}", p.display()));
            }
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                stack.push(e.path());
            }
        } else if mode & 0o7177 != 0 {
            bad.push(format!("file {} is {mode:o}", p.display()));
        }
        if let Some(uid) = uid
            && m.uid() != uid
        {
            bad.push(format!("{} is owned by {}", p.display(), m.uid()));
        }
    }
    bad.sort();
    bad
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .mode()
        & 0o7777
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Whether the tests run as root (CI does): then the data folder can belong to another user.
fn root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn sqlite(db: &Path, sql: &str) -> String {
    let (code, out) = python(
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n\
         print([r for r in c.execute(sys.argv[2])])\nc.commit()\nc.close()\n",
        &[&db.display().to_string(), sql],
    );
    assert_eq!(code, 0, "{out}");
    out
}

fn config() -> String {
    standard_config("backup {\n    schedule daily=\"03:00\"\n    keep daily=7\n    local \"backups\"\n}\n")
        .replace(
            "    submissions \"127.0.0.1:{SUBMISSIONS}\"\n",
            "    submissions \"127.0.0.1:{SUBMISSIONS}\"\n    imaps \"127.0.0.1:{IMAPS}\"\n",
        )
}

#[test]
fn snapshot_verify_and_restore_a_running_server() {
    if !have("swaks") {
        return;
    }
    let mut y = Yubin::start(&config());
    for s in ["one", "two", "three"] {
        send(&y, "alice@example.test", s);
    }
    send(&y, "bob@example.test", "for bob");
    // Reading moves alice's mail to cur/ and gives it UIDs.
    assert!(imap_subjects(&y, "alice@example.test", "alice-password").contains("EXISTS 3"));

    let out = backup(&y, &["run"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    assert!(id.ends_with("-manual"), "{id}");
    let listed = text(&backup(&y, &["list"]));
    assert!(
        listed.starts_with(&id) && listed.contains("config,database,dkim,mailboxes,queue,tls"),
        "{listed}"
    );
    let verified = backup(&y, &["verify"]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(text(&verified).contains(&format!("ok       {id}")));

    // Alice loses her mailbox; bob gets more mail after the snapshot.
    let alice = y.data.join("mail/example.test/alice/Maildir");
    for sub in ["cur", "new"] {
        for f in std::fs::read_dir(alice.join(sub)).unwrap().flatten() {
            std::fs::remove_file(f.path()).unwrap();
        }
    }
    send(&y, "bob@example.test", "after the snapshot");
    assert!(imap_subjects(&y, "alice@example.test", "alice-password").contains("EXISTS 0"));

    let out = backup(
        &y,
        &[
            "restore",
            &id,
            "--component",
            "mailboxes",
            "--mailbox",
            "alice@example.test",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("mailboxes  3 files restored"),
        "{}",
        text(&out)
    );
    let subjects = imap_subjects(&y, "alice@example.test", "alice-password");
    assert!(subjects.contains("EXISTS 3"), "{subjects}");
    assert!(
        subjects.contains("Subject: one") && subjects.contains("Subject: three"),
        "{subjects}"
    );
    let bob = imap_subjects(&y, "bob@example.test", "bob-password");
    assert!(bob.contains("EXISTS 2"), "bob untouched: {bob}");

    // Restoring everything again keeps what exists.
    let out = backup(&y, &["restore", &id, "--component", "mailboxes"]);
    assert!(text(&out).contains("existing files kept"), "{}", text(&out));

    // The database only with the server stopped.
    let out = backup(&y, &["restore", &id, "--component", "database"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("the server is running"), "{}", text(&out));
    y.stop();
    let out = backup(
        &y,
        &[
            "restore",
            &id,
            "--component",
            "database",
            "--component",
            "config",
            "--overwrite",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("database   1 files restored, 1 existing files replaced"),
        "{}",
        text(&out)
    );
    let restored_config = y.config.with_file_name(format!("mail.kdl.restored-{id}"));
    assert_eq!(
        std::fs::read_to_string(&restored_config).unwrap(),
        std::fs::read_to_string(&y.config).unwrap()
    );
    y.spawn(&[]);
    assert!(imap_subjects(&y, "alice@example.test", "alice-password").contains("EXISTS 3"));

    // Damage is found and nothing is restored from it.
    let tar = y.dir.join("backups").join(&id).join("mailboxes.tar");
    let mut bytes = std::fs::read(&tar).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&tar, bytes).unwrap();
    let out = backup(&y, &["verify", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("checksum mismatch"), "{}", text(&out));
    let out = backup(&y, &["restore", &id, "--component", "mailboxes", "--overwrite"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("checksum mismatch"), "{}", text(&out));
}

#[test]
fn retention_keeps_the_newest_snapshots_of_a_job() {
    let dir = common::TempDir::new("backup-keep");
    let base = std::fs::canonicalize(&dir.0).unwrap();
    let text = standard_config(
        "backup {\n    keep daily=2\n    components \"config\" \"dkim\"\n    local \"snaps\"\n}\n",
    )
    .replace("{SMTP}", "1")
    .replace("{SUBMISSION}", "2")
    .replace("{SUBMISSIONS}", "3")
    .replace("{DNS}", "9");
    let file = base.join("mail.kdl");
    std::fs::write(&file, &text).unwrap();
    let outcome = yubin::config::parse(&file, &text, &base);
    let plan = yubin::plan::compile(outcome.config.as_ref().expect("valid config"));
    let backups = yubin::backup::Backups::from_plan(&plan, Some(&file)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut ids = Vec::new();
        for _ in 0..3 {
            let (m, failed) = backups.run("daily").await.unwrap();
            assert!(failed.is_empty());
            ids.push(m.id);
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
        let (manual, _) = backups.run("manual").await.unwrap();
        backups.prune("daily").await;
        let left: Vec<String> = backups.targets()[0]
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(
            left,
            vec![ids[1].clone(), ids[2].clone(), manual.id],
            "oldest daily removed, manual kept"
        );
    });
}

/// The Python that has boto3 (moto's virtualenv, made by .ci/install-packages).
const MOTO_PYTHON: &str = "/opt/yubin-moto/bin/python3";

struct Moto {
    port: u16,
    child: std::process::Child,
}

impl Moto {
    fn start() -> Moto {
        let port = common::server::free_port();
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn moto_server");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Moto { port, child }
    }

    /// Runs boto3 code with `s3` (a client for this server) and `bucket` defined.
    fn boto(&self, code: &str) -> String {
        let script = format!(
            "import boto3, datetime, sys\n\
             s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:{}', region_name='us-east-1',\n\
                               aws_access_key_id='test', aws_secret_access_key='test')\n\
             bucket = 'yubin-backups'\n{code}",
            self.port
        );
        let out = std::process::Command::new(MOTO_PYTHON)
            .arg("-c")
            .arg(script)
            .output()
            .expect("run boto3");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        text
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn s3_target_with_object_lock_on_moto() {
    if !have("moto_server") || !have("swaks") {
        return;
    }
    let moto = Moto::start();
    moto.boto("s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)\n");
    let config = standard_config(&format!(
        "backup {{\n    keep daily=7\n    local \"backups\"\n    s3 bucket=\"yubin-backups\" region=\"us-east-1\" {{\n        \
         endpoint \"http://127.0.0.1:{}\"\n        credentials env-prefix=\"YUBIN_S3_\"\n        \
         object-lock mode=\"compliance\" days=1\n    }}\n}}\n",
        moto.port
    ))
    .replace(
        "    submissions \"127.0.0.1:{SUBMISSIONS}\"\n",
        "    submissions \"127.0.0.1:{SUBMISSIONS}\"\n    imaps \"127.0.0.1:{IMAPS}\"\n",
    );
    let env = [
        ("YUBIN_S3_ACCESS_KEY_ID", "test"),
        ("YUBIN_S3_SECRET_ACCESS_KEY", "test"),
    ];
    let y = Yubin::start_with(&config, &env);
    send(&y, "alice@example.test", "kept in s3");
    send(&y, "alice@example.test", "also in s3");
    let s3 = |args: &[&str]| {
        common::yubin()
            .args(["backup", "-c"])
            .arg(&y.config)
            .args(args)
            .envs(env)
            .output()
            .expect("run yubin backup")
    };

    let out = s3(&["run"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    assert!(
        text(&out).contains("stored  s3://yubin-backups/yubin/"),
        "{}",
        text(&out)
    );
    let listed = text(&s3(&["list", "--target", "yubin-backups"]));
    assert!(listed.starts_with(&id), "{listed}");
    let verified = s3(&["verify", "--target", "yubin-backups"]);
    assert!(verified.status.success(), "{}", text(&verified));

    // Every object is under COMPLIANCE retention for a day, and deleting its version is refused.
    let report = moto.boto(&format!(
        "now = datetime.datetime.now(datetime.timezone.utc)\n\
         vs = s3.list_object_versions(Bucket=bucket, Prefix='yubin/{id}/')['Versions']\n\
         print('OBJECTS', len(vs))\n\
         for v in vs:\n    \
             h = s3.head_object(Bucket=bucket, Key=v['Key'], VersionId=v['VersionId'])\n    \
             days = (h['ObjectLockRetainUntilDate'] - now).total_seconds() / 86400\n    \
             assert h['ObjectLockMode'] == 'COMPLIANCE' and 0.9 < days < 1.1, (v['Key'], h.get('ObjectLockMode'), days)\n    \
             try:\n        \
                 s3.delete_object(Bucket=bucket, Key=v['Key'], VersionId=v['VersionId'])\n        \
                 print('DELETED', v['Key'])\n    \
             except Exception as e:\n        \
                 print('REFUSED', v['Key'], type(e).__name__)\n"
    ));
    assert!(report.contains("OBJECTS 7"), "{report}");
    assert!(!report.contains("DELETED"), "{report}");
    assert_eq!(report.matches("REFUSED").count(), 7, "{report}");

    // Someone with the credentials puts new versions over the snapshot: the lock keeps the
    // originals, and yubin reads those.
    moto.boto(&format!(
        "import json, hashlib\n\
         s3.put_object(Bucket=bucket, Key='yubin/{id}/mailboxes.tar', Body=b'ransom')\n\
         m = json.loads(s3.get_object(Bucket=bucket, Key='yubin/{id}/manifest.json')['Body'].read())\n\
         m['components']['mailboxes']['size'] = 6\n\
         m['components']['mailboxes']['sha256'] = hashlib.sha256(b'ransom').hexdigest()\n\
         s3.put_object(Bucket=bucket, Key='yubin/{id}/manifest.json', Body=json.dumps(m).encode())\n"
    ));
    let verified = s3(&["verify", &id, "--target", "yubin-backups"]);
    assert!(verified.status.success(), "{}", text(&verified));

    // Alice's mailbox comes back from the bucket.
    let alice = y.data.join("mail/example.test/alice/Maildir/new");
    for f in std::fs::read_dir(&alice).unwrap().flatten() {
        std::fs::remove_file(f.path()).unwrap();
    }
    let out = s3(&[
        "restore",
        &id,
        "--target",
        "yubin-backups",
        "--component",
        "mailboxes",
        "--mailbox",
        "alice@example.test",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("mailboxes  2 files restored"),
        "{}",
        text(&out)
    );
    assert_eq!(y.inbox("alice@example.test").len(), 2);
}

/// Issue 10 item 15: `serve` made the data folder and its folders 0755 and `yubin.db` 0644;
/// snapshots were 0644 files in 0755 folders with 0644 recorded in the tar entries; a restore
/// left keys, messages and the database 0644 and owned by root.
#[test]
fn the_data_folder_snapshots_and_restored_files_stay_private() {
    if !have("swaks") {
        return;
    }
    let mut y = Yubin::start(&config());
    send(&y, "alice@example.test", "private one");
    send(&y, "alice@example.test", "private two");
    for f in ["yubin.db", "yubin.db-wal", "yubin.db-shm"] {
        assert!(y.data.join(f).exists(), "{f}");
    }
    assert!(!files_under(&y.data.join("dkim")).is_empty());
    assert!(!files_under(&y.data.join("tls")).is_empty());
    assert_eq!(not_private(&y.data, None), Vec::<String>::new());

    // A message its owner made read-only keeps that mode through the backup and the restore.
    let inbox = y.inbox("alice@example.test");
    assert_eq!(inbox.len(), 2);
    let read_only = inbox[0].clone();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o400)).unwrap();
    let id = snapshot_id(&backup(&y, &["run"]));
    let snaps = y.dir.join("backups");
    assert_eq!(not_private(&snaps, None), Vec::<String>::new());
    let read_only_rel = read_only.strip_prefix(&y.data).unwrap().to_path_buf();
    let mut entries = 0;
    for file in ["mailboxes.tar", "dkim.tar", "tls.tar"] {
        let mut tar = tar::Archive::new(std::fs::File::open(snaps.join(&id).join(file)).unwrap());
        for e in tar.entries().unwrap() {
            let e = e.unwrap();
            let path = e.path().unwrap().into_owned();
            let want = if path == read_only_rel { 0o400 } else { 0o600 };
            assert_eq!(e.header().mode().unwrap(), want, "{file}: {}", path.display());
            entries += 1;
        }
    }
    assert!(entries >= 4, "{entries}");

    // The server stops; the data folder belongs to the service's user; keys, messages and the
    // database are lost and restored by root.
    y.stop();
    let owner = if root() {
        let ok = std::process::Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(&y.data)
            .status()
            .unwrap();
        assert!(ok.success());
        Some(65534)
    } else {
        common::server::missing("the ownership part of the restore test needs root");
        None
    };
    for dir in ["dkim", "tls", "mail/example.test/alice/Maildir/new"] {
        for f in files_under(&y.data.join(dir)) {
            std::fs::remove_file(f).unwrap();
        }
    }
    for f in ["yubin.db", "yubin.db-wal", "yubin.db-shm"] {
        let _ = std::fs::remove_file(y.data.join(f));
    }
    let out = backup(&y, &["restore", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(y.data.join("yubin.db").exists());
    assert!(!files_under(&y.data.join("dkim")).is_empty());
    assert!(!files_under(&y.data.join("tls")).is_empty());
    assert_eq!(y.inbox("alice@example.test").len(), 2);
    assert_eq!(mode(&read_only), 0o400);
    assert_eq!(mode(&y.data.join("yubin.db")), 0o600);
    assert_eq!(not_private(&y.data, owner), Vec::<String>::new());
    let restored_config = y.config.with_file_name(format!("mail.kdl.restored-{id}"));
    assert_eq!(mode(&restored_config) & 0o077, 0, "restored configuration");

    // A data folder an older version left wide open is tightened at start-up, and said so.
    std::fs::set_permissions(&y.data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(y.data.join("dkim"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(y.data.join("yubin.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    y.spawn(&[]);
    assert_eq!(mode(&y.data), 0o700);
    assert_eq!(mode(&y.data.join("dkim")), 0o700);
    assert_eq!(mode(&y.data.join("yubin.db")), 0o600);
    let log = y.log();
    assert!(log.contains("permissions tightened"), "{log}");
    send(&y, "alice@example.test", "after the restore");
    assert_eq!(y.inbox("alice@example.test").len(), 3);
}

/// Issue 10 item 16: a crafted archive was refused, but the entries before the bad one were
/// already written into the Maildir.
#[test]
fn a_crafted_archive_writes_nothing() {
    if !have("swaks") {
        return;
    }
    let y = Yubin::start(&config());
    send(&y, "alice@example.test", "before");
    let id = snapshot_id(&backup(&y, &["run"]));

    // Someone who can write to the target replaces mailboxes.tar: a message planted in alice's
    // Maildir, then an entry that climbs out of the data folder; the manifest made to match.
    let snap = y.dir.join("backups").join(&id);
    let planted = "mail/example.test/alice/Maildir/new/1700000000.M1P1.planted";
    {
        let mut b = tar::Builder::new(std::fs::File::create(snap.join("mailboxes.tar")).unwrap());
        let data = b"Subject: planted\r\n\r\nbuy now\r\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, planted, &data[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o600);
        h.set_entry_type(tar::EntryType::Regular);
        // The builder refuses `..`: the name bytes are written directly.
        let name = b"mail/../../escape";
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, &b"owned"[..]).unwrap();
        b.finish().unwrap();
    }
    let sum = yubin::backup::archive::sum_file(&snap.join("mailboxes.tar")).unwrap();
    let manifest_path = snap.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["components"]["mailboxes"]["size"] = sum.size.into();
    manifest["components"]["mailboxes"]["sha256"] = sum.sha256.into();
    manifest["components"]["mailboxes"]["files"] = 2.into();
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();

    let out = backup(&y, &["restore", &id, "--component", "mailboxes"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("mail/../../escape"), "{}", text(&out));
    assert!(!y.data.join(planted).exists(), "the planted message was written");
    assert!(!y.dir.join("escape").exists());
    assert_eq!(y.messages("alice@example.test").len(), 1);
    // Nothing is left in the work folder either.
    assert_eq!(files_under(&y.data.join("backup")), Vec::<PathBuf>::new());
}

/// Issue 10 item 17: `restore ID --mailbox bob@…` without `--component` restored every
/// component, and with the server stopped replaced an existing `yubin.db` without
/// `--overwrite` (a table added to it was gone).
#[test]
fn a_mailbox_restore_restores_that_maildir_only_and_replaces_nothing() {
    if !have("swaks") || !have("python3") {
        return;
    }
    let mut y = Yubin::start(&config());
    send(&y, "bob@example.test", "bob one");
    send(&y, "bob@example.test", "bob two");
    send(&y, "alice@example.test", "alice one");
    let id = snapshot_id(&backup(&y, &["run"]));
    y.stop();

    let db = y.data.join("yubin.db");
    sqlite(&db, "CREATE TABLE added_after_backup (x)");
    let table = "SELECT name FROM sqlite_master WHERE name = 'added_after_backup'";
    assert!(sqlite(&db, table).contains("added_after_backup"));
    let bob = y.inbox("bob@example.test");
    assert_eq!(bob.len(), 2);
    std::fs::remove_file(&bob[0]).unwrap();
    let alice = y.inbox("alice@example.test");
    std::fs::remove_file(&alice[0]).unwrap();
    let dkim_key = files_under(&y.data.join("dkim"))[0].clone();
    std::fs::write(&dkim_key, "changed since the backup").unwrap();

    let out = backup(&y, &["restore", &id, "--mailbox", "bob@example.test"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("mailboxes  1 files restored, 1 existing files kept"),
        "{said}"
    );
    for other in ["database", "config", "dkim", "tls", "queue"] {
        assert!(!said.contains(other), "{other} restored: {said}");
    }
    assert!(
        sqlite(&db, table).contains("added_after_backup"),
        "yubin.db replaced"
    );
    assert_eq!(y.inbox("bob@example.test").len(), 2);
    assert!(y.inbox("alice@example.test").is_empty(), "alice restored too");
    assert_eq!(
        std::fs::read_to_string(&dkim_key).unwrap(),
        "changed since the backup"
    );
    assert!(
        !y.config
            .with_file_name(format!("mail.kdl.restored-{id}"))
            .exists()
    );

    // The database without --overwrite: kept.
    let out = backup(&y, &["restore", &id, "--component", "database"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("database   0 files restored, 1 existing files kept"),
        "{}",
        text(&out)
    );
    assert!(
        sqlite(&db, table).contains("added_after_backup"),
        "yubin.db replaced"
    );

    // With --overwrite the database and a changed message are replaced, the old ones kept aside.
    std::fs::write(&bob[1], "changed since the backup").unwrap();
    let out = backup(
        &y,
        &[
            "restore",
            &id,
            "--component",
            "database",
            "--component",
            "mailboxes",
            "--mailbox",
            "bob@example.test",
            "--overwrite",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !sqlite(&db, table).contains("added_after_backup"),
        "{}",
        text(&out)
    );
    assert_ne!(
        std::fs::read_to_string(&bob[1]).unwrap(),
        "changed since the backup"
    );
    let aside_root = y.data.join("restore-replaced");
    let runs: Vec<PathBuf> = std::fs::read_dir(&aside_root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(
        text(&out).contains(&runs[0].display().to_string()),
        "{}",
        text(&out)
    );
    let aside_db = runs[0].join("yubin.db");
    assert!(sqlite(&aside_db, table).contains("added_after_backup"));
    let aside_msg = runs[0].join(bob[1].strip_prefix(&y.data).unwrap());
    assert_eq!(
        std::fs::read_to_string(&aside_msg).unwrap(),
        "changed since the backup"
    );
    assert_eq!(not_private(&aside_root, None), Vec::<String>::new());
}
