//! The configuration file's text, its name for messages, and byte offset → line:column.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::NamedSource;

/// A loaded configuration file.
#[derive(Debug, Clone)]
pub struct Source {
    path: PathBuf,
    text: Arc<str>,
    named: NamedSource<Arc<str>>,
    line_starts: Vec<usize>,
    /// `char_marks[k]` = the number of characters in the first `k * MARK_STRIDE` bytes.
    char_marks: Vec<usize>,
}

/// Bytes between two entries of `Source::char_marks`.
const MARK_STRIDE: usize = 256;

/// The number of characters that start in `bytes` (UTF-8 continuation bytes start none).
fn chars_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| (**b & 0xC0) != 0x80).count()
}

impl Source {
    /// Wraps `text` read from `path` (the path is only used for messages and relative paths).
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        let path = path.into();
        let text: Arc<str> = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut char_marks = vec![0];
        for chunk in text.as_bytes().chunks(MARK_STRIDE) {
            char_marks.push(char_marks.last().copied().unwrap_or(0) + chars_in(chunk));
        }
        // miette prints lines of this text around each diagnostic: never a secret's value.
        let shown: Arc<str> = super::redact::redacted(&text).map_or_else(|| text.clone(), Arc::from);
        let named = NamedSource::new(path.display().to_string(), shown).with_language("kdl");
        Source {
            path,
            text,
            named,
            line_starts,
            char_marks,
        }
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text with its name, for miette: secret values are replaced by `*`.
    pub fn named(&self) -> &NamedSource<Arc<str>> {
        &self.named
    }

    /// The number of characters before a byte offset, in O(1): a table entry plus at most
    /// `MARK_STRIDE` bytes.
    fn chars_before(&self, offset: usize) -> usize {
        let mark = offset / MARK_STRIDE;
        let from = mark * MARK_STRIDE;
        self.char_marks.get(mark).copied().unwrap_or(0)
            + self.text.as_bytes().get(from..offset).map_or(0, chars_in)
    }

    /// The length in bytes of the line that holds a byte offset, in O(log lines).
    pub fn line_len(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let end = self.line_starts.get(line + 1).copied().unwrap_or(self.text.len());
        end - start
    }

    /// 1-based line and column (in characters) of a byte offset, in O(log lines): many
    /// diagnostics on one long line (100,000 networks) do not rescan the line each time.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let column = self.chars_before(offset) - self.chars_before(start);
        (line + 1, column + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let s = Source::new("t.kdl", "ab\nçd\n\nx");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(1), (1, 2));
        assert_eq!(s.line_col(3), (2, 1));
        assert_eq!(s.line_col(5), (2, 2)); // after the two bytes of 'ç'
        assert_eq!(s.line_col(7), (3, 1));
        assert_eq!(s.line_col(8), (4, 1));
        assert_eq!(s.line_col(99), (4, 2));
        assert_eq!(s.line_len(0), 3);
        assert_eq!(s.line_len(4), 4);
        assert_eq!(s.line_len(8), 1);
    }

    #[test]
    fn columns_on_long_lines_match_a_character_count() {
        // Multi-byte characters straddle the table's strides.
        let line: String = (0..3000).map(|i| if i % 7 == 0 { 'ç' } else { 'a' }).collect();
        let text = format!("x\n{line}\n{line}");
        let s = Source::new("t.kdl", text.as_str());
        for (offset, _) in text.char_indices() {
            let before = text.get(..offset).unwrap_or_default();
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let want = before.get(line_start..).unwrap_or_default().chars().count() + 1;
            assert_eq!(s.line_col(offset).1, want, "offset {offset}");
        }
    }

    #[test]
    fn a_column_costs_the_same_anywhere_on_a_long_line() {
        // 100,000 lookups near the end of a 4 MB line: a per-lookup scan of the line would be
        // 4·10¹¹ steps; the table makes it one stride each.
        let s = Source::new("t.kdl", "a".repeat(4 << 20));
        let started = std::time::Instant::now();
        let mut sum = 0;
        for i in 0..100_000 {
            sum += s.line_col((4 << 20) - i).1;
        }
        assert!(sum > 0);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
