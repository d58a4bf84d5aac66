//! Message commands: FETCH items and body sections (RFC 9051 §6.4.5 `fetch-att`, `section`,
//! RFC 3516 BINARY), STORE, COPY/MOVE, UID and the CONDSTORE modifiers (RFC 7162).

use super::{Command, FetchItem, Parser, Qresync, R, Section, SectionKind, SeqSet, StoreOp, err};

impl Parser<'_> {
    pub(super) fn section(&mut self) -> R<Section> {
        self.expect(b'[')?;
        let mut s = Section::default();
        loop {
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                s.part.push(self.nz_number()?);
                if !self.maybe(b'.') {
                    break;
                }
                continue;
            }
            break;
        }
        if self.peek() != Some(b']') {
            let w = {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == b'.') {
                    self.pos += 1;
                }
                String::from_utf8_lossy(&self.buf[start..self.pos]).to_ascii_uppercase()
            };
            s.kind = match w.as_str() {
                "HEADER" => SectionKind::Header,
                "HEADER.FIELDS" => SectionKind::HeaderFields,
                "HEADER.FIELDS.NOT" => SectionKind::HeaderFieldsNot,
                "TEXT" => SectionKind::Text,
                "MIME" if !s.part.is_empty() => SectionKind::Mime,
                _ => return err("bad section"),
            };
            if matches!(s.kind, SectionKind::HeaderFields | SectionKind::HeaderFieldsNot) {
                self.sp()?;
                self.expect(b'(')?;
                loop {
                    s.fields.push(self.astring()?);
                    if self.maybe(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
        }
        self.expect(b']')?;
        Ok(s)
    }

    pub(super) fn partial(&mut self) -> R<Option<(u32, u32)>> {
        if !self.maybe(b'<') {
            return Ok(None);
        }
        let origin = self.number()? as u32;
        self.expect(b'.')?;
        let len = self.nz_number()?;
        self.expect(b'>')?;
        Ok(Some((origin, len)))
    }

    pub(super) fn fetch_att(&mut self) -> R<Vec<FetchItem>> {
        let w = self.word();
        Ok(match w.as_str() {
            "ALL" => vec![
                FetchItem::Flags,
                FetchItem::InternalDate,
                FetchItem::Rfc822Size,
                FetchItem::Envelope,
            ],
            "FAST" => vec![FetchItem::Flags, FetchItem::InternalDate, FetchItem::Rfc822Size],
            "FULL" => vec![
                FetchItem::Flags,
                FetchItem::InternalDate,
                FetchItem::Rfc822Size,
                FetchItem::Envelope,
                FetchItem::Body,
            ],
            "UID" => vec![FetchItem::Uid],
            "FLAGS" => vec![FetchItem::Flags],
            "INTERNALDATE" => vec![FetchItem::InternalDate],
            "ENVELOPE" => vec![FetchItem::Envelope],
            "BODYSTRUCTURE" => vec![FetchItem::BodyStructure],
            "MODSEQ" => vec![FetchItem::ModSeq],
            "RFC822" => {
                if self.maybe(b'.') {
                    match self.word().as_str() {
                        "SIZE" => vec![FetchItem::Rfc822Size],
                        "HEADER" => vec![FetchItem::Rfc822(Some(SectionKind::Header))],
                        "TEXT" => vec![FetchItem::Rfc822(Some(SectionKind::Text))],
                        _ => return err("unknown RFC822 item"),
                    }
                } else {
                    vec![FetchItem::Rfc822(None)]
                }
            }
            "BODY" | "BINARY" => {
                let binary = w == "BINARY";
                let mut peek = false;
                if self.maybe(b'.') {
                    match self.word().as_str() {
                        "PEEK" => peek = true,
                        "SIZE" if binary => {
                            let s = self.section()?;
                            return Ok(vec![FetchItem::BinarySize(s.part)]);
                        }
                        _ => return err("unknown BODY item"),
                    }
                }
                if self.peek() != Some(b'[') {
                    if peek || binary {
                        return err("BODY.PEEK and BINARY need a section");
                    }
                    return Ok(vec![FetchItem::Body]);
                }
                let section = self.section()?;
                if binary && section.kind != SectionKind::Full {
                    return err("BINARY takes part numbers only");
                }
                let partial = self.partial()?;
                vec![FetchItem::Section {
                    section,
                    partial,
                    peek,
                    binary,
                }]
            }
            "" => return err("expected a fetch item"),
            other => return err(format!("unknown fetch item {other}")),
        })
    }

    pub(super) fn fetch_items(&mut self) -> R<Vec<FetchItem>> {
        if self.maybe(b'(') {
            let mut out = Vec::new();
            loop {
                out.extend(self.fetch_att()?);
                if self.maybe(b')') {
                    break;
                }
                self.sp()?;
            }
            Ok(out)
        } else {
            self.fetch_att()
        }
    }

    /// `fetch-modifier = chgsince-fetch-mod / "VANISHED"` (RFC 7162 §3.1.4.1, §3.2.6):
    /// the CHANGEDSINCE value and whether VANISHED was asked for.
    pub(super) fn fetch_modifiers(&mut self) -> R<(Option<u64>, bool)> {
        let (mut changed_since, mut vanished) = (None, false);
        if self.peek() == Some(b' ') && self.buf.get(self.pos + 1) == Some(&b'(') {
            self.pos += 2;
            while !self.maybe(b')') {
                self.maybe(b' ');
                match self.word().as_str() {
                    "CHANGEDSINCE" => {
                        self.sp()?;
                        changed_since = Some(self.number()?);
                    }
                    "VANISHED" => vanished = true,
                    other => return err(format!("unsupported FETCH modifier {other}")),
                }
            }
        }
        if vanished && changed_since.is_none() {
            return err("VANISHED needs CHANGEDSINCE");
        }
        Ok((changed_since, vanished))
    }

    /// `QRESYNC (uidvalidity mod-sequence-value [SP known-uids] [SP seq-match-data])`
    /// (RFC 7162 §3.2.5).
    pub(super) fn qresync(&mut self) -> R<Qresync> {
        self.expect(b'(')?;
        let uidvalidity = self.nz_number()?;
        self.sp()?;
        let modseq = self.number()?;
        let (mut known_uids, mut seq_match) = (None, None);
        if self.maybe(b' ') {
            if self.peek() == Some(b'(') {
                seq_match = Some(self.seq_match()?);
            } else {
                known_uids = Some(self.seq_set()?);
                if self.maybe(b' ') {
                    seq_match = Some(self.seq_match()?);
                }
            }
        }
        self.expect(b')')?;
        Ok(Qresync {
            uidvalidity,
            modseq,
            known_uids,
            seq_match,
        })
    }

    fn seq_match(&mut self) -> R<(SeqSet, SeqSet)> {
        self.expect(b'(')?;
        let seqs = self.seq_set()?;
        self.sp()?;
        let uids = self.seq_set()?;
        self.expect(b')')?;
        Ok((seqs, uids))
    }

    pub(super) fn uid_command(&mut self) -> R<Command> {
        self.sp()?;
        let w = self.word();
        match w.as_str() {
            "FETCH" | "STORE" | "COPY" | "MOVE" => self.message_command(&w, true),
            "SEARCH" => self.search(true),
            "SORT" => self.sort(true),
            "THREAD" => self.thread(true),
            "EXPUNGE" => {
                self.sp()?;
                Ok(Command::Expunge(Some(self.seq_set()?)))
            }
            other => err(format!("UID {other} is not a command")),
        }
    }

    pub(super) fn message_command(&mut self, w: &str, uid: bool) -> R<Command> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        match w {
            "FETCH" => {
                let items = self.fetch_items()?;
                let (changed_since, vanished) = self.fetch_modifiers()?;
                if vanished && !uid {
                    return err("VANISHED is for UID FETCH");
                }
                Ok(Command::Fetch {
                    uid,
                    set,
                    items,
                    changed_since,
                    vanished,
                })
            }
            "STORE" => {
                let unchanged_since = if self.maybe(b'(') {
                    let w = self.word();
                    if w != "UNCHANGEDSINCE" {
                        return err(format!("unsupported STORE modifier {w}"));
                    }
                    self.sp()?;
                    let n = self.number()?;
                    self.expect(b')')?;
                    self.sp()?;
                    Some(n)
                } else {
                    None
                };
                let op = if self.maybe(b'+') {
                    StoreOp::Add
                } else if self.maybe(b'-') {
                    StoreOp::Remove
                } else {
                    StoreOp::Replace
                };
                if !self.keyword("FLAGS") {
                    return err("expected FLAGS");
                }
                let silent = self.maybe(b'.') && {
                    if self.word() != "SILENT" {
                        return err("expected .SILENT");
                    }
                    true
                };
                self.sp()?;
                let flags = self.flags()?;
                Ok(Command::Store {
                    uid,
                    set,
                    op,
                    silent,
                    flags,
                    unchanged_since,
                })
            }
            _ => {
                let mailbox = self.mailbox()?;
                Ok(Command::Copy {
                    uid,
                    set,
                    mailbox,
                    moving: w == "MOVE",
                })
            }
        }
    }
}
