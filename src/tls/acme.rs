//! Certificates from an ACME CA (RFC 8555) with instant-acme: the account and the issued chain
//! are kept under `<data>/tls/acme`; HTTP-01 challenges are answered on their own small
//! listener (only `/.well-known/acme-challenge/<token>`); a task renews the certificate when a
//! third of its lifetime (at most 30 days) is left and swaps it into the running listeners.
//! Until the first certificate arrives the listeners serve the self-signed one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder,
    OrderStatus, RetryPolicy,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::{LiveCert, TlsError, certified_key, load, not_after_and_before, write_private};
use crate::http::request::{Reader, response};

/// The longest one order may take, from account to stored certificate.
const ORDER_DEADLINE: Duration = Duration::from_secs(300);
/// Challenge connections served at once.
const MAX_CHALLENGE_CONNECTIONS: usize = 64;

/// Tokens and key authorizations being validated.
type Challenges = Arc<Mutex<HashMap<String, String>>>;

/// The ACME client of one server.
#[derive(Debug, Clone)]
pub struct Acme {
    hostname: String,
    email: String,
    directory: String,
    ca_file: Option<PathBuf>,
    cache: PathBuf,
    live: Arc<LiveCert>,
    challenges: Challenges,
}

impl Acme {
    /// A client for `hostname` that swaps new certificates into `live`.
    pub fn new(
        hostname: &str,
        email: &str,
        directory: &str,
        ca_file: Option<&str>,
        cache: &Path,
        live: Arc<LiveCert>,
    ) -> Acme {
        Acme {
            hostname: hostname.to_owned(),
            email: email.to_owned(),
            directory: directory.to_owned(),
            ca_file: ca_file.map(PathBuf::from),
            cache: cache.to_path_buf(),
            live,
            challenges: Arc::default(),
        }
    }

    /// The issued chain, in the cache.
    pub fn chain_path(cache: &Path) -> PathBuf {
        cache.join("cert.pem")
    }

    /// The issued certificate's key, in the cache.
    pub fn key_path(cache: &Path) -> PathBuf {
        cache.join("key.pem")
    }

    /// Answers HTTP-01 challenges on `listener` until shutdown.
    pub async fn serve_challenges(&self, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CHALLENGE_CONNECTIONS));
        loop {
            let (stream, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(s) => s,
                    Err(e) => {
                        warn!(error = %e, "acme: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = shutdown.changed() => return,
            };
            // Port 80 faces the Internet: a bounded number of connections, each short.
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                drop(stream);
                continue;
            };
            let challenges = self.challenges.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let mut reader = Reader::new(stream, Duration::from_secs(5));
                let Ok(Ok(req)) = tokio::time::timeout(Duration::from_secs(10), reader.head()).await else {
                    return;
                };
                let answer = req
                    .path
                    .strip_prefix("/.well-known/acme-challenge/")
                    .filter(|_| req.method == "GET" || req.method == "HEAD")
                    .and_then(|token| challenges.lock().ok()?.get(token).cloned());
                debug!(%peer, path = %req.path, found = answer.is_some(), "acme: challenge request");
                let reply = match answer {
                    Some(key_auth) => response(200, "application/octet-stream", &[], &key_auth),
                    None => response(404, "text/plain", &[], "not found\n"),
                };
                let _ = reader.get_mut().write_all(reply.as_bytes()).await;
                let _ = reader.get_mut().shutdown().await;
            });
        }
    }

    /// When the cached certificate should be renewed (Unix seconds); `None` when there is none.
    fn renew_at(&self) -> Option<i64> {
        let (certs, _) = load(&Self::chain_path(&self.cache), &Self::key_path(&self.cache)).ok()?;
        let (not_after, not_before) = not_after_and_before(certs.first()?.as_ref())?;
        let margin = ((not_after - not_before) / 3).min(30 * 86_400);
        Some(not_after - margin)
    }

    /// Obtains and renews the certificate until shutdown.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_secs(30);
        loop {
            let now = crate::time::now_secs();
            let wait = match self.renew_at() {
                Some(at) if at > now => Duration::from_secs(((at - now) as u64).min(12 * 3600)),
                _ => Duration::ZERO,
            };
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
            info!(hostname = %self.hostname, directory = %self.directory, "acme: ordering a certificate");
            let result = match tokio::time::timeout(ORDER_DEADLINE, self.obtain()).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {ORDER_DEADLINE:?}")),
            };
            match result {
                Ok(not_after) => {
                    info!(
                        hostname = %self.hostname,
                        not_after = %crate::time::rfc3339_utc(not_after),
                        "acme: certificate obtained"
                    );
                    backoff = Duration::from_secs(30);
                    // Never order again at once, whatever the clock says about the new one.
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
                Err(e) => {
                    warn!(error = %e, retry_in = ?backoff, "acme: no certificate");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(6 * 3600));
                }
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    async fn account(&self) -> Result<Account, String> {
        let builder = || match &self.ca_file {
            Some(ca) => Account::builder_with_root(ca),
            None => Account::builder(),
        };
        let saved = self.cache.join("account.json");
        if let Ok(text) = std::fs::read(&saved)
            && let Ok(creds) = serde_json::from_slice::<AccountCredentials>(&text)
        {
            return builder()
                .map_err(|e| e.to_string())?
                .from_credentials(creds)
                .await
                .map_err(|e| format!("loading the account: {e}"));
        }
        let contact = format!("mailto:{}", self.email);
        let (account, creds) = builder()
            .map_err(|e| e.to_string())?
            .create(
                &NewAccount {
                    contact: &[&contact],
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.directory.clone(),
                None,
            )
            .await
            .map_err(|e| format!("creating the account: {e}"))?;
        let json = serde_json::to_vec(&creds).map_err(|e| e.to_string())?;
        write_private(&saved, &json, 0o600).map_err(|e| format!("saving the account: {e}"))?;
        info!(id = %account.id(), "acme: account created");
        Ok(account)
    }

    /// One order: HTTP-01 for `hostname`, finalize, download, store, swap. The new
    /// certificate's expiry.
    async fn obtain(&self) -> Result<i64, String> {
        let account = self.account().await?;
        let ids = [Identifier::Dns(self.hostname.clone())];
        let mut order = account
            .new_order(&NewOrder::new(&ids))
            .await
            .map_err(|e| format!("new order: {e}"))?;
        let mut tokens = Vec::new();
        {
            let mut authzs = order.authorizations();
            while let Some(a) = authzs.next().await {
                let mut authz = a.map_err(|e| format!("authorization: {e}"))?;
                match authz.status {
                    AuthorizationStatus::Pending => {}
                    AuthorizationStatus::Valid => continue,
                    other => return Err(format!("authorization is {other:?}")),
                }
                let mut challenge = authz
                    .challenge(ChallengeType::Http01)
                    .ok_or("the CA offers no http-01 challenge")?;
                let token = challenge.token.clone();
                let key_auth = challenge.key_authorization().as_str().to_owned();
                if let Ok(mut map) = self.challenges.lock() {
                    map.insert(token.clone(), key_auth);
                }
                tokens.push(token);
                challenge
                    .set_ready()
                    .await
                    .map_err(|e| format!("challenge: {e}"))?;
            }
        }
        let retry = RetryPolicy::new().timeout(Duration::from_secs(90));
        let status = order.poll_ready(&retry).await;
        if let Ok(mut map) = self.challenges.lock() {
            for t in &tokens {
                map.remove(t);
            }
        }
        let status = status.map_err(|e| format!("validation: {e}"))?;
        if status != OrderStatus::Ready {
            return Err(format!("the order is {status:?}, not ready"));
        }
        let key_pem = order.finalize().await.map_err(|e| format!("finalize: {e}"))?;
        let chain_pem = order
            .poll_certificate(&retry)
            .await
            .map_err(|e| format!("certificate: {e}"))?;
        // Check the pair before it replaces the working one; both files are written aside and
        // renamed one after the other (a crash between the renames leaves a pair that does
        // not match, which the next start detects and replaces by ordering again).
        let (chain, key) = (Self::chain_path(&self.cache), Self::key_path(&self.cache));
        let (new_chain, new_key) = (self.cache.join("cert.pem.new"), self.cache.join("key.pem.new"));
        write_private(&new_key, key_pem.as_bytes(), 0o600).map_err(|e| format!("saving the key: {e}"))?;
        write_private(&new_chain, chain_pem.as_bytes(), 0o644)
            .map_err(|e| format!("saving the chain: {e}"))?;
        let (certs, key_der) = load(&new_chain, &new_key).map_err(|e: TlsError| e.to_string())?;
        let certified = certified_key(certs.clone(), key_der).map_err(|e| e.to_string())?;
        std::fs::rename(&new_key, &key).map_err(|e| format!("saving the key: {e}"))?;
        std::fs::rename(&new_chain, &chain).map_err(|e| format!("saving the chain: {e}"))?;
        crate::mailbox::maildir::fsync_dir(&self.cache).map_err(|e| e.to_string())?;
        let (not_after, _) = certs
            .first()
            .and_then(|c| not_after_and_before(c.as_ref()))
            .ok_or("the issued certificate cannot be read")?;
        self.live.set(certified);
        Ok(not_after)
    }
}
