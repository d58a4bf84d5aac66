//! In-process server state for the fuzz tests: the standard configuration prepared by
//! `runtime::prepare` (no listeners, no queue, no DNS checks) on its own runtime.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use yubin::smtp::{Services, Timeouts};

/// Services and the runtime they run on.
pub struct Fixture {
    /// The runtime sessions run on.
    pub rt: tokio::runtime::Runtime,
    /// What sessions share.
    pub services: Arc<Services>,
    _dir: super::TempDir,
}

/// Prepares the standard test configuration (plus an `http` listener) with `extra` appended.
pub fn fixture(name: &str, extra: &str, timeouts: Option<Timeouts>) -> Fixture {
    let dir = super::TempDir::new(name);
    let text = super::server::standard_config(extra)
        .replace("{SMTP}", "1")
        .replace("{SUBMISSION}", "2")
        .replace(
            "    submissions \"127.0.0.1:{SUBMISSIONS}\"\n",
            "    submissions \"127.0.0.1:3\"\n    http \"127.0.0.1:4\"\n",
        )
        .replace("{DNS}", "9");
    let base = std::fs::canonicalize(&dir.0).expect("dir");
    let outcome = yubin::config::parse(Path::new("fuzz.kdl"), &text, &base);
    let plan = yubin::plan::compile(outcome.config.as_ref().expect("valid config"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let options = yubin::runtime::Options {
        timeouts,
        message_checks: false,
        queue: false,
        reload: None,
    };
    let prepared = rt
        .block_on(yubin::runtime::prepare(&plan, options))
        .expect("prepare");
    // Keep the shutdown sender alive for the whole test binary.
    std::mem::forget(prepared.shutdown);
    Fixture {
        rt,
        services: prepared.services,
        _dir: dir,
    }
}

/// Feeds `chunks` to the session `serve` runs on one end of an in-memory pipe of `buffer`
/// bytes and returns everything it wrote. Panics when the session hangs or panics.
pub async fn drive<F>(
    chunks: Vec<Vec<u8>>,
    buffer: usize,
    serve: impl FnOnce(tokio::io::DuplexStream) -> F,
) -> Vec<u8>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (client, server) = tokio::io::duplex(buffer);
    let session = tokio::spawn(serve(server));
    let (mut rd, mut wr) = tokio::io::split(client);
    let writer = async move {
        for c in chunks {
            if wr.write_all(&c).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    };
    let reader = async move {
        let mut out = Vec::new();
        let _ = rd.read_to_end(&mut out).await;
        out
    };
    let out = tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(writer, reader).1 })
        .await
        .expect("session hung");
    let joined = tokio::time::timeout(Duration::from_secs(30), session)
        .await
        .expect("session did not end");
    assert!(joined.is_ok(), "session panicked: {joined:?}");
    out
}
