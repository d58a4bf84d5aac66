//! Config pipeline speed: a generated 10,000-user, 1,000-domain config (about 1.3 MB) and a
//! 100-user one, through KDL parsing alone, validation (parse + decode + checks), compilation
//! to the plan, and canonical JSON. Run with `cargo bench --bench config`.
//! Targets (issue #2): big config validated and compiled in under 1 s, 100 users under 50 ms.

use std::path::Path;
use std::time::{Duration, Instant};

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE";

fn generate(domains: usize, users_per_domain: usize) -> String {
    let mut s = String::from("hostname \"mail.example.com\"\n\n");
    s.push_str("listen {\n    smtp \"0.0.0.0:25\"\n    submission \"0.0.0.0:587\"\n    imaps \"0.0.0.0:993\"\n    http \"127.0.0.1:8080\"\n}\n\n");
    for d in 0..domains {
        s.push_str(&format!(
            "domain \"d{d}.example.com\" {{\n    dkim selector=\"s1\"\n    dmarc policy=\"reject\"\n"
        ));
        for u in 0..users_per_domain {
            s.push_str(&format!("    user \"user{u}\" password-hash=\"{HASH}\""));
            if u % 10 == 0 {
                s.push_str(" quota=\"1GiB\"");
            }
            if u % 10 == 5 {
                s.push_str(&format!(" alias=\"alias{u}\""));
            }
            s.push('\n');
        }
        s.push_str("    alias \"postmaster\" to=\"user0\"\n    alias \"team\" to=\"user1\"\n}\n");
    }
    s.push_str("\nlimits {\n    message-size \"25MiB\"\n}\n");
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(f());
        samples.push(start.elapsed());
    }
    median(samples)
}

fn ms(d: Duration) -> String {
    format!("{:8.2} ms", d.as_secs_f64() * 1000.0)
}

fn report(label: &str, text: &str, runs: usize, target: Duration) {
    let path = Path::new("bench.kdl");
    let base = Path::new("/tmp");
    let outcome = yubin::config::parse(path, text, base);
    assert!(
        outcome.config.is_some(),
        "generated config must be valid: {:?}",
        outcome.diagnostics.first()
    );
    let cfg = outcome.config.expect("valid");
    let plan = yubin::plan::compile(&cfg);

    let kdl = time(runs, || text.parse::<kdl::KdlDocument>().expect("kdl"));
    let validate = time(runs, || yubin::config::parse(path, text, base));
    let compile = time(runs, || yubin::plan::compile(&cfg));
    let json = time(runs, || plan.to_canonical_json());
    let total = time(runs, || {
        let o = yubin::config::parse(path, text, base);
        yubin::plan::compile(o.config.as_ref().expect("valid")).to_canonical_json()
    });
    println!(
        "{label}: {} bytes, {} mailboxes, {} routes",
        text.len(),
        plan.mailboxes.len(),
        plan.routes.len()
    );
    println!("  kdl parse only          {}", ms(kdl));
    println!("  validate (parse+checks) {}", ms(validate));
    println!("  compile to plan         {}", ms(compile));
    println!("  plan to canonical JSON  {}", ms(json));
    println!(
        "  validate+compile+JSON   {}   target < {} ms: {}",
        ms(total),
        target.as_millis(),
        if total < target { "met" } else { "MISSED" }
    );
    println!(
        "  yubin's own share       {} ({:.0}% of the total is the kdl crate)",
        ms(total.saturating_sub(kdl)),
        100.0 * kdl.as_secs_f64() / total.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a single quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 1 } else { 7 };
    report(
        "small (1 domain, 100 users)",
        &generate(1, 100),
        runs * 3,
        Duration::from_millis(50),
    );
    report(
        "large (1,000 domains, 10,000 users)",
        &generate(1000, 10),
        runs,
        Duration::from_secs(1),
    );
}
