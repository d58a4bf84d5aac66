//! Generated files under schema/ must match what the code generates.

mod common;

#[test]
fn plan_json_schema_is_current() {
    let path = common::root().join("schema/plan.schema.json");
    common::assert_snapshot(&path, &yubin::plan::Plan::json_schema());
}

#[test]
fn config_reference_is_current() {
    let path = common::root().join("schema/config-reference.md");
    common::assert_snapshot(&path, &yubin::config::reference::render());
}

/// The benchmark tables in docs/benchmarks.md are rendered from benches/results/*.json by
/// benches/render.py: figures are never typed by hand.
#[test]
fn benchmark_figures_come_from_the_results_files() {
    let out = std::process::Command::new("python3")
        .arg(common::root().join("benches/render.py"))
        .arg("--check")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
