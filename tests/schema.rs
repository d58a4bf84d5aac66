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
