//! Backups of a running server to a local target with `yubin backup`: a snapshot while mail
//! arrives, `list` and `verify`, restoring one user's lost mailbox (read back over IMAP with
//! imaplib) without touching the others, refusing the database while the server runs and
//! restoring it once stopped, the configuration written beside the live file, damage found by
//! `verify` and refused by `restore`, and retention keeping the newest snapshots of a job.

mod common;

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
        &["restore", &id, "--component", "database", "--component", "config"],
    );
    assert!(out.status.success(), "{}", text(&out));
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
