//! A POP3 session in process (`yubin::pop3::session::serve`) on alice's maildrop holding the
//! sample messages: whatever the client sends, the session neither panics nor hangs, greets
//! with +OK and ends its output on a whole line.
//!
//! Mode byte switches (see `yubin_fuzz::stream`): 1 = implicit TLS (port 995, where USER/PASS
//! and AUTH are allowed), 2 = a client in the trusted network.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use yubin::pop3::Pop3Listener;
use yubin_fuzz::check;
use yubin_fuzz::fixture::{Fixture, Shared};
use yubin_fuzz::stream::{self, Mode};

static SERVER: Shared = Shared::new(|| Fixture::new("").with_mail(), 300);

fuzz_target!(|input: &[u8]| {
    let Some(mode) = Mode::of(input) else { return };
    let tls = mode.on(0);
    let listener = Arc::new(Pop3Listener {
        name: "fuzz".into(),
        implicit_tls: tls,
    });
    let peer = stream::peer(mode.on(1));
    let out = SERVER.with(|f| {
        let svc = f.services.clone();
        f.block_on(stream::drive(mode.chunks(), 64 * 1024, tls, move |io| {
            yubin::pop3::session::serve(io, peer, listener, svc)
        }))
    });
    check::pop3_responses(&out);
});
