//! What the fuzz targets share: a server's [`Services`](yubin::smtp::Services) prepared in
//! process on a scratch data folder ([`fixture`]), a client that feeds a session one end of an
//! in-memory pipe ([`stream`]), checks of what a session wrote ([`check`]), and a thread with a
//! production-sized stack to parse on ([`stack`]).
//!
//! Sessions run as in `yubin serve`: on a multi-threaded tokio runtime whose workers have
//! tokio's default 2 MiB stacks, so a recursion that would overflow a server thread overflows
//! here too. Scratch folders go under `$YUBIN_FUZZ_TMP`, else `/dev/shm` (fsync is free
//! there), else the system temp folder.

pub mod check;
pub mod fixture;
pub mod stack;
pub mod stream;

/// Sample messages: the seeds of the `mime` corpus, and what the IMAP and POP3 fixtures put in
/// alice's mailboxes before a session starts.
pub const MESSAGES: &[&[u8]] = &[
    include_bytes!("../samples/plain.eml"),
    include_bytes!("../samples/multipart-alternative.eml"),
    include_bytes!("../samples/nested-rfc822.eml"),
    include_bytes!("../samples/encoded-words.eml"),
    include_bytes!("../samples/iso-2022-jp.eml"),
    include_bytes!("../samples/digest.eml"),
];
