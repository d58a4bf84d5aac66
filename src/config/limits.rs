//! What a configuration file must keep before it is parsed at all: its size, and how deeply
//! its blocks nest. Both are checked in one linear pass, so a hostile file costs bounded
//! memory and time and can never overflow the stack of `validate` or of a running server that
//! reloads it.

use std::io::Read;
use std::path::Path;

use super::lexer::{self, Kind};

/// The largest file yubin reads: a configuration with 10,000 users is about 1.3 MB. kdl reads
/// a long string at about a microsecond per character, so this also bounds the time a hostile
/// file can take (seconds, not the minute a 100 MB string took).
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// How deeply `{ ... }` blocks may nest. A real `mail.kdl` is at most 4 deep
/// (`backup > s3 > object-lock`, `domain > user > ...`).
pub const MAX_DEPTH: usize = 64;

/// The stack the parser runs on, whatever thread `load` is called from: kdl takes about 30 KB
/// per level of nesting in a debug build (4 KB optimised), so 16 MiB covers its own limit of
/// 128 levels four times over. Reserved, not used: pages are only touched as needed.
pub const PARSER_STACK_BYTES: usize = 16 << 20;

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadFailure {
    /// The file is larger than [`MAX_FILE_BYTES`].
    TooLarge(u64),
    /// The file could not be read.
    Io(std::io::Error),
}

/// Reads the file at `path`, but never more than [`MAX_FILE_BYTES`] (plus one byte, to tell).
pub fn read(path: &Path) -> Result<Vec<u8>, ReadFailure> {
    let file = std::fs::File::open(path).map_err(ReadFailure::Io)?;
    let size = file.metadata().map_err(ReadFailure::Io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ReadFailure::TooLarge(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // The size can change between metadata and read (or be 0 for a pipe): read at most one
    // byte past the limit.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadFailure::Io)?;
    let read = bytes.len() as u64;
    if read > MAX_FILE_BYTES {
        return Err(ReadFailure::TooLarge(read));
    }
    Ok(bytes)
}

/// What the structure pre-scan refuses before the KDL parser runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// A `{` that opens a block deeper than [`MAX_DEPTH`].
    TooDeep(usize),
    /// A `}` with no open block: never valid KDL, and the parser's recovery from a flood of
    /// them is slow (100,000 took seconds).
    StrayClose(usize),
}

/// The first structural problem, if any, by byte offset. Blocks after a slashdash (`/-`)
/// count: kdl parses them too.
pub fn structure(text: &str) -> Option<Structure> {
    let mut depth = 0usize;
    for token in lexer::tokens(text) {
        match token.kind {
            Kind::Open => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(Structure::TooDeep(token.start));
                }
            }
            Kind::Close if depth == 0 => return Some(Structure::StrayClose(token.start)),
            Kind::Close => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The byte offset of the first `{` that opens a block deeper than [`MAX_DEPTH`], if any.
pub fn too_deep(text: &str) -> Option<usize> {
    match structure(text) {
        Some(Structure::TooDeep(at)) => Some(at),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the config_kdl fuzz target: 100,000 `}` took the parser's error recovery
    /// seconds (13 s under the fuzzer). A `}` that closes nothing is refused at once.
    #[test]
    fn a_stray_close_is_found_before_parsing() {
        assert_eq!(structure("a { }\n}"), Some(Structure::StrayClose(6)));
        assert_eq!(structure(&"}".repeat(100_000)), Some(Structure::StrayClose(0)));
        for fine in [
            "a \"}\" { }",
            "/* } */ a",
            "a #\"}\"#",
            "// }\na",
            "a { b \"{\" }",
            "/-a { }",
        ] {
            assert_eq!(structure(fine), None, "{fine}");
        }
    }

    #[test]
    fn depth_is_counted_outside_strings_and_comments() {
        let ok = "a {\n".repeat(MAX_DEPTH) + &"}\n".repeat(MAX_DEPTH);
        assert_eq!(too_deep(&ok), None);
        let deep = "a {\n".repeat(MAX_DEPTH + 1);
        assert_eq!(too_deep(&deep), Some(4 * MAX_DEPTH + 2));
        let hidden = format!(
            "a \"{}\" /* {} */ // {}\n",
            "{".repeat(100),
            "{".repeat(100),
            "{".repeat(100)
        );
        assert_eq!(too_deep(&hidden), None);
        // Closed blocks do not add up.
        assert_eq!(too_deep(&"a { }\n".repeat(10_000)), None);
        // Slashdashed blocks still count.
        assert_eq!(too_deep(&"/-a {".repeat(20_000)), Some(5 * MAX_DEPTH + 4));
    }

    #[test]
    fn reads_refuse_files_over_the_limit() {
        let dir = std::env::temp_dir().join(format!("yubin-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small.kdl");
        std::fs::write(&small, "hostname \"a.b\"\n").unwrap();
        assert_eq!(read(&small).unwrap(), b"hostname \"a.b\"\n");
        let big = dir.join("big.kdl");
        let f = std::fs::File::create(&big).unwrap();
        // A sparse file: nothing is written, but it is larger than the limit.
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert!(matches!(read(&big), Err(ReadFailure::TooLarge(n)) if n == MAX_FILE_BYTES + 1));
        assert!(matches!(read(&dir.join("missing")), Err(ReadFailure::Io(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
