//! `mail.kdl` → [`Config`]: parsing, decoding against the spec, and every check that needs only
//! the file. The result is either a valid `Config` plus warnings, or the full list of problems.

pub mod check;
pub mod decode;
pub mod diag;
pub mod lexer;
pub mod limits;
pub mod model;
pub mod names;
pub mod reader;
pub mod redact;
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

/// Reads and checks the file at `path`. A file larger than [`limits::MAX_FILE_BYTES`] (8 MiB)
/// is not read: the outcome is a `too_large` error.
pub fn load(path: &Path) -> Result<Outcome, ReadError> {
    let bytes = match limits::read(path) {
        Ok(b) => b,
        Err(limits::ReadFailure::Io(source)) => {
            return Err(ReadError {
                path: path.to_owned(),
                source,
            });
        }
        Err(limits::ReadFailure::TooLarge(size)) => return Ok(too_large(path, size)),
    };
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

fn too_large(path: &Path, size: u64) -> Outcome {
    let mut diags = Diagnostics::default();
    diags
        .error(
            Code::TooLarge,
            miette::SourceSpan::from(0..0),
            format!(
                "the file is {size} bytes; yubin reads configuration files of at most {} MiB",
                limits::MAX_FILE_BYTES >> 20
            ),
        )
        .label("too large")
        .help("a configuration for 10,000 users is about 1.3 MB: is this the right file?");
    Outcome {
        source: Source::new(path, ""),
        config: None,
        diagnostics: diags.into_sorted(),
        syntax_error: true,
    }
}

/// Parses and checks `text`, as if read from `path`; relative paths start at `base_dir`.
///
/// Text nested deeper than [`limits::MAX_DEPTH`] is refused before it is parsed. The parser
/// runs on a thread of its own with a known stack ([`limits::PARSER_STACK_BYTES`]), so the
/// outcome does not depend on the stack of the caller (a tokio blocking thread on reload).
pub fn parse(path: &Path, text: &str, base_dir: &Path) -> Outcome {
    let source = Source::new(path, text);
    if let Some(problem) = limits::structure(text) {
        let mut diags = Diagnostics::default();
        match problem {
            limits::Structure::TooDeep(offset) => diags
                .error(
                    Code::TooDeep,
                    miette::SourceSpan::from(offset..offset + 1),
                    format!("blocks are nested more than {} deep", limits::MAX_DEPTH),
                )
                .label("one level too many")
                .help("mail.kdl needs at most 4 levels (`domain { user { ... } }`): is a `}` missing?"),
            limits::Structure::StrayClose(offset) => diags
                .error(
                    Code::Syntax,
                    miette::SourceSpan::from(offset..offset + 1),
                    "a `}` that closes no block",
                )
                .label("no `{` before it")
                .help("remove it, or add the `{` it belongs to"),
        };
        return Outcome {
            source,
            config: None,
            diagnostics: diags.into_sorted(),
            syntax_error: true,
        };
    }
    let run = || parse_checked(text, base_dir);
    let (config, diagnostics, syntax_error) = std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("yubin-config".into())
            .stack_size(limits::PARSER_STACK_BYTES)
            .spawn_scoped(scope, run)
        {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had (a process limit): the caller's stack must do.
            Err(_) => run(),
        }
    });
    Outcome {
        source,
        config,
        diagnostics,
        syntax_error,
    }
}

/// kdl, the decoder and the cross-checks: the config (when valid), the sorted diagnostics, and
/// whether the text is not KDL at all.
fn parse_checked(text: &str, base_dir: &Path) -> (Option<Config>, Vec<Diag>, bool) {
    let doc: kdl::KdlDocument = match text.parse() {
        Ok(doc) => doc,
        Err(err) => {
            let mut diags = Diagnostics::default();
            syntax_diagnostics(&err, &mut diags);
            return (None, diags.into_sorted(), true);
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
    (ok.then_some(config), cx.diags.into_sorted(), false)
}

/// How many KDL syntax errors are reported (a file of `}` × 100,000 has 100,000).
const MAX_SYNTAX_ERRORS: usize = 20;

fn syntax_diagnostics(err: &kdl::KdlError, diags: &mut Diagnostics) {
    if err.diagnostics.is_empty() {
        diags.error(
            Code::Syntax,
            miette::SourceSpan::from(0..0),
            "the file is not valid KDL 2.0",
        );
    }
    let mut last_end: Option<usize> = None;
    let mut reported = 0usize;
    for d in &err.diagnostics {
        // kdl-rs often reports one problem twice (at the brace, then just after it).
        if last_end.is_some_and(|end| d.span.offset() <= end) {
            continue;
        }
        if reported == MAX_SYNTAX_ERRORS {
            // After this many, the rest is mostly the parser losing its way: say so, once.
            diags
                .error(
                    Code::Syntax,
                    d.span,
                    "KDL syntax: more errors follow; fix the ones above first",
                )
                .label("and more from here on");
            break;
        }
        reported += 1;
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
