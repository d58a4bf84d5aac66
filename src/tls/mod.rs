//! TLS for the listeners: rustls server configuration from the plan's certificate source,
//! TLS 1.2 as the floor. A self-signed certificate is generated once into the data folder and
//! reused across restarts (clients that pinned it keep working).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::plan::{CertificateSource, Plan};

pub mod acme;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or parsed.
    #[error("cannot load {path}: {reason}")]
    Load {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The self-signed certificate could not be generated or stored.
    #[error("cannot create the self-signed certificate: {0}")]
    Generate(String),
    /// The certificate source is not available in this version.
    #[error("{0}")]
    Unsupported(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn load(
    chain: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let err = |p: &Path, reason: String| TlsError::Load {
        path: p.display().to_string(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(chain)
        .map_err(|e| err(chain, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(chain, e.to_string()))?;
    if certs.is_empty() {
        return Err(err(chain, "no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| err(key, e.to_string()))?;
    Ok((certs, key))
}

fn write_private(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        crate::mailbox::maildir::fsync_dir(dir)?;
    }
    Ok(())
}

/// Generates a self-signed certificate for `hostname` (and `localhost`) unless a matching
/// pair exists.
pub fn ensure_self_signed(hostname: &str, chain: &Path, key: &Path) -> Result<(), TlsError> {
    if chain.exists() && key.exists() && load(chain, key).is_ok_and(|(c, k)| certified_key(c, k).is_ok()) {
        return Ok(());
    }
    let names = vec![hostname.to_owned(), "localhost".to_owned()];
    let ck = rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(key, ck.signing_key.serialize_pem().as_bytes(), 0o600)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(chain, ck.cert.pem().as_bytes(), 0o644).map_err(|e| TlsError::Generate(e.to_string()))?;
    Ok(())
}

/// The certificate the listeners present, swapped at run time (ACME renewals).
#[derive(Debug)]
pub struct LiveCert(RwLock<Arc<CertifiedKey>>);

impl LiveCert {
    /// Presents `key` from the next handshake on.
    pub fn set(&self, key: Arc<CertifiedKey>) {
        if let Ok(mut k) = self.0.write() {
            *k = key;
        }
    }
}

impl ResolvesServerCert for LiveCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|k| k.clone())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A chain and its key, ready for rustls.
pub fn certified_key(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let signing = provider().key_provider.load_private_key(key)?;
    let ck = CertifiedKey::new(certs, signing);
    // A key and chain out of step (a crash between their writes) must not be served.
    ck.keys_match()?;
    Ok(Arc::new(ck))
}

/// Reads one DER element at `at`: (tag, content start, content end).
fn der_element(der: &[u8], at: usize) -> Option<(u8, usize, usize)> {
    let tag = *der.get(at)?;
    let first = *der.get(at + 1)? as usize;
    let (len, start) = if first < 0x80 {
        (first, at + 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *der.get(at + 2 + i)? as usize;
        }
        (len, at + 2 + n)
    };
    let end = start.checked_add(len)?;
    (end <= der.len()).then_some((tag, start, end))
}

fn der_time(tag: u8, text: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = s.get(..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| -> Option<u32> { rest.get(r)?.parse().ok() };
    let (mo, d, h, mi, se) = (num(0..2)?, num(2..4)?, num(4..6)?, num(6..8)?, num(8..10)?);
    Some(crate::time::days_from_civil(year, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + se))
}

/// A certificate's validity (notAfter, notBefore) in Unix seconds, read from its DER.
pub fn not_after_and_before(der: &[u8]) -> Option<(i64, i64)> {
    let (_, cert, _) = der_element(der, 0)?;
    let (_, tbs, _) = der_element(der, cert)?;
    let mut at = tbs;
    // Optional [0] version, then serialNumber, signature, issuer, validity.
    let (tag, _, end) = der_element(der, at)?;
    if tag == 0xa0 {
        at = end;
    }
    for _ in 0..3 {
        at = der_element(der, at)?.2;
    }
    let (tag, validity, _) = der_element(der, at)?;
    if tag != 0x30 {
        return None;
    }
    let (t1, s1, e1) = der_element(der, validity)?;
    let (t2, s2, e2) = der_element(der, e1)?;
    Some((der_time(t2, &der[s2..e2])?, der_time(t1, &der[s1..e1])?))
}

/// The rustls server configuration the plan asks for, and the handle that swaps its
/// certificate. For ACME this is the cached certificate, or the self-signed one until the first
/// is issued.
pub fn server_config(plan: &Plan) -> Result<(Arc<ServerConfig>, Arc<LiveCert>), TlsError> {
    let (certs, key) = match &plan.tls.source {
        CertificateSource::SelfSigned { chain, key } => {
            ensure_self_signed(&plan.hostname, Path::new(chain), Path::new(key))?;
            load(Path::new(chain), Path::new(key))?
        }
        CertificateSource::Files { chain, key } => load(Path::new(chain), Path::new(key))?,
        CertificateSource::Acme { cache_dir, .. } => {
            let cache = Path::new(cache_dir);
            match load(&acme::Acme::chain_path(cache), &acme::Acme::key_path(cache))
                .and_then(|(c, k)| certified_key(c.clone(), k.clone_key()).map(|_| (c, k)))
            {
                Ok(k) => k,
                Err(_) => {
                    let dir = cache.parent().unwrap_or(cache);
                    let (chain, key) = (dir.join("self-signed.pem"), dir.join("self-signed.key"));
                    ensure_self_signed(&plan.hostname, &chain, &key)?;
                    load(&chain, &key)?
                }
            }
        }
    };
    let versions: &[&'static rustls::SupportedProtocolVersion] = if plan.tls.min_version == "1.3" {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let live = Arc::new(LiveCert(RwLock::new(certified_key(certs, key)?)));
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_cert_resolver(live.clone());
    Ok((Arc::new(config), live))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_of_a_generated_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["mx.example.test".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2026, 1, 2);
        params.not_after = rcgen::date_time_ymd(2051, 3, 4);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (after, before) = not_after_and_before(cert.der()).unwrap();
        assert_eq!(crate::time::rfc3339_utc(before), "2026-01-02T00:00:00Z");
        assert_eq!(crate::time::rfc3339_utc(after), "2051-03-04T00:00:00Z");
        assert!(not_after_and_before(b"garbage").is_none());
        assert!(not_after_and_before(&cert.der()[..40]).is_none());
    }
}
