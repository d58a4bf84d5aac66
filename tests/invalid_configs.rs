//! The refusal corpus: every file under tests/invalid/ holds one problem and states the
//! diagnostic it must produce on its first line: `// expect: <code> at <line>:<column>`.

mod common;

use std::path::PathBuf;

use yubin::config::{self, Level};

struct Case {
    path: PathBuf,
    code: String,
    line: usize,
    column: usize,
}

fn cases() -> Vec<Case> {
    let dir = common::root().join("tests/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/invalid")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read case");
            let header = text.lines().next().unwrap_or_default();
            let spec = header
                .strip_prefix("// expect: ")
                .unwrap_or_else(|| panic!("{}: first line must be `// expect: CODE at L:C`", path.display()));
            let (code, at) = spec.split_once(" at ").expect("`CODE at L:C`");
            let (line, column) = at.split_once(':').expect("L:C");
            Case {
                code: code.to_owned(),
                line: line.trim().parse().expect("line"),
                column: column.trim().parse().expect("column"),
                path,
            }
        })
        .collect()
}

#[test]
fn corpus_is_large_enough() {
    assert!(
        cases().len() >= 40,
        "the refusal corpus must hold at least 40 configs"
    );
}

#[test]
fn each_invalid_config_reports_exactly_its_problem() {
    let mut failures = Vec::new();
    for case in cases() {
        let outcome = config::load(&case.path).expect("readable");
        let errors: Vec<_> = outcome
            .diagnostics
            .iter()
            .filter(|d| d.level == Level::Error)
            .collect();
        let got: Vec<String> = errors
            .iter()
            .map(|d| {
                let (l, c) = outcome.source.line_col(d.span.offset());
                format!("{} at {l}:{c}", d.code.as_str())
            })
            .collect();
        let want = format!("{} at {}:{}", case.code, case.line, case.column);
        if got != [want.clone()] {
            failures.push(format!("{}: want [{want}], got {got:?}", case.path.display()));
            continue;
        }
        let d = errors[0];
        if d.message.is_empty() || d.label.is_empty() {
            failures.push(format!(
                "{}: diagnostic without message or label",
                case.path.display()
            ));
        }
        if outcome.config.is_some() {
            failures.push(format!("{}: invalid config still compiled", case.path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn validate_exits_1_and_reports_the_code_as_json() {
    for case in cases() {
        let path = case.path.to_str().expect("utf-8 path");
        let out = common::run(&["validate", "--format", "json", path], None);
        // The file is not read as KDL at all: syntax errors and limits exit 2.
        let want_status = if matches!(
            case.code.as_str(),
            "yubin::config::syntax" | "yubin::config::too_deep"
        ) {
            2
        } else {
            1
        };
        assert_eq!(out.status.code(), Some(want_status), "{path}");
        let stdout = String::from_utf8(out.stdout).expect("utf-8");
        let found = stdout.lines().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object per line");
            v["code"] == case.code.as_str()
                && v["severity"] == "error"
                && v["line"] == case.line
                && v["column"] == case.column
                && v["file"] == path
                && v["message"].is_string()
        });
        assert!(
            found,
            "{path}: no JSON diagnostic {} at {}:{} in\n{stdout}",
            case.code, case.line, case.column
        );
    }
}
