//! The IMAP commands yubin understands, as the parser hands them to the session: one variant
//! per command, with its arguments typed (sequence sets, sections, fetch items, search keys).

use super::search::SearchKey;
use super::sort::Criterion;
use super::thread::Algorithm;

/// Why a command line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

/// A set of sequence numbers or UIDs: ranges with [`SeqSet::STAR`] standing for `*` (0 is
/// never a sequence number or UID, and 4294967295 is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqSet(pub Vec<(u32, u32)>);

impl SeqSet {
    /// `*`: the largest number in use.
    pub const STAR: u32 = 0;

    /// Whether `n` is in the set, with `*` meaning `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0.iter().any(|&(a, b)| {
            let a = if a == Self::STAR { largest } else { a };
            let b = if b == Self::STAR { largest } else { b };
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

/// The arguments of LIST (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED, RFC 6154 SPECIAL-USE,
/// RFC 5819 LIST-STATUS) and LSUB (RFC 3501 §6.3.9).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListArgs {
    /// Reference name.
    pub reference: String,
    /// Mailbox patterns (several in the extended form).
    pub patterns: Vec<String>,
    /// Selection `SUBSCRIBED`: subscribed names, existing or not.
    pub subscribed: bool,
    /// Selection `SPECIAL-USE`: folders with a special use.
    pub special_use: bool,
    /// Selection `RECURSIVEMATCH`: also parents of matching names that do not match.
    pub recursive: bool,
    /// `RETURN (SUBSCRIBED)`.
    pub return_subscribed: bool,
    /// `RETURN (CHILDREN)`.
    pub return_children: bool,
    /// `RETURN (STATUS (...))` items.
    pub status: Vec<String>,
    /// LSUB instead of LIST.
    pub lsub: bool,
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
    /// `LIST` (RFC 5258 extended form included) and `LSUB`.
    List(ListArgs),
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
    /// `SORT` (RFC 5256; with `RETURN`, ESORT of RFC 5267).
    Sort {
        /// `UID SORT`.
        uid: bool,
        /// `RETURN (...)`: an ESEARCH answer.
        ret: Option<SearchReturn>,
        /// The sort criteria, in order.
        criteria: Vec<Criterion>,
        /// Which messages.
        key: SearchKey,
    },
    /// `THREAD` (RFC 5256).
    Thread {
        /// `UID THREAD`.
        uid: bool,
        /// The algorithm.
        algorithm: Algorithm,
        /// Which messages.
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
