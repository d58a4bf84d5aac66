//! Real mail clients against yubin: mbsync (isync) does a full two-way sync of an account over
//! IMAP with STARTTLS, and fetchmail retrieves and deletes every message over POP3 (STLS).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::TempDir;
use common::mail::{ca, mail_server, script};
use common::server::have;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = ["cur", "new"]
        .iter()
        .flat_map(|s| {
            std::fs::read_dir(dir.join(s))
                .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect();
    out.sort();
    out
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run client");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{text}", out.status);
    text
}

fn with_subject(files: &[PathBuf], subject: &str) -> Option<PathBuf> {
    files
        .iter()
        .find(|f| {
            std::fs::read_to_string(f)
                .is_ok_and(|t| t.lines().any(|l| l.trim_end() == format!("Subject: {subject}")))
        })
        .cloned()
}

#[test]
fn mbsync_two_way_sync() {
    if !have("mbsync") {
        return;
    }
    let (y, tls) = mail_server("");
    let p = y.ports;
    // Three messages on the server; a flag set there later must reach the local side.
    script(
        "imap_seed.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls), "seed".into()],
    );

    let local = TempDir::new("mbsync");
    let l = std::fs::canonicalize(&local.0).unwrap();
    std::fs::create_dir_all(l.join("mail")).unwrap();
    let rc = l.join("mbsyncrc");
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount yubin\nHost localhost\nPort {port}\nUser alice@example.test\nPass alice-password\n\
             SSLType STARTTLS\nCertificateFile {ca}\nAuthMechs PLAIN\n\n\
             IMAPStore remote\nAccount yubin\n\n\
             MaildirStore local\nPath {dir}/mail/\nInbox {dir}/mail/INBOX\nSubFolders Verbatim\n\n\
             Channel alice\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nRemove Both\nExpunge Both\nSyncState *\n",
            port = p.imap,
            ca = ca(&tls),
            dir = l.display()
        ),
    )
    .unwrap();
    let sync = || run(Command::new("mbsync").arg("-c").arg(&rc).arg("-a"));
    sync();

    // Every server folder exists locally; INBOX holds the three messages.
    let mail = l.join("mail");
    for f in ["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"] {
        assert!(mail.join(f).join("cur").is_dir(), "local {f} missing");
    }
    let inbox = files(&mail.join("INBOX"));
    assert_eq!(inbox.len(), 3, "{inbox:?}");

    // Local changes: flag one message, move one to Archive, create a folder with a message.
    let one = with_subject(&inbox, "one").expect("one");
    let name = one.file_name().unwrap().to_string_lossy().into_owned();
    let base = name.split(":2,").next().unwrap();
    std::fs::rename(&one, mail.join("INBOX/cur").join(format!("{base}:2,FS"))).unwrap();
    let two = with_subject(&inbox, "two").expect("two");
    let two_name = two.file_name().unwrap().to_string_lossy().into_owned();
    // Maildir tools moving a message drop mbsync's UID tag (",U=n") from the name.
    let moved = regex_free_strip_uid(&two_name);
    std::fs::rename(&two, mail.join("Archive/cur").join(moved)).unwrap();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(mail.join("Notes").join(sub)).unwrap();
    }
    std::fs::write(
        mail.join("Notes/new/1.local.host"),
        "Subject: note\r\n\r\nwritten offline\r\n",
    )
    .unwrap();
    // A server-side change at the same time: \Answered on "three".
    script(
        "imap_seed.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls), "answer".into()],
    );

    sync();

    // The server sees every local change.
    let state = script(
        "imap_seed.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls), "dump".into()],
    );
    let line = |k: &str| {
        state
            .lines()
            .find(|l| l.starts_with(k))
            .unwrap_or_else(|| panic!("{k} in {state}"))
            .to_owned()
    };
    assert_eq!(
        line("INBOX "),
        "INBOX one:\\Flagged \\Seen|three:\\Answered",
        "{state}"
    );
    assert_eq!(line("Archive "), "Archive two:", "{state}");
    assert_eq!(line("Notes "), "Notes note:", "{state}");
    // And the local side sees the server's flag.
    let three = with_subject(&files(&mail.join("INBOX")), "three").expect("three");
    let flags = three
        .file_name()
        .unwrap()
        .to_string_lossy()
        .rsplit(":2,")
        .next()
        .unwrap()
        .to_owned();
    assert!(flags.contains('R'), "{three:?}");

    // A third run with nothing to do changes nothing.
    sync();
    let again = script(
        "imap_seed.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls), "dump".into()],
    );
    assert_eq!(state, again);
}

/// `1.2.host,U=7:2,S` → `1.2.host:2,S`.
fn regex_free_strip_uid(name: &str) -> String {
    let (base, flags) = name.split_once(":2,").unwrap_or((name, ""));
    let base = match base.find(",U=") {
        Some(i) => {
            let rest = &base[i + 3..];
            let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            format!("{}{}", &base[..i], &rest[end..])
        }
        None => base.to_owned(),
    };
    format!("{base}:2,{flags}")
}

#[test]
fn fetchmail_retrieves_and_deletes_over_pop3() {
    if !have("fetchmail") {
        return;
    }
    let (y, tls) = mail_server("");
    let p = y.ports;
    script(
        "imap_seed.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls), "seed".into()],
    );
    let home = TempDir::new("fetchmail");
    let h = std::fs::canonicalize(&home.0).unwrap();
    let mbox = h.join("fetched.mbox");
    let rc = h.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no syslog\npoll localhost service {port} protocol POP3 auth password no dns\n  \
             user \"alice@example.test\" there with password \"alice-password\" is \"root\" here\n  \
             sslproto \"tls1.2+\" sslcertck sslcertfile \"{ca}\"\n  mda \"/usr/bin/tee -a {mbox}\"\n",
            port = p.pop3,
            ca = ca(&tls),
            mbox = mbox.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = run(Command::new("fetchmail")
        .env("FETCHMAILHOME", &h)
        .arg("-f")
        .arg(&rc)
        .arg("--nodetach")
        .arg("-v"));
    assert!(out.contains("3 messages"), "{out}");
    let fetched = std::fs::read_to_string(&mbox).unwrap();
    for s in ["Subject: one", "Subject: two", "Subject: three"] {
        assert!(fetched.contains(s), "{s} not fetched:\n{fetched}");
    }
    // Deleted on the server: INBOX is empty, and a second run finds nothing.
    let state = script(
        "imap_seed.py",
        &[p.smtp.to_string(), p.imaps.to_string(), ca(&tls), "dump".into()],
    );
    assert!(state.lines().any(|l| l == "INBOX "), "{state}");
    let out = Command::new("fetchmail")
        .env("FETCHMAILHOME", &h)
        .arg("-f")
        .arg(&rc)
        .arg("--nodetach")
        .output()
        .unwrap();
    // fetchmail exits 1 when there was no mail.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
