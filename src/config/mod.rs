//! `mail.kdl` → [`Config`]: parsing, decoding against the spec, and every check that needs only
//! the file. The result is either a valid `Config` plus warnings, or the full list of problems.

pub mod check;
pub mod decode;
pub mod diag;
pub mod model;
pub mod names;
pub mod reader;
pub mod reference;
pub mod routing;
pub mod secrets;
pub mod source;
pub mod spec;
pub mod values;

use std::path::{Path, PathBuf};

pub use diag::{Code, Diag, Diagnostics, Level};
pub use model::Config;
pub use source::Source;

/// The outcome of reading a configuration file.
#[derive(Debug)]
pub struct Outcome {
    /// The file's text and name.
    pub source: Source,
    /// The configuration, when there was no error.
    pub config: Option<Config>,
    /// Every diagnostic, errors and warnings, in source order.
    pub diagnostics: Vec<Diag>,
    /// True when the file is not KDL at all (exit status 2).
    pub syntax_error: bool,
}

impl Outcome {
    /// Errors and warnings.
    pub fn counts(&self) -> (usize, usize) {
        let errors = self
            .diagnostics
            .iter()
            .filter(|d| d.level == Level::Error)
            .count();
        (errors, self.diagnostics.len() - errors)
    }
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot read {}: {source}", path.display())]
#[diagnostic(code(yubin::config::unreadable))]
pub struct ReadError {
    /// The path.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Reads and checks the file at `path`.
pub fn load(path: &Path) -> Result<Outcome, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| ReadError {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8: {e}")),
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base = std::fs::canonicalize(dir).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|c| c.join(dir))
            .unwrap_or_else(|_| dir.to_owned())
    });
    Ok(parse(path, &text, &base))
}

/// Parses and checks `text`, as if read from `path`; relative paths start at `base_dir`.
pub fn parse(path: &Path, text: &str, base_dir: &Path) -> Outcome {
    let source = Source::new(path, text);
    let doc: kdl::KdlDocument = match text.parse() {
        Ok(doc) => doc,
        Err(err) => {
            let mut diags = Diagnostics::default();
            syntax_diagnostics(&err, &mut diags);
            return Outcome {
                source,
                config: None,
                diagnostics: diags.into_sorted(),
                syntax_error: true,
            };
        }
    };
    let mut cx = reader::Cx {
        diags: Diagnostics::default(),
        base_dir: base_dir.to_owned(),
    };
    let config = decode::decode(&mut cx, &doc);
    if !cx.diags.has_errors() {
        check::check(&config, &mut cx.diags);
    } else {
        // Still report cross-node problems that do not depend on what failed to decode.
        let mut more = Diagnostics::default();
        check::check(&config, &mut more);
        cx.diags.extend(more);
    }
    let ok = !cx.diags.has_errors();
    Outcome {
        source,
        config: ok.then_some(config),
        diagnostics: cx.diags.into_sorted(),
        syntax_error: false,
    }
}

fn syntax_diagnostics(err: &kdl::KdlError, diags: &mut Diagnostics) {
    if err.diagnostics.is_empty() {
        diags.error(
            Code::Syntax,
            miette::SourceSpan::from(0..0),
            "the file is not valid KDL 2.0",
        );
    }
    let mut last_end: Option<usize> = None;
    for d in &err.diagnostics {
        // kdl-rs often reports one problem twice (at the brace, then just after it).
        if last_end.is_some_and(|end| d.span.offset() <= end) {
            continue;
        }
        last_end = Some(d.span.offset() + d.span.len());
        let message = d.message.clone().unwrap_or_else(|| "invalid KDL".to_owned());
        let diag = diags.error(Code::Syntax, d.span, format!("KDL syntax: {message}"));
        diag.label(d.label.clone().unwrap_or_else(|| "here".to_owned()));
        match &d.help {
            Some(h) => diag.help(h.clone()),
            None => diag.help(
                "mail.kdl is KDL 2.0: strings in \"quotes\", booleans #true/#false, `key=value` properties",
            ),
        };
    }
}
