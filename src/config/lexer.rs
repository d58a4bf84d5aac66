//! A linear, forgiving tokenizer for KDL 2.0 text, used before (and independently of) the kdl
//! parser: to refuse files nested too deeply ([`super::limits`]) and to find secret values to
//! hide in printed snippets ([`super::redact`]). It never fails: a malformed token just ends
//! where it can, and kdl reports the syntax error.
//!
//! The lexical grammar it follows (KDL 2.0, <https://kdl.dev/spec/>):
//!
//! ```text
//! single-line-comment := '//' ^newline* (newline | eof)
//! multi-line-comment  := '/*' (multi-line-comment | . )*? '*/'        ; nests
//! slashdash           := '/-'
//! escline             := '\' ws* (single-line-comment | newline | eof)
//! quoted-string       := '"' ('\' . | [^"\\])* '"'  |  '"""' newline ... '"""'
//! raw-string          := '#'{n} '"' .*? '"' '#'{n}  |  '#'{n} '"""' ... '"""' '#'{n}
//! newline             := CRLF | CR | LF | NEL | VT | FF | LS | PS
//! ```
//!
//! Everything else between delimiters (`{ } ( ) ; =`, spaces, newlines, quotes) is a word:
//! an identifier, number or keyword. Scanning is one pass over the characters, without
//! recursion (nested comments are counted).

use std::iter::Peekable;
use std::str::CharIndices;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{`
    Open,
    /// `}`
    Close,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `;` or a newline: the end of a node.
    Terminator,
    /// `=`
    Equals,
    /// `/-`
    Slashdash,
    /// A quoted or raw string; `body` is the text between the quotes.
    Str,
    /// An identifier, number or keyword.
    Word,
}

/// One token and where it is (byte offsets into the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: Kind,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just after it.
    pub end: usize,
    /// For strings, the byte range between the quotes; otherwise the token itself.
    pub body: (usize, usize),
}

/// The tokens of `text`, in order.
pub fn tokens(text: &str) -> Lexer<'_> {
    Lexer {
        chars: text.char_indices().peekable(),
        len: text.len(),
    }
}

/// The iterator returned by [`tokens`].
pub struct Lexer<'t> {
    chars: Peekable<CharIndices<'t>>,
    len: usize,
}

/// True for the KDL newlines (CRLF is a CR followed by a LF).
pub fn is_newline(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{85}' | '\u{0B}' | '\u{0C}' | '\u{2028}' | '\u{2029}'
    )
}

/// True for the KDL `unicode-space` characters.
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

fn ends_word(c: char) -> bool {
    is_space(c) || is_newline(c) || matches!(c, '{' | '}' | '(' | ')' | ';' | '=' | '"' | '\\')
}

impl Lexer<'_> {
    fn offset(&mut self) -> usize {
        self.chars.peek().map_or(self.len, |(i, _)| *i)
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|(_, c)| *c)
    }

    /// True when the text at the current position starts with `s`; consumes nothing. Costs at
    /// most one step per character of `s`, and stops at the first difference.
    fn at(&self, s: &str) -> bool {
        let mut it = self.chars.clone();
        s.chars().all(|want| it.next().is_some_and(|(_, c)| c == want))
    }

    fn skip(&mut self, n: usize) {
        for _ in 0..n {
            self.chars.next();
        }
    }

    fn single_line_comment(&mut self) {
        while let Some(c) = self.peek() {
            if is_newline(c) {
                return;
            }
            self.chars.next();
        }
    }

    fn multi_line_comment(&mut self) {
        self.skip(2);
        let mut open = 1usize;
        while open > 0 && self.peek().is_some() {
            if self.at("*/") {
                self.skip(2);
                open -= 1;
            } else if self.at("/*") {
                self.skip(2);
                open += 1;
            } else {
                self.chars.next();
            }
        }
    }

    /// A quoted string after its opening quote(s); returns the end of its body.
    fn quoted(&mut self, multi_line: bool) -> usize {
        loop {
            let here = self.offset();
            match self.peek() {
                None => return here,
                Some('\\') => {
                    self.skip(2);
                }
                Some('"') if !multi_line => {
                    self.chars.next();
                    return here;
                }
                Some('"') if self.at("\"\"\"") => {
                    self.skip(3);
                    return here;
                }
                Some(c) if !multi_line && is_newline(c) => return here,
                Some(_) => {
                    self.chars.next();
                }
            }
        }
    }

    /// A raw string after its opening `#`s and quote(s); returns the end of its body.
    fn raw(&mut self, hashes: usize, multi_line: bool) -> usize {
        let close: String = if multi_line { "\"\"\"" } else { "\"" }
            .chars()
            .chain(std::iter::repeat_n('#', hashes))
            .collect();
        loop {
            let here = self.offset();
            match self.peek() {
                None => return here,
                Some('"') if self.at(&close) => {
                    self.skip(close.chars().count());
                    return here;
                }
                Some(c) if !multi_line && is_newline(c) => return here,
                Some(_) => {
                    self.chars.next();
                }
            }
        }
    }

    fn word(&mut self) {
        while let Some(c) = self.peek() {
            if ends_word(c) || self.at("//") || self.at("/*") {
                return;
            }
            self.chars.next();
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        loop {
            let start = self.offset();
            let c = self.peek()?;
            let simple = |kind| Token {
                kind,
                start,
                end: start + 1,
                body: (start, start + 1),
            };
            let kind = match c {
                c if is_space(c) => {
                    self.chars.next();
                    continue;
                }
                c if is_newline(c) => Kind::Terminator,
                ';' => Kind::Terminator,
                '{' => Kind::Open,
                '}' => Kind::Close,
                '(' => Kind::LParen,
                ')' => Kind::RParen,
                '=' => Kind::Equals,
                '/' if self.at("//") => {
                    self.single_line_comment();
                    continue;
                }
                '/' if self.at("/*") => {
                    self.multi_line_comment();
                    continue;
                }
                '/' if self.at("/-") => {
                    self.skip(2);
                    return Some(Token {
                        kind: Kind::Slashdash,
                        start,
                        end: start + 2,
                        body: (start, start + 2),
                    });
                }
                '\\' => {
                    // escline: the newline (or comment) after it does not end the node.
                    self.chars.next();
                    while self.peek().is_some_and(is_space) {
                        self.chars.next();
                    }
                    if self.at("//") {
                        self.single_line_comment();
                    }
                    if self.at("\r\n") {
                        self.skip(2);
                    } else if self.peek().is_some_and(is_newline) {
                        self.chars.next();
                    }
                    continue;
                }
                '"' => {
                    let multi_line = self.at("\"\"\"");
                    self.skip(if multi_line { 3 } else { 1 });
                    let body_start = self.offset();
                    let body_end = self.quoted(multi_line);
                    return Some(Token {
                        kind: Kind::Str,
                        start,
                        end: self.offset(),
                        body: (body_start, body_end),
                    });
                }
                '#' => {
                    let mut it = self.chars.clone();
                    let hashes = it.by_ref().take_while(|(_, c)| *c == '#').count();
                    let mut probe = self.chars.clone();
                    probe.nth(hashes.saturating_sub(1));
                    if probe.peek().is_some_and(|(_, c)| *c == '"') {
                        self.skip(hashes);
                        let multi_line = self.at("\"\"\"");
                        self.skip(if multi_line { 3 } else { 1 });
                        let body_start = self.offset();
                        let body_end = self.raw(hashes, multi_line);
                        return Some(Token {
                            kind: Kind::Str,
                            start,
                            end: self.offset(),
                            body: (body_start, body_end),
                        });
                    }
                    self.chars.next();
                    self.word();
                    let end = self.offset();
                    return Some(Token {
                        kind: Kind::Word,
                        start,
                        end,
                        body: (start, end),
                    });
                }
                _ => {
                    self.chars.next();
                    self.word();
                    let end = self.offset();
                    return Some(Token {
                        kind: Kind::Word,
                        start,
                        end,
                        body: (start, end),
                    });
                }
            };
            // One-character tokens (CRLF counts as one newline).
            if self.at("\r\n") {
                self.skip(2);
                return Some(Token {
                    end: start + 2,
                    body: (start, start + 2),
                    ..simple(kind)
                });
            }
            self.chars.next();
            let end = self.offset();
            return Some(Token {
                end,
                body: (start, end),
                ..simple(kind)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, &str)> {
        tokens(text)
            .map(|t| (t.kind, text.get(t.body.0..t.body.1).unwrap_or("?")))
            .collect()
    }

    #[test]
    fn nodes_strings_and_punctuation() {
        use Kind::*;
        assert_eq!(
            kinds("relay \"smtp:587\" { password env=\"P\"; }\n"),
            vec![
                (Word, "relay"),
                (Str, "smtp:587"),
                (Open, "{"),
                (Word, "password"),
                (Word, "env"),
                (Equals, "="),
                (Str, "P"),
                (Terminator, ";"),
                (Close, "}"),
                (Terminator, "\n"),
            ]
        );
    }

    #[test]
    fn braces_inside_strings_and_comments_are_not_tokens() {
        let text = "a \"{\\\"{\" #\"}\"# ##\"\"#{\"## /* { /* } */ { */ // {\nb #\"\"\"\n{\n\"\"\"#\n";
        let punct: Vec<Kind> = tokens(text)
            .map(|t| t.kind)
            .filter(|k| matches!(k, Kind::Open | Kind::Close))
            .collect();
        assert!(punct.is_empty(), "{:?}", kinds(text));
        let strs: Vec<&str> = kinds(text)
            .into_iter()
            .filter(|(k, _)| *k == Kind::Str)
            .map(|(_, s)| s)
            .collect();
        assert_eq!(strs, vec!["{\\\"{", "}", "\"#{", "\n{\n"]);
    }

    #[test]
    fn slashdash_escline_and_keywords() {
        use Kind::*;
        assert_eq!(
            kinds("/-a #true \\ // x\n b\r\nc"),
            vec![
                (Slashdash, "/-"),
                (Word, "a"),
                (Word, "#true"),
                (Word, "b"),
                (Terminator, "\r\n"),
                (Word, "c"),
            ]
        );
    }

    #[test]
    fn unterminated_tokens_end_the_scan() {
        assert_eq!(tokens("a \"never closed").count(), 2);
        assert_eq!(tokens("a /* never closed { {").count(), 1);
        assert_eq!(tokens("a #\"raw").count(), 2);
        // A single-line string stops at the newline, which still ends the node.
        assert_eq!(
            kinds("a \"x\nb").iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            vec![Kind::Word, Kind::Str, Kind::Terminator, Kind::Word]
        );
    }

    #[test]
    fn non_ascii_newlines_and_spaces() {
        use Kind::*;
        assert_eq!(
            kinds("a\u{2028}b\u{3000}\"ç\"")
                .iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>(),
            vec![Word, Terminator, Word, Str]
        );
    }
}
