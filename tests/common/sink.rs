//! Postfix's smtp-sink as a next hop: it accepts (or refuses, with its flags) and dumps each
//! message with `X-Mail-Args` and `X-Rcpt-Args` headers that show the envelope as received.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// A running smtp-sink; stopped when dropped.
pub struct Sink {
    child: std::process::Child,
    dump: TempDir,
}

impl Sink {
    /// Starts smtp-sink on 127.0.0.1:`port` with `extra` flags (`-N`: no DSN, `-r RCPT`:
    /// 4xx for RCPT, `-f RCPT`: 5xx for RCPT).
    pub fn start(port: u16, extra: &[&str]) -> Sink {
        let dump = TempDir::new("sink");
        let _ = Command::new("chown").arg("postfix").arg(&dump.0).status();
        let child = Command::new("smtp-sink")
            .args(["-u", "postfix", "-d", &format!("{}/%M.", dump.0.display())])
            .args(extra)
            .arg(format!("127.0.0.1:{port}"))
            .arg("64")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smtp-sink");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "smtp-sink did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sink { child, dump }
    }

    /// The folder messages are dumped into.
    pub fn dir(&self) -> PathBuf {
        self.dump.0.clone()
    }

    /// The messages received so far.
    pub fn messages(&self) -> Vec<String> {
        dumped(&self.dump.0)
    }

    /// The first message that `pred` accepts, waiting up to 20 s for it (smtp-sink writes a
    /// dump while it receives: a file may be there before its headers are).
    pub fn wait_message(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(m) = self.messages().into_iter().find(|m| pred(m)) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                self.messages()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn dumped(dump: &Path) -> Vec<String> {
    std::fs::read_dir(dump)
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
