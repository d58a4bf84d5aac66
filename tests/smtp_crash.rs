//! Nothing acknowledged is lost: while smtp-source sends 2,000 messages and a second client
//! records every message that got a 250, the daemon is killed with SIGKILL. After a restart
//! every acknowledged message is in its Maildir exactly once and byte-identical, and no file
//! is torn.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{Yubin, have, python, standard_config};

const PROOF_CLIENT: &str = r#"
import smtplib, sys, threading, random, json, time
port = int(sys.argv[1]); out = sys.argv[2]; threads = int(sys.argv[3])
lock = threading.Lock(); acked = open(out, 'w')
def body(t, n):
    rnd = random.Random(t * 100000 + n)
    lines = ['Message-ID: <proof-%d-%d@crash.test>' % (t, n), 'Subject: proof %d %d' % (t, n), '']
    for i in range(rnd.randint(20, 120)):
        line = ''.join(rnd.choice('abcdefghij .') for _ in range(rnd.randint(0, 70)))
        lines.append(line)
    return ('\r\n'.join(lines) + '\r\n').encode()
def worker(t):
    n = 0
    while True:
        try:
            s = smtplib.SMTP('127.0.0.1', port, timeout=30)
            while True:
                msg = body(t, n)
                s.sendmail('sender@remote.example', ['proof@crash.test'], msg)
                with lock:
                    acked.write(json.dumps({'id': 'proof-%d-%d' % (t, n), 'body': msg.decode()}) + '\n'); acked.flush()
                n += 1
        except Exception as e:
            return
ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
acked.close()
"#;

fn maildir_files(y: &Yubin, address: &str) -> Vec<(String, Vec<u8>)> {
    y.inbox(address)
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn kill_9_under_load_loses_nothing_acknowledged() {
    if !have("smtp-source") {
        return;
    }
    let config = standard_config(&format!(
        "domain \"crash.test\" {{\n    dkim selector=\"t1\"\n    user \"load\" password-hash=\"{h}\"\n    user \"proof\" password-hash=\"{h}\"\n    alias \"postmaster\" to=\"load\"\n}}\nlimits {{\n    connections 500 per-ip=100\n}}\n",
        h = common::server::ALICE_HASH
    ));
    let mut y = Yubin::start(&config);
    let acks = y.dir.join("acked.jsonl");

    let mut source = Command::new("smtp-source")
        .args([
            "-s",
            "20",
            "-m",
            "2000",
            "-l",
            "4096",
            "-f",
            "sender@remote.example",
            "-t",
            "load@crash.test",
        ])
        .arg(format!("127.0.0.1:{}", y.ports.smtp))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("smtp-source");
    let proof = {
        let port = y.ports.smtp.to_string();
        let acks = acks.display().to_string();
        std::thread::spawn(move || python(PROOF_CLIENT, &[&port, &acks, "8"]))
    };

    // Let both clients get going, then kill the daemon in the middle of the load.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let acked = std::fs::read_to_string(&acks)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        let loaded = y.inbox("load@crash.test").len();
        if acked >= 300 && loaded >= 500 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "load did not start: {acked} acked, {loaded} loaded\n{}",
            y.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    y.kill9();
    let (code, out) = proof.join().unwrap();
    assert_eq!(code, 0, "{out}");
    let _ = source.kill();
    let _ = source.wait();

    // Restart on the same data: start-up must succeed and clean tmp/.
    y.spawn(&[]);

    let acked: Vec<serde_json::Value> = std::fs::read_to_string(&acks)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(acked.len() >= 300);
    let mut by_id: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for (_, content) in maildir_files(&y, "proof@crash.test") {
        let text = String::from_utf8_lossy(&content);
        let id = text
            .split("Message-ID: <")
            .nth(1)
            .and_then(|r| r.split('@').next())
            .expect("message id")
            .to_owned();
        by_id.entry(id).or_default().push(content);
    }
    let mut problems = Vec::new();
    for a in &acked {
        let id = a["id"].as_str().unwrap();
        let sent = a["body"].as_str().unwrap().as_bytes();
        match by_id.get(id).map(Vec::as_slice) {
            Some([one]) if one.ends_with(sent) => {}
            Some([_]) => problems.push(format!("{id}: content differs")),
            Some(many) => problems.push(format!("{id}: {} copies", many.len())),
            None => problems.push(format!("{id}: LOST")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} acknowledged messages wrong:\n{}",
        problems.len(),
        acked.len(),
        problems.join("\n")
    );

    // Every stored file is whole: its size is the S= its name promised.
    for address in ["proof@crash.test", "load@crash.test"] {
        for (name, content) in maildir_files(&y, address) {
            let size: usize = name
                .rsplit(",S=")
                .next()
                .and_then(|s| s.parse().ok())
                .expect("S= in name");
            assert_eq!(content.len(), size, "{address}: torn file {name}");
        }
        let tmp = y
            .data
            .join("mail/crash.test")
            .join(address.split('@').next().unwrap())
            .join("Maildir/tmp");
        assert_eq!(
            std::fs::read_dir(tmp).unwrap().count(),
            0,
            "tmp/ cleaned at restart"
        );
    }
    eprintln!(
        "crash test: {} acknowledged proof messages all present once; {} smtp-source messages stored",
        acked.len(),
        y.inbox("load@crash.test").len()
    );
}
