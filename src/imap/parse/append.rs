//! APPEND's messages: `append-message = [SP flag-list] [SP date-time] SP append-data`
//! (RFC 3502 MULTIAPPEND), `append-data = literal / literal8` (RFC 3516 §4.4) `/ "CATENATE"
//! SP "(" cat-part *(SP cat-part) ")"` with `cat-part = "TEXT" SP literal / "URL" SP astring`
//! (RFC 4469 §5).

use super::{AppendContent, AppendMessage, CatPart, Parser, R, Section, err};

impl Parser<'_> {
    /// One message after APPEND's mailbox (the space before it is read).
    pub(super) fn append_message(&mut self) -> R<AppendMessage> {
        let flags = if self.peek() == Some(b'(') {
            let f = self.flag_list()?;
            self.sp()?;
            f
        } else {
            Vec::new()
        };
        let date = if self.peek() == Some(b'"') {
            let d = self.date_time()?;
            self.sp()?;
            Some(d)
        } else {
            None
        };
        let content = if self.keyword("CATENATE") {
            self.sp()?;
            self.expect(b'(')?;
            let mut parts = Vec::new();
            loop {
                parts.push(match self.word().as_str() {
                    "TEXT" => {
                        self.sp()?;
                        if self.peek() == Some(b'~') {
                            return err("CATENATE TEXT takes a literal, not a literal8");
                        }
                        CatPart::Text(self.literal()?)
                    }
                    "URL" => {
                        self.sp()?;
                        CatPart::Url(self.astring()?)
                    }
                    other => return err(format!("expected TEXT or URL, not {other:?}")),
                });
                if self.maybe(b')') {
                    break;
                }
                self.sp()?;
            }
            AppendContent::Catenate(parts)
        } else {
            let binary = self.peek() == Some(b'~');
            AppendContent::Literal {
                data: self.literal()?,
                binary,
            }
        };
        Ok(AppendMessage { flags, date, content })
    }
}

/// Parses the section of an IMAP URL (`HEADER`, `1.MIME`, `HEADER.FIELDS (Subject)`), as in
/// `BODY[...]`.
pub fn url_section(section: &str) -> R<Section> {
    let text = format!("[{section}]");
    let mut p = Parser::new(text.as_bytes());
    let s = p.section()?;
    if !p.at_end() {
        return err("unexpected characters after the section");
    }
    Ok(s)
}
