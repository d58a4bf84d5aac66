//! A private Dovecot (from Debian's package) under a temp dir: the reference IMAP/POP3 server
//! for response comparisons and benchmarks. Users `alice` and `bob` (password `<name>-pass`),
//! Maildir under the instance folder, plain-text login allowed on loopback.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;
use super::server::free_port;

/// A running Dovecot.
pub struct Dovecot {
    /// Its folder.
    pub dir: TempDir,
    /// IMAP (plain text, LOGIN allowed).
    pub imap: u16,
    /// POP3.
    pub pop3: u16,
    child: Option<Child>,
}

impl Dovecot {
    /// Starts Dovecot in the foreground; panics when it does not answer within 10 s.
    pub fn start() -> Dovecot {
        let dir = TempDir::new("dovecot");
        let d: PathBuf = std::fs::canonicalize(&dir.0).expect("canonical");
        let (imap, pop3) = (free_port(), free_port());
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        // Dovecot drops to the mail user (nobody) for mail access.
        std::os::unix::fs::chown(d.join("mail"), Some(65534), Some(65534)).expect("chown");
        let _ = Command::new("chmod")
            .args(["755", &d.display().to_string()])
            .status();
        std::fs::write(
            d.join("users"),
            format!(
                "alice:{{PLAIN}}alice-pass:65534:65534::{d}/mail/alice::\nbob:{{PLAIN}}bob-pass:65534:65534::{d}/mail/bob::\n",
                d = d.display()
            ),
        )
        .expect("users");
        let conf = format!(
            "base_dir = {d}/run
state_dir = {d}/state
instance_name = dovecot-{imap}
protocols = imap pop3
listen = 127.0.0.1
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
mail_max_userip_connections = 5000
default_process_limit = 5000
default_client_limit = 5000
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {d}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
",
            d = d.display()
        );
        std::fs::write(d.join("dovecot.conf"), conf).expect("conf");
        let child = Command::new("dovecot")
            .args(["-c", &d.join("dovecot.conf").display().to_string(), "-F"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dovecot");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", imap)).is_err() {
            assert!(
                Instant::now() < deadline,
                "dovecot did not start: {}",
                std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Dovecot {
            dir,
            imap,
            pop3,
            child: Some(child),
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
