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
    /// `PARTIAL low:high` (RFC 5267 §4.4): positions in the result, 1-based, `low <= high`.
    pub partial: Option<(u32, u32)>,
    /// `UPDATE` (RFC 5267 §4.3): the result is kept up to date with `ADDTO`/`REMOVEFROM`.
    pub update: bool,
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

/// What a QRESYNC client knows of a folder (RFC 7162 §3.2.5):
/// `QRESYNC (uidvalidity mod-sequence [known-uids [(seq-set uid-set)]])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    /// UIDVALIDITY the client last saw.
    pub uidvalidity: u32,
    /// MODSEQ up to which it is in step.
    pub modseq: u64,
    /// The UIDs it knows of (all, when absent).
    pub known_uids: Option<SeqSet>,
    /// Sequence numbers and the UIDs they had, to narrow the VANISHED answer.
    pub seq_match: Option<(SeqSet, SeqSet)>,
}

/// `NOTIFY SET` (RFC 5465 §3): which mailboxes, which events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifySpec {
    /// `STATUS`: report the current STATUS of each watched mailbox at once.
    pub status: bool,
    /// The event groups.
    pub groups: Vec<NotifyGroup>,
}

/// One `(filter events)` group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyGroup {
    /// Which mailboxes.
    pub filter: NotifyFilter,
    /// Which events (empty: NONE).
    pub events: Vec<NotifyEvent>,
}

/// The mailboxes of an event group (RFC 5465 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyFilter {
    /// The selected mailbox.
    Selected,
    /// The selected mailbox, expunges held until a command allows them.
    SelectedDelayed,
    /// Mailboxes mail is delivered into.
    Inboxes,
    /// Every mailbox of the user.
    Personal,
    /// Subscribed mailboxes.
    Subscribed,
    /// These mailboxes and their children.
    Subtree(Vec<String>),
    /// These mailboxes.
    Mailboxes(Vec<String>),
}

/// An event (RFC 5465 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyEvent {
    /// New messages, with the FETCH items to send for them (selected mailbox).
    MessageNew(Vec<FetchItem>),
    /// Expunged messages.
    MessageExpunge,
    /// Flag changes.
    FlagChange,
    /// Mailboxes created, deleted or renamed.
    MailboxName,
    /// Subscriptions changed.
    SubscriptionChange,
    /// An event yubin does not support (annotations, metadata).
    Other(&'static str),
}

/// One message of APPEND: `append-message = [SP flag-list] [SP date-time] SP append-data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    /// Flags.
    pub flags: Vec<String>,
    /// INTERNALDATE.
    pub date: Option<i64>,
    /// The content.
    pub content: AppendContent,
}

/// `append-data = literal / literal8 / "CATENATE" SP "(" cat-part *(SP cat-part) ")"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendContent {
    /// The message.
    Literal {
        /// Its bytes.
        data: Vec<u8>,
        /// Sent as a literal8 (`~{n}`, RFC 3516): it may hold binary parts.
        binary: bool,
    },
    /// CATENATE (RFC 4469): the message made of text and parts of messages on this server.
    Catenate(Vec<CatPart>),
}

/// `cat-part = text-literal / url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatPart {
    /// `TEXT literal`.
    Text(Vec<u8>),
    /// `URL astring`: an IMAP URL (RFC 5092) of a message or section here.
    Url(String),
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
        /// `(QRESYNC (...))` parameter (RFC 7162 §3.2.5).
        qresync: Option<Qresync>,
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
        /// The messages (several with MULTIAPPEND, RFC 3502).
        messages: Vec<AppendMessage>,
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
    /// `CANCELUPDATE` (RFC 5267 §4.3): the tags of the searches to stop updating.
    CancelUpdate(Vec<String>),
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
        /// `VANISHED` modifier (RFC 7162 §3.2.6).
        vanished: bool,
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
    /// `NOTIFY SET ...` or `NOTIFY NONE` (`None`).
    Notify(Option<NotifySpec>),
    /// `GETQUOTA root`.
    GetQuota(String),
    /// `GETQUOTAROOT mailbox`.
    GetQuotaRoot(String),
}
