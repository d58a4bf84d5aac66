//! Secrets never reach a printed snippet. Diagnostics in the human format show the lines
//! around a problem; this module finds every secret value in the text so [`super::Source`]
//! can hand miette a copy with those bytes replaced by `*` (same length, so every span still
//! points where it did).
//!
//! What counts as a secret, by name, wherever it is written (even in the wrong place, and in
//! files that are not valid KDL):
//!
//! - every value of a node named like a secret setting of the spec (`password`,
//!   `database-password`, `token`, `credentials`) or a typo away from one (`pasword`), except
//!   the reference properties `env=`, `file=` and `env-prefix=`;
//! - the value of a property with such a name (`password="..."`);
//! - a `password-hash` that is not a PHC string (it is then most likely a plain password);
//! - the password in a URL (`scheme://user:PASSWORD@host`, `...?password=PASSWORD`).

use super::lexer::{self, Kind, Token};
use super::reader::suggest;
use super::spec;

/// Property names that hold a reference to a secret, not the secret.
const REFERENCES: &[&str] = &["env", "file", "env-prefix"];

/// Names whose values are secrets: the spec's secret settings, and names a typo away from
/// one (`pasword "..."` is refused as an unknown node, but its value is still a password).
fn is_secret_name(name: &str) -> bool {
    spec::secret_names().any(|s| s == name) || suggest(name, spec::secret_names()).is_some()
}

/// The unquoted name a token spells, if it is a word or a string (node or property names).
fn name_of<'t>(text: &'t str, token: &Token) -> Option<&'t str> {
    match token.kind {
        Kind::Word | Kind::Str => text.get(token.body.0..token.body.1),
        _ => None,
    }
}

/// What the names around a value say about it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// A secret setting (or a typo of one).
    Secret,
    /// `env=`, `file=`, `env-prefix=`: a reference, shown.
    Reference,
    /// `password-hash`: secret unless it looks like a hash.
    PasswordHash,
    /// Anything else.
    Plain,
}

fn owner(name: &str) -> Owner {
    if REFERENCES.contains(&name) {
        Owner::Reference
    } else if name == "password-hash" {
        Owner::PasswordHash
    } else if is_secret_name(name) {
        Owner::Secret
    } else {
        Owner::Plain
    }
}

/// The byte ranges of `text` that hold secret values. Each name is judged once, when it is
/// read, so the cost is linear in the number of tokens.
pub fn secret_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    // What the node being read is (once its name is known), and the property whose value
    // comes next.
    let mut node: Option<Owner> = None;
    let mut key: Option<Owner> = None;
    let mut parens = 0usize;
    let mut tokens = lexer::tokens(text).peekable();
    while let Some(token) = tokens.next() {
        match token.kind {
            Kind::Terminator | Kind::Open | Kind::Close => {
                node = None;
                key = None;
                parens = 0;
            }
            Kind::LParen => parens += 1,
            Kind::RParen => parens = parens.saturating_sub(1),
            // Type annotations `(name)` are neither node names nor values.
            _ if parens > 0 => {}
            Kind::Slashdash | Kind::Equals => {}
            Kind::Word | Kind::Str => {
                let name = || owner(name_of(text, &token).unwrap_or(""));
                let Some(node) = node else {
                    node = Some(name());
                    continue;
                };
                if tokens.peek().is_some_and(|t| t.kind == Kind::Equals) {
                    key = Some(name());
                    continue;
                }
                let value = text.get(token.body.0..token.body.1).unwrap_or("");
                let secret = match (key.take(), node) {
                    (Some(Owner::Reference), _) => false,
                    (Some(Owner::Secret), _) | (_, Owner::Secret) => true,
                    (Some(Owner::PasswordHash), _) | (None, Owner::PasswordHash) => !value.starts_with('$'),
                    _ => false,
                };
                if secret {
                    out.push(token.body);
                } else {
                    out.extend(url_password(value).map(|(a, b)| (token.body.0 + a, token.body.0 + b)));
                }
            }
        }
    }
    out
}

/// The password inside a URL-like value, as a byte range of `value`.
fn url_password(value: &str) -> Option<(usize, usize)> {
    if let Some(scheme_end) = value.find("://") {
        let authority_start = scheme_end + 3;
        let rest = value.get(authority_start..)?;
        let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = rest.get(..authority_len)?;
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority.get(..at)?.find(':')
        {
            return Some((authority_start + colon + 1, authority_start + at));
        }
    }
    let start = value.find("password=")? + "password=".len();
    let len = value
        .get(start..)?
        .find(['&', ' '])
        .unwrap_or(value.len() - start);
    Some((start, start + len))
}

/// `value` with the password of a URL in it replaced by `*`s, for messages that quote it.
pub fn mask_url(value: &str) -> String {
    let mut out = value.to_owned();
    if let Some((start, end)) = url_password(value)
        && let Some(password) = value.get(start..end)
    {
        out.replace_range(start..end, &"*".repeat(password.chars().count()));
    }
    out
}

/// `text` with every secret value's bytes replaced by `*`: the same length, line breaks and
/// character boundaries, so offsets into `text` are offsets into the result. `None` when
/// there is nothing to hide.
pub fn redacted(text: &str) -> Option<String> {
    let ranges = secret_ranges(text);
    if ranges.is_empty() {
        return None;
    }
    let mut bytes = text.as_bytes().to_vec();
    for (start, end) in ranges {
        // Each range starts and ends on a character boundary (tokens end at ASCII quotes,
        // spaces or punctuation), and `*` is one byte: the result stays UTF-8. Line breaks
        // (in multi-line strings) stay, so lines keep their numbers.
        let Some(secret) = text.get(start..end) else {
            continue;
        };
        for (i, c) in secret.char_indices().filter(|(_, c)| !lexer::is_newline(*c)) {
            if let Some(b) = bytes.get_mut(start + i..start + i + c.len_utf8()) {
                b.fill(b'*');
            }
        }
    }
    Some(String::from_utf8(bytes).unwrap_or_else(|_| {
        // Not reached; if it were, hide everything rather than show a secret.
        text.chars()
            .map(|c| if lexer::is_newline(c) { c } else { ' ' })
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        redacted(text).unwrap_or_else(|| text.to_owned())
    }

    #[test]
    fn inline_secrets_are_hidden_in_every_form() {
        assert_eq!(
            shown("relay \"r:587\" {\n    username \"apikey\"\n    password \"hunter2\"\n}\n"),
            "relay \"r:587\" {\n    username \"apikey\"\n    password \"*******\"\n}\n"
        );
        assert_eq!(
            shown("relay \"r:587\" username=\"apikey\" password=\"hunter2\""),
            "relay \"r:587\" username=\"apikey\" password=\"*******\""
        );
        assert_eq!(shown("token hunter2 #\"x\"#"), "token ******* #\"*\"#");
        assert_eq!(shown("pasword \"hunter2\""), "pasword \"*******\"");
        assert_eq!(shown("to \"alice\" port=\"25\""), "to \"alice\" port=\"25\"");
        assert_eq!(shown("/-password (t)\"pw\""), "/-password (t)\"**\"");
        assert_eq!(
            shown("password \\\n    \"hunter2\""),
            "password \\\n    \"*******\""
        );
    }

    #[test]
    fn references_stay_visible() {
        let text =
            "password env=\"RELAY_PW\"\ndatabase-password file=\"/run/s\"\ncredentials env-prefix=\"S3_\"\n";
        assert_eq!(shown(text), text);
    }

    #[test]
    fn plain_passwords_in_password_hash_are_hidden_but_hashes_are_not() {
        assert_eq!(
            shown("user \"bob\" {\n    password-hash \"correct horse\"\n}"),
            "user \"bob\" {\n    password-hash \"*************\"\n}"
        );
        let hash = "user \"a\" password-hash=\"$argon2id$v=19$m=1,t=2,p=1$c2FsdA$aGFzaA\"";
        assert_eq!(shown(hash), hash);
    }

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            shown("database \"postgres://yubin:hunter2@db/yubin\""),
            "database \"postgres://yubin:*******@db/yubin\""
        );
        assert_eq!(
            shown("database \"postgres://db/yubin?sslmode=require&password=hunter2\""),
            "database \"postgres://db/yubin?sslmode=require&password=*******\""
        );
        assert_eq!(mask_url("mysql://u:pw@h/x"), "mysql://u:**@h/x");
        let plain = "database \"postgres://yubin@db/yubin\" url=\"https://h/x\"";
        assert_eq!(shown(plain), plain);
    }

    #[test]
    fn secrets_are_hidden_in_files_that_are_not_kdl() {
        assert_eq!(
            shown("relay {\n    password \"hunter2\n}"),
            "relay {\n    password \"*******\n}"
        );
        assert_eq!(shown("password \"pässwörd\""), "password \"**********\"");
    }

    #[test]
    fn multi_line_secrets_keep_their_lines() {
        assert_eq!(
            shown("token \"\"\"\n  ab\r\n  c\n  \"\"\""),
            "token \"\"\"\n****\r\n***\n**\"\"\""
        );
    }

    #[test]
    fn offsets_are_kept() {
        let text = "a \"ü\"\npassword \"ü\" \"ç\"\nb \"é\"";
        let out = shown(text);
        assert_eq!(out.len(), text.len());
        assert_eq!(out.lines().count(), text.lines().count());
        assert!(!out.contains('ç'));
    }
}
