//! `yubin plan FILE` and `yubin plan --diff OLD NEW`.

use std::path::Path;

use super::{EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, Format, report};
use crate::config;
use crate::plan::{self, Plan};

/// Compiles `file`, or explains why it cannot; `Err` carries the exit status.
pub fn compile_file(file: &Path) -> Result<Plan, u8> {
    compile_file_noting(file).map(|(plan, _)| plan)
}

/// Like [`compile_file`], also returning the warnings as one-line texts (for `serve`'s log).
pub fn compile_file_noting(file: &Path) -> Result<(Plan, Vec<String>), u8> {
    let outcome = match config::load(file) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(EXIT_UNREADABLE);
        }
    };
    let Some(cfg) = &outcome.config else {
        report::print(&outcome, Format::Human);
        eprintln!("{}", report::summary(&outcome));
        return Err(if outcome.syntax_error {
            EXIT_UNREADABLE
        } else {
            EXIT_INVALID
        });
    };
    let warnings = outcome
        .diagnostics
        .iter()
        .map(|d| report::short_line(d, &outcome.source))
        .collect();
    Ok((plan::compile(cfg), warnings))
}

/// Prints (or writes) the plan of `file`.
pub fn run(file: &Path, output: Option<&Path>) -> u8 {
    let plan = match compile_file(file) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let json = plan.to_canonical_json();
    match output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, json) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return EXIT_UNREADABLE;
            }
        }
        None => print!("{json}"),
    }
    EXIT_OK
}

/// Prints what changes between two configurations.
pub fn diff(old: &Path, new: &Path) -> u8 {
    let (a, b) = match (compile_file(old), compile_file(new)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    let changes = plan::diff::diff(&a, &b);
    if changes.is_empty() {
        println!("no changes");
    } else {
        let mut restart = 0;
        for c in &changes {
            // The plan section a change is in decides whether a reload applies it.
            let section = c.path().split(['.', '[']).next().unwrap_or_default();
            if plan::RESTART_SECTIONS.contains(&section) {
                restart += 1;
                println!("{c}  (after a restart)");
            } else {
                println!("{c}");
            }
        }
        let n = changes.len();
        let when = match restart {
            0 => "a reload (systemctl reload yubin) applies them".to_owned(),
            r if r == n => "they take effect after a restart (systemctl restart yubin)".to_owned(),
            r => format!("{r} of them take effect after a restart, the others at a reload"),
        };
        println!("{n} change{}; {when}", if n == 1 { "" } else { "s" });
    }
    EXIT_OK
}
