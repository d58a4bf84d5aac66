//! Printing diagnostics: miette's graphical report, one-line form, or JSON lines.

use std::io::{IsTerminal, Write};

use miette::{GraphicalReportHandler, GraphicalTheme};

use super::Format;
use crate::config::{Diag, Level, Outcome, Source, diag::WithSource};

/// The JSON form of one diagnostic.
pub fn json(diag: &Diag, source: &Source) -> serde_json::Value {
    let (line, column) = source.line_col(diag.span.offset());
    let (end_line, end_column) = source.line_col(diag.span.offset() + diag.span.len());
    serde_json::json!({
        "code": diag.code.as_str(),
        "severity": diag.level.as_str(),
        "message": diag.message,
        "file": source.path().display().to_string(),
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "label": diag.label,
        "help": diag.help,
    })
}

/// Lines longer than this are not shown in snippets: miette prints whole lines, so 100,000
/// diagnostics on one 2 MB line (`trusted-networks` with public networks) would print
/// 200 GB. Such diagnostics are printed in the one-line form.
const MAX_SNIPPET_LINE: usize = 1000;

pub fn short_line(d: &Diag, source: &Source) -> String {
    let (line, col) = source.line_col(d.span.offset());
    let help = d.help.as_ref().map_or(String::new(), |h| format!(" (help: {h})"));
    format!(
        "{}:{line}:{col}: {}[{}]: {}{help}",
        source.path().display(),
        d.level.as_str(),
        d.code.as_str(),
        d.message
    )
}

/// Prints every diagnostic of `outcome` in `format`.
pub fn print(outcome: &Outcome, format: Format) {
    match format {
        Format::Json => {
            let mut out = std::io::stdout().lock();
            for d in &outcome.diagnostics {
                let _ = writeln!(out, "{}", json(d, &outcome.source));
            }
        }
        Format::Short => {
            let mut err = std::io::stderr().lock();
            for d in &outcome.diagnostics {
                let _ = writeln!(err, "{}", short_line(d, &outcome.source));
            }
        }
        Format::Human => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let theme = if color {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
            let mut err = std::io::stderr().lock();
            for d in &outcome.diagnostics {
                let spans = std::iter::once(d.span).chain(d.related.iter().map(|(s, _)| *s));
                if spans
                    .map(|s| outcome.source.line_len(s.offset()))
                    .any(|len| len > MAX_SNIPPET_LINE)
                {
                    let _ = writeln!(
                        err,
                        "{} (the line is too long to show)",
                        short_line(d, &outcome.source)
                    );
                    continue;
                }
                let mut s = String::new();
                let with = WithSource {
                    diag: d,
                    source: &outcome.source,
                };
                if handler.render_report(&mut s, &with).is_err() {
                    s = format!("{}: {}\n", d.level.as_str(), d.message);
                }
                let _ = write!(err, "{s}");
            }
        }
    }
}

/// A one-line summary for stderr ("mail.kdl: 2 errors, 1 warning").
pub fn summary(outcome: &Outcome) -> String {
    let (errors, warnings) = outcome.counts();
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("{n} {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    let name = outcome.source.path().display();
    match (errors, warnings) {
        (0, 0) => format!("{name}: valid"),
        (0, w) => format!("{name}: valid, {}", plural(w, "warning")),
        (e, 0) => format!("{name}: {}", plural(e, "error")),
        (e, w) => format!("{name}: {}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

/// True when the outcome has an error-level diagnostic.
pub fn has_errors(outcome: &Outcome) -> bool {
    outcome.diagnostics.iter().any(|d| d.level == Level::Error)
}
