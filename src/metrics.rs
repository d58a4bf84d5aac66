//! Counters and a latency histogram for `GET /metrics`, named by the Prometheus conventions
//! (`_total` for counters, base units, `_seconds` histograms with `_bucket{le=…}`, `_sum`,
//! `_count`). One process-wide registry of atomics: counting costs an atomic add, and the
//! modules that count need no handle passed around.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the SMTP transaction histogram, in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A counter with one label.
#[derive(Default)]
struct Labelled(Mutex<BTreeMap<String, u64>>);

impl Labelled {
    fn add(&self, label: &str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(label.to_owned()).or_default() += 1;
        }
    }

    fn render(&self, out: &mut String, name: &str, label: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        if let Ok(m) = self.0.lock() {
            for (value, n) in m.iter() {
                let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
            }
        }
    }
}

/// The registry.
#[derive(Default)]
struct Registry {
    received: Labelled,
    outbound: Labelled,
    tls: Labelled,
    auth_failures: Labelled,
    bans: AtomicU64,
    smtp_buckets: [AtomicU64; BUCKETS.len()],
    smtp_count: AtomicU64,
    smtp_sum_micros: AtomicU64,
}

fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// A message taken in on `listener` (`smtp`, `submission`, `https` for the webhook, ...).
pub fn message_received(listener: &str) {
    registry().received.add(listener);
}

/// An outbound delivery attempt's result for one recipient: `delivered`, `deferred`,
/// `bounced`.
pub fn outbound(result: &str) {
    registry().outbound.add(result);
}

/// A completed TLS handshake (`TLSv1_3`, `TLSv1_2`).
pub fn tls_handshake(version: &str) {
    registry().tls.add(version);
}

/// A failed login on `protocol` (`smtp`, `imap`, `pop3`, ...).
pub fn auth_failure(protocol: &str) {
    registry().auth_failures.add(protocol);
}

/// A ban that started.
pub fn ban() {
    registry().bans.fetch_add(1, Ordering::Relaxed);
}

/// How long an SMTP transaction took, from MAIL FROM to the final reply.
pub fn smtp_transaction(took: Duration) {
    let r = registry();
    let secs = took.as_secs_f64();
    for (i, le) in BUCKETS.iter().enumerate() {
        if secs <= *le {
            r.smtp_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }
    r.smtp_count.fetch_add(1, Ordering::Relaxed);
    r.smtp_sum_micros.fetch_add(
        took.as_micros().min(u128::from(u64::MAX)) as u64,
        Ordering::Relaxed,
    );
}

/// The counters and the histogram in the Prometheus text format.
pub fn render() -> String {
    let r = registry();
    let mut out = String::new();
    r.received.render(
        &mut out,
        "yubin_messages_received_total",
        "listener",
        "Messages accepted, by listener.",
    );
    r.outbound.render(
        &mut out,
        "yubin_outbound_results_total",
        "result",
        "Outbound delivery attempts per recipient, by result.",
    );
    r.tls.render(
        &mut out,
        "yubin_tls_handshakes_total",
        "version",
        "Completed TLS handshakes, by protocol version.",
    );
    r.auth_failures.render(
        &mut out,
        "yubin_auth_failures_total",
        "protocol",
        "Failed logins, by protocol.",
    );
    let _ = writeln!(
        out,
        "# HELP yubin_bans_total Client addresses banned after failed logins.\n# TYPE yubin_bans_total counter\nyubin_bans_total {}",
        r.bans.load(Ordering::Relaxed)
    );
    let name = "yubin_smtp_transaction_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} SMTP transactions, MAIL FROM to the final reply.\n# TYPE {name} histogram"
    );
    for (i, le) in BUCKETS.iter().enumerate() {
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"{le}\"}} {}",
            r.smtp_buckets[i].load(Ordering::Relaxed)
        );
    }
    let count = r.smtp_count.load(Ordering::Relaxed);
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let sum = r.smtp_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_buckets_render_in_the_text_format() {
        message_received("unit-test-listener");
        message_received("unit-test-listener");
        smtp_transaction(Duration::from_millis(30));
        let text = render();
        assert!(
            text.contains("yubin_messages_received_total{listener=\"unit-test-listener\"} 2"),
            "{text}"
        );
        assert!(text.contains("# TYPE yubin_smtp_transaction_seconds histogram"));
        // 30 ms: not in the 25 ms bucket, in the 50 ms one and every one above.
        let bucket = |le: &str| {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(&format!("yubin_smtp_transaction_seconds_bucket{{le=\"{le}\"}} "))
                })
                .and_then(|n| n.parse::<u64>().ok())
                .expect("bucket")
        };
        assert!(bucket("0.05") >= 1 && bucket("+Inf") >= bucket("0.05") && bucket("0.05") >= bucket("0.025"));
    }
}
