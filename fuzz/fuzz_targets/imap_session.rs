//! An IMAP session in process (`yubin::imap::session`), before login or logged in as alice
//! with the sample messages in INBOX and Archive: whatever the client sends, in whatever
//! pieces, the session neither panics nor hangs, and every response is well formed.
//!
//! Mode byte switches (see `yubin_fuzz::stream`): 1 = pre-authenticated as alice (PREAUTH
//! greeting), 2 = implicit TLS (port 993, where LOGIN is allowed).
#![no_main]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use yubin::imap::ImapListener;
use yubin_fuzz::check;
use yubin_fuzz::fixture::{Fixture, Shared};
use yubin_fuzz::stream::{self, Mode};

static SERVER: Shared = Shared::new(
    || Fixture::new("limits {\n    message-size \"64KiB\"\n}").with_mail(),
    300,
);

fuzz_target!(|input: &[u8]| {
    let Some(mode) = Mode::of(input) else { return };
    let (preauth, tls) = (mode.on(0), mode.on(1));
    let listener = Arc::new(ImapListener {
        name: "fuzz".into(),
        implicit_tls: tls,
    });
    let peer = stream::peer(false);
    let out = SERVER.with(|f| {
        let svc = f.services.clone();
        f.block_on(stream::drive(mode.chunks(), 64 * 1024, tls, move |io| {
            let session: Pin<Box<dyn Future<Output = ()> + Send>> = if preauth {
                let user = "alice@example.test".to_owned();
                Box::pin(yubin::imap::session::serve_preauth(io, peer, listener, svc, user))
            } else {
                Box::pin(yubin::imap::session::serve(io, peer, listener, svc))
            };
            session
        }))
    });
    check::imap_responses(&out);
});
