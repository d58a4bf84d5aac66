//! Private clamd and rspamd instances on loopback for the scanning tests. clamd loads only
//! signatures the test writes (EICAR as a body signature and by hash; there is no freshclam
//! here); rspamd runs offline with its network modules off, its hyperscan cache kept under
//! /var/tmp so only the first run on a machine pays the ~12 s compile.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;
use super::server::free_port;

/// The EICAR test file (68 bytes).
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
/// The GTUBE spam test string.
pub const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

fn stop(child: &mut Child) {
    // SIGTERM lets rspamd's main process take its workers down with it.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A running clamd.
pub struct Clamd {
    /// Its folder.
    pub dir: TempDir,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Its unix socket.
    pub socket: PathBuf,
    child: Child,
}

impl Clamd {
    /// Starts clamd with the test signatures; panics when it does not answer PING in 20 s.
    pub fn start() -> Clamd {
        let dir = TempDir::new("clamd");
        let d = std::fs::canonicalize(&dir.0).expect("canonical");
        std::fs::create_dir_all(d.join("db")).expect("db dir");
        let hex: String = EICAR.bytes().map(|b| format!("{b:02x}")).collect();
        std::fs::write(d.join("db/custom.ndb"), format!("Test.EICAR.Custom:0:*:{hex}\n")).expect("ndb");
        std::fs::write(
            d.join("db/custom.hdb"),
            "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR.Hash\n",
        )
        .expect("hdb");
        let port = free_port();
        let socket = d.join("clamd.sock");
        std::fs::write(
            d.join("clamd.conf"),
            format!(
                "DatabaseDirectory {db}\nLocalSocket {sock}\nTCPSocket {port}\nTCPAddr 127.0.0.1\nForeground yes\n\
                 LogFile {log}\nTemporaryDirectory {tmp}\nStreamMaxLength 50M\n",
                db = d.join("db").display(),
                sock = socket.display(),
                log = d.join("clamd.log").display(),
                tmp = d.display(),
            ),
        )
        .expect("clamd.conf");
        let child = Command::new("clamd")
            .arg("-c")
            .arg(d.join("clamd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn clamd");
        let mut c = Clamd {
            dir,
            port,
            socket,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if c.ping() {
                return c;
            }
            if Instant::now() > deadline || matches!(c.child.try_wait(), Ok(Some(_))) {
                let log = std::fs::read_to_string(d.join("clamd.log")).unwrap_or_default();
                panic!("clamd did not start:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"zPING\0").is_err() {
            return false;
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.starts_with("PONG")
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A running rspamd (normal worker and controller).
pub struct Rspamd {
    /// Its folder.
    pub dir: TempDir,
    /// The normal worker's port.
    pub port: u16,
    child: Child,
}

impl Rspamd {
    /// The URL for `antispam rspamd=`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts rspamd offline; panics when it does not answer /ping in 90 s.
    pub fn start() -> Rspamd {
        let dir = TempDir::new("rspamd");
        let d = std::fs::canonicalize(&dir.0).expect("canonical");
        for sub in ["run", "log", "local.d"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        let cache = PathBuf::from("/var/tmp/yubin-rspamd-db");
        std::fs::create_dir_all(&cache).expect("rspamd cache dir");
        let (port, controller) = (free_port(), free_port());
        std::fs::write(
            d.join("rspamd.conf"),
            format!(
                r#".include "$CONFDIR/common.conf"
options {{
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}}
logging {{ type = "console"; level = "notice"; }}
worker "normal" {{
    .include "$CONFDIR/worker-normal.inc"
    bind_socket = "127.0.0.1:{port}";
    count = 1;
}}
worker "controller" {{
    .include "$CONFDIR/worker-controller.inc"
    bind_socket = "127.0.0.1:{controller}";
    count = 1;
}}
"#
            ),
        )
        .expect("rspamd.conf");
        // Nothing answers DNS on 127.0.0.1:53 here: lookups fail fast.
        std::fs::write(
            d.join("local.d/options.inc"),
            "dns { nameserver = [\"127.0.0.1:53\"]; timeout = 0.2s; retransmits = 1; }\n",
        )
        .expect("options.inc");
        // Modules that fetch maps or resolve names on the Internet.
        for m in [
            "fuzzy_check",
            "rbl",
            "asn",
            "dkim_signing",
            "arc",
            "whitelist",
            "phishing",
            "multimap",
            "mime_types",
            "mid",
        ] {
            std::fs::write(d.join(format!("local.d/{m}.conf")), "enabled = false;\n").expect("module conf");
        }
        let log = std::fs::File::create(d.join("rspamd.out")).expect("log");
        let child = Command::new("rspamd")
            .args(["-f", "-i", "-u", "root", "-g", "root", "-c"])
            .arg(d.join("rspamd.conf"))
            .arg(format!("--var=LOCAL_CONFDIR={}", d.display()))
            .arg(format!("--var=DBDIR={}", cache.display()))
            .arg(format!("--var=RUNDIR={}", d.join("run").display()))
            .arg(format!("--var=LOGDIR={}", d.join("log").display()))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn rspamd");
        let mut r = Rspamd { dir, port, child };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if r.ping() {
                return r;
            }
            if Instant::now() > deadline || matches!(r.child.try_wait(), Ok(Some(_))) {
                let out = std::fs::read_to_string(d.join("rspamd.out")).unwrap_or_default();
                panic!("rspamd did not start:\n{out}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /ping HTTP/1.0\r\nHost: x\r\n\r\n").is_err() {
            return false;
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.contains("pong")
    }
}

impl Drop for Rspamd {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
