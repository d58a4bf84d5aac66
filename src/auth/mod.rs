//! Users and abuse limits: the login directory, argon2 verification off the async threads,
//! failed-login bans shared by every listener, connection limits and sending rates.

pub mod rate;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordVerifier, password_hash::phc::PasswordHash};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::plan::Plan;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A user who can log in.
#[derive(Debug, Clone)]
pub struct Account {
    /// The mailbox address (the login name).
    pub address: String,
    /// argon2 PHC string.
    pub password_hash: String,
    /// Logins refused.
    pub disabled: bool,
}

/// The login directory (the plan's mailboxes; also synced into the database at start).
#[derive(Debug)]
pub struct Directory {
    accounts: HashMap<String, Account>,
    alias_domains: HashMap<String, String>,
    /// At most this many argon2 verifications run at once (each costs ~20 MiB and tens of ms).
    verifications: Arc<Semaphore>,
    verified: VerifiedCache,
}

/// How long a verified password is remembered.
const VERIFIED_TTL: Duration = Duration::from_secs(3600);

/// Passwords verified recently, as a keyed digest per account: mail clients open several
/// connections and reconnect every few minutes, and each argon2 verification costs ~20 MiB
/// and tens of milliseconds. Only successes are remembered (every failure pays argon2 in
/// full); the key is random per process; a changed hash or password does not match.
struct VerifiedCache {
    /// None when the system had no randomness to make a key: nothing is remembered then.
    key: Option<aws_lc_rs::hmac::Key>,
    entries: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("entries", &lock(&self.entries).len())
            .finish()
    }
}

impl VerifiedCache {
    fn new() -> Self {
        use aws_lc_rs::rand::SecureRandom;
        let mut secret = [0u8; 32];
        let key = aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut secret)
            .is_ok()
            .then(|| aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret));
        VerifiedCache {
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn message(account: &Account, password: &str) -> Vec<u8> {
        let mut m = Vec::with_capacity(account.password_hash.len() + password.len() + 1);
        m.extend_from_slice(account.password_hash.as_bytes());
        m.push(0);
        m.extend_from_slice(password.as_bytes());
        m
    }

    fn hit(&self, account: &Account, password: &str) -> bool {
        let Some(key) = &self.key else { return false };
        match lock(&self.entries).get(&account.address) {
            Some((tag, at)) if at.elapsed() < VERIFIED_TTL => {
                aws_lc_rs::hmac::verify(key, &Self::message(account, password), tag).is_ok()
            }
            _ => false,
        }
    }

    fn remember(&self, account: &Account, password: &str) {
        let Some(key) = &self.key else { return };
        let tag = aws_lc_rs::hmac::sign(key, &Self::message(account, password));
        lock(&self.entries).insert(account.address.clone(), (tag.as_ref().to_vec(), Instant::now()));
    }
}

/// Why a login failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// Unknown user, wrong password or disabled account (not distinguished to the client).
    Invalid,
    /// The verifier could not run.
    Temporary,
}

impl Directory {
    /// The directory of a plan.
    pub fn from_plan(plan: &Plan) -> Self {
        let accounts = plan
            .mailboxes
            .iter()
            .map(|(addr, m)| {
                (
                    addr.clone(),
                    Account {
                        address: addr.clone(),
                        password_hash: m.password_hash.clone(),
                        disabled: m.disabled,
                    },
                )
            })
            .collect();
        let alias_domains = plan
            .domains
            .iter()
            .filter_map(|(name, d)| Some((name.clone(), d.alias_of.clone()?)))
            .collect();
        Directory {
            accounts,
            alias_domains,
            verifications: Arc::new(Semaphore::new(2)),
            verified: VerifiedCache::new(),
        }
    }

    /// The account for a login name: the address, case-insensitive; an alias-domain address
    /// logs into the same account.
    pub fn account(&self, login: &str) -> Option<&Account> {
        let login = login.trim().to_lowercase();
        if let Some(a) = self.accounts.get(&login) {
            return Some(a);
        }
        let (local, domain) = login.rsplit_once('@')?;
        let target = self.alias_domains.get(domain)?;
        self.accounts.get(&format!("{local}@{target}"))
    }

    /// Verifies a password. Returns the account address on success.
    pub async fn verify(&self, login: &str, password: &str) -> Result<String, AuthError> {
        let Some(account) = self.account(login).cloned() else {
            // Spend comparable time on unknown users so timing does not reveal who exists.
            let _ = self.check_hash(DUMMY_HASH.to_owned(), password.to_owned()).await;
            return Err(AuthError::Invalid);
        };
        if account.disabled {
            let _ = self
                .check_hash(account.password_hash.clone(), password.to_owned())
                .await;
            return Err(AuthError::Invalid);
        }
        if self.verified.hit(&account, password) {
            return Ok(account.address);
        }
        let ok = self
            .check_hash(account.password_hash.clone(), password.to_owned())
            .await?;
        if ok {
            self.verified.remember(&account, password);
            Ok(account.address)
        } else {
            Err(AuthError::Invalid)
        }
    }

    async fn check_hash(&self, hash: String, password: String) -> Result<bool, AuthError> {
        let _permit = self
            .verifications
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AuthError::Temporary)?;
        tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&hash).map_err(|_| AuthError::Temporary)?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
        .map_err(|_| AuthError::Temporary)?
    }
}

/// A valid argon2id hash of a random password, verified against for unknown users.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$cP0B+Y6uuzPn8sgIOxG3NQ$2dJc8PPdn5bHEBZUY1apQmfMoWeRhHMs9IjSINshKxE";

/// Failed-login bans, per client IP, shared by every listener.
#[derive(Debug)]
pub struct Bans {
    max_failures: u32,
    window: Duration,
    ban: Duration,
    state: Mutex<HashMap<IpAddr, BanState>>,
}

#[derive(Debug, Default)]
struct BanState {
    failures: Vec<Instant>,
    banned_until: Option<Instant>,
}

impl Bans {
    /// Bans after `max_failures` within `window`, for `ban`.
    pub fn new(max_failures: u32, window: Duration, ban: Duration) -> Self {
        Bans {
            max_failures,
            window,
            ban,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// True while `ip` is banned.
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut st = lock(&self.state);
        match st.get(&ip).and_then(|s| s.banned_until) {
            Some(until) if until > now => true,
            Some(_) => {
                st.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Records a failed login; returns true when this failure started a ban.
    pub fn record_failure(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut st = lock(&self.state);
        if st.len() > 100_000 {
            // Bound memory under a distributed attack: forget entries with no ban.
            st.retain(|_, s| s.banned_until.is_some_and(|u| u > now));
        }
        let entry = st.entry(ip).or_default();
        entry.failures.retain(|t| now.duration_since(*t) < self.window);
        entry.failures.push(now);
        if entry.failures.len() as u32 >= self.max_failures && entry.banned_until.is_none_or(|u| u <= now) {
            entry.banned_until = Some(now + self.ban);
            entry.failures.clear();
            return true;
        }
        false
    }

    /// Forgets failures after a successful login.
    pub fn record_success(&self, ip: IpAddr) {
        if let Some(s) = lock(&self.state).get_mut(&ip) {
            s.failures.clear();
        }
    }
}

/// Failed logins one session may make before it is closed, whatever the ban settings.
pub const MAX_FAILED_LOGINS_PER_SESSION: u32 = 3;

/// What a login attempt on a session came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Logged in as this account address.
    Ok(String),
    /// Wrong name or password. `close`: the session has used up its attempts, or this
    /// failure banned the address: end it.
    Invalid {
        /// End the session.
        close: bool,
    },
    /// The client's address is banned: the password was not even checked (a ban applies to
    /// sessions opened before it, too). End the session.
    Banned,
    /// The verifier could not run; try again later.
    Temporary,
}

/// One login attempt, as every protocol makes it: the ban is checked first (so a session
/// opened before the ban cannot keep guessing, nor log in with the right password), failures
/// count towards the address's ban and the session's own cap of
/// [`MAX_FAILED_LOGINS_PER_SESSION`].
pub async fn attempt_login(
    directory: &Directory,
    bans: &Bans,
    ip: IpAddr,
    session_failures: &mut u32,
    login: &str,
    password: &str,
) -> Login {
    if bans.is_banned(ip) {
        return Login::Banned;
    }
    match directory.verify(login, password).await {
        Ok(address) => {
            bans.record_success(ip);
            Login::Ok(address)
        }
        Err(AuthError::Temporary) => Login::Temporary,
        Err(AuthError::Invalid) => {
            *session_failures += 1;
            let banned = bans.record_failure(ip);
            if banned {
                crate::metrics::ban();
            }
            Login::Invalid {
                close: banned || *session_failures >= MAX_FAILED_LOGINS_PER_SESSION,
            }
        }
    }
}

/// Concurrent connection limits, per listener: in total and per client IP. Each listener has
/// a pool of its own, so strangers filling the MX port never lock users out of IMAP,
/// submission or the health check.
#[derive(Debug)]
pub struct ConnectionLimits {
    total: u32,
    per_ip: u32,
    pools: Mutex<HashMap<String, Arc<Pool>>>,
}

/// One listener's connections.
#[derive(Debug)]
struct Pool {
    total: Arc<Semaphore>,
    by_ip: Arc<Mutex<HashMap<IpAddr, u32>>>,
    /// Woken whenever a slot is released.
    freed: Arc<tokio::sync::Notify>,
    /// Connections waiting for a slot now ([`ConnectionLimits::acquire_within`]).
    waiting: Arc<std::sync::atomic::AtomicU32>,
}

/// Held for the life of a connection; releases its slots when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    _total: OwnedSemaphorePermit,
    ip: IpAddr,
    by_ip: Arc<Mutex<HashMap<IpAddr, u32>>>,
    freed: Arc<tokio::sync::Notify>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        {
            let mut m = lock(&self.by_ip);
            if let Some(n) = m.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&self.ip);
                }
            }
        }
        self.freed.notify_waiters();
    }
}

/// Connections of one listener that may wait for a slot at once; more are refused at once.
const MAX_WAITING: u32 = 64;

impl ConnectionLimits {
    /// `total` connections on each listener, `per_ip` from one address on each listener.
    pub fn new(total: u32, per_ip: u32) -> Self {
        ConnectionLimits {
            total,
            per_ip,
            pools: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for a new connection from `ip` on `listener`, or `None` when one of that
    /// listener's limits is reached.
    pub fn acquire(&self, listener: &str, ip: IpAddr) -> Option<ConnectionSlot> {
        let pool = self.pool(listener);
        Self::take(&pool, self.per_ip, ip)
    }

    /// Like [`ConnectionLimits::acquire`], but waits up to `wait` for a slot to come free: a
    /// client that reconnects the moment its last connection closed (a relay's next batch)
    /// would otherwise race that session's end. At most [`MAX_WAITING`] connections of a
    /// listener wait at once.
    pub async fn acquire_within(
        &self,
        listener: &str,
        ip: IpAddr,
        wait: std::time::Duration,
    ) -> Option<ConnectionSlot> {
        use std::sync::atomic::Ordering;
        let pool = self.pool(listener);
        if let Some(slot) = Self::take(&pool, self.per_ip, ip) {
            return Some(slot);
        }
        if pool.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            pool.waiting.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let deadline = tokio::time::Instant::now() + wait;
        let slot = loop {
            let freed = pool.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(slot) = Self::take(&pool, self.per_ip, ip) {
                break Some(slot);
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                break Self::take(&pool, self.per_ip, ip);
            }
        };
        pool.waiting.fetch_sub(1, Ordering::SeqCst);
        slot
    }

    fn pool(&self, listener: &str) -> Arc<Pool> {
        lock(&self.pools)
            .entry(listener.to_owned())
            .or_insert_with(|| {
                Arc::new(Pool {
                    total: Arc::new(Semaphore::new(self.total as usize)),
                    by_ip: Arc::new(Mutex::new(HashMap::new())),
                    freed: Arc::new(tokio::sync::Notify::new()),
                    waiting: Arc::new(std::sync::atomic::AtomicU32::new(0)),
                })
            })
            .clone()
    }

    fn take(pool: &Pool, per_ip: u32, ip: IpAddr) -> Option<ConnectionSlot> {
        let permit = pool.total.clone().try_acquire_owned().ok()?;
        let mut m = lock(&pool.by_ip);
        let n = m.entry(ip).or_insert(0);
        if *n >= per_ip {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            _total: permit,
            ip,
            by_ip: pool.by_ip.clone(),
            freed: pool.freed.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remembered_passwords_still_reject_wrong_ones() {
        const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE";
        let account = Account {
            address: "alice@example.test".into(),
            password_hash: HASH.into(),
            disabled: false,
        };
        let d = Directory {
            accounts: HashMap::from([(account.address.clone(), account.clone())]),
            alias_domains: HashMap::new(),
            verifications: Arc::new(Semaphore::new(1)),
            verified: VerifiedCache::new(),
        };
        assert_eq!(
            d.verify("alice@example.test", "wrong").await,
            Err(AuthError::Invalid)
        );
        assert!(!d.verified.hit(&account, "alice-password"));
        assert_eq!(
            d.verify("Alice@Example.test", "alice-password").await.as_deref(),
            Ok("alice@example.test")
        );
        assert!(d.verified.hit(&account, "alice-password"));
        assert!(!d.verified.hit(&account, "alice-passwore"));
        assert_eq!(
            d.verify("alice@example.test", "alice-password").await.as_deref(),
            Ok("alice@example.test")
        );
        assert_eq!(
            d.verify("alice@example.test", "alice-password ").await,
            Err(AuthError::Invalid)
        );
        // A new hash (the password was changed in mail.kdl) does not match the remembered one.
        let changed = Account {
            password_hash: HASH.replace("oGD", "xGD"),
            ..account.clone()
        };
        assert!(!d.verified.hit(&changed, "alice-password"));
    }

    #[test]
    fn bans_after_failures_within_the_window() {
        let b = Bans::new(3, Duration::from_secs(60), Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(!b.record_failure(ip));
        assert!(!b.record_failure(ip));
        assert!(!b.is_banned(ip));
        assert!(b.record_failure(ip));
        assert!(b.is_banned(ip));
        assert!(!b.is_banned("192.0.2.2".parse().unwrap()));
    }

    #[test]
    fn connection_limits_release_on_drop() {
        let l = ConnectionLimits::new(3, 2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = l.acquire("smtp", ip).unwrap();
        let _b = l.acquire("smtp", ip).unwrap();
        assert!(l.acquire("smtp", ip).is_none(), "per-IP limit");
        let _c = l.acquire("smtp", "192.0.2.2".parse().unwrap()).unwrap();
        assert!(
            l.acquire("smtp", "192.0.2.3".parse().unwrap()).is_none(),
            "total limit"
        );
        drop(a);
        assert!(l.acquire("smtp", ip).is_some());
    }

    #[test]
    fn a_full_listener_leaves_the_others_alone() {
        // Issue 10, case 7: strangers filling port 25 locked users out of IMAPS and /healthz.
        let l = ConnectionLimits::new(2, 2);
        let stranger: IpAddr = "192.0.2.1".parse().unwrap();
        let _held: Vec<_> = (0..2).map(|_| l.acquire("smtp", stranger).unwrap()).collect();
        assert!(l.acquire("smtp", "192.0.2.9".parse().unwrap()).is_none());
        assert!(l.acquire("imaps", stranger).is_some());
        assert!(l.acquire("http", "192.0.2.9".parse().unwrap()).is_some());
    }

    #[tokio::test]
    async fn bans_stop_sessions_opened_before_them() {
        // Issue 10, case 9: a session opened before the ban kept guessing, and the right
        // password still logged in on it.
        const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE";
        let account = Account {
            address: "alice@example.test".into(),
            password_hash: HASH.into(),
            disabled: false,
        };
        let d = Directory {
            accounts: HashMap::from([(account.address.clone(), account)]),
            alias_domains: HashMap::new(),
            verifications: Arc::new(Semaphore::new(1)),
            verified: VerifiedCache::new(),
        };
        let bans = Bans::new(5, Duration::from_secs(60), Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let (mut old_session, mut other) = (0, 0);
        // The long-open session fails twice, then another session from the address makes
        // the failures that ban it.
        for _ in 0..2 {
            assert_eq!(
                attempt_login(&d, &bans, ip, &mut old_session, "alice@example.test", "x").await,
                Login::Invalid { close: false }
            );
        }
        assert_eq!(
            attempt_login(&d, &bans, ip, &mut other, "alice@example.test", "x").await,
            Login::Invalid { close: false }
        );
        assert_eq!(
            attempt_login(&d, &bans, ip, &mut other, "alice@example.test", "x").await,
            Login::Invalid { close: false }
        );
        assert_eq!(
            attempt_login(&d, &bans, ip, &mut other, "alice@example.test", "x").await,
            Login::Invalid { close: true },
            "the failure that bans closes its session"
        );
        assert_eq!(
            attempt_login(
                &d,
                &bans,
                ip,
                &mut old_session,
                "alice@example.test",
                "alice-password"
            )
            .await,
            Login::Banned,
            "the right password on a session opened before the ban is refused"
        );
        assert_eq!(
            old_session, 2,
            "a refused attempt does not even reach the verifier"
        );
    }

    #[tokio::test]
    async fn sessions_get_three_attempts() {
        const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE";
        let account = Account {
            address: "alice@example.test".into(),
            password_hash: HASH.into(),
            disabled: false,
        };
        let d = Directory {
            accounts: HashMap::from([(account.address.clone(), account)]),
            alias_domains: HashMap::new(),
            verifications: Arc::new(Semaphore::new(1)),
            verified: VerifiedCache::new(),
        };
        let bans = Bans::new(100, Duration::from_secs(60), Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut n = 0;
        let mut closes = Vec::new();
        for _ in 0..MAX_FAILED_LOGINS_PER_SESSION {
            match attempt_login(&d, &bans, ip, &mut n, "alice@example.test", "wrong").await {
                Login::Invalid { close } => closes.push(close),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(closes, vec![false, false, true]);
    }
}
