//! The MIME structure of a message as IMAP sees it (RFC 3501 §6.4.5, §7.4.2; RFC 9051): part
//! boundaries and numbering for `BODY[section]`, and the `BODYSTRUCTURE` string (addresses
//! and `ENVELOPE` are in [`super::address`], transfer encodings in [`super::transfer`]).
//!
//! IMAP returns header values as they are written (encoded-words are not decoded), so this
//! works on the raw bytes with its own tolerant header and Content-Type parsers, and never
//! fails: malformed input yields a plausible structure.

use std::ops::Range;

use super::address::envelope;
use super::write::{nstring, string};

/// One MIME part.
#[derive(Debug, Clone)]
pub struct Part {
    /// The header block, including its terminating blank line.
    pub header: Range<usize>,
    /// The body.
    pub body: Range<usize>,
    /// Unfolded header fields: (name as written, raw value).
    pub fields: Vec<(String, String)>,
    /// Lower-case media type and subtype.
    pub media: (String, String),
    /// Content-Type parameters (names lower-case, values unquoted).
    pub params: Vec<(String, String)>,
    /// Sub-parts of a multipart.
    pub children: Vec<Part>,
    /// The encapsulated message of a message/rfc822 part.
    pub message: Option<Box<Part>>,
}

fn find_header_end(raw: &[u8], start: usize, end: usize) -> (usize, usize) {
    // Returns (end of the header block including the blank line, start of the body).
    let s = &raw[start..end];
    if s.starts_with(b"\r\n") {
        return (start + 2, start + 2);
    }
    if s.starts_with(b"\n") {
        return (start + 1, start + 1);
    }
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\n' {
            if s[i + 1..].starts_with(b"\r\n") {
                return (start + i + 3, start + i + 3);
            }
            if s[i + 1..].starts_with(b"\n") {
                return (start + i + 2, start + i + 2);
            }
        }
        i += 1;
    }
    (end, end)
}

/// Parses the header fields of a header block (unfolding continuation lines).
pub fn parse_fields(block: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(block);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = out.last_mut() {
                last.1.push_str(line);
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim_end();
            if !name.is_empty() && !name.contains(' ') {
                out.push((name.to_owned(), value.trim_start().to_owned()));
            }
        }
    }
    out
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Splits `type/subtype; a=b; c="d"` into the media type and parameters.
pub fn content_type(value: &str) -> ((String, String), Vec<(String, String)>) {
    let mut parts = split_params(value).into_iter();
    let mt = parts.next().unwrap_or_default();
    let (t, s) = mt.split_once('/').unwrap_or((mt.as_str(), ""));
    let media = (t.trim().to_ascii_lowercase(), s.trim().to_ascii_lowercase());
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), unquote(v.trim())))
        })
        .collect();
    (media, params)
}

fn unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        let mut out = String::new();
        let mut esc = false;
        for c in inner.chars() {
            if esc {
                out.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                out.push(c);
            }
        }
        out
    } else {
        v.to_owned()
    }
}

fn strip_comments(v: &str) -> String {
    let mut out = String::new();
    let (mut depth, mut quoted, mut esc) = (0, false, false);
    for c in v.chars() {
        if esc {
            if depth == 0 {
                out.push(c);
            }
            esc = false;
            continue;
        }
        match c {
            '\\' => {
                esc = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn split_params(value: &str) -> Vec<String> {
    let value = strip_comments(value);
    let mut out = vec![String::new()];
    let (mut quoted, mut esc) = (false, false);
    for c in value.chars() {
        if esc {
            esc = false;
        } else if c == '\\' && quoted {
            esc = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ';' && !quoted {
            out.push(String::new());
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out.iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Part {
    /// Parses the message (or part) in `raw[range]`; `digest` makes the default type
    /// message/rfc822 (inside multipart/digest).
    pub fn parse(raw: &[u8], range: Range<usize>, digest: bool, depth: usize) -> Part {
        let (header_end, body_start) = find_header_end(raw, range.start, range.end);
        let fields = parse_fields(&raw[range.start..header_end]);
        let (media, params) = match field(&fields, "content-type") {
            // A type without a subtype is kept as written (as Dovecot does); an empty one is
            // the default.
            Some(v) if !v.split(';').next().unwrap_or("").trim().is_empty() => content_type(v),
            _ if digest => (("message".into(), "rfc822".into()), Vec::new()),
            _ => (
                ("text".into(), "plain".into()),
                vec![("charset".into(), "us-ascii".into())],
            ),
        };
        let mut part = Part {
            header: range.start..header_end,
            body: body_start..range.end,
            fields,
            media,
            params,
            children: Vec::new(),
            message: None,
        };
        if depth > 40 {
            return part;
        }
        if part.media.0 == "multipart" {
            if let Some(b) = part
                .params
                .iter()
                .find(|(k, _)| k == "boundary")
                .map(|(_, v)| v.clone())
            {
                let is_digest = part.media.1 == "digest";
                for r in split_multipart(raw, part.body.clone(), b.as_bytes()) {
                    let mut child = Part::parse(raw, r.clone(), is_digest, depth + 1);
                    // A nested multipart's close-delimiter line keeps its line end (the
                    // outer delimiter's CRLF is the same bytes), as Dovecot reads it.
                    if let Some(inner) = nested_boundary(&child)
                        && raw[r.clone()].ends_with(format!("--{inner}--").as_bytes())
                    {
                        let rest = &raw[r.end..part.body.end];
                        let eol = if rest.starts_with(b"\r\n") {
                            2
                        } else {
                            usize::from(rest.starts_with(b"\n"))
                        };
                        if eol > 0 {
                            extend(&mut child, r.end + eol);
                        }
                    }
                    part.children.push(child);
                }
            }
        } else if part.media.0 == "message" && (part.media.1 == "rfc822" || part.media.1 == "global") {
            part.message = Some(Box::new(Part::parse(raw, part.body.clone(), false, depth + 1)));
        }
        part
    }

    /// Parses a whole message.
    pub fn message(raw: &[u8]) -> Part {
        Part::parse(raw, 0..raw.len(), false, 0)
    }

    /// A header field's raw value.
    pub fn field(&self, name: &str) -> Option<&str> {
        field(&self.fields, name)
    }

    /// The part at an IMAP part path (`[1, 2]`), following message/rfc822 encapsulation
    /// (RFC 9051 §6.4.5), numbered as Dovecot numbers them:
    ///
    /// - the parts of a multipart are its children, from 1;
    /// - anything else has one part, 1: itself (so a message that is not multipart is its own
    ///   part 1, its body; a top-level message/rfc822's part 1 is the whole embedded message);
    /// - a path that goes on past a message/rfc822 part continues in the encapsulated
    ///   message (`2.1` is the body of the message attached as part 2); past any other
    ///   non-multipart part it does not exist.
    pub fn find(&self, path: &[u32]) -> Option<&Part> {
        let mut cur = self;
        let mut rest = path.iter().peekable();
        while let Some(&n) = rest.next() {
            let more = rest.peek().is_some();
            if cur.media.0 == "multipart" {
                cur = cur.children.get((n as usize).checked_sub(1)?)?;
            } else if n != 1 || (more && cur.message.is_none()) {
                return None;
            }
            if more && let Some(m) = &cur.message {
                cur = m;
            }
        }
        Some(cur)
    }
}

fn split_multipart(raw: &[u8], body: Range<usize>, boundary: &[u8]) -> Vec<Range<usize>> {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut i = body.start;
    let mut line_start = true;
    while i < body.end {
        if line_start && raw[i..body.end].starts_with(&delim) {
            let after = i + delim.len();
            let closing = raw[after..body.end].starts_with(b"--");
            // The CRLF before the delimiter belongs to the delimiter.
            let mut end = i;
            if end > body.start && raw[end - 1] == b'\n' {
                end -= 1;
                if end > body.start && raw[end - 1] == b'\r' {
                    end -= 1;
                }
            }
            if let Some(s) = start.take() {
                parts.push(s..end.max(s));
            }
            if closing {
                return parts;
            }
            // Skip to the end of the delimiter line.
            let mut j = after;
            while j < body.end && raw[j] != b'\n' {
                j += 1;
            }
            start = Some((j + 1).min(body.end));
            i = j + 1;
            line_start = true;
            continue;
        }
        line_start = raw[i] == b'\n';
        i += 1;
    }
    if let Some(s) = start {
        parts.push(s..body.end);
    }
    parts
}

/// The body's line count: its line feeds. A last line without one (the CRLF before a boundary
/// belongs to the boundary) is not counted, as Dovecot counts.
fn lines(raw: &[u8]) -> usize {
    raw.iter().filter(|b| **b == b'\n').count()
}

/// The boundary of the multipart a part is or encapsulates.
fn nested_boundary(p: &Part) -> Option<&str> {
    if p.media.0 == "multipart" {
        return p
            .params
            .iter()
            .find(|(k, _)| k == "boundary")
            .map(|(_, v)| v.as_str());
    }
    p.message.as_deref().and_then(nested_boundary)
}

/// Moves the end of a part (and of the message it encapsulates).
fn extend(p: &mut Part, end: usize) {
    p.body.end = end;
    if let Some(m) = &mut p.message {
        extend(m, end);
    }
}

fn params_list(params: &[(String, String)], utf8: bool) -> String {
    if params.is_empty() {
        return "NIL".into();
    }
    let items: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{} {}", string(k, utf8), string(v, utf8)))
        .collect();
    format!("({})", items.join(" "))
}

fn disposition(part: &Part, utf8: bool) -> String {
    match part.field("content-disposition") {
        Some(v) if !v.trim().is_empty() => {
            let items = split_params(v);
            let Some((kind, items)) = items.split_first() else {
                return "NIL".into();
            };
            let kind = kind.to_ascii_lowercase();
            let params: Vec<(String, String)> = items
                .iter()
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k.trim().to_ascii_lowercase(), unquote(v.trim())))
                })
                .collect();
            format!("({} {})", string(&kind, utf8), params_list(&params, utf8))
        }
        _ => "NIL".into(),
    }
}

fn language(part: &Part, utf8: bool) -> String {
    match part.field("content-language") {
        Some(v) => {
            let langs: Vec<&str> = v.split(',').map(str::trim).filter(|l| !l.is_empty()).collect();
            // Always a list, even of one (as Dovecot writes it).
            match langs.len() {
                0 => "NIL".into(),
                _ => format!(
                    "({})",
                    langs
                        .iter()
                        .map(|l| string(l, utf8))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            }
        }
        None => "NIL".into(),
    }
}

/// The BODYSTRUCTURE (`extended`) or BODY of a part.
pub fn body_structure(raw: &[u8], part: &Part, extended: bool, utf8: bool) -> String {
    let f = |n: &str| part.field(n).map(str::trim);
    if part.media.0 == "multipart" {
        let mut s = String::from("(");
        if part.children.is_empty() {
            // A multipart without parts: show it as an empty text part (as Dovecot does).
            s.push_str("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
            s.push_str(if extended { " NIL NIL NIL NIL)" } else { ")" });
        }
        for c in &part.children {
            s.push_str(&body_structure(raw, c, extended, utf8));
        }
        s.push(' ');
        s.push_str(&string(&part.media.1, utf8));
        if extended {
            s.push(' ');
            s.push_str(&params_list(&part.params, utf8));
            s.push(' ');
            s.push_str(&disposition(part, utf8));
            s.push(' ');
            s.push_str(&language(part, utf8));
            s.push(' ');
            s.push_str(&nstring(f("content-location"), utf8));
        }
        s.push(')');
        return s;
    }
    let body = &raw[part.body.clone()];
    // As written (Dovecot keeps the case too).
    let encoding = f("content-transfer-encoding").filter(|e| !e.is_empty());
    // A text part without parameters is us-ascii (RFC 2045 §5.2); say so, as Dovecot does.
    let params = if part.params.is_empty() && part.media.0 == "text" {
        params_list(&[("charset".into(), "us-ascii".into())], utf8)
    } else {
        params_list(&part.params, utf8)
    };
    let mut s = format!(
        "({} {} {} {} {} {} {}",
        string(&part.media.0, utf8),
        string(&part.media.1, utf8),
        params,
        nstring(f("content-id"), utf8),
        nstring(f("content-description"), utf8),
        string(encoding.unwrap_or("7bit"), utf8),
        body.len()
    );
    if let Some(m) = &part.message {
        s.push(' ');
        s.push_str(&envelope(m, utf8));
        s.push(' ');
        s.push_str(&body_structure(raw, m, extended, utf8));
        s.push_str(&format!(" {}", lines(body)));
    } else if part.media.0 == "text" {
        s.push_str(&format!(" {}", lines(body)));
    }
    if extended {
        s.push(' ');
        s.push_str(&nstring(f("content-md5"), utf8));
        s.push(' ');
        s.push_str(&disposition(part, utf8));
        s.push(' ');
        s.push_str(&language(part, utf8));
        s.push(' ');
        s.push_str(&nstring(f("content-location"), utf8));
    }
    s.push(')');
    s
}

/// The header block of a part for `HEADER.FIELDS` (`not`: `.NOT`), with the blank line.
pub fn header_fields(block: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    let mut i = 0;
    while i < block.len() {
        let end = block[i..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(block.len(), |p| i + p + 1);
        let line = &block[i..end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if line[0] != b' ' && line[0] != b'\t' {
            let name = line.split(|b| *b == b':').next().unwrap_or(b"");
            let listed = names
                .iter()
                .any(|n| n.as_bytes().eq_ignore_ascii_case(name.trim_ascii()));
            keep = listed != not;
        }
        if keep {
            out.extend_from_slice(line);
        }
        i = end;
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: &[u8] = b"From: \"Alice A.\" <alice@example.com>\r\nTo: bob@example.org, Team: carol@example.net, dave@example.net;\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\nworld\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: x@y.z\r\n\r\ninner body\r\n--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b1--\r\nepilogue\r\n";

    #[test]
    fn structure_and_sections() {
        let p = Part::message(MULTI);
        assert_eq!(p.media, ("multipart".to_owned(), "mixed".to_owned()));
        assert_eq!(p.children.len(), 3);
        assert_eq!(&MULTI[p.children[0].body.clone()], b"Hello\r\nworld");
        let inner = p.find(&[2]).unwrap();
        assert!(inner.message.is_some());
        let inner_text = p.find(&[2, 1]).unwrap();
        assert_eq!(&MULTI[inner_text.body.clone()], b"inner body");
        assert!(p.find(&[4]).is_none());
        let bs = body_structure(MULTI, &p, true, false);
        assert!(
            bs.starts_with(
                "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL)"
            ),
            "{bs}"
        );
        assert!(bs.contains("(\"attachment\" (\"filename\" \"a.pdf\"))"), "{bs}");
        assert!(
            bs.ends_with(" \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)"),
            "{bs}"
        );
        assert_eq!(
            super::super::transfer::decode_body(p.find(&[3]).unwrap(), MULTI).unwrap(),
            b"%PDF-"
        );
    }

    /// imaptest fetch-body-message-rfc822(-x2): a top-level message/rfc822's part 1 is the
    /// whole embedded message, and numbering goes on inside it.
    #[test]
    fn top_level_message_rfc822_parts() {
        let raw = b"From: user@domain.org\r\nContent-Type: message/rfc822\r\n\r\nFrom: user2@domain.org\r\nContent-Type: message/rfc822\r\n\r\nFrom: sub@domain.org\r\nSubject: submsg\r\n\r\nHello world\r\n";
        let p = Part::message(raw);
        let body = |path: &[u32]| p.find(path).map(|x| &raw[x.body.clone()]);
        let header = |path: &[u32]| p.find(path).map(|x| &raw[x.header.clone()]);
        assert!(body(&[1]).unwrap().starts_with(b"From: user2@domain.org\r\n"));
        assert!(body(&[1, 1]).unwrap().starts_with(b"From: sub@domain.org\r\n"));
        assert_eq!(body(&[1, 1, 1]).unwrap(), b"Hello world\r\n");
        assert_eq!(
            header(&[1, 1, 1]).unwrap(),
            b"From: sub@domain.org\r\nSubject: submsg\r\n\r\n"
        );
        assert!(p.find(&[1, 1, 1, 1]).is_none());
        assert!(p.find(&[2]).is_none());
        // A text message has one part; a leaf inside a multipart answers to one more `.1`.
        let text = Part::message(b"Subject: x\r\n\r\nhi\r\n");
        assert!(text.find(&[1]).is_some() && text.find(&[1, 1]).is_none());
        let multi = Part::message(MULTI);
        assert!(multi.find(&[1, 1]).is_some() && multi.find(&[1, 1, 1]).is_none());
        assert!(multi.find(&[2, 1, 1]).is_none());
    }

    #[test]
    fn envelope_keeps_raw_values_and_groups() {
        let p = Part::message(MULTI);
        let e = envelope(&p, false);
        assert!(e.starts_with("(\"Sun, 22 Nov 2026 12:00:00 +0000\" \"=?utf-8?q?Gr=C3=BC=C3=9Fe?=\" ((\"Alice A.\" NIL \"alice\" \"example.com\"))"), "{e}");
        assert!(e.contains("((NIL NIL \"bob\" \"example.org\")(NIL NIL \"Team\" NIL)(NIL NIL \"carol\" \"example.net\")(NIL NIL \"dave\" \"example.net\")(NIL NIL NIL NIL))"), "{e}");
        assert!(e.ends_with("NIL NIL NIL \"<m1@example.com>\")"), "{e}");
    }

    #[test]
    fn header_field_selection() {
        let p = Part::message(MULTI);
        let h = header_fields(
            &MULTI[p.header.clone()],
            &["subject".into(), "FROM".into()],
            false,
        );
        assert_eq!(
            h,
            b"From: \"Alice A.\" <alice@example.com>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\n"
        );
        let h = header_fields(&MULTI[p.header.clone()], &["subject".into()], true);
        assert!(!String::from_utf8_lossy(&h).contains("Subject"));
    }

    #[test]
    fn broken_input_does_not_panic() {
        for raw in [
            &b""[..],
            b"\r\n",
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x",
            b"no header at all",
            b"A: b\n\nbody",
        ] {
            let p = Part::message(raw);
            let _ = body_structure(raw, &p, true, false);
            let _ = envelope(&p, false);
        }
    }
}
