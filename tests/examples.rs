//! The shipped examples validate with no warning but the one that flags the README's published
//! example passwords, compile to the checked-in plan snapshots, and compile identically twice.

mod common;

use std::path::PathBuf;

use yubin::plan::Plan;

const EXAMPLES: &[&str] = &["quickstart", "dev-relay", "home-webhook", "multi-domain"];

fn example(name: &str) -> PathBuf {
    common::root().join("examples").join(format!("{name}.kdl"))
}

#[test]
fn examples_validate_without_warnings_but_their_example_passwords() {
    for name in EXAMPLES {
        let path = example(name);
        let out = common::run(
            &["validate", "--format", "short", path.to_str().expect("utf-8")],
            None,
        );
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {text}");
        for line in text.lines().filter(|l| l.contains("warning[")) {
            assert!(line.contains("example_password_hash"), "{name}: {line}");
        }
    }
}

#[test]
fn example_plans_match_snapshots_and_are_deterministic() {
    let root = common::root();
    let root_str = root.to_str().expect("utf-8 root");
    for name in EXAMPLES {
        let path = example(name);
        let first = common::run(&["plan", path.to_str().expect("utf-8")], None);
        assert_eq!(
            first.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&first.stderr)
        );
        let second = common::run(&["plan", path.to_str().expect("utf-8")], None);
        assert_eq!(first.stdout, second.stdout, "{name}: two runs differ");

        let json = String::from_utf8(first.stdout).expect("utf-8");
        let plan: Plan = serde_json::from_str(&json).expect("the plan parses back");
        assert_eq!(plan.to_canonical_json(), json, "{name}: plan does not round-trip");
        assert!(!json.contains("hunter2"), "no secret values in plans");

        // Paths are absolute; the snapshot names the checkout `<repo>` so it holds on any clone.
        let portable = json.replace(root_str, "<repo>");
        common::assert_snapshot(&root.join(format!("tests/snapshots/{name}.plan.json")), &portable);
    }
}
