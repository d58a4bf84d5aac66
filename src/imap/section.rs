//! What a FETCH section is (RFC 9051 §6.4.5, RFC 3516): its name in the response, its bytes
//! (`BODY[...]`, following message/rfc822 encapsulation), the decoded bytes of `BINARY[...]`,
//! and how they are sent (a literal8 only for BINARY).

use super::mime::{self, Part};
use super::parse::{FetchItem, SectionKind};
use super::transfer;

/// The name of a section item in the response (`BODY[1.HEADER.FIELDS (From)]<0>`).
pub(super) fn section_key(item: &FetchItem) -> String {
    let FetchItem::Section {
        section,
        partial,
        binary,
        ..
    } = item
    else {
        return String::new();
    };
    let mut s = String::from(if *binary { "BINARY[" } else { "BODY[" });
    let part: Vec<String> = section.part.iter().map(u32::to_string).collect();
    s.push_str(&part.join("."));
    let kind = match section.kind {
        SectionKind::Full => "",
        SectionKind::Header => "HEADER",
        SectionKind::HeaderFields => "HEADER.FIELDS",
        SectionKind::HeaderFieldsNot => "HEADER.FIELDS.NOT",
        SectionKind::Text => "TEXT",
        SectionKind::Mime => "MIME",
    };
    if !kind.is_empty() {
        if !part.is_empty() {
            s.push('.');
        }
        s.push_str(kind);
    }
    if !section.fields.is_empty() {
        let f: Vec<String> = section
            .fields
            .iter()
            .map(|f| super::write::astring(f, false))
            .collect();
        s.push_str(&format!(" ({})", f.join(" ")));
    }
    s.push(']');
    if let Some((origin, _)) = partial {
        s.push_str(&format!("<{origin}>"));
    }
    s
}

/// The bytes of a section; `None` when the part does not exist.
pub(super) fn section_bytes(
    raw: &[u8],
    msg: &Part,
    part: &[u32],
    kind: SectionKind,
    fields: &[String],
) -> Option<Vec<u8>> {
    let p = if part.is_empty() { msg } else { msg.find(part)? };
    // HEADER, TEXT and HEADER.FIELDS of a part number apply to its encapsulated message.
    let inner = if part.is_empty() {
        Some(p)
    } else {
        p.message.as_deref()
    };
    Some(match kind {
        SectionKind::Full if part.is_empty() => raw.to_vec(),
        SectionKind::Full => raw[p.body.clone()].to_vec(),
        SectionKind::Mime => raw[p.header.clone()].to_vec(),
        SectionKind::Header => inner.map(|m| raw[m.header.clone()].to_vec()).unwrap_or_default(),
        SectionKind::Text => inner.map(|m| raw[m.body.clone()].to_vec()).unwrap_or_default(),
        SectionKind::HeaderFields | SectionKind::HeaderFieldsNot => inner
            .map(|m| {
                mime::header_fields(
                    &raw[m.header.clone()],
                    fields,
                    kind == SectionKind::HeaderFieldsNot,
                )
            })
            .unwrap_or_default(),
    })
}

/// The bytes of `BINARY[part]` (RFC 3516 §4.2): the part decoded with what it contains
/// ([`transfer::decoded`]); `BINARY[]` is the whole message so decoded. A part that does not
/// exist is empty (as Dovecot answers).
pub(super) fn binary_bytes(raw: &[u8], msg: &Part, part: &[u32]) -> Result<Vec<u8>, transfer::UnknownCte> {
    if part.is_empty() {
        return transfer::decoded(raw, msg, true);
    }
    match msg.find(part) {
        Some(p) => transfer::decoded(raw, p, false),
        None => Ok(Vec::new()),
    }
}

/// Appends a literal. Only a `BINARY[...]` answer may be a literal8 (`~{n}`, RFC 3516 §4.3)
/// and carry NUL; anywhere else a NUL is sent as 0x80, as Dovecot does, since an IMAP literal
/// cannot hold one (RFC 9051 §4.3).
pub(super) fn push_literal(out: &mut Vec<u8>, data: &[u8], binary: bool) {
    if !data.contains(&0) {
        super::write::literal(out, data);
    } else if binary {
        out.push(b'~');
        super::write::literal(out, data);
    } else {
        let clean: Vec<u8> = data.iter().map(|b| if *b == 0 { 0x80 } else { *b }).collect();
        super::write::literal(out, &clean);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::Section;

    #[test]
    fn keys() {
        let item = FetchItem::Section {
            section: Section {
                part: vec![1, 2],
                kind: SectionKind::HeaderFields,
                fields: vec!["From".into(), "Subject".into()],
            },
            partial: Some((0, 100)),
            peek: true,
            binary: false,
        };
        assert_eq!(section_key(&item), "BODY[1.2.HEADER.FIELDS (From Subject)]<0>");
        let item = FetchItem::Section {
            section: Section::default(),
            partial: None,
            peek: false,
            binary: false,
        };
        assert_eq!(section_key(&item), "BODY[]");
    }

    #[test]
    fn sections() {
        let raw = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner\r\n--b--\r\n";
        let p = Part::message(raw);
        assert_eq!(
            section_bytes(raw, &p, &[1], SectionKind::Full, &[]).unwrap(),
            b"hi"
        );
        assert_eq!(
            section_bytes(raw, &p, &[1], SectionKind::Mime, &[]).unwrap(),
            b"Content-Type: text/plain\r\n\r\n"
        );
        assert_eq!(
            section_bytes(raw, &p, &[2], SectionKind::Header, &[]).unwrap(),
            b"Subject: in\r\n\r\n"
        );
        assert_eq!(
            section_bytes(raw, &p, &[2], SectionKind::Text, &[]).unwrap(),
            b"inner"
        );
        assert_eq!(
            section_bytes(raw, &p, &[], SectionKind::HeaderFields, &["subject".into()]).unwrap(),
            b"Subject: s\r\n\r\n"
        );
        assert!(section_bytes(raw, &p, &[3], SectionKind::Full, &[]).is_none());
    }

    /// imaptest fetch-body-message-rfc822: for a top-level message/rfc822, part 1 is the
    /// embedded message and `1.HEADER`/`1.TEXT` are its header and body.
    #[test]
    fn top_level_message_rfc822_sections() {
        let raw = b"From: user@domain.org\r\nContent-Type: message/rfc822\r\n\r\nFrom: sub@domain.org\r\nSubject: submsg\r\n\r\nHello world\r\n";
        let p = Part::message(raw);
        let get = |path: &[u32], kind| section_bytes(raw, &p, path, kind, &["subject".into()]);
        assert_eq!(
            get(&[1], SectionKind::Full).unwrap(),
            b"From: sub@domain.org\r\nSubject: submsg\r\n\r\nHello world\r\n"
        );
        assert_eq!(
            get(&[1], SectionKind::Header).unwrap(),
            b"From: sub@domain.org\r\nSubject: submsg\r\n\r\n"
        );
        assert_eq!(
            get(&[1], SectionKind::HeaderFields).unwrap(),
            b"Subject: submsg\r\n\r\n"
        );
        assert_eq!(get(&[1], SectionKind::Text).unwrap(), b"Hello world\r\n");
        assert_eq!(get(&[1, 1], SectionKind::Full).unwrap(), b"Hello world\r\n");
    }

    /// imaptest append-binary: only a BINARY answer is a literal8; elsewhere NUL goes as 0x80.
    #[test]
    fn literal8_only_for_binary() {
        let mut out = Vec::new();
        push_literal(&mut out, b"a\0b", true);
        assert_eq!(out, b"~{3}\r\na\0b");
        out.clear();
        push_literal(&mut out, b"a\0b", false);
        assert_eq!(out, b"{3}\r\na\x80b");
        let raw = b"Subject: x\r\n\r\nbody\r\n";
        let p = Part::message(raw);
        assert_eq!(binary_bytes(raw, &p, &[2]).unwrap(), b"");
        assert_eq!(binary_bytes(raw, &p, &[]).unwrap(), raw);
    }
}
