//! `yubin serve FILE` / `yubin serve --plan plan.json`.

use std::path::Path;

use super::{EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE};
use crate::plan::Plan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    // rustls warns about every client that sends an IP address as SNI (RFC 6066 forbids it;
    // mail clients connecting by address do it): not worth a line per connection.
    let filter = EnvFilter::try_from_env("YUBIN_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,rustls::msgs::handshake=error"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(false).init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
    }
}

fn load_plan(config: Option<&Path>, plan: Option<&Path>) -> Result<(Plan, Vec<String>), u8> {
    if let Some(path) = plan {
        let bytes = std::fs::read(path).map_err(|e| {
            eprintln!("error: cannot read {}: {e}", path.display());
            EXIT_UNREADABLE
        })?;
        let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| {
            eprintln!("error: {} is not a yubin plan: {e}", path.display());
            EXIT_INVALID
        })?;
        if plan.format != crate::plan::FORMAT {
            eprintln!(
                "error: plan format {} is not supported (this yubin reads {})",
                plan.format,
                crate::plan::FORMAT
            );
            return Err(EXIT_INVALID);
        }
        return Ok((plan, Vec::new()));
    }
    match config {
        Some(file) => super::plan::compile_file_noting(file),
        None => {
            eprintln!("error: give a configuration file or --plan");
            Err(EXIT_UNREADABLE)
        }
    }
}

/// The glibc setting `serve` runs with (see [`fixed_mmap_threshold`]).
const MALLOC_TUNABLE: &str = "glibc.malloc.mmap_threshold=131072";

/// Restarts this process (same PID, same arguments) with glibc's mmap threshold fixed at
/// 128 KiB, unless it already is. glibc raises the threshold after a large block is freed, so
/// the ~20 MiB each argon2 verification needs would afterwards come from its per-thread
/// arenas and stay resident there: a few hundred logins of different users left 120 MiB
/// behind in measurements here. With the threshold fixed, such blocks are mapped and unmapped.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fixed_mmap_threshold() {
    use std::os::unix::process::CommandExt;
    let current = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    if current.contains("glibc.malloc.mmap_threshold") {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let tunables = if current.is_empty() {
        MALLOC_TUNABLE.to_owned()
    } else {
        format!("{current}:{MALLOC_TUNABLE}")
    };
    // `exec` returns only when it failed; then yubin runs with glibc's defaults.
    let _ = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", tunables)
        .exec();
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fixed_mmap_threshold() {}

/// Runs the daemon.
pub fn run(config: Option<&Path>, plan_file: Option<&Path>, log_format: LogFormat) -> u8 {
    fixed_mmap_threshold();
    let (plan, warnings) = match load_plan(config, plan_file) {
        Ok(p) => p,
        Err(code) => return code,
    };
    init_logging(log_format);
    // What `yubin validate` would warn about, once at start.
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return EXIT_INVALID;
        }
    };
    let source = match (config, plan_file) {
        (_, Some(p)) => crate::runtime::reload::Source::Plan(p.to_path_buf()),
        (Some(c), None) => crate::runtime::reload::Source::Config(c.to_path_buf()),
        (None, None) => return EXIT_UNREADABLE,
    };
    let options = crate::runtime::Options {
        reload: Some(source),
        ..crate::runtime::Options::default()
    };
    match runtime.block_on(crate::runtime::serve(plan, options)) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            // Logging goes to stderr already: said once.
            tracing::error!("{e}");
            EXIT_INVALID
        }
    }
}
