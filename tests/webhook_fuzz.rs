//! Property tests: random bytes and mutated webhook requests, cut into random chunks, never
//! panic or hang the HTTP server, and every answer is a well-formed HTTP/1.1 response. A valid
//! request still delivers after all that.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use common::inproc::Fixture;
use proptest::prelude::*;

use yubin::http::HttpListener;

const TOKEN: &str = "fuzz-token";

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        // SAFETY: set once, before the runtime and any other thread of this test binary reads
        // the environment.
        unsafe { std::env::set_var("YUBIN_FUZZ_WEBHOOK_TOKEN", TOKEN) };
        common::inproc::fixture(
            "webhook-fuzz",
            "inbound-webhook path=\"/in\" {\n    token env=\"YUBIN_FUZZ_WEBHOOK_TOKEN\"\n}\n\
             limits {\n    message-size \"64KiB\"\n}\n",
            None,
        )
    })
}

/// Serves one connection fed with `chunks` from `peer`; returns what the server wrote.
fn run(chunks: Vec<Vec<u8>>, peer: SocketAddr) -> Vec<u8> {
    let f = fixture();
    let info = Arc::new(HttpListener {
        name: "http".into(),
        started: Instant::now(),
        implicit_tls: false,
    });
    let svc = f.services.clone();
    f.rt.block_on(common::inproc::drive(chunks, 256 * 1024, move |server| {
        yubin::http::serve(server, peer, info, svc)
    }))
}

fn valid_request(subject: &str) -> Vec<u8> {
    let body = format!("From: x@elsewhere.example\r\nSubject: {subject}\r\n\r\nhello\r\n");
    format!(
        "POST /in HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: message/rfc822\r\n\
         Mail-From: <x@elsewhere.example>\r\nRcpt-To: alice@example.test\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn chunked(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(data[last..p].to_vec());
        last = p;
    }
    out.push(data[last..].to_vec());
    out
}

fn well_formed(out: &[u8]) -> bool {
    out.is_empty()
        || (out.starts_with(b"HTTP/1.1 ")
            && out.windows(4).any(|w| w == b"\r\n\r\n")
            && out[9..12].iter().all(u8::is_ascii_digit))
}

fn peer(n: u32) -> SocketAddr {
    SocketAddr::from(([10, (n >> 16) as u8, (n >> 8) as u8, n as u8], 4242))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                cuts in proptest::collection::vec(any::<usize>(), 0..10),
                                ip in any::<u32>()) {
        let out = run(chunked(&data, &cuts), peer(ip));
        prop_assert!(well_formed(&out), "{}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn mutated_requests_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
                                    cut in any::<usize>(),
                                    cuts in proptest::collection::vec(any::<usize>(), 0..10),
                                    ip in any::<u32>()) {
        let mut data = valid_request("mutated");
        for (at, byte) in flips {
            let at = at % data.len();
            data[at] = byte;
        }
        // Sometimes the request is cut short as well.
        if cut % 3 == 0 {
            data.truncate(cut % (data.len() + 1));
        }
        let out = run(chunked(&data, &cuts), peer(ip));
        prop_assert!(well_formed(&out), "{}", String::from_utf8_lossy(&out));
    }
}

#[test]
fn a_valid_request_delivers() {
    let out = run(vec![valid_request("valid")], peer(7));
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\"accepted\":[\"alice@example.test\"]"), "{text}");
}
