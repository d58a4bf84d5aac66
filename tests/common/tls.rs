//! Test certificates made with openssl.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// A CA (`ca.pem`) and a server certificate (`cert.pem`, `key.pem`) for localhost and
/// 127.0.0.1 signed by it, written into `dir`.
pub fn make_ca(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=yubin test relay CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "req.csr",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "req.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-out",
        "cert.pem",
        "-extfile",
        "ext.cnf",
    ]);
}

/// A self-signed certificate made the usual way, `openssl req -x509` with its default
/// extensions (OpenSSL 3 marks it `CA:TRUE`), for `cn`: `self.pem` and `self.key` in `dir`.
pub fn make_self_signed(dir: &Path, cn: &str) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj"])
        .arg(format!("/CN={cn}"))
        .args(["-keyout", "self.key", "-out", "self.pem"])
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl req -x509: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate for localhost signed by the CA of [`make_ca`] in `dir` that expired
/// yesterday: `expired.pem` and `expired.key` (python3-cryptography; openssl 3.0 cannot
/// back-date).
pub fn make_expired(dir: &Path) {
    let script = r#"
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
d = sys.argv[1]
ca_key = serialization.load_pem_private_key(open(d + "/ca.key", "rb").read(), None)
ca = x509.load_pem_x509_certificate(open(d + "/ca.pem", "rb").read())
key = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder()
    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
    .issuer_name(ca.subject)
    .public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=30))
    .not_valid_after(now - datetime.timedelta(days=1))
    .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    .sign(ca_key, hashes.SHA256()))
open(d + "/expired.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(d + "/expired.key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
"#;
    // Debian's python3-cryptography (.ci/install-packages), whatever python3 is first in PATH.
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(dir)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "expired certificate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The SHA-256 fingerprint of a PEM certificate as openssl prints it: `AB:CD:…`.
pub fn fingerprint(pem: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem)
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.trim().rsplit('=').next().unwrap_or_default().to_owned()
}
