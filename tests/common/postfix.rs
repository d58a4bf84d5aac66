//! A private Postfix instance (from Debian's package) under a temp dir, for interop tests and
//! benchmarks: its own config, queue and log; started with `postfix -c DIR start`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;
use super::server::free_port;

/// A running Postfix.
pub struct Postfix {
    /// Its folder.
    pub dir: TempDir,
    /// The SMTP port it accepts mail on (loopback, mynetworks may relay).
    pub port: u16,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run postfix tool");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Postfix {
    /// Starts Postfix with `main_extra` appended to main.cf and `master_extra` to master.cf.
    pub fn start(main_extra: &str, master_extra: &str) -> Postfix {
        Self::start_with(main_extra, master_extra, |_| {})
    }

    /// Like [`start`](Self::start); `{DIR}` in the extras is the instance folder, and
    /// `prepare` runs (with that folder) before Postfix starts.
    pub fn start_with(
        main_extra: &str,
        master_extra: &str,
        prepare: impl FnOnce(&std::path::Path),
    ) -> Postfix {
        let dir = TempDir::new("postfix");
        let d = std::fs::canonicalize(&dir.0).expect("canonical");
        let main_extra = &main_extra.replace("{DIR}", &d.display().to_string());
        let master_extra = &master_extra.replace("{DIR}", &d.display().to_string());
        let port = free_port();
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        let main = format!(
            "compatibility_level = 3.6
config_directory = {d}/etc
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
myhostname = postfix.sender.test
mydomain = sender.test
myorigin = $mydomain
mydestination =
local_transport = error:no local delivery
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
{main_extra}
",
            d = d.display()
        );
        let master = format!(
            "127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
{master_extra}
"
        );
        std::fs::write(d.join("etc/main.cf"), main).expect("main.cf");
        std::fs::write(d.join("etc/master.cf"), master).expect("master.cf");
        let _ = Command::new("chown")
            .args(["postfix:postfix", &d.join("data").display().to_string()])
            .status();
        prepare(&d);
        let etc = d.join("etc").display().to_string();
        let check = run(Command::new("postfix").args(["-c", &etc, "check"]));
        let start = run(Command::new("postfix").args(["-c", &etc, "start"]));
        let pf = Postfix { dir, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "postfix did not start:\n{check}\n{start}\n{}",
                pf.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        pf
    }

    /// The config folder.
    pub fn etc(&self) -> PathBuf {
        std::fs::canonicalize(&self.dir.0).expect("canonical").join("etc")
    }

    /// Postfix's mail log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let etc = self.etc().display().to_string();
        let _ = Command::new("postfix")
            .args(["-c", &etc, "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // `postfix stop` returns before master exits; make sure nothing is left behind.
        let pidfile = std::fs::canonicalize(&self.dir.0).map(|d| d.join("queue/pid/master.pid"));
        if let Ok(pid) = pidfile.and_then(std::fs::read_to_string) {
            let pid = pid.trim().to_owned();
            for _ in 0..50 {
                if !PathBuf::from(format!("/proc/{pid}")).exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = Command::new("kill")
                .args(["-9", &pid])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A Postfix relay on a port of its own that accepts mail for remote.test (bob@, nobody@) only
/// from SASL-authenticated clients over TLS (user relayuser@relay.test, `password`), with the
/// certificate `cert` and key `key`, delivering into Maildirs under `vmail/`. `implicit`: TLS
/// from the first byte (port 465 style) instead of STARTTLS.
pub fn sasl_relay(password: &str, implicit: bool, cert: &Path, key: &Path) -> (Postfix, u16) {
    let relay_port = free_port();
    let main = format!(
        "virtual_mailbox_domains = remote.test
virtual_mailbox_base = {{DIR}}/vmail
virtual_mailbox_maps = texthash:{{DIR}}/etc/vmailbox
virtual_minimum_uid = 100
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_security_options = noanonymous
smtpd_sasl_local_domain = relay.test
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
",
        cert = cert.display(),
        key = key.display(),
    );
    let master = format!(
        "127.0.0.1:{relay_port} inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_wrappermode={wrapper}
  -o smtpd_sasl_auth_enable=yes
  -o mynetworks=
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
",
        wrapper = if implicit { "yes" } else { "no" }
    );
    let pf = Postfix::start_with(&main, &master, |dir| {
        std::fs::create_dir_all(dir.join("vmail")).unwrap();
        let _ = Command::new("chown")
            .args(["65534:65534", &dir.join("vmail").display().to_string()])
            .status();
        std::fs::write(
            dir.join("etc/vmailbox"),
            "bob@remote.test bob/Maildir/\nnobody@remote.test nobody/Maildir/\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("etc/sasl")).unwrap();
        std::fs::write(
            dir.join("etc/sasl/smtpd.conf"),
            format!("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: {}/etc/sasl/sasldb2\n", dir.display()),
        )
        .unwrap();
        let db = dir.join("etc/sasl/sasldb2");
        let mut p = Command::new("saslpasswd2")
            .args([
                "-p",
                "-c",
                "-f",
                db.to_str().unwrap(),
                "-u",
                "relay.test",
                "relayuser",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .expect("saslpasswd2");
        use std::io::Write;
        p.stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        assert!(p.wait().unwrap().success());
        let _ = Command::new("chown")
            .args(["root:postfix", db.to_str().unwrap()])
            .status();
        let _ = Command::new("chmod").args(["640", db.to_str().unwrap()]).status();
    });
    (pf, relay_port)
}
