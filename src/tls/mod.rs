//! TLS for the listeners: rustls server configuration from the plan's certificate source,
//! TLS 1.2 as the floor. A self-signed certificate is generated once into the data folder and
//! reused across restarts (clients that pinned it keep working).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::plan::{CertificateSource, Plan};

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

/// Generates a self-signed certificate for `hostname` (and `localhost`) unless one exists.
pub fn ensure_self_signed(hostname: &str, chain: &Path, key: &Path) -> Result<(), TlsError> {
    if chain.exists() && key.exists() {
        return Ok(());
    }
    let names = vec![hostname.to_owned(), "localhost".to_owned()];
    let ck = rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(key, ck.signing_key.serialize_pem().as_bytes(), 0o600)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(chain, ck.cert.pem().as_bytes(), 0o644).map_err(|e| TlsError::Generate(e.to_string()))?;
    Ok(())
}

/// The rustls server configuration the plan asks for.
pub fn server_config(plan: &Plan) -> Result<Arc<ServerConfig>, TlsError> {
    let (certs, key) = match &plan.tls.source {
        CertificateSource::SelfSigned { chain, key } => {
            ensure_self_signed(&plan.hostname, Path::new(chain), Path::new(key))?;
            load(Path::new(chain), Path::new(key))?
        }
        CertificateSource::Files { chain, key } => load(Path::new(chain), Path::new(key))?,
        CertificateSource::Acme { .. } => {
            return Err(TlsError::Unsupported(
                "tls acme is not available in this version yet; use `certificate` or `self-signed`".into(),
            ));
        }
    };
    let versions: &[&'static rustls::SupportedProtocolVersion] = if plan.tls.min_version == "1.3" {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}
