//! Content-Transfer-Encodings (RFC 2045 §6): decoding part bodies for `BINARY[...]`
//! (RFC 3516), and storing binary parts of a literal8 APPEND as base64, as Dovecot does, so
//! that their bytes survive exactly and `BODY[...]` never has to carry a NUL.

use std::ops::Range;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use super::mime::Part;

/// The part's Content-Transfer-Encoding, lower case ("" when there is none).
fn encoding(part: &Part) -> String {
    part.field("content-transfer-encoding")
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// A Content-Transfer-Encoding that cannot be decoded (RFC 3516 §4.3: `[UNKNOWN-CTE]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Content-Transfer-Encoding {0:?}")]
pub struct UnknownCte(pub String);

/// A part as `BINARY[...]` returns it (RFC 3516 §4.2), as Dovecot builds it: a leaf's body
/// decoded; a multipart's or message/rfc822's body with every part inside decoded the same
/// way, each decoded part's header saying `Content-Transfer-Encoding: binary` (at its end, in
/// place of the old one). `header`: start with the part's own header (`BINARY[]`).
pub fn decoded(raw: &[u8], part: &Part, header: bool) -> Result<Vec<u8>, UnknownCte> {
    let mut out = Vec::new();
    decode_into(raw, part, header, &mut out)?;
    Ok(out)
}

fn decode_into(raw: &[u8], part: &Part, header: bool, out: &mut Vec<u8>) -> Result<(), UnknownCte> {
    let cte = encoding(part);
    let converted = matches!(cte.as_str(), "base64" | "quoted-printable");
    if !converted && !matches!(cte.as_str(), "" | "7bit" | "8bit" | "binary") {
        return Err(UnknownCte(cte));
    }
    if header {
        let block = raw.get(part.header.clone()).unwrap_or_default();
        if converted {
            out.extend_from_slice(&binary_header(raw, part));
        } else {
            out.extend_from_slice(block);
        }
    }
    if let Some(m) = &part.message {
        return decode_into(raw, m, true, out);
    }
    if part.media.0 == "multipart" && !part.children.is_empty() {
        // Preamble, delimiters and epilogue as they are; the parts decoded.
        let mut pos = part.body.start;
        for c in &part.children {
            out.extend_from_slice(raw.get(pos..c.header.start).unwrap_or_default());
            decode_into(raw, c, true, out)?;
            pos = c.body.end;
        }
        out.extend_from_slice(raw.get(pos..part.body.end).unwrap_or_default());
        return Ok(());
    }
    if let Some(body) = decode_body(part, raw) {
        out.extend_from_slice(&body);
    }
    Ok(())
}

/// A decoded part's header: its Content-Transfer-Encoding fields removed and
/// `Content-Transfer-Encoding: binary` added last.
fn binary_header(raw: &[u8], part: &Part) -> Vec<u8> {
    let block = raw.get(part.header.clone()).unwrap_or_default();
    let mut out = Vec::with_capacity(block.len() + 36);
    let mut pos = part.header.start;
    while let Some(r) = field_span(raw, pos..part.header.end, "content-transfer-encoding") {
        out.extend_from_slice(raw.get(pos..r.start).unwrap_or_default());
        pos = r.end;
    }
    let rest = raw.get(pos..part.header.end).unwrap_or_default();
    // The blank line that ends the header stays last.
    let blank = if rest.ends_with(b"\r\n") && (rest.len() == 2 || rest.ends_with(b"\n\r\n")) {
        2
    } else if rest.ends_with(b"\n") && (rest.len() == 1 || rest.ends_with(b"\n\n")) {
        1
    } else {
        0
    };
    out.extend_from_slice(rest.get(..rest.len() - blank).unwrap_or_default());
    out.extend_from_slice(b"Content-Transfer-Encoding: binary\r\n");
    out.extend_from_slice(rest.get(rest.len() - blank..).unwrap_or_default());
    out
}

/// Decodes a leaf part's body for `BINARY[...]` (base64 and quoted-printable); `None` when
/// the encoding is unknown.
pub fn decode_body(part: &Part, raw: &[u8]) -> Option<Vec<u8>> {
    let body = raw.get(part.body.clone()).unwrap_or_default();
    match encoding(part).as_str() {
        "" | "7bit" | "8bit" | "binary" => Some(body.to_vec()),
        "base64" => {
            let clean: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            STANDARD.decode(&clean).ok().or_else(|| {
                STANDARD_NO_PAD
                    .decode(clean.strip_suffix(b"=").unwrap_or(&clean))
                    .ok()
            })
        }
        "quoted-printable" => Some(decode_qp(body)),
        _ => None,
    }
}

/// Quoted-printable (RFC 2045 §6.7), line by line:
///
/// - rule 3: white space at the end of an encoded line is not part of the data (a transport
///   may have added it), so it is removed before decoding;
/// - rule 5: a line that then ends in `=` is a soft line break: the `=` and the line end go;
/// - `=XY` is the octet XY (lower-case hex accepted, rule 1); an `=` not followed by two hex
///   digits is kept as it is.
///
/// Hard line ends are kept as written (CRLF or LF).
fn decode_qp(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while !rest.is_empty() {
        let (line, eol, next): (&[u8], &[u8], &[u8]) = match rest.iter().position(|b| *b == b'\n') {
            Some(p) => {
                let (line, after) = rest.split_at(p);
                match line.strip_suffix(b"\r") {
                    Some(l) => (l, b"\r\n", after.get(1..).unwrap_or_default()),
                    None => (line, b"\n", after.get(1..).unwrap_or_default()),
                }
            }
            None => (rest, b"", b""),
        };
        rest = next;
        let line = line.trim_ascii_end();
        let (line, soft) = match line.strip_suffix(b"=") {
            Some(l) => (l, true),
            None => (line, false),
        };
        let mut i = 0;
        while let Some(&b) = line.get(i) {
            let hex = line
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (b, hex) {
                (b'=', Some(h)) => {
                    out.push(h);
                    i += 3;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        if !soft {
            out.extend_from_slice(eol);
        }
    }
    out
}

/// The byte range in `raw` of a header field (first occurrence, continuation lines
/// included) within the header block `raw[header]`.
fn field_span(raw: &[u8], header: Range<usize>, name: &str) -> Option<Range<usize>> {
    let block = raw.get(header.clone())?;
    let mut found: Option<Range<usize>> = None;
    let mut i = 0;
    while i < block.len() {
        let end = block
            .get(i..)?
            .iter()
            .position(|b| *b == b'\n')
            .map_or(block.len(), |p| i + p + 1);
        let line = block.get(i..end)?;
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        match &mut found {
            Some(r) if folded => r.end = header.start + end,
            Some(_) => break,
            None if !folded => {
                let key = line.split(|b| *b == b':').next().unwrap_or_default();
                if line.contains(&b':') && key.trim_ascii().eq_ignore_ascii_case(name.as_bytes()) {
                    found = Some(header.start + i..header.start + end);
                }
            }
            None => {}
        }
        i = end;
    }
    found
}

/// Base64 in lines of 76 characters separated by CRLF (RFC 2045 §6.8), no line end after
/// the last one (the line end before a boundary belongs to the boundary).
fn base64_lines(data: &[u8]) -> Vec<u8> {
    let text = STANDARD.encode(data);
    let mut out = Vec::with_capacity(text.len() + text.len() / 38 + 2);
    for (n, line) in text.as_bytes().chunks(76).enumerate() {
        if n > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line);
    }
    out
}

fn collect_binary(raw: &[u8], part: &Part, edits: &mut Vec<(Range<usize>, Vec<u8>)>) {
    if let Some(m) = &part.message {
        return collect_binary(raw, m, edits);
    }
    if part.media.0 == "multipart" {
        for c in &part.children {
            collect_binary(raw, c, edits);
        }
        return;
    }
    if encoding(part) != "binary" {
        return;
    }
    let (Some(cte), Some(body)) = (
        field_span(raw, part.header.clone(), "content-transfer-encoding"),
        raw.get(part.body.clone()),
    ) else {
        return;
    };
    edits.push((cte, b"Content-Transfer-Encoding: base64\r\n".to_vec()));
    edits.push((part.body.clone(), base64_lines(body)));
}

/// A message sent as a literal8 (RFC 3516 §4.4): every leaf part whose
/// Content-Transfer-Encoding is `binary` is stored base64-encoded instead, with its header
/// saying so (as Dovecot's binary converter does). `BINARY[part]` decodes it back to the exact
/// bytes appended; `BODY[part]` is plain text that any literal can carry.
pub fn binary_to_base64(data: Vec<u8>) -> Vec<u8> {
    let mut edits = Vec::new();
    collect_binary(&data, &Part::message(&data), &mut edits);
    if edits.is_empty() {
        return data;
    }
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = Vec::with_capacity(data.len() * 4 / 3 + 64);
    let mut pos = 0;
    for (r, new) in edits {
        if r.start < pos {
            continue;
        }
        out.extend_from_slice(data.get(pos..r.start).unwrap_or_default());
        out.extend_from_slice(&new);
        pos = r.end;
    }
    out.extend_from_slice(data.get(pos..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// imaptest fetch-binary-mime-qp: trailing white space goes (rule 3), `=` followed by
    /// white space is still a soft line break (rule 5).
    #[test]
    fn quoted_printable_rules() {
        let body = b"hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\nfoo\t \t= \r\n=62\r\nfoo = \t\r\nbar\r\nfoo =\r\n=62\r\nfoo  \r\nbar=\r\n\r\nfoo_bar\r\n";
        let out = decode_qp(body);
        assert_eq!(
            out,
            b"hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\nfoo\r\nbar\r\nfoo_bar\r\n"
        );
        assert_eq!(out.len(), 65);
        assert_eq!(decode_qp(b"a=3d=3Db =zz=\n"), b"a==b =zz");
        assert_eq!(decode_qp(b"last line  "), b"last line");
        assert_eq!(decode_qp(b"lf\nends\n"), b"lf\nends\n");
    }

    /// imaptest append-binary: a literal8 with NUL, bare CR and LF in a binary part.
    #[test]
    fn binary_parts_become_base64() {
        let msg = b"From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\0-\xe4\n\r\n\n".to_vec();
        let stored = binary_to_base64(msg);
        let text = String::from_utf8(stored.clone()).unwrap();
        assert!(
            text.ends_with("Content-Transfer-Encoding: base64\r\n\r\nAC3kCg0KCg=="),
            "{text}"
        );
        let p = Part::message(&stored);
        let part = p.find(&[1]).unwrap();
        assert_eq!(decode_body(part, &stored).unwrap(), b"\0-\xe4\n\r\n\n");
    }

    /// `BINARY[n]` of a multipart decodes the parts inside it, as Dovecot does; `BINARY[]`
    /// the whole message, header included.
    #[test]
    fn multiparts_decode_inside() {
        let raw = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\nContent-Transfer-Encoding: base64\r\nContent-Type: image/gif\r\n\r\nR0lGODlh\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db\r\n--b--\r\nepi\r\n";
        let p = Part::message(raw);
        let body = "pre\r\n--b\r\nContent-Type: image/gif\r\nContent-Transfer-Encoding: binary\r\n\r\nGIF89a\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\nContent-Transfer-Encoding: binary\r\n\r\na=b\r\n--b--\r\nepi\r\n";
        assert_eq!(String::from_utf8(decoded(raw, &p, false).unwrap()).unwrap(), body);
        let whole = decoded(raw, &p, true).unwrap();
        assert_eq!(
            String::from_utf8(whole).unwrap(),
            format!("Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n{body}")
        );
        assert_eq!(decoded(raw, p.find(&[2, 1]).unwrap(), false).unwrap(), b"a=b");
        let odd = Part::message(b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n");
        assert_eq!(
            decoded(
                b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n",
                &odd,
                false
            ),
            Err(UnknownCte("x-uuencode".into()))
        );
    }

    #[test]
    fn binary_parts_inside_multiparts_and_long_bodies() {
        let big: Vec<u8> = (0..=255u8).cycle().take(200).collect();
        let mut msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nkeep\nme\r\n--b\r\nContent-transfer-encoding:\r\n  BINARY\r\nX-After: 1\r\n\r\n".to_vec();
        msg.extend_from_slice(&big);
        msg.extend_from_slice(b"\r\n--b--\r\n");
        let stored = binary_to_base64(msg);
        let text = String::from_utf8(stored.clone()).unwrap();
        assert!(text.contains("\r\n\r\nkeep\nme\r\n--b\r\n"), "{text}");
        assert!(
            text.contains("Content-Transfer-Encoding: base64\r\nX-After: 1\r\n\r\n"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.len() <= 76), "{text}");
        let p = Part::message(&stored);
        assert_eq!(decode_body(p.find(&[2]).unwrap(), &stored).unwrap(), big);
        // Nothing binary: unchanged.
        assert_eq!(binary_to_base64(b"A: b\r\n\r\nx\n".to_vec()), b"A: b\r\n\r\nx\n");
    }
}
