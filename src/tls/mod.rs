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

/// The SHA-256 fingerprint of a DER certificate, as `AB:CD:…` (what `openssl x509
/// -fingerprint -sha256` and mail clients' certificate dialogs show).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// How long a self-signed certificate is valid: 825 days, the longest that Apple's clients
/// accept for a server certificate.
const SELF_SIGNED_DAYS: i64 = 825;

/// Whether an existing self-signed certificate still serves: valid for at least 30 more days
/// and naming `hostname`.
fn self_signed_fits(der: &[u8], hostname: &str) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let fresh = cert.validity().not_after.timestamp() > now + 30 * 86_400;
    let named = cert.subject_alternative_name().ok().flatten().is_some_and(|san| {
        san.value.general_names.iter().any(|n| {
            matches!(n, x509_parser::extensions::GeneralName::DNSName(d) if d.eq_ignore_ascii_case(hostname))
        })
    });
    fresh && named
}

/// Generates a self-signed certificate unless a fitting one exists: issued to `hostname`
/// (subject CN and SAN), `localhost`, and the addresses `ips` (the listeners' own, with
/// 127.0.0.1 and ::1), valid from yesterday for [`SELF_SIGNED_DAYS`]. A certificate about to
/// expire, or made for another host name, is replaced.
pub fn ensure_self_signed(
    hostname: &str,
    ips: &[std::net::IpAddr],
    chain: &Path,
    key: &Path,
) -> Result<(), TlsError> {
    if chain.exists()
        && key.exists()
        && load(chain, key).is_ok_and(|(c, k)| {
            c.first().is_some_and(|leaf| self_signed_fits(leaf, hostname)) && certified_key(c, k).is_ok()
        })
    {
        return Ok(());
    }
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut params =
        rcgen::CertificateParams::new(vec![hostname.to_owned(), "localhost".to_owned()]).map_err(generate)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname);
    let mut all_ips: Vec<std::net::IpAddr> =
        vec![[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
    for ip in ips.iter().filter(|ip| !ip.is_unspecified()) {
        if !all_ips.contains(ip) {
            all_ips.push(*ip);
        }
    }
    params
        .subject_alt_names
        .extend(all_ips.into_iter().map(rcgen::SanType::IpAddress));
    let today = crate::time::now_secs() / 86_400;
    // Midnight UTC of a day counted from 1970-01-01.
    let ymd = |days: i64| {
        let (y, m, d) = crate::time::civil_from_days(days);
        rcgen::date_time_ymd(y as i32, m as u8, d as u8)
    };
    params.not_before = ymd(today - 1);
    params.not_after = ymd(today + SELF_SIGNED_DAYS);
    let signing = rcgen::KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&signing).map_err(generate)?;
    write_private(key, signing.serialize_pem().as_bytes(), 0o600)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(chain, cert.pem().as_bytes(), 0o644).map_err(|e| TlsError::Generate(e.to_string()))?;
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

/// A certificate's validity (notAfter, notBefore) in Unix seconds (x509-parser reads the DER).
pub fn not_after_and_before(der: &[u8]) -> Option<(i64, i64)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let v = cert.validity();
    Some((v.not_after.timestamp(), v.not_before.timestamp()))
}

/// The IP addresses the plan's listeners bind.
fn listener_ips(plan: &Plan) -> Vec<std::net::IpAddr> {
    plan.listeners
        .values()
        .flat_map(|l| l.addresses.iter())
        .filter_map(|a| a.parse::<std::net::SocketAddr>().ok())
        .map(|a| a.ip())
        .collect()
}

/// Logs the self-signed certificate's fingerprint, for users to compare with what their mail
/// program shows before they trust it.
fn announce_self_signed(certs: &[rustls::pki_types::CertificateDer<'static>]) {
    if let Some(leaf) = certs.first() {
        tracing::info!(
            sha256 = %fingerprint(leaf),
            "serving a self-signed certificate; mail programs will ask to trust it: compare this fingerprint"
        );
    }
}

/// The rustls server configuration the plan asks for, and the handle that swaps its
/// certificate. For ACME this is the cached certificate, or the self-signed one until the first
/// is issued.
pub fn server_config(plan: &Plan) -> Result<(Arc<ServerConfig>, Arc<LiveCert>), TlsError> {
    let (certs, key) = match &plan.tls.source {
        CertificateSource::SelfSigned { chain, key } => {
            ensure_self_signed(
                &plan.hostname,
                &listener_ips(plan),
                Path::new(chain),
                Path::new(key),
            )?;
            let (certs, key) = load(Path::new(chain), Path::new(key))?;
            announce_self_signed(&certs);
            (certs, key)
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
                    ensure_self_signed(&plan.hostname, &listener_ips(plan), &chain, &key)?;
                    let (certs, key) = load(&chain, &key)?;
                    announce_self_signed(&certs);
                    (certs, key)
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

    fn sans(der: &[u8]) -> Vec<String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).expect("parses");
        let san = cert.subject_alternative_name().expect("ok").expect("has SANs");
        san.value.general_names.iter().map(|n| n.to_string()).collect()
    }

    /// Issue 13: the self-signed certificate said CN "rcgen self signed cert", 1975–4096, no
    /// IP addresses; mail programs warned that the name did not match.
    #[test]
    fn the_self_signed_certificate_names_the_host_and_its_addresses() {
        let dir = std::env::temp_dir().join(format!("yubin-self-signed-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        let (chain, key) = (dir.join("c.pem"), dir.join("k.pem"));
        let ips: Vec<std::net::IpAddr> =
            vec!["0.0.0.0".parse().expect("ip"), "192.0.2.7".parse().expect("ip")];
        ensure_self_signed("mail.example.test", &ips, &chain, &key).expect("made");
        let (certs, _) = load(&chain, &key).expect("loads");
        let der = certs[0].as_ref();
        let (_, cert) = x509_parser::parse_x509_certificate(der).expect("parses");
        assert_eq!(cert.subject().to_string(), "CN=mail.example.test");
        let names = sans(der);
        // x509-parser shows IP addresses as hex bytes.
        let loopback6 = "IPAddress(00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:01)";
        for want in [
            "DNSName(mail.example.test)",
            "DNSName(localhost)",
            "IPAddress(7f:00:00:01)",
            loopback6,
            "IPAddress(c0:00:02:07)",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
        assert_eq!(names.len(), 5, "not 0.0.0.0: {names:?}");
        let (after, before) = not_after_and_before(der).expect("validity");
        let now = crate::time::now_secs();
        assert!(before <= now && now - before < 2 * 86_400, "from yesterday");
        assert!((after - now) / 86_400 <= SELF_SIGNED_DAYS && (after - now) / 86_400 >= SELF_SIGNED_DAYS - 1);
        assert_eq!(fingerprint(der).len(), 95);

        // Kept while it fits; made again for another host name.
        ensure_self_signed("mail.example.test", &ips, &chain, &key).expect("kept");
        assert_eq!(load(&chain, &key).expect("loads").0[0].as_ref(), der);
        ensure_self_signed("mx.other.test", &ips, &chain, &key).expect("made again");
        let again = load(&chain, &key).expect("loads").0;
        assert!(sans(again[0].as_ref()).contains(&"DNSName(mx.other.test)".to_owned()));
        let _ = fs::remove_dir_all(&dir);
    }
}
