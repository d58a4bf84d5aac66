//! `yubin init` (issue 13): writes a production mail.kdl for a domain and its first account
//! that validates without a warning, generates the DKIM key and prints the DNS records; the
//! account logs in with the printed password on the server that file describes.

mod common;

use common::server::{Yubin, free_port, have, python};
use common::{TempDir, run};

fn init(dir: &TempDir, extra: &[&str]) -> std::process::Output {
    let out = dir.join("mail.kdl");
    let data = dir.join("data");
    let mut args = vec![
        "init",
        "--hostname",
        "mail.example.test",
        "--domain",
        "example.test",
        "--listen",
        "127.0.0.1",
        "--output",
        out.to_str().expect("path"),
        "--data",
        data.to_str().expect("path"),
    ];
    args.extend_from_slice(extra);
    run(&args, None)
}

#[test]
fn init_writes_a_config_that_validates_serves_and_logs_the_account_in() {
    let dir = TempDir::new("init");
    let out = init(&dir, &["--admin", "Ada@example.test"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("the password is printed")
        .trim()
        .to_owned();
    assert_eq!(password.len(), 20);
    assert!(
        text.contains("._domainkey.example.test.") && text.contains("k=ed25519"),
        "{text}"
    );
    assert!(
        text.contains("_dmarc.example.test.") && text.contains("\tMX\t10 mail.example.test."),
        "{text}"
    );

    let file = dir.join("mail.kdl");
    let v = run(
        &["validate", "--deny-warnings", file.to_str().expect("path")],
        None,
    );
    assert_eq!(v.status.code(), Some(0), "{}", String::from_utf8_lossy(&v.stderr));

    // Nothing is overwritten unless asked, and the account belongs to the domain.
    let again = init(&dir, &["--admin", "ada@example.test"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let other = TempDir::new("init");
    let wrong = init(&other, &["--admin", "ada@elsewhere.test"]);
    assert_eq!(wrong.status.code(), Some(1));

    // Served as written (only the ports moved to free ones): the account logs in over IMAPS.
    if !have("python3") {
        return;
    }
    let config = std::fs::read_to_string(&file)
        .expect("config")
        .replace("127.0.0.1:25\"", "127.0.0.1:{SMTP}\"")
        .replace("127.0.0.1:587\"", "127.0.0.1:{SUBMISSION}\"")
        .replace("127.0.0.1:465\"", "127.0.0.1:{SUBMISSIONS}\"")
        .replace("127.0.0.1:993\"", "127.0.0.1:{IMAPS}\"")
        .replace("127.0.0.1:995\"", "127.0.0.1:{POP3S}\"")
        .replace("127.0.0.1:8080\"", &format!("127.0.0.1:{}\"", free_port()));
    let y = Yubin::start(&config);
    let script = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login("ada@example.test", sys.argv[2])
print(m.select("INBOX"))
m.logout()
"#;
    let (code, said) = python(script, &[&y.ports.imaps.to_string(), &password]);
    assert_eq!(code, 0, "{said}\n{}", y.log());
}
