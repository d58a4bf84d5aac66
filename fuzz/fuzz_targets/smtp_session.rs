//! An SMTP session in process (`yubin::smtp::session::serve`), DATA and BDAT included, bodies
//! past 256 KiB spooled to disk: whatever the client sends, in whatever pieces, the session
//! neither panics nor hangs, and every reply line is well formed.
//!
//! Mode byte switches (see `yubin_fuzz::stream`): 1 = submission listener (else MX), 2 = a
//! client in the trusted network, 4 = implicit TLS (port 465).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use yubin::plan::SmtpRole;
use yubin::smtp::ListenerInfo;
use yubin_fuzz::check;
use yubin_fuzz::fixture::{Fixture, Shared};
use yubin_fuzz::stream::{self, Mode};

static SERVER: Shared = Shared::new(|| Fixture::new("limits {\n    message-size \"512KiB\"\n}"), 500);

fuzz_target!(|input: &[u8]| {
    let Some(mode) = Mode::of(input) else { return };
    let tls = mode.on(2);
    let listener = Arc::new(ListenerInfo {
        name: "fuzz".into(),
        role: if mode.on(0) {
            SmtpRole::Submission
        } else {
            SmtpRole::Mx
        },
        implicit_tls: tls,
    });
    let peer = stream::peer(mode.on(1));
    let out = SERVER.with(|f| {
        let svc = f.services.clone();
        f.block_on(stream::drive(mode.chunks(), 64 * 1024, tls, move |io| {
            yubin::smtp::session::serve(io, peer, listener, svc)
        }))
    });
    check::smtp_replies(&out);
});
