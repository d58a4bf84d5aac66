//! The configuration reader (`yubin::config::parse`: the nesting pre-scan, the patched KDL
//! parser, decoding, checks), called from a 2 MiB thread like the blocking thread that reloads
//! the configuration on SIGHUP (the parser itself runs on a thread of its own): any text
//! yields a configuration or diagnostics, and a configuration that passes compiles into a plan.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use yubin_fuzz::stack::on_server_stack;

fn base() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| yubin_fuzz::fixture::scratch("config"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let base = base().clone();
    on_server_stack(move || {
        let outcome = yubin::config::parse(Path::new("fuzz.kdl"), &text, &base);
        let _ = outcome.counts();
        if let Some(config) = &outcome.config {
            let _ = yubin::plan::compile(config);
        }
    });
});
