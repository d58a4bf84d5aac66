//! Hostile configuration files: each must be refused with a diagnostic, in bounded time,
//! never by a crash. `yubin validate` runs as a child process, so a stack overflow shows up
//! as a failed assertion (a signal instead of an exit status), not as a dead test harness.

mod common;

use std::time::{Duration, Instant};

use common::{TempDir, run};

const HEAD: &str = "hostname \"mail.example.com\"\n";

/// Runs `validate --format json` on `text`; returns the exit status and the diagnostic codes.
fn validate(dir: &TempDir, name: &str, text: &str) -> (Option<i32>, Vec<String>) {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    let path = path.to_str().expect("utf-8 path");
    let out = run(&["validate", "--format", "json", path], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let codes = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["code"].as_str().map(str::to_owned))
        .collect();
    (out.status.code(), codes)
}

fn assert_refused(dir: &TempDir, name: &str, text: &str, code: &str) {
    let (status, codes) = validate(dir, name, text);
    assert_eq!(status, Some(2), "{name}: exit status (None = killed by a signal)");
    assert!(
        codes.first().is_some_and(|c| c == code),
        "{name}: want {code} first, got {:?}",
        codes.iter().take(5).collect::<Vec<_>>()
    );
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    let dir = TempDir::new("hostile-deep");
    // Issue 10 item 4: 500 and 2,000 nested nodes, and `/-a {` × 20,000.
    let nested = |n: usize| format!("{HEAD}{}{}", "a {\n".repeat(n), "}\n".repeat(n));
    assert_refused(&dir, "500.kdl", &nested(500), "yubin::config::too_deep");
    assert_refused(
        &dir,
        "2000.kdl",
        &format!("{HEAD}{}{}", "a{".repeat(2000), "}".repeat(2000)),
        "yubin::config::too_deep",
    );
    assert_refused(
        &dir,
        "slashdash.kdl",
        &format!("{HEAD}{}", "/-a {".repeat(20_000)),
        "yubin::config::too_deep",
    );
    // 64 levels are still read (and refused for what they are: unknown nodes).
    let (status, codes) = validate(&dir, "64.kdl", &nested(64));
    assert_eq!(status, Some(1));
    assert_eq!(codes, ["yubin::config::unknown_node"]);
}

#[test]
fn the_too_deep_diagnostic_points_at_the_brace() {
    let dir = TempDir::new("hostile-where");
    let path = dir.join("deep.kdl");
    std::fs::write(&path, format!("{HEAD}{}", "a {\n".repeat(65))).expect("write");
    let out = run(
        &["validate", "--format", "short", path.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("deep.kdl:66:3: error[yubin::config::too_deep]"),
        "{err}"
    );
}

#[test]
fn inputs_that_made_the_kdl_parser_recurse_are_syntax_errors() {
    let dir = TempDir::new("hostile-kdl");
    // kdl 6.7.1 recursed once per stray token after an error, and once per piece of a
    // comment; vendor/kdl has both as loops.
    assert_refused(
        &dir,
        "stray-close.kdl",
        &format!("{HEAD}{}", "}".repeat(100_000)),
        "yubin::config::syntax",
    );
    assert_refused(
        &dir,
        "equals.kdl",
        &format!("{HEAD}{}", "==".repeat(50_000)),
        "yubin::config::syntax",
    );
    assert_refused(
        &dir,
        "unterminated.kdl",
        &format!("{HEAD}/*{}", "*".repeat(100_000)),
        "yubin::config::syntax",
    );
    // After the bad escape kdl resumes at the space and nests the braces that the pre-scan
    // counted as string content: kdl's own limit (128 levels) still stops it.
    assert_refused(
        &dir,
        "desync.kdl",
        &format!("{HEAD}a \"\\q {} \"\n", "{".repeat(3000)),
        "yubin::config::syntax",
    );
    // A long comment is fine.
    let (status, codes) = validate(
        &dir,
        "comment.kdl",
        &format!("{HEAD}/*{}*/\n", "* / ".repeat(100_000)),
    );
    assert_eq!(status, Some(0), "{codes:?}");
}

#[test]
fn files_over_the_size_limit_are_not_read() {
    let dir = TempDir::new("hostile-size");
    let path = dir.join("huge.kdl");
    // Sparse: 100 MB long without writing 100 MB. Reading it all (as before) took a minute.
    std::fs::File::create(&path)
        .and_then(|f| f.set_len(100_000_000))
        .expect("sparse file");
    let started = Instant::now();
    let out = run(
        &["validate", "--format", "json", path.to_str().expect("utf-8")],
        None,
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["code"], "yubin::config::too_large");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("100000000 bytes"))
    );
}

#[test]
fn a_hundred_thousand_trusted_networks_validate_in_linear_time() {
    // Issue 10 item 11: 18.9 s before (quadratic), about 2.7 s now (release build).
    let dir = TempDir::new("hostile-networks");
    let networks: Vec<String> = (0..100_000)
        .map(|i: u32| format!("\"10.{}.{}.{}/32\"", i >> 16, (i >> 8) & 255, i & 255))
        .collect();
    let text = format!(
        "{HEAD}listen {{\n    submission \"127.0.0.1:2587\"\n}}\ntrusted-networks {}\n",
        networks.join(" ")
    );
    let started = Instant::now();
    let (status, codes) = validate(&dir, "networks.kdl", &text);
    let took = started.elapsed();
    assert_eq!(status, Some(0), "{codes:?}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn long_alias_chains_are_refused_not_followed_recursively() {
    // `yubin plan` (and `serve`, and a reload) expanded aliases recursively: a valid file with
    // 20,000 aliases in a row overflowed the stack.
    let dir = TempDir::new("hostile-aliases");
    let hash =
        "$argon2id$v=19$m=19456,t=2,p=1$2mrBFeubwnP46byj1V5ycw$bVeL7q9cYfXfDKEc+wWxozcMXQoOdrGuRz7CtvHEwSk";
    let mut text = format!(
        "{HEAD}domain \"example.com\" {{\n    dkim selector=\"s1\"\n    user \"alice\" password-hash=\"{hash}\"\n    alias \"postmaster\" to=\"alice\"\n"
    );
    for i in 0..20_000 {
        text.push_str(&format!("    alias \"a{i}\" to=\"a{}\"\n", i + 1));
    }
    text.push_str("    alias \"a20000\" to=\"alice\"\n}\n");
    let (status, codes) = validate(&dir, "chain.kdl", &text);
    assert_eq!(status, Some(1));
    assert_eq!(codes, ["yubin::config::alias_chain_too_long"]);
    let path = dir.join("chain.kdl");
    let out = run(&["plan", path.to_str().expect("utf-8")], None);
    assert_eq!(out.status.code(), Some(1), "killed by a signal if None");
}

#[test]
fn diagnostics_on_a_very_long_line_do_not_print_it_each_time() {
    // 20,000 warnings on one 400 KB line: miette printed the whole line in each snippet
    // (8 GB). Such diagnostics are now printed in the one-line form.
    let dir = TempDir::new("hostile-long-line");
    let networks: Vec<String> = (0..20_000)
        .map(|i: u32| format!("\"8.{}.{}.0/24\"", (i >> 8) & 255, i & 255))
        .collect();
    let text = format!(
        "{HEAD}listen {{\n    submission \"127.0.0.1:2587\"\n}}\ntrusted-networks {}\n",
        networks.join(" ")
    );
    let path = dir.join("public.kdl");
    std::fs::write(&path, text).expect("write");
    let out = common::yubin()
        .args(["validate", path.to_str().expect("utf-8")])
        .env("NO_COLOR", "1")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.len() < 10_000_000, "{} bytes of output", err.len());
    assert_eq!(err.matches("public_trusted_network").count(), 20_000);
    assert!(err.contains("public.kdl:5:18: warning[yubin::config::public_trusted_network]"));
}
