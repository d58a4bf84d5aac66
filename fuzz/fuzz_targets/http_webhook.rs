//! The HTTP server in process (`yubin::http::serve`: request head and body reader, health,
//! the inbound webhook at `/in` with its bearer token): whatever the client sends, in whatever
//! pieces, the server neither panics nor hangs and answers with one well-formed response (or
//! drops the connection). The message-size limit is small (64 KiB), so the body limit, checked
//! after bare LFs become CRLFs, is reached often.
//!
//! Mode byte switches (see `yubin_fuzz::stream`): 1 = an `https` listener (past its TLS
//! handshake, which `accept_loop` does before `serve`: the request itself is not encrypted).
#![no_main]

use std::sync::Arc;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use yubin::http::HttpListener;
use yubin_fuzz::check;
use yubin_fuzz::fixture::{Fixture, Shared};
use yubin_fuzz::stream::{self, Mode};

static SERVER: Shared = Shared::new(|| Fixture::new("limits {\n    message-size \"64KiB\"\n}"), 500);

fuzz_target!(|input: &[u8]| {
    let Some(mode) = Mode::of(input) else { return };
    let tls = mode.on(0);
    let info = Arc::new(HttpListener {
        name: "fuzz".into(),
        started: Instant::now(),
        implicit_tls: tls,
    });
    let peer = stream::peer(false);
    let out = SERVER.with(|f| {
        let svc = f.services.clone();
        f.block_on(stream::drive(mode.chunks(), 256 * 1024, false, move |io| {
            yubin::http::serve(io, peer, info, svc)
        }))
    });
    check::http_response(&out);
});
