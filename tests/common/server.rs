//! Starting a real `yubin serve` for a test: a config in a temp dir, free loopback ports,
//! readiness by connecting, SIGTERM (or SIGKILL) at the end.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// The argon2id hash of "alice-password" (and friends, see `PASSWORDS`).
pub const ALICE_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE";
/// The argon2id hash of "bob-password".
pub const BOB_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$cP0B+Y6uuzPn8sgIOxG3NQ$2dJc8PPdn5bHEBZUY1apQmfMoWeRhHMs9IjSINshKxE";

/// A free TCP and UDP port on 127.0.0.1.
///
/// Ports come from 20000–31999, below the kernel's ephemeral range (32768–60999): a port the
/// kernel handed out for `bind(0)` and that was released can be taken by the next outgoing
/// connection of a parallel test before the server binds it. Each test process starts at its
/// own offset and checks that the port is bindable.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = (std::process::id() % 600) * 20;
    for _ in 0..12_000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (20_000 + (offset + n) % 12_000) as u16;
        let tcp = TcpListener::bind(("127.0.0.1", port));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000-31999")
}

/// Whether a required external tool exists. A missing tool fails the test, naming the
/// command that installs it; only with `YUBIN_TESTS_ALLOW_MISSING=1` (a deliberate opt-out) is
/// the test skipped instead, with a message.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    found || missing(&format!("{tool} is not installed"))
}

/// A test needs something this machine lacks: fails, or with `YUBIN_TESTS_ALLOW_MISSING=1`
/// returns false after saying what is skipped.
pub fn missing(what: &str) -> bool {
    if std::env::var("YUBIN_TESTS_ALLOW_MISSING").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED (YUBIN_TESTS_ALLOW_MISSING=1): {what}");
        return false;
    }
    panic!(
        "{what}: install the test components with `sudo bash .ci/install-packages` (or run the \
         README's test command, `sudo scripts/test`), or set YUBIN_TESTS_ALLOW_MISSING=1 to skip"
    );
}

/// Ports of a running server.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// MX.
    pub smtp: u16,
    /// STARTTLS submission.
    pub submission: u16,
    /// Implicit-TLS submission.
    pub submissions: u16,
    /// IMAP with STARTTLS (`{IMAP}`).
    pub imap: u16,
    /// IMAP over TLS (`{IMAPS}`).
    pub imaps: u16,
    /// POP3 with STLS (`{POP3}`).
    pub pop3: u16,
    /// POP3 over TLS (`{POP3S}`).
    pub pop3s: u16,
}

/// A dnsmasq on loopback serving test records and NXDOMAIN for everything else.
pub struct Dns {
    /// Its port (UDP and TCP).
    pub port: u16,
    child: Child,
}

impl Dns {
    /// Starts dnsmasq with extra options such as `--txt-record=example.com,"v=spf1 -all"`.
    pub fn start(options: &[String]) -> Option<Dns> {
        if !have("dnsmasq") {
            return None;
        }
        let port = free_port();
        let child = Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--conf-file=/dev/null",
                "--pid-file=",
                "--user=root",
                "--address=/#/",
            ])
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dnsmasq");
        // Wait until it answers on TCP.
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "dnsmasq did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(Dns { port, child })
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running yubin.
pub struct Yubin {
    /// Its folder (config, data).
    pub dir: TempDir,
    /// The data folder.
    pub data: PathBuf,
    /// The config file.
    pub config: PathBuf,
    /// Ports.
    pub ports: Ports,
    child: Option<Child>,
    log: PathBuf,
    /// The test DNS server, when the config uses {DNS}.
    pub dns: Option<Dns>,
}

/// The standard test configuration: example.test with alice, bob, aliases and a catch-all
/// domain; `extra` is appended. Placeholders: {SMTP} {SUBMISSION} {SUBMISSIONS} {IMAP} {IMAPS}
/// {POP3} {POP3S} {DNS}.
pub fn standard_config(extra: &str) -> String {
    format!(
        r#"hostname "mx.example.test"
listen {{
    smtp "127.0.0.1:{{SMTP}}"
    submission "127.0.0.1:{{SUBMISSION}}"
    submissions "127.0.0.1:{{SUBMISSIONS}}"
}}
storage {{
    data "data"
}}
dns {{
    resolver "127.0.0.1:{{DNS}}"
}}
domain "example.test" {{
    dkim selector="t1"
    user "alice" password-hash="{ALICE_HASH}" alias="info"
    user "bob" password-hash="{BOB_HASH}" quota="20KiB"
    user "carol" password-hash="{BOB_HASH}" disabled=#true
    alias "postmaster" to="alice"
    alias "team" {{
        to "alice" "bob"
    }}
    alias "all" {{
        to "team" "alice"
    }}
}}
domain "example.org" {{
    alias-of "example.test"
}}
domain "catchall.test" {{
    dkim selector="t1"
    user "dave" password-hash="{ALICE_HASH}"
    alias "postmaster" to="dave"
    catch-all to="dave"
}}
domain "bücher.test" {{
    dkim selector="t1"
    user "jörg" password-hash="{ALICE_HASH}"
    alias "postmaster" to="jörg"
}}
trusted-networks "10.99.0.0/16"
{extra}
"#
    )
}

impl Yubin {
    /// Writes `config` (placeholders filled) and starts `yubin serve` on it.
    pub fn start(config: &str) -> Yubin {
        Self::start_with(config, &[])
    }

    /// Like [`start`](Self::start), with extra environment variables.
    pub fn start_with(config: &str, env: &[(&str, &str)]) -> Yubin {
        Self::start_full(config, env, &[])
    }

    /// Like [`start`](Self::start), with environment variables and dnsmasq options.
    pub fn start_full(config: &str, env: &[(&str, &str)], dns_options: &[String]) -> Yubin {
        let dns = if config.contains("{DNS}") {
            Dns::start(dns_options)
        } else {
            None
        };
        let config = &config.replace("{DNS}", &dns.as_ref().map_or(9, |d| d.port).to_string());
        let dir = TempDir::new("serve");
        let ports = Ports {
            smtp: free_port(),
            submission: free_port(),
            submissions: free_port(),
            imap: free_port(),
            imaps: free_port(),
            pop3: free_port(),
            pop3s: free_port(),
        };
        let text = config
            .replace("{SMTP}", &ports.smtp.to_string())
            .replace("{SUBMISSION}", &ports.submission.to_string())
            .replace("{SUBMISSIONS}", &ports.submissions.to_string())
            .replace("{IMAPS}", &ports.imaps.to_string())
            .replace("{IMAP}", &ports.imap.to_string())
            .replace("{POP3S}", &ports.pop3s.to_string())
            .replace("{POP3}", &ports.pop3.to_string());
        let config = dir.join("mail.kdl");
        std::fs::write(&config, text).expect("write config");
        let data = std::fs::canonicalize(&dir.0).expect("canonical").join("data");
        let log = dir.join("yubin.log");
        let mut y = Yubin {
            dir,
            data,
            config,
            ports,
            child: None,
            log,
            dns,
        };
        y.spawn(env);
        y
    }

    /// Starts (again) the daemon on the same config and data.
    pub fn spawn(&mut self, env: &[(&str, &str)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_yubin"));
        cmd.arg("serve")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("spawn yubin"));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", self.ports.smtp)).is_ok() {
                break;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("yubin exited during start-up ({status}):\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "yubin did not start:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The daemon's resident memory in KiB (VmRSS from /proc).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmRSS")
    }

    /// Sends a signal (`HUP`, `TERM`, ...) to the daemon.
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .expect("kill");
        assert!(ok.success(), "kill -{name} {pid}");
    }

    /// Waits until the log contains `text` (panics after `seconds`).
    pub fn wait_log(&self, text: &str, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "no {text:?} in the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                return s.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The Maildir `new/` files of a mailbox (`alice@example.test`), sorted by name.
    pub fn inbox(&self, address: &str) -> Vec<PathBuf> {
        self.folder(address, None)
    }

    /// The files of a Maildir++ folder (`Some(".Junk")`) or the inbox.
    pub fn folder(&self, address: &str, folder: Option<&str>) -> Vec<PathBuf> {
        let (local, domain) = address.rsplit_once('@').expect("address");
        let mut dir = self.data.join("mail").join(domain).join(local).join("Maildir");
        if let Some(f) = folder {
            dir = dir.join(f);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("new"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The messages in an inbox, as text.
    pub fn messages(&self, address: &str) -> Vec<String> {
        self.inbox(address)
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).expect("read")).into_owned())
            .collect()
    }
}

impl Drop for Yubin {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal line-oriented SMTP client for tests that need exact bytes on the wire.
pub struct RawClient {
    stream: BufReader<TcpStream>,
}

impl RawClient {
    /// Connects and reads the greeting.
    pub fn connect(port: u16) -> (RawClient, String) {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut c = RawClient {
            stream: BufReader::new(s),
        };
        let greeting = c.read_reply();
        (c, greeting)
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).expect("write");
    }

    /// Reads one (possibly multi-line) reply.
    pub fn read_reply(&mut self) -> String {
        let mut out = String::new();
        loop {
            let mut line = String::new();
            if self.stream.read_line(&mut line).unwrap_or(0) == 0 {
                return out;
            }
            out.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return out;
            }
        }
    }

    /// Sends a command line and returns its reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.read_reply()
    }

    /// True when the server closed the connection.
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.stream.read(&mut b), Ok(0))
    }
}

/// Runs swaks with `args`; returns (exit code, combined output).
pub fn swaks(args: &[&str]) -> (i32, String) {
    let out = Command::new("swaks").args(args).output().expect("run swaks");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Runs a Python snippet with the standard library; returns (exit code, output).
pub fn python(script: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Reads a file as text.
pub fn read(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).expect("read")).into_owned()
}
