//! IMAP command parsing (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1, with the extensions yubin
//! announces: UIDPLUS, MOVE, ENABLE, IDLE, NAMESPACE, ID, QUOTA, UNSELECT, CONDSTORE, ESEARCH,
//! LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, LITERAL+, SASL-IR).
//!
//! The input is a whole command as it came off the wire: literals appear where they were sent,
//! after their `{n}` announcement and CRLF (the connection layer has read them). One method
//! per ABNF production; every failure is a [`ParseError`] with a message for the `BAD` reply.

use super::search::SearchKey;
pub use crate::time::days_from_civil;

/// Why a command line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

type R<T> = Result<T, ParseError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(ParseError(msg.into()))
}

/// A set of sequence numbers or UIDs: ranges with `u32::MAX` standing for `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqSet(pub Vec<(u32, u32)>);

impl SeqSet {
    /// Whether `n` is in the set, with `*` meaning `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0.iter().any(|&(a, b)| {
            let a = if a == u32::MAX { largest } else { a };
            let b = if b == u32::MAX { largest } else { b };
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            n >= lo && n <= hi
        })
    }
}

/// A body section specification (`BODY[1.2.HEADER.FIELDS (From)]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers (empty: the whole message).
    pub part: Vec<u32>,
    /// `HEADER`, `HEADER.FIELDS`, `HEADER.FIELDS.NOT`, `TEXT`, `MIME`, or none.
    pub kind: SectionKind,
    /// The field names of `HEADER.FIELDS` and `HEADER.FIELDS.NOT`.
    pub fields: Vec<String>,
}

/// What part of a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SectionKind {
    /// The part's content (or the whole message).
    #[default]
    Full,
    /// The header.
    Header,
    /// Listed header fields.
    HeaderFields,
    /// All but the listed header fields.
    HeaderFieldsNot,
    /// The body text.
    Text,
    /// The MIME header of a part.
    Mime,
}

/// One FETCH data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItem {
    /// `UID`.
    Uid,
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `ENVELOPE`.
    Envelope,
    /// `BODYSTRUCTURE`.
    BodyStructure,
    /// `BODY` (structure without extension data).
    Body,
    /// `MODSEQ`.
    ModSeq,
    /// `RFC822` (= BODY[]), `RFC822.HEADER` (= BODY.PEEK[HEADER]), `RFC822.TEXT` (= BODY[TEXT]).
    Rfc822(Option<SectionKind>),
    /// `BODY[section]<partial>`, `BODY.PEEK[...]`.
    Section {
        /// The section.
        section: Section,
        /// `<origin.length>`.
        partial: Option<(u32, u32)>,
        /// `.PEEK` (does not set \Seen).
        peek: bool,
        /// `BINARY` instead of `BODY` (decoded content).
        binary: bool,
    },
    /// `BINARY.SIZE[part]`.
    BinarySize(Vec<u32>),
}

/// STORE operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// `FLAGS`.
    Replace,
    /// `+FLAGS`.
    Add,
    /// `-FLAGS`.
    Remove,
}

/// What ESEARCH should return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReturn {
    /// `MIN`.
    pub min: bool,
    /// `MAX`.
    pub max: bool,
    /// `ALL`.
    pub all: bool,
    /// `COUNT`.
    pub count: bool,
    /// `SAVE` (accepted, results not kept).
    pub save: bool,
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `CAPABILITY`.
    Capability,
    /// `NOOP`.
    Noop,
    /// `LOGOUT`.
    Logout,
    /// `STARTTLS`.
    StartTls,
    /// `AUTHENTICATE mech [initial]`.
    Authenticate(String, Option<String>),
    /// `LOGIN user password`.
    Login(String, String),
    /// `ENABLE cap...`.
    Enable(Vec<String>),
    /// `SELECT` (`read_only`: EXAMINE).
    Select {
        /// Mailbox.
        mailbox: String,
        /// EXAMINE.
        read_only: bool,
        /// `(CONDSTORE)` parameter.
        condstore: bool,
    },
    /// `CREATE`.
    Create(String),
    /// `DELETE`.
    Delete(String),
    /// `RENAME`.
    Rename(String, String),
    /// `SUBSCRIBE`.
    Subscribe(String),
    /// `UNSUBSCRIBE`.
    Unsubscribe(String),
    /// `LIST` (RFC 5258 extended form included).
    List {
        /// Reference.
        reference: String,
        /// Patterns.
        patterns: Vec<String>,
        /// `SUBSCRIBED` selection.
        subscribed_only: bool,
        /// `RETURN (SUBSCRIBED)`.
        return_subscribed: bool,
        /// `RETURN (SPECIAL-USE)` or `SPECIAL-USE` selection.
        special_use: bool,
        /// `RETURN (CHILDREN)`.
        children: bool,
        /// `RETURN (STATUS (...))`.
        status: Vec<String>,
        /// LSUB instead of LIST.
        lsub: bool,
    },
    /// `NAMESPACE`.
    Namespace,
    /// `STATUS mailbox (items)`.
    Status(String, Vec<String>),
    /// `APPEND mailbox [flags] [date] literal`.
    Append {
        /// Mailbox.
        mailbox: String,
        /// Flags.
        flags: Vec<String>,
        /// INTERNALDATE.
        date: Option<i64>,
        /// The message.
        data: Vec<u8>,
    },
    /// `IDLE`.
    Idle,
    /// `CHECK`.
    Check,
    /// `CLOSE`.
    Close,
    /// `UNSELECT`.
    Unselect,
    /// `EXPUNGE` / `UID EXPUNGE set`.
    Expunge(Option<SeqSet>),
    /// `SEARCH`.
    Search {
        /// `UID SEARCH`.
        uid: bool,
        /// `RETURN (...)` (ESEARCH).
        ret: Option<SearchReturn>,
        /// Criteria.
        key: SearchKey,
    },
    /// `FETCH`.
    Fetch {
        /// `UID FETCH`.
        uid: bool,
        /// The messages.
        set: SeqSet,
        /// Items.
        items: Vec<FetchItem>,
        /// `(CHANGEDSINCE n)`.
        changed_since: Option<u64>,
    },
    /// `STORE`.
    Store {
        /// `UID STORE`.
        uid: bool,
        /// The messages.
        set: SeqSet,
        /// Operation.
        op: StoreOp,
        /// `.SILENT`.
        silent: bool,
        /// Flags.
        flags: Vec<String>,
        /// `(UNCHANGEDSINCE n)`.
        unchanged_since: Option<u64>,
    },
    /// `COPY` (`moving`: MOVE).
    Copy {
        /// `UID COPY`.
        uid: bool,
        /// The messages.
        set: SeqSet,
        /// Destination.
        mailbox: String,
        /// MOVE.
        moving: bool,
    },
    /// `ID (...)` or `ID NIL`.
    Id(Vec<(String, String)>),
    /// `GETQUOTA root`.
    GetQuota(String),
    /// `GETQUOTAROOT mailbox`.
    GetQuotaRoot(String),
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
            err(format!("expected '{}'", b as char))
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

    fn nz_number(&mut self) -> R<u32> {
        let n = self.number()?;
        if n == 0 || n > u64::from(u32::MAX - 1) {
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
            Some(b'{') | Some(b'~') => self.literal(),
            _ => err("expected a string"),
        }
    }

    fn text(bytes: Vec<u8>) -> R<String> {
        String::from_utf8(bytes).map_err(|_| ParseError("not UTF-8".into()))
    }

    /// `astring = 1*ASTRING-CHAR / string`.
    pub fn astring(&mut self) -> R<String> {
        match self.peek() {
            Some(b'"') | Some(b'{') | Some(b'~') => Self::text(self.string()?),
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
            Some(b'"') | Some(b'{') | Some(b'~') => Self::text(self.string()?),
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
            return Ok(u32::MAX);
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

    /// `date = date-text / DQUOTE date-text DQUOTE`, `date-text = date-day "-" date-month "-" date-year`.
    /// Returns days since 1970-01-01.
    pub fn date(&mut self) -> R<i64> {
        let quoted = self.maybe(b'"');
        let d = self.number()? as u32;
        self.expect(b'-')?;
        let m = self.month()?;
        self.expect(b'-')?;
        let y = self.number()? as i64;
        if quoted {
            self.expect(b'"')?;
        }
        if !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
            return err("bad date");
        }
        Ok(days_from_civil(y, m, d))
    }

    fn month(&mut self) -> R<u32> {
        let s = self
            .buf
            .get(self.pos..self.pos + 3)
            .map(|b| String::from_utf8_lossy(b).to_ascii_lowercase());
        let m = s
            .and_then(|s| MONTHS.iter().position(|m| *m == s))
            .ok_or(ParseError("bad month".into()))?;
        self.pos += 3;
        Ok(m as u32 + 1)
    }

    /// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`.
    fn date_time(&mut self) -> R<i64> {
        self.expect(b'"')?;
        self.maybe(b' ');
        let d = self.number()? as u32;
        self.expect(b'-')?;
        let m = self.month()?;
        self.expect(b'-')?;
        let y = self.number()? as i64;
        self.sp()?;
        let h = self.number()?;
        self.expect(b':')?;
        let mi = self.number()?;
        self.expect(b':')?;
        let s = self.number()?;
        self.sp()?;
        let sign = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return err("bad zone"),
        };
        self.pos += 1;
        let z = self.number()? as i64;
        self.expect(b'"')?;
        if !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return err("bad date-time");
        }
        let offset = sign * ((z / 100) * 3600 + (z % 100) * 60);
        Ok(days_from_civil(y, m, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64 - offset)
    }

    fn section(&mut self) -> R<Section> {
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

    fn partial(&mut self) -> R<Option<(u32, u32)>> {
        if !self.maybe(b'<') {
            return Ok(None);
        }
        let origin = self.number()? as u32;
        self.expect(b'.')?;
        let len = self.nz_number()?;
        self.expect(b'>')?;
        Ok(Some((origin, len)))
    }

    fn fetch_att(&mut self) -> R<Vec<FetchItem>> {
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

    fn fetch_items(&mut self) -> R<Vec<FetchItem>> {
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

    /// `search-key` (RFC 9051 §9), at most [`MAX_SEARCH_DEPTH`] levels deep.
    fn search_key(&mut self) -> R<SearchKey> {
        if self.depth >= MAX_SEARCH_DEPTH {
            return err(format!(
                "search keys nested more than {MAX_SEARCH_DEPTH} levels deep"
            ));
        }
        self.depth += 1;
        let key = self.search_key_at_depth();
        self.depth -= 1;
        key
    }

    fn search_key_at_depth(&mut self) -> R<SearchKey> {
        use SearchKey as K;
        if self.maybe(b'(') {
            let mut keys = Vec::new();
            loop {
                keys.push(self.search_key()?);
                if self.maybe(b')') {
                    break;
                }
                self.sp()?;
            }
            return Ok(K::And(keys));
        }
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || c == b'*' || c == b'$')
        {
            if self.maybe(b'$') {
                return err("saved search results are not supported");
            }
            return Ok(K::Seq(self.seq_set()?));
        }
        let w = self.word();
        macro_rules! arg {
            () => {{
                self.sp()?;
                self.astring()?
            }};
        }
        Ok(match w.as_str() {
            "ALL" => K::All,
            "ANSWERED" => K::Flag(crate::mailbox::index::ANSWERED, true),
            "DELETED" => K::Flag(crate::mailbox::index::DELETED, true),
            "DRAFT" => K::Flag(crate::mailbox::index::DRAFT, true),
            "FLAGGED" => K::Flag(crate::mailbox::index::FLAGGED, true),
            "SEEN" => K::Flag(crate::mailbox::index::SEEN, true),
            "UNANSWERED" => K::Flag(crate::mailbox::index::ANSWERED, false),
            "UNDELETED" => K::Flag(crate::mailbox::index::DELETED, false),
            "UNDRAFT" => K::Flag(crate::mailbox::index::DRAFT, false),
            "UNFLAGGED" => K::Flag(crate::mailbox::index::FLAGGED, false),
            "UNSEEN" => K::Flag(crate::mailbox::index::SEEN, false),
            "NEW" => K::And(vec![K::Recent, K::Flag(crate::mailbox::index::SEEN, false)]),
            "OLD" => K::Not(Box::new(K::Recent)),
            "RECENT" => K::Recent,
            "KEYWORD" => {
                self.sp()?;
                K::Keyword(self.flag()?, true)
            }
            "UNKEYWORD" => {
                self.sp()?;
                K::Keyword(self.flag()?, false)
            }
            "BCC" => K::Header("bcc".into(), arg!()),
            "CC" => K::Header("cc".into(), arg!()),
            "FROM" => K::Header("from".into(), arg!()),
            "TO" => K::Header("to".into(), arg!()),
            "SUBJECT" => K::Header("subject".into(), arg!()),
            "HEADER" => {
                let name = arg!();
                let value = arg!();
                K::Header(name.to_ascii_lowercase(), value)
            }
            "BODY" => K::Body(arg!()),
            "TEXT" => K::Text(arg!()),
            "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" => {
                self.sp()?;
                let day = self.date()?;
                match w.as_str() {
                    "BEFORE" => K::Before(day, false),
                    "ON" => K::On(day, false),
                    "SINCE" => K::Since(day, false),
                    "SENTBEFORE" => K::Before(day, true),
                    "SENTON" => K::On(day, true),
                    _ => K::Since(day, true),
                }
            }
            "LARGER" => {
                self.sp()?;
                K::Larger(self.number()?)
            }
            "SMALLER" => {
                self.sp()?;
                K::Smaller(self.number()?)
            }
            "UID" => {
                self.sp()?;
                K::Uid(self.seq_set()?)
            }
            "NOT" => {
                self.sp()?;
                K::Not(Box::new(self.search_key()?))
            }
            "OR" => {
                self.sp()?;
                let a = self.search_key()?;
                self.sp()?;
                let b = self.search_key()?;
                K::Or(Box::new(a), Box::new(b))
            }
            "MODSEQ" => {
                self.sp()?;
                // Optional entry name and type (RFC 7162): ignored, all flags count.
                if self.peek() == Some(b'"') {
                    self.quoted()?;
                    self.sp()?;
                    self.word();
                    self.sp()?;
                }
                K::ModSeq(self.number()?)
            }
            "" => return err("expected a search key"),
            other => return err(format!("unknown search key {other}")),
        })
    }

    fn search(&mut self, uid: bool) -> R<Command> {
        self.sp()?;
        let mut ret = None;
        if self.keyword("RETURN") {
            self.sp()?;
            self.expect(b'(')?;
            let mut r = SearchReturn::default();
            while !self.maybe(b')') {
                self.maybe(b' ');
                match self.word().as_str() {
                    "MIN" => r.min = true,
                    "MAX" => r.max = true,
                    "ALL" => r.all = true,
                    "COUNT" => r.count = true,
                    "SAVE" => r.save = true,
                    "" => return err("bad RETURN option"),
                    other => return err(format!("unsupported RETURN option {other}")),
                }
            }
            if !(r.min || r.max || r.count) {
                r.all = true;
            }
            ret = Some(r);
            self.sp()?;
        }
        if self.keyword("CHARSET") {
            self.sp()?;
            let cs = self.astring()?;
            if !cs.eq_ignore_ascii_case("UTF-8") && !cs.eq_ignore_ascii_case("US-ASCII") {
                return err(format!("[BADCHARSET (UTF-8 US-ASCII)] unsupported charset {cs}"));
            }
            self.sp()?;
        }
        let mut keys = vec![self.search_key()?];
        while self.maybe(b' ') {
            keys.push(self.search_key()?);
        }
        let key = if keys.len() == 1 {
            keys.remove(0)
        } else {
            SearchKey::And(keys)
        };
        Ok(Command::Search { uid, ret, key })
    }

    fn list(&mut self, lsub: bool) -> R<Command> {
        self.sp()?;
        let (mut subscribed_only, mut special_use, mut return_subscribed, mut children, mut status) =
            (false, false, false, false, Vec::new());
        if !lsub && self.maybe(b'(') {
            while !self.maybe(b')') {
                self.maybe(b' ');
                match self.word().as_str() {
                    "SUBSCRIBED" => subscribed_only = true,
                    "SPECIAL-USE" => special_use = true,
                    "REMOTE" | "RECURSIVEMATCH" => {}
                    other => return err(format!("unsupported LIST selection {other}")),
                }
            }
            self.sp()?;
        }
        let reference = self.mailbox_or_empty()?;
        self.sp()?;
        let mut patterns = Vec::new();
        if !lsub && self.maybe(b'(') {
            loop {
                patterns.push(self.list_mailbox()?);
                if self.maybe(b')') {
                    break;
                }
                self.sp()?;
            }
        } else {
            patterns.push(self.list_mailbox()?);
        }
        if !lsub && self.maybe(b' ') {
            if !self.keyword("RETURN") {
                return err("expected RETURN");
            }
            self.sp()?;
            self.expect(b'(')?;
            while !self.maybe(b')') {
                self.maybe(b' ');
                match self.word().as_str() {
                    "SUBSCRIBED" => return_subscribed = true,
                    "CHILDREN" => children = true,
                    "SPECIAL-USE" => special_use = true,
                    "STATUS" => {
                        self.sp()?;
                        status = self.status_items()?;
                    }
                    other => return err(format!("unsupported LIST return option {other}")),
                }
            }
        }
        Ok(Command::List {
            reference,
            patterns,
            subscribed_only,
            return_subscribed,
            special_use,
            children,
            status,
            lsub,
        })
    }

    fn mailbox_or_empty(&mut self) -> R<String> {
        if self.peek() == Some(b'"') || self.peek() == Some(b'{') {
            return Self::text(self.string()?);
        }
        self.astring()
    }

    fn status_items(&mut self) -> R<Vec<String>> {
        self.expect(b'(')?;
        let mut items = Vec::new();
        while !self.maybe(b')') {
            self.maybe(b' ');
            let w = self.word();
            match w.as_str() {
                "MESSAGES" | "RECENT" | "UIDNEXT" | "UIDVALIDITY" | "UNSEEN" | "DELETED" | "SIZE"
                | "HIGHESTMODSEQ" => items.push(w),
                "" => return err("expected a status item"),
                other => return err(format!("unknown status item {other}")),
            }
        }
        Ok(items)
    }

    fn modifier(&mut self, name: &str) -> R<Option<u64>> {
        if self.peek() == Some(b' ') && self.buf.get(self.pos + 1) == Some(&b'(') {
            self.pos += 2;
            let mut value = None;
            while !self.maybe(b')') {
                self.maybe(b' ');
                let w = self.word();
                if w == name {
                    self.sp()?;
                    value = Some(self.number()?);
                } else if w == "VANISHED" {
                } else {
                    return err(format!("unsupported modifier {w}"));
                }
            }
            return Ok(value);
        }
        Ok(None)
    }

    fn uid_command(&mut self) -> R<Command> {
        self.sp()?;
        let w = self.word();
        match w.as_str() {
            "FETCH" | "STORE" | "COPY" | "MOVE" => self.message_command(&w, true),
            "SEARCH" => self.search(true),
            "EXPUNGE" => {
                self.sp()?;
                Ok(Command::Expunge(Some(self.seq_set()?)))
            }
            other => err(format!("UID {other} is not a command")),
        }
    }

    fn message_command(&mut self, w: &str, uid: bool) -> R<Command> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        match w {
            "FETCH" => {
                let items = self.fetch_items()?;
                let changed_since = self.modifier("CHANGEDSINCE")?;
                Ok(Command::Fetch {
                    uid,
                    set,
                    items,
                    changed_since,
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
                let mut condstore = false;
                if self.maybe(b' ') {
                    self.expect(b'(')?;
                    while !self.maybe(b')') {
                        self.maybe(b' ');
                        match self.word().as_str() {
                            "CONDSTORE" => condstore = true,
                            other => return err(format!("unsupported SELECT parameter {other}")),
                        }
                    }
                }
                Command::Select {
                    mailbox,
                    read_only: w == "EXAMINE",
                    condstore,
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
                self.sp()?;
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
                let data = self.literal()?;
                Command::Append {
                    mailbox,
                    flags,
                    date,
                    data,
                }
            }
            "SEARCH" => self.search(false)?,
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
                condstore: false
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
        assert_eq!(set, SeqSet(vec![(1, u32::MAX), (3, 3)]));
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
        let Command::Append {
            flags, date, data, ..
        } = cmd("a APPEND Sent (\\Seen) \"22-Nov-2026 12:00:00 +0100\" {5}\r\nhello")
        else {
            panic!()
        };
        assert_eq!(flags, ["\\Seen"]);
        assert_eq!(date, Some(1_795_345_200));
        assert_eq!(data, b"hello");
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
    fn list_forms() {
        assert!(matches!(cmd("a LIST \"\" *"), Command::List { lsub: false, .. }));
        assert!(matches!(
            cmd("a LIST (SPECIAL-USE) \"\" (* %) RETURN (SUBSCRIBED STATUS (MESSAGES UNSEEN))"),
            Command::List {
                special_use: true,
                return_subscribed: true,
                ..
            }
        ));
        assert!(matches!(cmd("a LSUB \"\" %"), Command::List { lsub: true, .. }));
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
