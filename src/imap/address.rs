//! Address lists as IMAP shows them: the address structures of `ENVELOPE` (RFC 9051 §7.5.2)
//! and the normalized text that `SEARCH FROM/TO/CC/BCC` match (as Dovecot matches them).
//!
//! The values stay as written: encoded-words are not decoded (mail-parser's address parser
//! decodes them, so it does not fit here). The parser is tolerant and never fails; where the
//! input is broken it answers what Dovecot answers (`MISSING_DOMAIN`, `MISSING_MAILBOX`).

use super::mime::Part;
use super::write::nstring;

/// Host (or mailbox) of an address that has none, so that it cannot be read as a group.
const MISSING_DOMAIN: &str = "MISSING_DOMAIN";
const MISSING_MAILBOX: &str = "MISSING_MAILBOX";

/// One entry of an address list. A group start has only `mailbox` (the group name), a group
/// end has nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// Display name (or, for `user@host (Comment)`, the comment).
    pub name: Option<String>,
    /// Obsolete source route (`@a,@b`).
    pub adl: Option<String>,
    /// Local part, or the group name.
    pub mailbox: Option<String>,
    /// Domain; `None` only at group boundaries.
    pub host: Option<String>,
    /// Mailbox or host were missing and filled in.
    filled: bool,
}

impl Address {
    fn group_start(name: String) -> Address {
        Address {
            mailbox: Some(name),
            ..Address::default()
        }
    }

    /// A mailbox, with what is missing filled in (as Dovecot does).
    fn mailbox(name: Option<String>, adl: Option<String>, mailbox: String, host: String) -> Address {
        let filled = mailbox.is_empty() || host.is_empty();
        let fill = |v: String, missing: &str| if v.is_empty() { missing.to_owned() } else { v };
        Address {
            name: name.filter(|n| !n.is_empty()),
            adl,
            mailbox: Some(fill(mailbox, MISSING_MAILBOX)),
            host: Some(fill(host, MISSING_DOMAIN)),
            filled,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Special(char),
    /// An angle-addr, comments and white space removed, quoted parts unescaped.
    Angle(String),
    /// A comment's text: escapes removed, nested parentheses kept.
    Comment(String),
}

/// Reads a comment starting at `chars[i] == '('`; returns its text and the index after it.
fn comment(chars: &[char], mut i: usize) -> (String, usize) {
    let mut out = String::new();
    let mut depth = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '\\' => {
                if let Some(&n) = chars.get(i) {
                    out.push(n);
                    i += 1;
                }
            }
            '(' => {
                if depth > 0 {
                    out.push(c);
                }
                depth += 1;
            }
            ')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
                out.push(c);
            }
            // Folding inside a comment is not part of it.
            '\r' | '\n' => {}
            _ => out.push(c),
        }
    }
    (out, i)
}

/// Reads a quoted string starting at `chars[i] == '"'`; returns its content and the index
/// after it.
fn quoted(chars: &[char], mut i: usize) -> (String, usize) {
    let mut out = String::new();
    i += 1;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '"' => break,
            '\\' => {
                if let Some(&n) = chars.get(i) {
                    out.push(n);
                    i += 1;
                }
            }
            _ => out.push(c),
        }
    }
    (out, i)
}

/// `angle-addr = [CFWS] "<" addr-spec ">" [CFWS]` (RFC 5322 §3.4) with obs-route: the text
/// between the brackets without comments and white space; a quoted local part keeps its
/// quotes. Returns the text and the index after `>`.
fn angle(chars: &[char], mut i: usize) -> (String, usize) {
    let mut out = String::new();
    i += 1;
    while let Some(&c) = chars.get(i) {
        match c {
            '>' => return (out, i + 1),
            '(' => i = comment(chars, i).1,
            '"' => {
                let (q, next) = quoted(chars, i);
                out.push('"');
                out.push_str(&q);
                out.push('"');
                i = next;
            }
            c if c.is_whitespace() => i += 1,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    (out, i)
}

fn tokenize(v: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let chars: Vec<char> = v.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                let (text, next) = comment(&chars, i);
                out.push(Tok::Comment(text));
                i = next;
            }
            '"' => {
                let (text, next) = quoted(&chars, i);
                out.push(Tok::Quoted(text));
                i = next;
            }
            '<' => {
                let (text, next) = angle(&chars, i);
                out.push(Tok::Angle(text));
                i = next;
            }
            ',' | ':' | ';' | '@' => {
                out.push(Tok::Special(c));
                i += 1;
            }
            _ => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|c| !c.is_whitespace() && !"(\"<,:;@".contains(*c))
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    out
}

/// Splits an addr-spec (with an optional obs-route `@a,@b:`) into (route, mailbox, host).
fn split_addr(a: &str) -> (Option<String>, String, String) {
    let (adl, rest) = match a.split_once(':') {
        Some((r, rest)) if r.starts_with('@') => (Some(r.to_owned()), rest),
        _ => (None, a),
    };
    match rest.rsplit_once('@') {
        Some((l, h)) => (adl, l.trim_matches('"').to_owned(), h.to_owned()),
        None => (adl, rest.trim_matches('"').to_owned(), String::new()),
    }
}

/// The address being read.
#[derive(Default)]
struct Pending {
    /// Words and quoted strings (a display name, or a local part without `@`).
    phrase: Vec<String>,
    /// The addr-spec once its `@` was seen.
    spec: Vec<String>,
    /// The last comment after the address started: an addr-spec's display name.
    comment: Option<String>,
}

impl Pending {
    fn started(&self) -> bool {
        !self.phrase.is_empty() || !self.spec.is_empty()
    }

    /// The address of an addr-spec (no angle brackets), if any.
    fn finish(&mut self) -> Option<Address> {
        let p = std::mem::take(self);
        if !p.spec.is_empty() {
            let (adl, mailbox, host) = split_addr(&p.spec.concat());
            return Some(Address::mailbox(p.comment, adl, mailbox, host));
        }
        match p.phrase.len() {
            0 => None,
            // `user`: a mailbox without a domain.
            1 => {
                let mailbox = p.phrase.concat();
                Some(Address::mailbox(p.comment, None, mailbox, String::new()))
            }
            // `John Smith`: a name without an address.
            _ => Some(Address::mailbox(
                Some(p.phrase.join(" ")),
                None,
                String::new(),
                String::new(),
            )),
        }
    }
}

/// Parses an address list (RFC 5322 §3.4, tolerant of obsolete and broken forms):
///
/// ```text
/// address    = mailbox / group
/// mailbox    = name-addr / addr-spec
/// name-addr  = [display-name] angle-addr
/// group      = display-name ":" [group-list] ";" [CFWS]
/// ```
///
/// Comments are not part of an address; the last comment of an addr-spec
/// (`user@domain (Real Name)`) is its display name, as Dovecot reads it.
pub fn addresses(v: &str) -> Vec<Address> {
    let mut out: Vec<Address> = Vec::new();
    let mut cur = Pending::default();
    let mut in_group = false;
    for tok in tokenize(v) {
        match tok {
            Tok::Angle(a) => {
                let name = (!cur.phrase.is_empty()).then(|| cur.phrase.join(" "));
                let (adl, mailbox, host) = split_addr(&a);
                out.push(Address::mailbox(name, adl, mailbox, host));
                cur = Pending::default();
            }
            Tok::Comment(c) => {
                if cur.started() && !c.is_empty() {
                    cur.comment = Some(c);
                }
            }
            Tok::Special(':') if !in_group && cur.spec.is_empty() => {
                out.push(Address::group_start(cur.phrase.join(" ")));
                cur = Pending::default();
                in_group = true;
            }
            Tok::Special(';') if in_group => {
                out.extend(cur.finish());
                out.push(Address::default());
                in_group = false;
            }
            Tok::Special(',') => out.extend(cur.finish()),
            Tok::Special('@') => {
                if cur.spec.is_empty() {
                    cur.spec = std::mem::take(&mut cur.phrase);
                }
                cur.spec.push("@".into());
            }
            Tok::Word(w) | Tok::Quoted(w) => {
                if cur.spec.is_empty() {
                    cur.phrase.push(w);
                } else {
                    cur.spec.push(w);
                }
            }
            Tok::Special(_) => {}
        }
    }
    out.extend(cur.finish());
    if in_group {
        out.push(Address::default());
    }
    out
}

/// The last occurrence of a field (ENVELOPE takes the last Subject, Date, ... as Dovecot does).
fn last_field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Every occurrence of an address field, joined into one list.
fn all_fields(fields: &[(String, String)], name: &str) -> Option<String> {
    let all: Vec<&str> = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim_end())
        .collect();
    (!all.is_empty()).then(|| all.join(", "))
}

fn address_list(v: Option<&str>, utf8: bool) -> String {
    let Some(v) = v else { return "NIL".into() };
    let list = addresses(v);
    if list.is_empty() {
        return "NIL".into();
    }
    let mut s = String::from("(");
    for a in list {
        s.push('(');
        s.push_str(&nstring(a.name.as_deref(), utf8));
        s.push(' ');
        s.push_str(&nstring(a.adl.as_deref(), utf8));
        s.push(' ');
        s.push_str(&nstring(a.mailbox.as_deref(), utf8));
        s.push(' ');
        s.push_str(&nstring(a.host.as_deref(), utf8));
        s.push(')');
    }
    s.push(')');
    s
}

/// The ENVELOPE of a message (RFC 9051 §7.5.2).
pub fn envelope(part: &Part, utf8: bool) -> String {
    // A present but empty field is "" (absent: NIL); the unfolded value keeps its leading
    // white space when the value started on a continuation line (as Dovecot does).
    let f = |n: &str| last_field(&part.fields, n).map(str::trim_end);
    let a = |n: &str| all_fields(&part.fields, n);
    let from = address_list(a("from").as_deref(), utf8);
    let or_from = |v: Option<String>| {
        let l = address_list(v.as_deref(), utf8);
        if l == "NIL" { from.clone() } else { l }
    };
    format!(
        "({} {} {} {} {} {} {} {} {} {})",
        nstring(f("date"), utf8),
        nstring(f("subject"), utf8),
        from,
        or_from(a("sender")),
        or_from(a("reply-to")),
        address_list(a("to").as_deref(), utf8),
        address_list(a("cc").as_deref(), utf8),
        address_list(a("bcc").as_deref(), utf8),
        nstring(f("in-reply-to"), utf8),
        nstring(f("message-id"), utf8),
    )
}

/// A phrase as an RFC 5322 display name: as it is when it is atoms only or holds
/// encoded-words, else quoted.
fn display_name(out: &mut String, name: &str) {
    let atom = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-^_`{|}~".contains(c);
    if name.contains("=?") || name.chars().all(atom) {
        out.push_str(name);
        return;
    }
    out.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// An address field rewritten the way Dovecot matches `SEARCH FROM/TO/CC/BCC`: comments
/// gone, `"Name" <mailbox@host>` or `mailbox@host`, groups as `name: a, b;`.
pub fn normalized(v: &str) -> String {
    let mut out = String::new();
    let mut first = true;
    let mut in_group = false;
    for a in addresses(v) {
        if !first {
            out.push_str(", ");
        }
        first = false;
        let (Some(mailbox), Some(host)) = (&a.mailbox, &a.host) else {
            if in_group {
                // `g: a, b;` and `g:;`.
                let cut = if out.ends_with(", ") { 2 } else { 1 };
                out.truncate(out.len().saturating_sub(cut));
                out.push(';');
            } else {
                match a.mailbox.as_deref() {
                    Some(n) if !n.is_empty() => display_name(&mut out, n),
                    _ => out.push_str("\"\""),
                }
                out.push_str(": ");
                first = true;
            }
            in_group = !in_group;
            continue;
        };
        if a.name.is_none() && a.adl.is_none() && !a.filled {
            out.push_str(&format!("{mailbox}@{host}"));
            continue;
        }
        if let Some(n) = &a.name {
            display_name(&mut out, n);
            out.push(' ');
        }
        out.push('<');
        if let Some(r) = &a.adl {
            out.push_str(r);
            out.push(':');
        }
        out.push_str(&format!("{mailbox}@{host}>"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(list: &str) -> String {
        address_list(Some(list), false)
    }

    #[test]
    fn names_addresses_and_groups() {
        assert_eq!(
            env("\"Alice A.\" <alice@example.com>, bob@example.org"),
            "((\"Alice A.\" NIL \"alice\" \"example.com\")(NIL NIL \"bob\" \"example.org\"))"
        );
        assert_eq!(
            env("Team: carol@example.net, dave@example.net;"),
            "((NIL NIL \"Team\" NIL)(NIL NIL \"carol\" \"example.net\")(NIL NIL \"dave\" \"example.net\")(NIL NIL NIL NIL))"
        );
        assert_eq!(
            env("<@route:user@domain>"),
            "((NIL \"@route\" \"user\" \"domain\"))"
        );
    }

    /// imaptest fetch-envelope, message 4: the comment of an addr-spec is its display name,
    /// groups (also empty ones with a comment) close properly.
    #[test]
    fn comment_is_the_display_name() {
        assert_eq!(
            env("user@domain (Real Name)"),
            "((\"Real Name\" NIL \"user\" \"domain\"))"
        );
        assert_eq!(
            env("group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;"),
            "((NIL NIL \"group\" NIL)(NIL NIL \"g1\" \"d1.org\")(NIL NIL \"g2\" \"d2.org\")(NIL NIL NIL NIL)(NIL NIL \"group2\" NIL)(NIL NIL \"g3\" \"d3.org\")(NIL NIL NIL NIL))"
        );
        assert_eq!(
            env("group:;, group2: (foo) ;"),
            "((NIL NIL \"group\" NIL)(NIL NIL NIL NIL)(NIL NIL \"group2\" NIL)(NIL NIL NIL NIL))"
        );
    }

    /// Comments are never part of the mailbox or host (RFC 5322 §3.4.1), inside angle
    /// brackets neither; compared with Dovecot 2.3.19.
    #[test]
    fn comments_are_not_address_parts() {
        assert_eq!(
            env("<user-from (comment)@ (comment) domain.org>"),
            "((NIL NIL \"user-from\" \"domain.org\"))"
        );
        assert_eq!(env("Name <u (c)@d>"), "((\"Name\" NIL \"u\" \"d\"))");
        assert_eq!(env("x (a) (b) @ y (c) (d)"), "((\"d\" NIL \"x\" \"y\"))");
        assert_eq!(
            env("user@domain (Real\r\n Name), (pre) u3@d3, u4 (in) @d4, u5@d5 ()"),
            "((\"Real Name\" NIL \"user\" \"domain\")(NIL NIL \"u3\" \"d3\")(\"in\" NIL \"u4\" \"d4\")(NIL NIL \"u5\" \"d5\"))"
        );
        assert_eq!(
            env("grp: a@b (X);"),
            "((NIL NIL \"grp\" NIL)(\"X\" NIL \"a\" \"b\")(NIL NIL NIL NIL))"
        );
        assert_eq!(
            env("\"q\\\"x\" (cmt (nested) \\) x) <a@b>"),
            "((\"q\\\"x\" NIL \"a\" \"b\"))"
        );
    }

    /// What is missing is filled in, so that no mailbox reads as a group (Dovecot 2.3.19).
    #[test]
    fn missing_parts_are_filled() {
        assert_eq!(
            env("user, John Smith"),
            "((NIL NIL \"user\" \"MISSING_DOMAIN\")(\"John Smith\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))"
        );
    }

    /// imaptest search-addresses: `SEARCH FROM user-from@domain.org` matches every spelling.
    #[test]
    fn normalized_for_search() {
        for v in [
            "user-from@domain.org",
            "RealFrom <user-from@domain.org>",
            "<user-from (comment)@ (comment) domain.org>",
        ] {
            assert!(
                normalized(v).contains("user-from@domain.org"),
                "{v}: {}",
                normalized(v)
            );
        }
        assert_eq!(
            normalized("user-from@domain.org (RealFrom)"),
            "RealFrom <user-from@domain.org>"
        );
        assert_eq!(
            normalized("John Smith <js@x>, \"Doe, John\" <d@x>, a@b (Cmt X), =?utf-8?q?J=C3=B6rg?= <j@x>"),
            "\"John Smith\" <js@x>, \"Doe, John\" <d@x>, \"Cmt X\" <a@b>, =?utf-8?q?J=C3=B6rg?= <j@x>"
        );
        assert_eq!(normalized("grp: X <a@b>;, g2: (foo) ;"), "grp: X <a@b>;, g2:;");
        assert_eq!(normalized("user"), "<user@MISSING_DOMAIN>");
    }
}
