//! A server prepared in process, as `yubin serve` prepares it short of binding ports
//! (`runtime::prepare`: data folder, SQLite index, Maildirs, TLS, directory), on a scratch
//! folder; sessions are then served on in-memory pipes.
//!
//! Sessions change the server's state (mail delivered, folders created, bans), so a target
//! rebuilds its fixture every [`Shared`]'s `every` inputs: state stays small, and a crash that
//! needs state reproduces within that many inputs of a fresh server.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::runtime::Runtime;
use tokio::sync::watch;
use yubin::smtp::Services;

/// The password of every user of the fixture.
pub const PASSWORD: &str = "fuzz-password";
/// The webhook's bearer token.
pub const TOKEN: &str = "fuzz-token";

/// The configuration: the domains, users and aliases of the integration tests, a webhook,
/// and small limits. `{HASH}` and `{TOKEN_FILE}` are filled in; `extra` is appended.
const CONFIG: &str = r#"hostname "mx.example.test"
listen {
    smtp "127.0.0.1:1"
    submission "127.0.0.1:2"
    submissions "127.0.0.1:3"
    imap "127.0.0.1:4"
    pop3 "127.0.0.1:5"
    http "127.0.0.1:6"
}
storage {
    data "data"
}
dns {
    resolver "127.0.0.1:9"
}
domain "example.test" {
    dkim selector="t1"
    user "alice" password-hash="{HASH}" alias="info"
    user "bob" password-hash="{HASH}" quota="20KiB"
    user "carol" password-hash="{HASH}" disabled=#true
    alias "postmaster" to="alice"
    alias "team" {
        to "alice" "bob"
    }
}
domain "example.org" {
    alias-of "example.test"
}
domain "catchall.test" {
    user "dave" password-hash="{HASH}"
    alias "postmaster" to="dave"
    catch-all to="dave"
}
domain "bücher.test" {
    user "jörg" password-hash="{HASH}"
    alias "postmaster" to="jörg"
}
trusted-networks "10.99.0.0/16"
inbound-webhook path="/in" {
    token file="{TOKEN_FILE}"
}
"#;

/// A cheap argon2id hash of [`PASSWORD`] (the configuration only warns about weak
/// parameters): a correct login costs microseconds, not the tens of milliseconds of the
/// production parameters.
fn weak_hash() -> String {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
    let params = Params::new(8, 1, 1, None).expect("argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(PASSWORD.as_bytes())
        .expect("argon2 hash")
        .to_string()
}

/// Where scratch folders go: `$YUBIN_FUZZ_TMP`, else `/dev/shm`, else the temp folder.
pub fn scratch_root() -> PathBuf {
    if let Some(d) = std::env::var_os("YUBIN_FUZZ_TMP") {
        return PathBuf::from(d);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A new scratch folder `yubin-fuzz-<pid>-<tag>-<n>`; folders left by fuzzers that are gone
/// (libFuzzer exits without running destructors) are removed first.
pub fn scratch(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let root = scratch_root();
    if let Ok(rd) = std::fs::read_dir(&root) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix("yubin-fuzz-").and_then(|r| r.split('-').next());
            if let Some(pid) = pid
                && pid.parse::<u32>().is_ok()
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = root.join(format!(
        "yubin-fuzz-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// A prepared server.
pub struct Fixture {
    rt: Option<Runtime>,
    /// What sessions share.
    pub services: Arc<Services>,
    shutdown: watch::Sender<bool>,
    dir: PathBuf,
}

impl Fixture {
    /// Prepares the server of [`CONFIG`] with `extra` appended (a `limits` block, say).
    pub fn new(extra: &str) -> Fixture {
        let dir = scratch("server");
        let token = dir.join("token");
        std::fs::write(&token, TOKEN).expect("write the token file");
        let text = format!("{CONFIG}{extra}\n")
            .replace("{HASH}", &weak_hash())
            .replace("{TOKEN_FILE}", &token.to_string_lossy());
        let outcome = yubin::config::parse(Path::new("fuzz.kdl"), &text, &dir);
        let Some(config) = outcome.config.as_ref() else {
            panic!(
                "the fixture's configuration is invalid: {:?}",
                outcome.diagnostics
            );
        };
        let plan = yubin::plan::compile(config);
        // One worker: the session runs there (2 MiB stack, as in `yubin serve`), the client on
        // the fuzzer's thread.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let options = yubin::runtime::Options {
            timeouts: None,
            message_checks: false,
            queue: false,
            reload: None,
        };
        let prepared = match rt.block_on(yubin::runtime::prepare(&plan, options)) {
            Ok(p) => p,
            Err(e) => panic!("preparing the fixture: {e}"),
        };
        Fixture {
            rt: Some(rt),
            services: prepared.services,
            shutdown: prepared.shutdown,
            dir,
        }
    }

    /// Runs `f` to completion on the fixture's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        match &self.rt {
            Some(rt) => rt.block_on(f),
            None => unreachable!("the runtime lives as long as the fixture"),
        }
    }

    /// The scratch folder (config, token, `data/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Folders alice has besides INBOX (`&AOk-t&AOk-` is "été" in modified UTF-7).
pub const FOLDERS: &[&str] = &["Archive", "Archive.2025", "Work", "&AOk-t&AOk-", "Trash"];

impl Fixture {
    /// The fixture with mail: every sample message in alice's INBOX (the first one flagged
    /// \Seen, a keyword on the second) and in `Archive`, the folders of [`FOLDERS`] created and
    /// subscribed. Done by an IMAP session, as a client would.
    pub fn with_mail(self) -> Fixture {
        let mut script = Vec::new();
        for (i, f) in FOLDERS.iter().enumerate() {
            script.extend_from_slice(format!("c{i} CREATE {f}\r\ns{i} SUBSCRIBE {f}\r\n").as_bytes());
        }
        for (i, m) in crate::MESSAGES.iter().enumerate() {
            for (box_, flags) in [
                ("INBOX", ["(\\Seen)", "($Work \\Flagged)"].get(i)),
                ("Archive", None),
            ] {
                let flags = flags.copied().unwrap_or("()");
                let head = format!("a{i}{box_} APPEND {box_} {flags} {{{}+}}\r\n", m.len());
                script.extend_from_slice(head.as_bytes());
                script.extend_from_slice(m);
                script.extend_from_slice(b"\r\n");
            }
        }
        script.extend_from_slice(b"z LOGOUT\r\n");
        let listener = Arc::new(yubin::imap::ImapListener {
            name: "seed".into(),
            implicit_tls: false,
        });
        let svc = self.services.clone();
        let peer = crate::stream::peer(false);
        let out = self.block_on(crate::stream::drive(vec![script], 1 << 20, false, move |io| {
            yubin::imap::session::serve_preauth(io, peer, listener, svc, "alice@example.test".into())
        }));
        let out = String::from_utf8_lossy(&out);
        let appended = out.matches("OK [APPENDUID").count();
        assert_eq!(
            appended,
            2 * crate::MESSAGES.len(),
            "seeding the fixture's mailboxes: {out}"
        );
        self
    }
}

/// A target's fixture, built on first use and rebuilt every `every` inputs.
pub struct Shared {
    make: fn() -> Fixture,
    every: u64,
    state: Mutex<(u64, Option<Fixture>)>,
}

impl Shared {
    /// A fixture made by `make`, rebuilt every `every` inputs.
    pub const fn new(make: fn() -> Fixture, every: u64) -> Shared {
        Shared {
            make,
            every,
            state: Mutex::new((0, None)),
        }
    }

    /// Runs `f` with the current fixture.
    pub fn with<R>(&self, f: impl FnOnce(&Fixture) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (runs, fixture) = &mut *state;
        if *runs % self.every == 0 {
            // Drop the old server before preparing the next one.
            *fixture = None;
        }
        *runs += 1;
        let fixture = fixture.get_or_insert_with(self.make);
        f(fixture)
    }
}
