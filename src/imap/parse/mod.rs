//! IMAP command parsing (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1, with the extensions yubin
//! announces: UIDPLUS, MOVE, ENABLE, IDLE, NAMESPACE, ID, QUOTA, UNSELECT, CONDSTORE, ESEARCH,
//! LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, LITERAL+, SASL-IR, SORT, THREAD, ESORT).
//!
//! The input is a whole command as it came off the wire: literals appear where they were sent,
//! after their `{n}` announcement and CRLF (the connection layer has read them). One method
//! per ABNF production; every failure is a [`ParseError`] with a message for the `BAD` reply.

mod append;
pub use append::url_section;
mod fetch;
mod keys;
mod mailbox;
mod notify;
mod sort;

pub use super::command::{
    AppendContent, AppendMessage, CatPart, Command, FetchItem, ListArgs, NotifyEvent, NotifyFilter,
    NotifyGroup, NotifySpec, ParseError, Qresync, SearchReturn, Section, SectionKind, SeqSet, StoreOp,
};
pub use crate::time::days_from_civil;

type R<T> = Result<T, ParseError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(ParseError(msg.into()))
}

/// A parser over one command.
pub struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Nesting of search keys so far (parentheses, NOT, OR).
    depth: u32,
}

/// Deepest nesting of search keys (parentheses, `NOT`, `OR`) a command may use. Real clients
/// nest a few levels (Thunderbird's `OR OR OR …` for an address list: one per address); the
/// parser, the matcher and the drop of the key tree all recurse once per level.
pub const MAX_SEARCH_DEPTH: u32 = 64;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

impl<'a> Parser<'a> {
    /// A parser over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Parser {
            buf,
            pos: 0,
            depth: 0,
        }
    }

    /// `~{`: a literal8 (RFC 3516) starts here. A `~` alone is an atom character
    /// (`LIST "" ~foo`).
    fn literal8_next(&self) -> bool {
        self.peek() == Some(b'~') && self.buf.get(self.pos + 1) == Some(&b'{')
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn expect(&mut self, b: u8) -> R<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            // Escaped: the text goes into a BAD response line, where a raw CR or LF would
            // end the line early.
            err(format!("expected '{}'", b.escape_ascii()))
        }
    }

    fn sp(&mut self) -> R<()> {
        self.expect(b' ')
    }

    fn maybe(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, kw: &str) -> bool {
        let end = self.pos + kw.len();
        if end <= self.buf.len() && self.buf[self.pos..end].eq_ignore_ascii_case(kw.as_bytes()) {
            let next = self.buf.get(end).copied();
            if next.is_none_or(|c| !is_atom_char(c) || c == b'[' || c == b'.') {
                self.pos = end;
                return true;
            }
        }
        false
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| is_atom_char(c) && c != b'[' && c != b'.' && c != b'<')
        {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.buf[start..self.pos]).to_ascii_uppercase()
    }

    /// `tag = 1*<any ASTRING-CHAR except "+">`.
    pub fn tag(&mut self) -> R<String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii() && is_astring_char(c) && c != b'+')
        {
            self.pos += 1;
        }
        if self.pos == start {
            return err("missing tag");
        }
        Ok(String::from_utf8_lossy(&self.buf[start..self.pos]).into_owned())
    }

    fn number(&mut self) -> R<u64> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start || self.pos - start > 19 {
            return err("expected a number");
        }
        std::str::from_utf8(&self.buf[start..self.pos])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(ParseError("number too large".into()))
    }

    /// `nz-number`: 1 to 4294967295.
    fn nz_number(&mut self) -> R<u32> {
        let n = self.number()?;
        if n == 0 || n > u64::from(u32::MAX) {
            return err("expected a non-zero 32-bit number");
        }
        Ok(n as u32)
    }

    /// `literal = "{" number ["+"] "}" CRLF *CHAR8`.
    fn literal(&mut self) -> R<Vec<u8>> {
        self.maybe(b'~');
        self.expect(b'{')?;
        let n = self.number()? as usize;
        self.maybe(b'+');
        self.expect(b'}')?;
        self.expect(b'\r')?;
        self.expect(b'\n')?;
        if self.pos + n > self.buf.len() {
            return err("literal shorter than announced");
        }
        let v = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(v)
    }

    /// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`.
    fn quoted(&mut self) -> R<Vec<u8>> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => return err("unterminated quoted string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return err("bad escape in quoted string"),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn string(&mut self) -> R<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            Some(b'~') if self.literal8_next() => self.literal(),
            _ => err("expected a string"),
        }
    }

    fn text(bytes: Vec<u8>) -> R<String> {
        String::from_utf8(bytes).map_err(|_| ParseError("not UTF-8".into()))
    }

    /// `astring = 1*ASTRING-CHAR / string`.
    pub fn astring(&mut self) -> R<String> {
        match self.peek() {
            Some(b'"') | Some(b'{') => Self::text(self.string()?),
            Some(b'~') if self.literal8_next() => Self::text(self.string()?),
            _ => {
                let start = self.pos;
                while self.peek().is_some_and(is_astring_char) {
                    self.pos += 1;
                }
                if self.pos == start {
                    return err("expected an atom or string");
                }
                Self::text(self.buf[start..self.pos].to_vec())
            }
        }
    }

    /// `nstring = string / nil`.
    fn nstring(&mut self) -> R<Option<String>> {
        if self.keyword("NIL") {
            return Ok(None);
        }
        Ok(Some(Self::text(self.string()?)?))
    }

    /// `mailbox = "INBOX" / astring` (case-insensitive INBOX).
    pub fn mailbox(&mut self) -> R<String> {
        let m = self.astring()?;
        Ok(if m.eq_ignore_ascii_case("INBOX") {
            "INBOX".into()
        } else {
            m
        })
    }

    /// `list-mailbox = 1*list-char / string`.
    fn list_mailbox(&mut self) -> R<String> {
        match self.peek() {
            Some(b'"') | Some(b'{') => Self::text(self.string()?),
            Some(b'~') if self.literal8_next() => Self::text(self.string()?),
            _ => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| is_astring_char(c) || c == b'%' || c == b'*')
                {
                    self.pos += 1;
                }
                if self.pos == start {
                    return err("expected a mailbox pattern");
                }
                Self::text(self.buf[start..self.pos].to_vec())
            }
        }
    }

    /// `sequence-set = (seq-number / seq-range) ["," sequence-set]`.
    pub fn seq_set(&mut self) -> R<SeqSet> {
        let mut ranges = Vec::new();
        loop {
            let a = self.seq_number()?;
            let b = if self.maybe(b':') { self.seq_number()? } else { a };
            ranges.push((a, b));
            if !self.maybe(b',') {
                break;
            }
        }
        Ok(SeqSet(ranges))
    }

    fn seq_number(&mut self) -> R<u32> {
        if self.maybe(b'*') {
            return Ok(SeqSet::STAR);
        }
        self.nz_number()
    }

    /// `flag-list = "(" [flag *(SP flag)] ")"`.
    fn flag_list(&mut self) -> R<Vec<String>> {
        self.expect(b'(')?;
        let mut out = Vec::new();
        while !self.maybe(b')') {
            if !out.is_empty() {
                self.sp()?;
            }
            out.push(self.flag()?);
        }
        Ok(out)
    }

    fn flag(&mut self) -> R<String> {
        let start = self.pos;
        self.maybe(b'\\');
        while self.peek().is_some_and(is_atom_char) {
            self.pos += 1;
        }
        if self.pos == start || (self.pos == start + 1 && self.buf[start] == b'\\') {
            return err("expected a flag");
        }
        Self::text(self.buf[start..self.pos].to_vec())
    }

    fn flags(&mut self) -> R<Vec<String>> {
        if self.peek() == Some(b'(') {
            return self.flag_list();
        }
        let mut out = vec![self.flag()?];
        while self.peek() == Some(b' ')
            && self
                .buf
                .get(self.pos + 1)
                .is_some_and(|c| *c == b'\\' || is_atom_char(*c))
        {
            self.pos += 1;
            out.push(self.flag()?);
        }
        Ok(out)
    }

    /// Parses a whole command after its tag.
    pub fn command(&mut self) -> R<Command> {
        let w = self.word();
        let cmd = match w.as_str() {
            "CAPABILITY" => Command::Capability,
            "NOOP" => Command::Noop,
            "LOGOUT" => Command::Logout,
            "STARTTLS" => Command::StartTls,
            "CHECK" => Command::Check,
            "CLOSE" => Command::Close,
            "UNSELECT" => Command::Unselect,
            "EXPUNGE" => Command::Expunge(None),
            "IDLE" => Command::Idle,
            "NAMESPACE" => Command::Namespace,
            "AUTHENTICATE" => {
                self.sp()?;
                let mech = self.word();
                let initial = if self.maybe(b' ') {
                    let start = self.pos;
                    while self
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=')
                    {
                        self.pos += 1;
                    }
                    Some(String::from_utf8_lossy(&self.buf[start..self.pos]).into_owned())
                } else {
                    None
                };
                Command::Authenticate(mech, initial)
            }
            "LOGIN" => {
                self.sp()?;
                let u = self.astring()?;
                self.sp()?;
                let p = self.astring()?;
                Command::Login(u, p)
            }
            "ENABLE" => {
                let mut caps = Vec::new();
                while self.maybe(b' ') {
                    caps.push(self.word());
                }
                if caps.is_empty() {
                    return err("ENABLE needs capabilities");
                }
                Command::Enable(caps)
            }
            "SELECT" | "EXAMINE" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                let (mut condstore, mut qresync) = (false, None);
                if self.maybe(b' ') {
                    self.expect(b'(')?;
                    while !self.maybe(b')') {
                        self.maybe(b' ');
                        match self.word().as_str() {
                            "CONDSTORE" => condstore = true,
                            "QRESYNC" => {
                                self.sp()?;
                                qresync = Some(self.qresync()?);
                            }
                            other => return err(format!("unsupported SELECT parameter {other}")),
                        }
                    }
                }
                Command::Select {
                    mailbox,
                    read_only: w == "EXAMINE",
                    condstore,
                    qresync,
                }
            }
            "CREATE" | "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE" | "GETQUOTAROOT" => {
                self.sp()?;
                let m = self.mailbox()?;
                // CREATE may carry (USE (...)) parameters: not supported, refuse clearly.
                match w.as_str() {
                    "CREATE" => Command::Create(m),
                    "DELETE" => Command::Delete(m),
                    "SUBSCRIBE" => Command::Subscribe(m),
                    "UNSUBSCRIBE" => Command::Unsubscribe(m),
                    _ => Command::GetQuotaRoot(m),
                }
            }
            "GETQUOTA" => {
                self.sp()?;
                Command::GetQuota(self.astring()?)
            }
            "RENAME" => {
                self.sp()?;
                let a = self.mailbox()?;
                self.sp()?;
                let b = self.mailbox()?;
                Command::Rename(a, b)
            }
            "NOTIFY" => self.notify()?,
            // `cancelupdate = "CANCELUPDATE" 1*(SP quoted)` (RFC 5267 §6; atoms accepted too).
            "CANCELUPDATE" => {
                let mut tags = Vec::new();
                while self.maybe(b' ') {
                    tags.push(self.astring()?);
                }
                if tags.is_empty() {
                    return err("CANCELUPDATE needs a search tag");
                }
                Command::CancelUpdate(tags)
            }
            "LIST" => self.list(false)?,
            "LSUB" => self.list(true)?,
            "STATUS" => {
                self.sp()?;
                let m = self.mailbox()?;
                self.sp()?;
                Command::Status(m, self.status_items()?)
            }
            "APPEND" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                // `append = "APPEND" SP mailbox 1*append-message` (RFC 3502 MULTIAPPEND).
                let mut messages = Vec::new();
                while self.maybe(b' ') {
                    messages.push(self.append_message()?);
                }
                if messages.is_empty() {
                    return err("APPEND needs a message");
                }
                Command::Append { mailbox, messages }
            }
            "SEARCH" => self.search(false)?,
            "SORT" => self.sort(false)?,
            "THREAD" => self.thread(false)?,
            "FETCH" | "STORE" | "COPY" | "MOVE" => self.message_command(&w, false)?,
            "UID" => self.uid_command()?,
            "ID" => {
                self.sp()?;
                let mut params = Vec::new();
                if !self.keyword("NIL") {
                    self.expect(b'(')?;
                    while !self.maybe(b')') {
                        self.maybe(b' ');
                        let k = Self::text(self.string()?)?;
                        self.sp()?;
                        let v = self.nstring()?.unwrap_or_default();
                        params.push((k, v));
                    }
                }
                Command::Id(params)
            }
            "" => return err("missing command"),
            other => return err(format!("unknown command {other}")),
        };
        if !self.at_end() {
            return err("unexpected characters after the command");
        }
        Ok(cmd)
    }
}

fn is_atom_char(c: u8) -> bool {
    c > 0x20 && c < 0x7f && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']') || c >= 0x80
}

fn is_astring_char(c: u8) -> bool {
    is_atom_char(c) || c == b']'
}

/// The tag and the command name (upper case) of a line, without reading the arguments: the
/// session checks that the command is allowed in its state before the arguments are parsed.
pub fn command_name(line: &[u8]) -> Option<(String, String)> {
    let mut p = Parser::new(line);
    let tag = p.tag().ok()?;
    p.sp().ok()?;
    let name = p.word();
    (!name.is_empty()).then_some((tag, name))
}

/// Parses `tag SP command` (the line without CRLF, literals inline).
pub fn parse(line: &[u8]) -> Result<(String, Command), (Option<String>, ParseError)> {
    let mut p = Parser::new(line);
    let tag = p.tag().map_err(|e| (None, e))?;
    // Without the space after it, the tag is not a tag: the answer is untagged.
    if p.sp().is_err() {
        return Err((None, ParseError("missing tag or command".into())));
    }
    match p.command() {
        Ok(c) => Ok((tag, c)),
        Err(e) => Err((Some(tag), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Command {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e:?}")).1
    }

    /// Found by the `imap_parse` fuzz target: a literal's `}` not followed by CRLF made the
    /// error text "expected '\r'" with a raw CR, which the session sent inside its BAD line.
    #[test]
    fn error_texts_have_no_line_breaks() {
        for line in [&b"a LOGIN {25166824+}"[..], b"a LOGIN {5}x y", b"a LOGIN {5}\rx"] {
            let (tag, e) = parse(line).expect_err("refused");
            assert_eq!(tag.as_deref(), Some("a"));
            assert!(!e.0.contains(['\r', '\n']), "{:?}", e.0);
        }
        assert_eq!(parse(b"a LOGIN {5}x").expect_err("refused").1.0, "expected '\\r'");
    }

    #[test]
    fn basics() {
        assert_eq!(cmd("a CAPABILITY"), Command::Capability);
        assert_eq!(
            cmd("a login alice \"pass word\""),
            Command::Login("alice".into(), "pass word".into())
        );
        assert_eq!(
            cmd("a LOGIN {5+}\r\nalice {3}\r\npwd"),
            Command::Login("alice".into(), "pwd".into())
        );
        assert!(parse(b"a LOGIN alice").is_err());
        assert!(parse(b"* NOOP").is_err());
        assert_eq!(
            cmd("a select inbox"),
            Command::Select {
                mailbox: "INBOX".into(),
                read_only: false,
                condstore: false,
                qresync: None,
            }
        );
    }

    #[test]
    fn fetch() {
        let Command::Fetch { set, items, .. } = cmd(
            "a FETCH 1:*,3 (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100> BODY[1.2.MIME] RFC822.SIZE)",
        ) else {
            panic!()
        };
        assert_eq!(set, SeqSet(vec![(1, SeqSet::STAR), (3, 3)]));
        // 4294967295 is a number, not `*` (imaptest search-sets).
        let Command::Search { key, .. } = cmd("a UID SEARCH UID 1:4294967295") else {
            panic!()
        };
        assert_eq!(
            key,
            crate::imap::search::SearchKey::Uid(SeqSet(vec![(1, u32::MAX)]))
        );
        assert_eq!(items[0], FetchItem::Flags);
        assert_eq!(
            items[1],
            FetchItem::Section {
                section: Section {
                    part: vec![],
                    kind: SectionKind::HeaderFields,
                    fields: vec!["From".into(), "Subject".into()]
                },
                partial: Some((0, 100)),
                peek: true,
                binary: false
            }
        );
        assert!(
            matches!(&items[2], FetchItem::Section { section, .. } if section.part == vec![1, 2] && section.kind == SectionKind::Mime)
        );
        assert_eq!(
            cmd("a UID FETCH 1:* FAST").clone(),
            cmd("a UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE)")
        );
        assert!(matches!(
            cmd("a FETCH 1 (FLAGS) (CHANGEDSINCE 12345)"),
            Command::Fetch {
                changed_since: Some(12345),
                ..
            }
        ));
        assert!(parse(b"a FETCH 0 FLAGS").is_err());
        assert!(parse(b"a FETCH 1 BODY[MIME]").is_err());
        // RFC 7162 §3.2.6: VANISHED with CHANGEDSINCE, on UID FETCH only.
        assert!(matches!(
            cmd("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7 VANISHED)"),
            Command::Fetch {
                changed_since: Some(7),
                vanished: true,
                ..
            }
        ));
        assert!(parse(b"a FETCH 1:* (FLAGS) (CHANGEDSINCE 7 VANISHED)").is_err());
        assert!(parse(b"a UID FETCH 1:* (FLAGS) (VANISHED)").is_err());
    }

    #[test]
    fn qresync_select() {
        let Command::Select { qresync: Some(q), .. } =
            cmd("a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:5 1,3:5)))")
        else {
            panic!()
        };
        assert_eq!(q.uidvalidity, 67890007);
        assert_eq!(q.modseq, 20050715194045000);
        assert_eq!(q.known_uids, Some(SeqSet(vec![(41, 41), (43, 211), (214, 541)])));
        assert_eq!(
            q.seq_match,
            Some((SeqSet(vec![(1, 5)]), SeqSet(vec![(1, 1), (3, 5)])))
        );
        let Command::Select { qresync: Some(q), .. } = cmd("a EXAMINE INBOX (QRESYNC (1 2))") else {
            panic!()
        };
        assert_eq!((q.known_uids, q.seq_match), (None, None));
        assert!(parse(b"a SELECT INBOX (QRESYNC (0 2))").is_err());
        assert!(parse(b"a SELECT INBOX (QRESYNC 1 2)").is_err());
    }

    #[test]
    fn store_search_append() {
        assert!(matches!(
            cmd("a UID STORE 1:3 +FLAGS.SILENT (\\Seen $Junk)"),
            Command::Store {
                uid: true,
                op: StoreOp::Add,
                silent: true,
                ..
            }
        ));
        assert!(matches!(
            cmd("a STORE 1 (UNCHANGEDSINCE 5) FLAGS \\Seen"),
            Command::Store {
                unchanged_since: Some(5),
                ..
            }
        ));
        assert!(matches!(
            cmd(
                "a SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR FROM alice (SINCE 1-Feb-2026 NOT SEEN) UID 1:5"
            ),
            Command::Search {
                ret: Some(SearchReturn {
                    min: true,
                    count: true,
                    ..
                }),
                ..
            }
        ));
        let Command::Append { messages, .. } =
            cmd("a APPEND Sent (\\Seen) \"22-Nov-2026 12:00:00 +0100\" {5}\r\nhello")
        else {
            panic!()
        };
        assert_eq!(messages[0].flags, ["\\Seen"]);
        assert_eq!(messages[0].date, Some(1_795_345_200));
        assert_eq!(
            messages[0].content,
            AppendContent::Literal {
                data: b"hello".to_vec(),
                binary: false
            }
        );
        let Command::Append { messages, .. } = cmd("a APPEND x ~{3}\r\n\0\n\r") else {
            panic!()
        };
        assert_eq!(
            messages[0].content,
            AppendContent::Literal {
                data: b"\0\n\r".to_vec(),
                binary: true
            }
        );
        // MULTIAPPEND (RFC 3502) and CATENATE (RFC 4469).
        let Command::Append { messages, .. } = cmd(
            "a APPEND x {2}\r\nm1 (\\Seen) {2}\r\nm2 CATENATE (URL \"/x/;UID=1/;SECTION=HEADER\" TEXT {4}\r\nbody)",
        ) else {
            panic!()
        };
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[1].flags, ["\\Seen"]);
        assert_eq!(
            messages[2].content,
            AppendContent::Catenate(vec![
                CatPart::Url("/x/;UID=1/;SECTION=HEADER".into()),
                CatPart::Text(b"body".to_vec())
            ])
        );
        assert!(parse(b"a APPEND x").is_err());
        assert!(parse(b"a APPEND x CATENATE ()").is_err());
        assert!(parse(b"a APPEND x CATENATE (TEXT ~{1}\r\nx)").is_err());
        assert!(parse(b"a SEARCH CHARSET KOI8-R TEXT x").is_err());
    }

    #[test]
    fn search_nesting_has_a_budget() {
        // Issue 10, case 1: a recursion per level overflowed the worker's stack.
        let deep = format!("a SEARCH {}ALL{}", "(".repeat(5000), ")".repeat(5000));
        let (tag, e) = parse(deep.as_bytes()).unwrap_err();
        assert_eq!(tag.as_deref(), Some("a"));
        assert!(e.0.contains("nested"), "{}", e.0);
        let nots = format!("a SEARCH {}ALL", "NOT ".repeat(15_000));
        assert!(parse(nots.as_bytes()).is_err());
        let ors = format!("a UID SEARCH {}{}ALL", "OR ".repeat(8000), "ALL ".repeat(8000));
        assert!(parse(ors.as_bytes()).is_err());
        let fine = format!("a SEARCH {}ALL{}", "(".repeat(60), ")".repeat(60));
        assert!(parse(fine.as_bytes()).is_ok());
        let mixed = format!("a SEARCH {}ALL{}", "NOT (".repeat(31), ")".repeat(31));
        assert!(parse(mixed.as_bytes()).is_ok(), "62 levels");
        let mixed = format!("a SEARCH {}ALL{}", "NOT (".repeat(33), ")".repeat(33));
        assert!(parse(mixed.as_bytes()).is_err(), "66 levels");
    }

    #[test]
    fn command_names_without_arguments() {
        assert_eq!(
            command_name(b"a1 uid fetch 1 FLAGS"),
            Some(("a1".into(), "UID".into()))
        );
        assert_eq!(
            command_name(b"a1 SEARCH ((((("),
            Some(("a1".into(), "SEARCH".into()))
        );
        assert_eq!(command_name(b"a1"), None);
        assert_eq!(command_name(b" x"), None);
    }

    #[test]
    fn tilde_is_an_atom_character() {
        // imaptest atoms: `~` starts a literal8 only before `{`.
        let Command::List(a) = cmd("a LIST \"\" ~foo") else {
            panic!()
        };
        assert_eq!(a.patterns, vec!["~foo".to_owned()]);
        assert_eq!(
            cmd("a SELECT ~foo"),
            Command::Select {
                mailbox: "~foo".into(),
                read_only: false,
                condstore: false,
                qresync: None,
            }
        );
    }

    #[test]
    fn list_forms() {
        assert!(matches!(
            cmd("a LIST \"\" *"),
            Command::List(ListArgs { lsub: false, .. })
        ));
        let Command::List(a) =
            cmd("a LIST (SPECIAL-USE) \"\" (* %) RETURN (SUBSCRIBED STATUS (MESSAGES UNSEEN))")
        else {
            panic!()
        };
        assert!(a.special_use && a.return_subscribed && !a.subscribed);
        assert_eq!(a.patterns, vec!["*".to_owned(), "%".to_owned()]);
        assert_eq!(a.status, vec!["MESSAGES".to_owned(), "UNSEEN".to_owned()]);
        assert!(matches!(
            cmd("a LSUB \"\" %"),
            Command::List(ListArgs { lsub: true, .. })
        ));
        // RFC 5258 §3: RECURSIVEMATCH alone (or with REMOTE) is an error (imaptest listext).
        assert!(parse(b"a LIST (RECURSIVEMATCH) \"\" \"\"").is_err());
        assert!(parse(b"a LIST (RECURSIVEMATCH REMOTE) \"\" \"\"").is_err());
        assert!(parse(b"a LIST (IMAPTEST) \"\" \"\"").is_err());
        assert!(parse(b"a LIST \"\" \"\" RETURN (IMAPTEST)").is_err());
        let Command::List(a) = cmd("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %") else {
            panic!()
        };
        assert!(a.subscribed && a.recursive);
        assert!(matches!(cmd("a LIST (REMOTE) \"\" %"), Command::List(_)));
        assert_eq!(
            cmd("a STATUS INBOX (MESSAGES UIDNEXT)"),
            Command::Status("INBOX".into(), vec!["MESSAGES".into(), "UIDNEXT".into()])
        );
    }

    #[test]
    fn dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 11, 22), 20_779);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        let mut p = Parser::new(b"\"22-Nov-2026 12:00:00 +0000\"");
        assert_eq!(p.date_time().unwrap(), 1_795_348_800);
    }
}
