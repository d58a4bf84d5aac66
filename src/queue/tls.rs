//! TLS for outbound connections: opportunistic to MX hosts (RFC 7435: any certificate beats
//! plain text), and verified to a relay, where the admin may trust
//!
//! - the public CAs (Mozilla's roots),
//! - a private CA given in `ca-file`,
//! - the relay's own certificate given in `ca-file` (pinned: the usual `openssl req -x509`
//!   certificate of a self-run Postfix, which OpenSSL 3 marks `CA:TRUE` and webpki therefore
//!   refuses as an end-entity certificate), or
//! - a SHA-256 fingerprint of the relay's certificate (`tls-fingerprint "sha256:…"`).
//!
//! A pinned certificate is trusted as a key, whatever its names, extensions and dates, as a
//! DANE-EE TLSA record is (RFC 7672 §3.1.1): whoever holds its private key is the relay. With
//! fingerprints configured only they decide. When nothing matches, the error names the
//! certificate the relay presented (subject, issuer, fingerprint) and how to pin it.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

pub use crate::tls::fingerprint;

/// Who a certificate says it is and who issued it, for error messages.
fn describe(der: &[u8]) -> String {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => format!(
            "subject \"{}\", issuer \"{}\", valid until {}",
            cert.subject(),
            cert.issuer(),
            cert.validity().not_after
        ),
        Err(_) => "an unparsable certificate".to_owned(),
    }
}

/// A connector for opportunistic TLS (no certificate verification).
pub fn opportunistic_connector() -> TlsConnector {
    let p = provider();
    let config = rustls::ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .expect("default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier {
            trust: Trust::Any,
            provider: p,
        }))
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A connector for a relay: see the module documentation for what it trusts. `pins` are
/// SHA-256 digests of certificates.
pub fn verifying_connector(ca_file: Option<&Path>, pins: &[[u8; 32]]) -> Result<TlsConnector, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut pinned: Vec<[u8; 32]> = pins.to_vec();
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("{}: no certificate", path.display()));
        }
        for c in certs {
            // Each certificate is both a trust anchor (a private CA) and a pin (the relay's
            // own certificate); one that cannot be an anchor is still a pin.
            pinned.push(sha256(&c));
            let _ = roots.add(c);
        }
    }
    let p = provider();
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), p.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let verifier = Verifier {
        trust: Trust::Relay {
            webpki,
            pinned,
            only_pins: !pins.is_empty(),
        },
        provider: p.clone(),
    };
    let config = rustls::ClientConfig::builder_with_provider(p)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

fn sha256(der: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// What an outbound connection trusts.
#[derive(Debug)]
enum Trust {
    /// Any certificate: opportunistic TLS to MX hosts, where the alternative is plain text
    /// (RFC 7435).
    Any,
    /// A relay: pinned certificates first, then (unless fingerprints were configured) the CAs.
    Relay {
        webpki: Arc<WebPkiServerVerifier>,
        /// SHA-256 digests of trusted certificates.
        pinned: Vec<[u8; 32]>,
        /// `tls-fingerprint` given: no CA can vouch for another certificate.
        only_pins: bool,
    },
}

/// The certificate check of [`Trust`]; handshake signatures are checked whatever it is.
#[derive(Debug)]
struct Verifier {
    trust: Trust,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Trust::Relay {
            webpki,
            pinned,
            only_pins,
        } = &self.trust
        else {
            return Ok(ServerCertVerified::assertion());
        };
        if pinned.contains(&sha256(end_entity)) {
            return Ok(ServerCertVerified::assertion());
        }
        let why = if *only_pins {
            "its fingerprint matches no tls-fingerprint".to_owned()
        } else {
            match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
                Ok(v) => return Ok(v),
                Err(e) => e.to_string(),
            }
        };
        Err(rustls::Error::General(format!(
            "the relay's certificate is not trusted ({why}): {}, SHA-256 fingerprint {}; \
             if it is the relay's own certificate, pin it with `tls-fingerprint \"sha256:{}\"` \
             in `relay` or give the certificate (or its CA) in `ca-file`",
            describe(end_entity),
            fingerprint(end_entity),
            fingerprint(end_entity),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate as `openssl req -x509` makes it: CA:TRUE.
    fn self_signed(name: &str, ca: bool) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("params");
        if ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        let key = rcgen::KeyPair::generate().expect("key");
        params.self_signed(&key).expect("certificate").der().clone()
    }

    fn verifier(pinned: &[&CertificateDer<'_>], only_pins: bool) -> Verifier {
        let p = provider();
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Verifier {
            trust: Trust::Relay {
                webpki: WebPkiServerVerifier::builder_with_provider(Arc::new(roots), p.clone())
                    .build()
                    .expect("verifier"),
                pinned: pinned.iter().map(|c| sha256(c)).collect(),
                only_pins,
            },
            provider: p,
        }
    }

    fn check(v: &Verifier, cert: &CertificateDer<'_>, name: &str) -> Result<(), String> {
        let name = ServerName::try_from(name.to_owned()).expect("name");
        v.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_pinned_self_signed_ca_certificate_is_trusted_whatever_its_name() {
        let cert = self_signed("relay.example", true);
        assert_eq!(check(&verifier(&[&cert], false), &cert, "127.0.0.1"), Ok(()));
        assert_eq!(check(&verifier(&[&cert], true), &cert, "relay.example"), Ok(()));
    }

    #[test]
    fn an_unknown_certificate_is_refused_with_what_it_is_and_how_to_pin_it() {
        let cert = self_signed("relay.example", true);
        let other = self_signed("other.example", false);
        let err = check(&verifier(&[&other], false), &cert, "relay.example").expect_err("refused");
        let fp = fingerprint(&cert);
        assert!(err.contains(&format!("SHA-256 fingerprint {fp}")), "{err}");
        assert!(err.contains(&format!("tls-fingerprint \"sha256:{fp}\"")), "{err}");
        assert!(err.contains("issuer"), "{err}");
        let err = check(&verifier(&[&other], true), &cert, "relay.example").expect_err("refused");
        assert!(err.contains("matches no tls-fingerprint"), "{err}");
    }

    #[test]
    fn fingerprints_read_like_openssl_prints_them() {
        let fp = fingerprint(b"abc");
        assert!(fp.starts_with("BA:78:16:BF:8F:01:CF:EA"), "{fp}");
        assert_eq!(fp.len(), 32 * 3 - 1);
    }
}
