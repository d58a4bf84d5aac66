//! ACME against a real CA: pebble (with pebble-challtestsrv as its DNS, every name resolving to
//! 127.0.0.1) validates yubin's HTTP-01 answer for real. The listeners start on the self-signed
//! certificate, switch to the issued one without a restart (Python's ssl verifies the chain
//! against pebble's root), and a restart uses the cached certificate without a new order.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TempDir;
use common::server::{Yubin, free_port, have, python, standard_config};

struct Pebble {
    dir: TempDir,
    acme: u16,
    management: u16,
    children: Vec<Child>,
}

impl Pebble {
    /// Starts challtestsrv (DNS) and pebble validating HTTP-01 on `http_port`.
    fn start(http_port: u16) -> Pebble {
        let dir = TempDir::new("pebble");
        let d = std::fs::canonicalize(&dir.0).unwrap();
        // pebble's Debian package ships no listener certificate: make a CA and one for 127.0.0.1.
        let sh = format!(
            "set -e; cd {d}\n\
             openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj '/CN=test listener CA' \
               -keyout ca.key -out ca.pem -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null\n\
             openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=localhost' -keyout key.pem -out req.csr 2>/dev/null\n\
             printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext\n\
             openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -out cert.pem -extfile ext 2>/dev/null\n",
            d = d.display()
        );
        let st = Command::new("bash").arg("-c").arg(sh).status().unwrap();
        assert!(st.success(), "openssl");
        let (acme, management, dns, tls_port, dns_mgmt) =
            (free_port(), free_port(), free_port(), free_port(), free_port());
        std::fs::write(
            d.join("pebble.json"),
            format!(
                r#"{{"pebble": {{"listenAddress": "127.0.0.1:{acme}", "managementListenAddress": "127.0.0.1:{management}",
                  "certificate": "{d}/cert.pem", "privateKey": "{d}/key.pem", "httpPort": {http_port}, "tlsPort": {tls_port},
                  "ocspResponderURL": "", "externalAccountBindingRequired": false}}}}"#,
                d = d.display()
            ),
        )
        .unwrap();
        let log = |name: &str| std::fs::File::create(d.join(name)).unwrap();
        let dns_server = Command::new("pebble-challtestsrv")
            .args([
                "-dns01",
                &format!("127.0.0.1:{dns}"),
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
            ])
            .args(["-management", &format!("127.0.0.1:{dns_mgmt}")])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv");
        let pebble = Command::new("pebble")
            .args(["-config"])
            .arg(d.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log("pebble.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble");
        let p = Pebble {
            dir,
            acme,
            management,
            children: vec![dns_server, pebble],
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", acme)).is_err()
            || std::net::TcpStream::connect(("127.0.0.1", management)).is_err()
            || std::net::TcpStream::connect(("127.0.0.1", dns)).is_err()
        {
            assert!(Instant::now() < deadline, "pebble did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        p
    }

    fn ca(&self) -> String {
        std::fs::canonicalize(self.dir.join("ca.pem"))
            .unwrap()
            .display()
            .to_string()
    }

    /// The root that signs issued certificates (new at every pebble start).
    fn root(&self, to: &Path) {
        let out = Command::new("curl")
            .args(["-sS", "--cacert", &self.ca()])
            .arg(format!("https://127.0.0.1:{}/roots/0", self.management))
            .output()
            .unwrap();
        assert!(out.status.success());
        std::fs::write(to, out.stdout).unwrap();
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn handshake(port: u16, root: &Path) -> String {
    let script = format!(
        "import socket, ssl\nctx = ssl.create_default_context(cafile={root:?})\n\
         with socket.create_connection(('127.0.0.1', {port}), timeout=10) as s:\n    \
         try:\n        \
         with ctx.wrap_socket(s, server_hostname='mx.example.test') as t:\n            \
         print('VERIFIED', dict(x[0] for x in t.getpeercert()['issuer'])['commonName'])\n    \
         except ssl.SSLCertVerificationError as e:\n        \
         print('UNVERIFIED', e.verify_message)\n",
        root = root.display().to_string()
    );
    let (code, out) = python(&script, &[]);
    assert_eq!(code, 0, "{out}");
    out
}

#[test]
fn certificate_from_pebble_by_http_01() {
    if !have("pebble") || !have("pebble-challtestsrv") || !have("openssl") || !have("curl") {
        return;
    }
    let challenge = free_port();
    let pebble = Pebble::start(challenge);
    let config = standard_config("").replace(
        "storage {",
        &format!(
            "tls {{\n    acme email=\"hostmaster@example.test\" directory=\"https://127.0.0.1:{}/dir\" ca-file={:?} \
             http-challenge=\"127.0.0.1:{challenge}\"\n}}\nstorage {{",
            pebble.acme,
            pebble.ca()
        ),
    );
    let mut y = Yubin::start(&config);
    let root = y.dir.join("pebble-root.pem");
    pebble.root(&root);

    y.wait_log("acme: certificate obtained", 60);
    assert!(y.log().contains("acme: account created"), "{}", y.log());
    // The running listeners present the issued certificate, which chains to pebble's root.
    let out = handshake(y.ports.submissions, &root);
    assert!(
        out.contains("VERIFIED Pebble Intermediate CA"),
        "{out}\n{}",
        y.log()
    );
    assert_eq!(y.log().matches("acme: ordering a certificate").count(), 1);

    // After a restart the cached certificate is served at once and nothing is ordered.
    y.stop();
    y.spawn(&[]);
    let out = handshake(y.ports.submissions, &root);
    assert!(out.contains("VERIFIED Pebble Intermediate CA"), "{out}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        y.log().matches("acme: ordering a certificate").count(),
        1,
        "no second order:\n{}",
        y.log()
    );
    assert_eq!(
        std::fs::metadata(y.data.join("tls/acme/key.pem"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}
