//! The inbound webhook, driven by curl (a real HTTP client) over `https` (verifying yubin's
//! certificate) and `http`: delivery to local addresses only, per-recipient results, CRLF
//! normalisation, chunked bodies and `Expect: 100-continue`, Idempotency-Key replays, the size
//! limit, quota, DMARC `p=reject` and SPF from `Client-Ip` against a real DNS server (dnsmasq),
//! malformed requests, wrong tokens feeding the ban, and kill -9 while Python posts over HTTPS:
//! every post answered 200 is stored exactly once.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::server::{Yubin, free_port, have, read, standard_config};

const TOKEN: &str = "s3cret-token-for-tests";

struct Hook {
    y: Yubin,
    http: u16,
    https: u16,
}

fn start() -> Hook {
    let (http, https) = (free_port(), free_port());
    let config = standard_config(
        "inbound-webhook path=\"/inbound\" {\n    token env=\"YUBIN_TEST_WEBHOOK_TOKEN\"\n}\n\
         limits {\n    message-size \"256KiB\"\n    auth-failures 3 within=\"10m\" ban=\"1h\"\n}\n",
    )
    .replace(
        "    submissions \"127.0.0.1:{SUBMISSIONS}\"\n",
        &format!(
            "    submissions \"127.0.0.1:{{SUBMISSIONS}}\"\n    http \"127.0.0.1:{http}\"\n    https \"127.0.0.1:{https}\"\n"
        ),
    );
    assert!(config.contains("https \""));
    let dns = [
        "--txt-record=_dmarc.spoof.example,v=DMARC1; p=reject".to_owned(),
        "--txt-record=good.example,v=spf1 ip4:192.0.2.7 -all".to_owned(),
    ];
    let y = Yubin::start_full(&config, &[("YUBIN_TEST_WEBHOOK_TOKEN", TOKEN)], &dns);
    // The HTTPS listener is up once it answers /healthz.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", https)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "https listener did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Hook { y, http, https }
}

/// What curl saw: status code, response headers and body.
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Hook {
    /// POSTs `message` over HTTPS with curl, verifying yubin's self-signed certificate.
    fn post(&self, message: &[u8], headers: &[&str]) -> Answer {
        self.curl(true, message, headers)
    }

    fn curl(&self, tls: bool, message: &[u8], headers: &[&str]) -> Answer {
        let body = self.y.dir.join(&format!("body-{}", free_port()));
        std::fs::write(&body, message).unwrap();
        let head = self.y.dir.join("headers.out");
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "20", "-o", "-", "-D"]).arg(&head);
        if tls {
            let port = self.https;
            cmd.arg("--cacert")
                .arg(self.y.data.join("tls/self-signed.pem"))
                .args(["--resolve", &format!("mx.example.test:{port}:127.0.0.1")])
                .arg(format!("https://mx.example.test:{port}/inbound"));
        } else {
            cmd.arg(format!("http://127.0.0.1:{}/inbound", self.http));
        }
        cmd.arg("--data-binary").arg(format!("@{}", body.display()));
        let mut has_type = false;
        for h in headers {
            has_type |= h.to_ascii_lowercase().starts_with("content-type:");
            cmd.args(["-H", h]);
        }
        if !has_type {
            cmd.args(["-H", "Content-Type: message/rfc822"]);
        }
        let out = cmd.output().expect("run curl");
        assert!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let headers = read(&head);
        // With 100-continue the interim response comes first; the last status line counts.
        let status = headers
            .lines()
            .rfind(|l| l.starts_with("HTTP/"))
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&out.stdout).into_owned(),
        }
    }
}

fn auth() -> String {
    format!("Authorization: Bearer {TOKEN}")
}

fn message(subject: &str, from: &str) -> Vec<u8> {
    // LF line endings on purpose: edge workers often hand these over.
    format!(
        "From: Sender <{from}>\nTo: alice@example.test\nSubject: {subject}\nDate: Sun, 22 Nov 2026 12:00:00 +0000\nMessage-ID: <{subject}@test>\n\nBody of {subject}.\n"
    )
    .into_bytes()
}

fn raw(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(request).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn webhook_delivers_local_mail_over_https() {
    if !have("curl") || !have("dnsmasq") {
        return;
    }
    let h = start();
    let auth = auth();

    // Two local recipients (one an alias of alice and bob), one unknown, one remote.
    let a = h.post(
        &message("first", "someone@elsewhere.example"),
        &[
            &auth,
            "Mail-From: <someone@elsewhere.example>",
            "Rcpt-To: <alice@example.test>, team@example.test",
            "Rcpt-To: nobody@example.test",
            "Rcpt-To: stranger@remote.example",
        ],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        v["accepted"],
        serde_json::json!(["alice@example.test", "team@example.test"])
    );
    let rejected = v["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{}", a.body);
    assert_eq!(rejected[0]["recipient"], "nobody@example.test");
    assert_eq!(rejected[0]["reason"], "no such user");
    assert_eq!(rejected[1]["temporary"], false);
    let id = v["id"].as_str().unwrap().to_owned();

    // One copy each (alice is both a direct and an alias recipient), CRLF throughout, stamped.
    let alice = h.y.messages("alice@example.test");
    assert_eq!(alice.len(), 1, "{alice:?}");
    assert_eq!(h.y.messages("bob@example.test").len(), 1);
    let m = &alice[0];
    assert!(
        m.starts_with("Return-Path: <someone@elsewhere.example>\r\n"),
        "{m}"
    );
    assert!(m.contains("Authentication-Results: mx.example.test"), "{m}");
    assert!(m.contains(&format!("with HTTPS id {id}")), "{m}");
    assert!(
        m.contains("\r\nSubject: first\r\n") && m.ends_with("\r\n\r\nBody of first.\r\n"),
        "{m}"
    );
    assert!(!m.replace("\r\n", "").contains('\n'), "bare LF left in {m:?}");

    // A retry with the same Idempotency-Key gets the first answer and no second copy.
    let headers = [
        auth.as_str(),
        "Mail-From: <>",
        "Rcpt-To: alice@example.test",
        "Idempotency-Key: alice@example.test <retried@test>",
    ];
    let first = h.post(&message("retried", "mailer-daemon@elsewhere.example"), &headers);
    assert_eq!(first.status, 200, "{}", first.body);
    let again = h.post(&message("retried", "mailer-daemon@elsewhere.example"), &headers);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body, first.body);
    assert!(
        again.headers.contains("Idempotent-Replayed: true"),
        "{}",
        again.headers
    );
    assert_eq!(h.y.messages("alice@example.test").len(), 2);
    assert!(
        h.y.messages("alice@example.test")
            .iter()
            .any(|m| m.starts_with("Return-Path: <>\r\n"))
    );

    // Chunked upload with Expect: 100-continue, on the plain http listener.
    let chunked = h.curl(
        false,
        &message("chunked", "x@elsewhere.example"),
        &[
            &auth,
            "Mail-From: x@elsewhere.example",
            "Rcpt-To: dave@catchall.test",
            "Transfer-Encoding: chunked",
            "Expect: 100-continue",
        ],
    );
    assert_eq!(chunked.status, 200, "{}", chunked.body);
    assert!(chunked.headers.contains("100 Continue"), "{}", chunked.headers);
    let dave = h.y.messages("dave@catchall.test");
    assert!(dave[0].contains("with HTTP id"), "{}", dave[0]);

    // Nobody local: 422, nothing stored.
    let none = h.post(
        &message("none", "x@elsewhere.example"),
        &[
            &auth,
            "Mail-From: x@elsewhere.example",
            "Rcpt-To: stranger@remote.example",
        ],
    );
    assert_eq!(none.status, 422, "{}", none.body);

    // Bob's 20 KiB quota: a 30 KiB message is refused temporarily (503) when he is the only
    // recipient, and bob is skipped while alice still gets it.
    let mut big = message("big", "x@elsewhere.example");
    big.extend(std::iter::repeat_n(b'x', 30 * 1024));
    big.extend_from_slice(b"\n");
    let full = h.post(
        &big,
        &[
            &auth,
            "Mail-From: x@elsewhere.example",
            "Rcpt-To: bob@example.test",
        ],
    );
    assert_eq!(full.status, 503, "{}", full.body);
    assert!(full.body.contains("\"mailbox full\""), "{}", full.body);

    // Over the 256 KiB limit: 413 before anything is stored.
    let mut huge = message("huge", "x@elsewhere.example");
    huge.extend(std::iter::repeat_n(b'y', 300 * 1024));
    let too_big = h.post(
        &huge,
        &[
            &auth,
            "Mail-From: x@elsewhere.example",
            "Rcpt-To: alice@example.test",
        ],
    );
    assert_eq!(too_big.status, 413, "{}", too_big.body);
    // Issue 10, case 14: under the limit as sent, over it once every bare LF is a CRLF
    // (1,040,000 LFs under a 1 MiB limit were stored as 2 MB). Here: 200 KiB of LFs.
    let mut lfs = message("lfs", "x@elsewhere.example");
    lfs.extend(std::iter::repeat_n(b'\n', 200 * 1024));
    assert!(lfs.len() < 256 * 1024);
    let before = h.y.messages("alice@example.test").len();
    let expanded = h.post(
        &lfs,
        &[
            &auth,
            "Mail-From: x@elsewhere.example",
            "Rcpt-To: alice@example.test",
        ],
    );
    assert_eq!(expanded.status, 413, "{}", expanded.body);
    assert_eq!(h.y.messages("alice@example.test").len(), before, "nothing stored");

    // DMARC p=reject for an unsigned spoof: 422, nothing stored.
    let spoof = h.post(
        &message("spoof", "ceo@spoof.example"),
        &[
            &auth,
            "Mail-From: ceo@spoof.example",
            "Rcpt-To: alice@example.test",
        ],
    );
    assert_eq!(spoof.status, 422, "{}", spoof.body);
    assert!(spoof.body.contains("DMARC"), "{}", spoof.body);

    // SPF is checked when the edge says where the mail came from.
    let spf = h.post(
        &message("spf", "news@good.example"),
        &[
            &auth,
            "Mail-From: news@good.example",
            "Rcpt-To: alice@example.test",
            "Client-Ip: 192.0.2.7",
            "Client-Helo: mta.good.example",
        ],
    );
    assert_eq!(spf.status, 200, "{}", spf.body);
    assert!(spf.body.contains("spf=pass"), "{}", spf.body);
    let alice = h.y.messages("alice@example.test");
    assert_eq!(alice.len(), 3, "{alice:?}");
    assert!(
        alice
            .iter()
            .any(|m| m.contains("spf=pass") && m.contains("Subject: spf"))
    );

    // /metrics is not served on https; /healthz is.
    assert_eq!(h.curl_get("/metrics"), 404);
    assert_eq!(h.curl_get("/healthz"), 200);
    h.y.wait_log("webhook message", 5);
}

impl Hook {
    fn curl_get(&self, path: &str) -> u16 {
        let port = self.https;
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(self.y.data.join("tls/self-signed.pem"))
            .args(["--resolve", &format!("mx.example.test:{port}:127.0.0.1")])
            .arg(format!("https://mx.example.test:{port}{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
    }
}

#[test]
fn webhook_refuses_bad_requests_and_bans_wrong_tokens() {
    if !have("curl") || !have("dnsmasq") {
        return;
    }
    let h = start();
    let auth = auth();
    let msg = message("bad", "x@elsewhere.example");
    let env = ["Mail-From: x@elsewhere.example", "Rcpt-To: alice@example.test"];

    let cases: Vec<(Vec<&str>, u16)> = vec![
        (vec![&auth, "Content-Type: text/plain", env[0], env[1]], 415),
        (vec![&auth, env[1]], 400), // no Mail-From
        (vec![&auth, env[0]], 400), // no Rcpt-To
        (vec![&auth, "Mail-From: not an address", env[1]], 400),
        (vec![&auth, env[0], env[1], "Client-Ip: 999.1.1.1"], 400),
        (vec![&auth, env[0], env[1], "Idempotency-Key: ключ"], 400),
    ];
    for (headers, status) in cases {
        let a = h.post(&msg, &headers);
        assert_eq!(a.status, status, "{headers:?}: {}", a.body);
        assert!(a.body.contains("\"error\""), "{}", a.body);
    }
    // Not a message, and a bare CR.
    let a = h.post(b"just some text\n", &[&auth, env[0], env[1]]);
    assert_eq!(a.status, 400, "{}", a.body);
    let a = h.post(b"Subject: x\r\n\r\nbare\rCR\r\n", &[&auth, env[0], env[1]]);
    assert_eq!(a.status, 400, "{}", a.body);

    // Malformed HTTP, by hand: answered with 4xx, never a hang or a crash.
    let http = h.http;
    let bad: &[&[u8]] = &[
        b"POST /inbound HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /inbound HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"POST /inbound HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: message/rfc822\r\n",
    ];
    for req in bad {
        let mut with_auth = req.to_vec();
        if let Some(p) = with_auth.windows(2).position(|w| w == b"\r\n") {
            with_auth.splice(p + 2..p + 2, format!("{auth}\r\nMail-From: <>\r\nRcpt-To: alice@example.test\r\nContent-Type: message/rfc822\r\n").into_bytes());
        }
        let answer = raw(http, &with_auth);
        assert!(
            answer.starts_with("HTTP/1.1 4") || answer.is_empty(),
            "{}: {answer}",
            String::from_utf8_lossy(req)
        );
    }
    let a = raw(
        http,
        format!("PUT /inbound HTTP/1.1\r\n{auth}\r\n\r\n").as_bytes(),
    );
    assert!(a.starts_with("HTTP/1.1 405"), "{a}");
    assert_eq!(h.y.messages("alice@example.test").len(), 0);

    // Wrong tokens: 401 three times, then the address is banned (429) for wrong tokens; the
    // right token still gets through (edge routers share their addresses).
    for _ in 0..3 {
        let a = h.post(&msg, &["Authorization: Bearer wrong", env[0], env[1]]);
        assert_eq!(a.status, 401, "{}", a.body);
        assert!(a.headers.contains("WWW-Authenticate: Bearer"), "{}", a.headers);
    }
    let a = h.post(&msg, &["Authorization: Bearer wrong-again", env[0], env[1]]);
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(h.y.messages("alice@example.test").len(), 0);
    let a = h.post(&msg, &[&auth, env[0], env[1]]);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(h.y.messages("alice@example.test").len(), 1);
    h.y.wait_log("webhook: missing or wrong token", 5);
}

const POSTER: &str = r#"
import http.client, ssl, sys, threading, random, json
port = int(sys.argv[1]); ca = sys.argv[2]; token = sys.argv[3]; out = sys.argv[4]; threads = int(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False  # the certificate names mx.example.test; the chain is still verified
lock = threading.Lock(); acked = open(out, 'w')
def body(t, n):
    rnd = random.Random(t * 100000 + n)
    lines = ['Message-ID: <hook-%d-%d@crash.test>' % (t, n), 'Subject: hook %d %d' % (t, n), '']
    for i in range(rnd.randint(10, 80)):
        lines.append(''.join(rnd.choice('abcdefghij .') for _ in range(rnd.randint(0, 70))))
    return ('\r\n'.join(lines) + '\r\n').encode()
def worker(t):
    n = 0
    while True:
        try:
            c = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=30)
            msg = body(t, n)
            c.request('POST', '/inbound', body=msg, headers={
                'Authorization': 'Bearer ' + token, 'Content-Type': 'message/rfc822',
                'Mail-From': '<sender@remote.example>', 'Rcpt-To': 'alice@example.test'})
            r = c.getresponse(); answer = r.read()
            if r.status != 200:
                return
            with lock:
                acked.write(json.dumps({'id': 'hook-%d-%d' % (t, n), 'body': msg.decode()}) + '\n'); acked.flush()
            n += 1
        except Exception:
            return
ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
acked.close()
"#;

#[test]
fn kill_9_while_posting_loses_nothing_acknowledged() {
    if !have("curl") || !have("dnsmasq") {
        return;
    }
    let mut h = start();
    let acks = h.y.dir.join("acked.jsonl");
    let poster = {
        let port = h.https.to_string();
        let ca = h.y.data.join("tls/self-signed.pem").display().to_string();
        let acks = acks.display().to_string();
        std::thread::spawn(move || common::server::python(POSTER, &[&port, &ca, TOKEN, &acks, "8"]))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let acked = std::fs::read_to_string(&acks)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if acked >= 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "posting did not start: {acked} acked\n{}",
            h.y.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    h.y.kill9();
    let (code, out) = poster.join().unwrap();
    assert_eq!(code, 0, "{out}");
    h.y.spawn(&[("YUBIN_TEST_WEBHOOK_TOKEN", TOKEN)]);

    let stored = h.y.messages("alice@example.test");
    let mut problems = Vec::new();
    let acked: Vec<serde_json::Value> = std::fs::read_to_string(&acks)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    for a in &acked {
        let id = a["id"].as_str().unwrap();
        let sent = a["body"].as_str().unwrap();
        let copies: Vec<&String> = stored.iter().filter(|m| m.contains(&format!("<{id}@"))).collect();
        match copies.as_slice() {
            [one] if one.ends_with(sent) => {}
            [_] => problems.push(format!("{id}: content differs")),
            [] => problems.push(format!("{id}: LOST")),
            many => problems.push(format!("{id}: {} copies", many.len())),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} acknowledged posts wrong:\n{}",
        problems.len(),
        acked.len(),
        problems.join("\n")
    );
    eprintln!(
        "webhook crash test: {} acknowledged posts all present once",
        acked.len()
    );
}
