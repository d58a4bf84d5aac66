//! DKIM keys and signing (RFC 6376; ed25519-sha256 per RFC 8463, rsa-sha256).
//!
//! Keys live under the data folder (`dkim/<domain>/<selector>.key`, PKCS#8 PEM, mode 0600)
//! unless the config names a `key-file`. A missing key is generated once; an existing key is
//! never replaced, so the DNS record stays valid across restarts and upgrades.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::Engine;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

use crate::plan::{DkimSigner as PlanSigner, Plan};

/// Headers signed; `From` is listed twice so a second From header cannot be added later
/// without breaking the signature (oversigning).
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
];

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
#[error("DKIM key {path}: {reason}")]
pub struct KeyError {
    /// The key file.
    pub path: String,
    /// What went wrong.
    pub reason: String,
}

enum Key {
    Ed25519(DkimSigner<Ed25519Key, Done>),
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
}

struct Selector {
    selector: String,
    key: Key,
    record: String,
}

/// Every signing key, by domain.
#[derive(Default)]
pub struct Signer {
    domains: HashMap<String, Vec<Selector>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("domains", &self.domains.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn write_key(path: &Path, pem: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("key.tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(pem.as_bytes())?;
    f.sync_all()?;
    // Never replace a key that appeared meanwhile: link fails if the name exists.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    linked?;
    if let Some(dir) = path.parent() {
        crate::mailbox::maildir::fsync_dir(dir)?;
    }
    Ok(())
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn generate(algorithm: &str) -> Result<Vec<u8>, String> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::KeySize;
    let size = match algorithm {
        "ed25519" => return Ed25519Key::generate_pkcs8().map_err(|e| e.to_string()),
        "rsa-2048" => KeySize::Rsa2048,
        "rsa-3072" => KeySize::Rsa3072,
        "rsa-4096" => KeySize::Rsa4096,
        other => return Err(format!("unknown algorithm {other}")),
    };
    let kp = aws_lc_rs::rsa::KeyPair::generate(size).map_err(|e| e.to_string())?;
    let der = kp.as_der().map_err(|e| e.to_string())?;
    Ok(der.as_ref().to_vec())
}

fn load(signer: &PlanSigner) -> Result<Selector, KeyError> {
    let path = Path::new(&signer.key_file);
    let err = |reason: String| KeyError {
        path: signer.key_file.clone(),
        reason,
    };
    if !path.exists() {
        if !signer.generate {
            return Err(err("the file does not exist".into()));
        }
        let der = generate(&signer.algorithm).map_err(err)?;
        write_key(path, &pem("PRIVATE KEY", &der))
            .or_else(|e| if path.exists() { Ok(()) } else { Err(e) })
            .map_err(|e| err(e.to_string()))?;
    }
    let key_der = PrivateKeyDer::from_pem_file(path).map_err(|e| err(e.to_string()))?;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let (key, record) = if signer.algorithm == "ed25519" {
        let PrivateKeyDer::Pkcs8(pkcs8) = &key_der else {
            return Err(err("an ed25519 key must be PKCS#8".into()));
        };
        let key = Ed25519Key::from_pkcs8_maybe_unchecked_der(pkcs8.secret_pkcs8_der())
            .map_err(|e| err(format!("not an ed25519 key: {e}")))?;
        let record = format!("v=DKIM1; k=ed25519; p={}", b64(&key.public_key()));
        let signer = DkimSigner::from_key(key)
            .domain(&signer.domain)
            .selector(&signer.selector)
            .headers(SIGNED_HEADERS.iter().copied())
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed);
        (Key::Ed25519(signer), record)
    } else {
        let spki = rsa_spki(&key_der).map_err(err)?;
        let key = RsaKey::<Sha256>::from_key_der(key_der).map_err(|e| err(format!("not an RSA key: {e}")))?;
        let signer = DkimSigner::from_key(key)
            .domain(&signer.domain)
            .selector(&signer.selector)
            .headers(SIGNED_HEADERS.iter().copied())
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed);
        (Key::Rsa(signer), format!("v=DKIM1; k=rsa; p={}", b64(&spki)))
    };
    Ok(Selector {
        selector: signer.selector.clone(),
        key,
        record,
    })
}

/// The SubjectPublicKeyInfo of an RSA private key, the form DKIM records publish.
fn rsa_spki(key: &PrivateKeyDer<'_>) -> Result<Vec<u8>, String> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair as _;
    let kp = match key {
        PrivateKeyDer::Pkcs8(k) => aws_lc_rs::rsa::KeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => aws_lc_rs::rsa::KeyPair::from_der(k.secret_pkcs1_der()),
        _ => return Err("unsupported RSA key format".into()),
    }
    .map_err(|e| format!("not an RSA key: {e}"))?;
    let spki = kp.public_key().as_der().map_err(|e| e.to_string())?;
    Ok(spki.as_ref().to_vec())
}

impl Signer {
    /// Loads every key of the plan, generating the missing ones it may generate.
    pub fn load(plan: &Plan) -> Result<Self, KeyError> {
        let mut domains: HashMap<String, Vec<Selector>> = HashMap::new();
        for s in plan.dkim.values() {
            domains.entry(s.domain.clone()).or_default().push(load(s)?);
        }
        Ok(Signer { domains })
    }

    /// True when `domain` has at least one key.
    pub fn signs_for(&self, domain: &str) -> bool {
        self.domains.contains_key(domain)
    }

    /// The DNS TXT records, as `(name, value)`: `sel._domainkey.domain`.
    pub fn records(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .domains
            .iter()
            .flat_map(|(d, sels)| {
                sels.iter()
                    .map(move |s| (format!("{}._domainkey.{d}", s.selector), s.record.clone()))
            })
            .collect();
        out.sort();
        out
    }

    /// Signs `message` with every key of `domain`; returns the `DKIM-Signature` headers to
    /// prepend (empty when the domain has no key).
    pub fn sign(&self, domain: &str, message: &[u8]) -> Result<String, String> {
        let Some(selectors) = self.domains.get(domain) else {
            return Ok(String::new());
        };
        let mut out = String::new();
        for s in selectors {
            let header = match &s.key {
                Key::Ed25519(k) => k.sign(message).map_err(|e| e.to_string())?.to_header(),
                Key::Rsa(k) => k.sign(message).map_err(|e| e.to_string())?.to_header(),
            };
            out.push_str(&header);
        }
        Ok(out)
    }
}

/// The domain of the (first) `From:` address of a message, lower-case ASCII.
pub fn from_domain(message: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse_headers(message)?;
    let from = parsed.from()?.first()?.address()?.to_owned();
    let (_, domain) = from.rsplit_once('@')?;
    crate::smtp::parse::domain(domain, true).ok()
}
