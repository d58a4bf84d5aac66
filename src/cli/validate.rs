//! `yubin validate FILE`.

use std::path::Path;

use super::{EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, Format, report};
use crate::config::{self, Diagnostics, Level};

/// Validates `file`; returns the exit status.
pub fn run(file: &Path, format: Format, deny_warnings: bool, check_secrets: bool) -> u8 {
    let mut outcome = match config::load(file) {
        Ok(o) => o,
        Err(e) => {
            if format == Format::Json {
                println!(
                    "{}",
                    serde_json::json!({
                        "code": "yubin::config::unreadable",
                        "severity": "error",
                        "message": e.to_string(),
                        "file": file.display().to_string(),
                        "line": null, "column": null, "help": null,
                    })
                );
            } else {
                eprintln!("error: {e}");
            }
            return EXIT_UNREADABLE;
        }
    };
    if check_secrets && let Some(cfg) = &outcome.config {
        let mut more = Diagnostics::default();
        config::secrets::check_all(cfg, &mut more);
        if !more.is_empty() {
            outcome.diagnostics.extend(more.into_sorted());
            outcome.diagnostics.sort_by_key(|d| (d.span.offset(), d.code));
            outcome.config = None;
        }
    }
    report::print(&outcome, format);
    if format != Format::Json {
        eprintln!("{}", report::summary(&outcome));
    }
    if outcome.syntax_error {
        EXIT_UNREADABLE
    } else if report::has_errors(&outcome)
        || (deny_warnings && outcome.diagnostics.iter().any(|d| d.level == Level::Warning))
    {
        EXIT_INVALID
    } else {
        EXIT_OK
    }
}
