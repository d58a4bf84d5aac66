//! One IMAP session (RFC 9051, RFC 3501): the command loop with literals, the three states
//! (not authenticated, authenticated, selected) and a permission check per command, and every
//! command but FETCH (in [`super::fetch`]).
//!
//! Implementation notes:
//! - The session keeps its own view of the selected folder (the UIDs in sequence order, and the
//!   MODSEQ up to which it has told the client). [`Session::refresh`] syncs the folder and
//!   reports what changed: new messages (EXISTS), flag changes (FETCH FLAGS), and removed
//!   messages (EXPUNGE, only where RFC 9051 §7.5.1 allows them).
//! - Nothing here blocks on disk: the index does its file work on the blocking pool.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tracing::{Instrument, info_span, warn};

use super::parse::{self, Command};
use super::write::astring;
use crate::mailbox::index::{Folder, IndexError};
use crate::mailbox::mutf7;
use crate::smtp::Services;
use crate::smtp::conn::{Conn, Line, ReadError, Stream};

/// How long a literal waits for room in the memory budget before its command is refused.
const LITERAL_WAIT: Duration = Duration::from_secs(60);

/// Longest command line (without literals).
pub(super) const MAX_LINE: usize = 64 * 1024;
/// Before login, the longest command line: an ID command of the largest size RFC 2971 §3.3
/// allows (30 field-value pairs of at most 1024 octets), and no more.
pub(super) const PREAUTH_MAX_LINE: usize = 40 * 1024;
/// Before login, the most literal bytes one command may carry: a login name and a password,
/// never a message.
pub(super) const PREAUTH_MAX_LITERAL: u64 = 8 * 1024;
/// Idle time before logging out an authenticated client (RFC 9051 §5.4: at least 30 minutes).
pub(super) const AUTH_TIMEOUT: Duration = Duration::from_secs(31 * 60);
/// Idle time before dropping a client that has not logged in.
const PREAUTH_TIMEOUT: Duration = Duration::from_secs(120);
/// Errors before the session is closed.
const MAX_ERRORS: u32 = 20;

/// What an IMAP listener is.
#[derive(Debug, Clone)]
pub struct ImapListener {
    /// `imap` or `imaps`.
    pub name: String,
    /// TLS from the first byte.
    pub implicit_tls: bool,
}

/// The selected folder as this session sees it.
pub(super) struct Selected {
    pub folder: Arc<Folder>,
    pub read_only: bool,
    /// UIDs in sequence-number order.
    pub uids: Vec<u32>,
    /// MODSEQ up to which flag changes were reported.
    pub modseq: u64,
    pub watch: watch::Receiver<u64>,
    /// UIDs that are \Recent for this session (IMAP4rev1 only; RFC 3501 §2.3.2).
    pub recent: std::collections::BTreeSet<u32>,
    /// Keywords announced in FLAGS so far.
    pub keywords: Vec<String>,
    /// Searches kept up to date (RFC 5267 `RETURN (UPDATE)`).
    pub contexts: Vec<super::context::SearchContext>,
}

pub(super) enum Flow {
    Continue,
    Close,
}

/// One IMAP session.
pub(super) struct Session<IO> {
    pub conn: Conn<IO>,
    pub svc: Arc<Services>,
    pub listener: Arc<ImapListener>,
    pub peer: SocketAddr,
    pub user: Option<String>,
    pub sel: Option<Selected>,
    /// UTF-8 mailbox names and strings (UTF8=ACCEPT or IMAP4rev2 enabled).
    pub utf8: bool,
    /// IMAP4rev2 enabled.
    pub rev2: bool,
    /// CONDSTORE enabled (MODSEQ in FETCH responses).
    pub condstore: bool,
    /// QRESYNC enabled (VANISHED instead of EXPUNGE; RFC 7162 §3.2).
    pub qresync: bool,
    /// NOTIFY in force (RFC 5465).
    pub(super) notifier: Option<super::notify::Notifier>,
    errors: u32,
    pub(super) auth_failures: u32,
    /// The memory budget the current command's literals hold ([`LITERAL_WAIT`]).
    literal_budget: Vec<tokio::sync::OwnedSemaphorePermit>,
}

/// Serves one IMAP connection.
pub async fn serve<IO>(io: IO, peer: SocketAddr, listener: Arc<ImapListener>, svc: Arc<Services>)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    run_session(io, peer, listener, svc, None).await
}

/// Serves one connection already authenticated as `user` (RFC 9051 PREAUTH greeting), for
/// a connection the operating system vouches for (a local pipe or tunnel) and for tests.
pub async fn serve_preauth<IO>(
    io: IO,
    peer: SocketAddr,
    listener: Arc<ImapListener>,
    svc: Arc<Services>,
    user: String,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    run_session(io, peer, listener, svc, Some(user)).await
}

async fn run_session<IO>(
    io: IO,
    peer: SocketAddr,
    listener: Arc<ImapListener>,
    svc: Arc<Services>,
    preauth: Option<String>,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let span = info_span!("imap", listener = %listener.name, peer = %peer);
    async move {
        let conn = Conn::new(Stream::Plain(io), svc.shutdown.clone());
        let mut s = Session {
            conn,
            svc,
            listener,
            peer,
            user: None,
            sel: None,
            utf8: false,
            rev2: false,
            condstore: false,
            qresync: false,
            notifier: None,
            errors: 0,
            auth_failures: 0,
            literal_budget: Vec::new(),
        };
        s.run(preauth).await;
        s.conn.close().await;
    }
    .instrument(span)
    .await
}

pub(super) fn index_error(e: &IndexError) -> String {
    match e {
        IndexError::NoSuchFolder => "[NONEXISTENT] No such mailbox".into(),
        IndexError::Exists => "[ALREADYEXISTS] Mailbox already exists".into(),
        IndexError::BadName(m) => format!("[CANNOT] {m}"),
        IndexError::Limit(m) => format!("[LIMIT] {m}"),
        IndexError::NotAllowed(m) => format!("[CANNOT] {m}"),
        IndexError::Gone(_) => "[EXPUNGEISSUED] Some messages were expunged".into(),
        IndexError::Io(_) | IndexError::Db(_) => "[SERVERBUG] Internal error, try again".into(),
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    pub(super) fn untagged(&mut self, line: &str) {
        self.conn.write_raw(b"* ");
        self.conn.write_raw(line.as_bytes());
        self.conn.write_raw(b"\r\n");
    }

    /// A tagged completion. A tag that is not one (RFC 9051 §9: `1*<any ASTRING-CHAR except
    /// "+">`) gets an untagged answer instead, and the text loses any CR or LF: whatever a client
    /// sends, each completion is one well-formed line.
    pub(super) fn tagged(&mut self, tag: &str, status: &str, text: &str) {
        let tag = if valid_tag(tag) { tag } else { "*" };
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        self.conn
            .write_raw(format!("{tag} {status} {text}\r\n").as_bytes());
    }

    async fn run(&mut self, preauth: Option<String>) {
        // Until login, the whole session has a deadline (not only each read).
        self.conn.deadline = Some(tokio::time::Instant::now() + self.svc.timeouts.login);
        if let Some(user) = preauth {
            self.conn.deadline = None;
            if let Err(e) = self.svc.index.ensure_account(&user).await {
                warn!(error = %e, "cannot prepare the account's folders");
                self.untagged("BYE [UNAVAILABLE] Mailbox not available");
                return;
            }
            self.user = Some(user);
            let caps = self.capabilities();
            self.untagged(&format!(
                "PREAUTH [CAPABILITY {caps}] {} IMAP ready",
                self.svc.hostname
            ));
        } else if !self.greet().await {
            return;
        }
        self.command_loop().await;
    }

    /// TLS on an implicit-TLS listener, the ban check and the greeting; false to close.
    async fn greet(&mut self) -> bool {
        if self.listener.implicit_tls {
            let Some(acceptor) = self.svc.tls.clone() else {
                return false;
            };
            if self
                .conn
                .start_tls(&acceptor, Duration::from_secs(30))
                .await
                .is_err()
            {
                return false;
            }
        }
        if self.svc.bans.is_banned(self.peer.ip()) {
            self.untagged("BYE [UNAVAILABLE] Too many failed logins from your address, try again later");
            return false;
        }
        let caps = self.capabilities();
        self.untagged(&format!(
            "OK [CAPABILITY {caps}] {} IMAP ready",
            self.svc.hostname
        ));
        true
    }

    async fn command_loop(&mut self) {
        loop {
            self.conn.idle = true;
            if self.conn.shutting_down() {
                self.untagged("BYE [UNAVAILABLE] Server shutting down");
                return;
            }
            let ready = match self.notifier.is_some() {
                true => self.wait_with_notify().await,
                false => Ok(()),
            };
            let buf = match ready.and(Ok(())) {
                Err(e) => Err(e),
                Ok(()) => self.read_command().await,
            };
            let buf = match buf {
                Ok(Some(b)) => b,
                Ok(None) => continue,
                Err(ReadError::Timeout) => {
                    self.untagged("BYE Autologout; idle for too long");
                    return;
                }
                Err(ReadError::Shutdown) => {
                    self.untagged("BYE [UNAVAILABLE] Server shutting down");
                    return;
                }
                Err(ReadError::Closed) => return,
            };
            self.conn.idle = false;
            if let Some((tag, name)) = parse::command_name(&buf)
                && let Err(why) = self.permitted(&name)
            {
                self.errors += 1;
                self.tagged(&tag, "BAD", why);
                if self.errors >= MAX_ERRORS {
                    self.untagged("BYE Too many errors");
                    return;
                }
                continue;
            }
            let flow = match parse::parse(&buf) {
                Ok((tag, cmd)) => self.dispatch(&tag, cmd).await,
                Err((tag, e)) => {
                    self.errors += 1;
                    match tag {
                        // An unsupported charset is a NO (RFC 9051 §6.4.4), other errors BAD.
                        Some(t) if e.0.starts_with("[BADCHARSET") => self.tagged(&t, "NO", &e.0),
                        Some(t) => self.tagged(&t, "BAD", &e.0),
                        None => self.untagged(&format!("BAD {}", e.0)),
                    }
                    if self.errors >= MAX_ERRORS {
                        self.untagged("BYE Too many errors");
                        Flow::Close
                    } else {
                        Flow::Continue
                    }
                }
            };
            if self.conn.pending_output() > 256 * 1024 {
                let _ = self.conn.flush().await;
            }
            if let Flow::Close = flow {
                return;
            }
        }
    }

    /// With NOTIFY in force: waits for the next command line, reporting the changes the
    /// client asked to hear of while it waits (RFC 5465 §4).
    async fn wait_with_notify(&mut self) -> Result<(), ReadError> {
        loop {
            if self.conn.buffered().contains(&b'\n') {
                return Ok(());
            }
            let timeout = self.timeout();
            let selected = self
                .notifier
                .as_ref()
                .and_then(|n| n.selected.clone())
                .and(self.sel.as_ref().map(|s| s.watch.clone()));
            let Some(n) = &mut self.notifier else {
                return Ok(());
            };
            enum Ev {
                Input(Result<usize, ReadError>),
                Wake(Option<super::notify::Wake>),
                Selected(Option<tokio::sync::watch::Receiver<u64>>),
            }
            let ev = {
                let mut watch = selected;
                let changed = async {
                    match &mut watch {
                        Some(w) => {
                            let _ = w.changed().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    r = self.conn.fill(timeout) => Ev::Input(r),
                    w = n.rx.recv() => Ev::Wake(w),
                    _ = changed => Ev::Selected(watch),
                }
            };
            match ev {
                Ev::Input(r) => {
                    r?;
                }
                Ev::Wake(Some(w)) => self.notify_wake(w).await,
                Ev::Wake(None) => self.notifier = None,
                Ev::Selected(w) => {
                    if let (Some(sel), Some(w)) = (&mut self.sel, w) {
                        sel.watch = w;
                    }
                    let events = self.notifier.as_ref().and_then(|n| n.selected.clone());
                    let before = self.sel.as_ref().map_or(0, |s| s.uids.len());
                    self.refresh(!events.as_ref().is_some_and(|s| s.delayed)).await;
                    if let Some(e) = events {
                        self.announce_new(before, &e.fetch).await;
                    }
                }
            }
        }
    }

    pub(super) fn timeout(&self) -> Duration {
        if self.user.is_some() {
            AUTH_TIMEOUT
        } else {
            PREAUTH_TIMEOUT
        }
    }

    /// Reads a command with its literals. `Ok(None)`: a refused literal was handled.
    ///
    /// After login a literal is held in memory whole (up to the message size limit), so each
    /// takes its size from the server-wide budget that SMTP bodies are loaded under
    /// ([`crate::smtp::spool::Spool::reserve`]) until the command is done: many clients
    /// appending at once wait their turn instead of exhausting memory.
    async fn read_command(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        self.literal_budget.clear();
        let authenticated = self.user.is_some();
        let (max_line, limit) = if authenticated {
            (MAX_LINE, self.svc.limits.message_size_bytes.max(64 * 1024))
        } else {
            (PREAUTH_MAX_LINE, PREAUTH_MAX_LITERAL)
        };
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let line = match self.conn.read_line(max_line, self.timeout()).await? {
                Line::Text(t) => t,
                Line::TooLong(head) => {
                    // The tag starts the command: in this line, or in the first one of a
                    // command whose literal this line follows.
                    let first = if buf.is_empty() { &head } else { &buf };
                    let tag = parse::Parser::new(first).tag().ok();
                    match tag {
                        Some(tag) => self.tagged(&tag, "BAD", "[TOOBIG] Command line too long"),
                        None => self.untagged("BAD [TOOBIG] Command line too long"),
                    }
                    return Ok(None);
                }
            };
            buf.extend_from_slice(&line);
            let Some((n, sync)) = literal_suffix(&line) else {
                return Ok(Some(buf));
            };
            if n > limit || buf.len() as u64 + n > limit + max_line as u64 {
                let tag = tag_of(&buf);
                if !authenticated && !sync {
                    // RFC 7888 §4: a server may close the connection rather than read an
                    // over-long non-synchronising literal; before login it always does.
                    self.tagged(&tag, "BAD", "[TOOBIG] Literal too large before login");
                    self.untagged("BYE [TOOBIG] Literal too large before login");
                    return Err(ReadError::Closed);
                }
                if !sync {
                    // The client sends it anyway: read and drop it.
                    self.conn.read_exact_into(n, self.timeout(), |_| {}).await?;
                    let _ = self.conn.read_line(MAX_LINE, self.timeout()).await?;
                }
                self.tagged(&tag, "NO", "[TOOBIG] Literal too large");
                return Ok(None);
            }
            buf.extend_from_slice(b"\r\n");
            if authenticated && n > 0 {
                match self.svc.spool.reserve(n, LITERAL_WAIT).await {
                    Some(permit) => self.literal_budget.push(permit),
                    None => {
                        let tag = tag_of(&buf);
                        if !sync {
                            self.conn.read_exact_into(n, self.timeout(), |_| {}).await?;
                            let _ = self.conn.read_line(MAX_LINE, self.timeout()).await?;
                        }
                        self.tagged(&tag, "NO", "[UNAVAILABLE] Server busy, try again later");
                        return Ok(None);
                    }
                }
            }
            if sync {
                self.conn.write_raw(b"+ Ready for literal data\r\n");
            }
            let mut lit = Vec::with_capacity(n as usize);
            self.conn
                .read_exact_into(n, self.timeout(), |b| lit.extend_from_slice(b))
                .await?;
            buf.extend_from_slice(&lit);
        }
    }

    pub(super) fn decode_name(&self, name: &str) -> Option<String> {
        if self.utf8 {
            Some(name.to_owned())
        } else {
            mutf7::decode(name).or_else(|| Some(name.to_owned()))
        }
    }

    pub(super) fn encode_name(&self, name: &str) -> String {
        if self.utf8 {
            astring(name, true)
        } else {
            astring(&mutf7::encode(name), false)
        }
    }

    /// Whether the command named `name` may run in the session's state (RFC 9051 §3): checked
    /// before its arguments are parsed, so a client that has not logged in gets no further
    /// than the command name.
    pub(super) fn permitted(&self, name: &str) -> Result<(), &'static str> {
        let authenticated = self.user.is_some();
        let selected = self.sel.is_some();
        let allowed = match name {
            "CAPABILITY" | "NOOP" | "LOGOUT" | "ID" => true,
            "STARTTLS" | "AUTHENTICATE" | "LOGIN" => !authenticated,
            "CHECK" | "CLOSE" | "UNSELECT" | "EXPUNGE" | "SEARCH" | "SORT" | "THREAD" | "FETCH" | "STORE"
            | "COPY" | "MOVE" | "UID" | "CANCELUPDATE" => selected,
            _ => authenticated,
        };
        match (allowed, authenticated) {
            (true, _) => Ok(()),
            (false, true) if matches!(name, "STARTTLS" | "AUTHENTICATE" | "LOGIN") => {
                Err("Already logged in")
            }
            (false, true) => Err("No mailbox selected"),
            (false, false) => Err("Log in first"),
        }
    }

    async fn dispatch(&mut self, tag: &str, cmd: Command) -> Flow {
        match cmd {
            Command::Capability => {
                let caps = self.capabilities();
                self.untagged(&format!("CAPABILITY {caps}"));
                self.tagged(tag, "OK", "CAPABILITY completed");
            }
            Command::Noop | Command::Check => {
                self.refresh(true).await;
                self.tagged(tag, "OK", "NOOP completed");
            }
            Command::Logout => {
                self.untagged("BYE Logging out");
                self.tagged(tag, "OK", "LOGOUT completed");
                return Flow::Close;
            }
            Command::Id(_) => {
                self.untagged(&format!(
                    "ID (\"name\" \"yubin\" \"version\" \"{}\")",
                    env!("CARGO_PKG_VERSION")
                ));
                self.tagged(tag, "OK", "ID completed");
            }
            Command::StartTls => return self.starttls(tag).await,
            Command::Login(user, pass) => return self.login(tag, &user, &pass).await,
            Command::Authenticate(mech, initial) => return self.authenticate(tag, &mech, initial).await,
            Command::Enable(caps) => {
                let mut on = Vec::new();
                for c in caps {
                    match c.as_str() {
                        "CONDSTORE" => {
                            self.enable_condstore().await;
                            on.push(c);
                        }
                        "QRESYNC" => {
                            self.enable_condstore().await;
                            self.qresync = true;
                            on.push(c);
                        }
                        "UTF8=ACCEPT" => {
                            self.utf8 = true;
                            on.push(c);
                        }
                        "IMAP4REV2" => {
                            self.rev2 = true;
                            self.utf8 = true;
                            on.push("IMAP4rev2".into());
                        }
                        _ => {}
                    }
                }
                self.untagged(format!("ENABLED {}", on.join(" ")).trim_end());
                self.tagged(tag, "OK", "ENABLE completed");
            }
            Command::Select {
                mailbox,
                read_only,
                condstore,
                qresync,
            } => {
                if qresync.is_some() && !self.qresync {
                    // RFC 7162 §3.2.5: only after ENABLE QRESYNC.
                    self.tagged(tag, "BAD", "QRESYNC is not enabled");
                } else {
                    self.select(tag, &mailbox, read_only, condstore, qresync).await
                }
            }
            Command::Create(m) => {
                let r = match self.decode_name(&m) {
                    Some(n) => {
                        self.svc
                            .index
                            .create(self.account(), n.trim_end_matches('.'))
                            .await
                    }
                    None => Err(IndexError::BadName("bad mailbox name encoding".into())),
                };
                self.done(tag, "CREATE", r);
            }
            Command::Delete(m) => {
                let name = self.decode_name(&m).unwrap_or(m);
                if self.sel.as_ref().is_some_and(|s| s.folder.name == name) {
                    self.sel = None;
                }
                let r = self.svc.index.delete(self.account(), &name).await;
                self.done(tag, "DELETE", r);
            }
            Command::Rename(a, b) => {
                let (a, b) = (
                    self.decode_name(&a).unwrap_or(a),
                    self.decode_name(&b).unwrap_or(b),
                );
                let r = self.svc.index.rename(self.account(), &a, &b).await;
                self.done(tag, "RENAME", r);
            }
            Command::Subscribe(m) => {
                let name = self.decode_name(&m).unwrap_or(m);
                let r = self.svc.index.subscribe(self.account(), &name, true).await;
                self.done(tag, "SUBSCRIBE", r);
            }
            Command::Unsubscribe(m) => {
                let name = self.decode_name(&m).unwrap_or(m);
                let r = self.svc.index.subscribe(self.account(), &name, false).await;
                self.done(tag, "UNSUBSCRIBE", r);
            }
            Command::List(args) => self.list(tag, &args).await,
            Command::Namespace => {
                self.untagged("NAMESPACE ((\"\" \".\")) NIL NIL");
                self.tagged(tag, "OK", "NAMESPACE completed");
            }
            Command::Status(m, items) => {
                let name = self.decode_name(&m).unwrap_or(m);
                match self.status_line(&name, &items).await {
                    Ok(line) => {
                        self.untagged(&line);
                        self.tagged(tag, "OK", "STATUS completed");
                    }
                    Err(e) => self.tagged(tag, "NO", &index_error(&e)),
                }
            }
            Command::Append { mailbox, messages } => self.append(tag, &mailbox, messages).await,
            Command::Idle => return self.idle(tag).await,
            Command::Close => {
                if let Some(s) = &self.sel
                    && !s.read_only
                    && let Ok(gone) = s.folder.expunge(None).await
                    && !gone.is_empty()
                {
                    self.usage_changed();
                }
                self.sel = None;
                self.tagged(tag, "OK", "CLOSE completed");
            }
            Command::Unselect => {
                self.sel = None;
                self.tagged(tag, "OK", "UNSELECT completed");
            }
            Command::Expunge(set) => self.expunge(tag, set).await,
            Command::Search { uid, ret, key } => self.search(tag, uid, ret, key).await,
            Command::CancelUpdate(tags) => self.cancel_update(tag, &tags),
            Command::Sort {
                uid,
                ret,
                criteria,
                key,
            } => self.sort(tag, uid, ret, &criteria, key).await,
            Command::Thread { uid, algorithm, key } => self.thread(tag, uid, algorithm, key).await,
            Command::Fetch {
                uid,
                set,
                items,
                changed_since,
                vanished,
            } => {
                if vanished && !self.qresync {
                    self.tagged(tag, "BAD", "VANISHED needs ENABLE QRESYNC");
                } else {
                    self.fetch(tag, uid, &set, &items, changed_since, vanished).await;
                }
            }
            Command::Store {
                uid,
                set,
                op,
                silent,
                flags,
                unchanged_since,
            } => {
                self.store(tag, uid, &set, op, silent, &flags, unchanged_since)
                    .await
            }
            Command::Copy {
                uid,
                set,
                mailbox,
                moving,
            } => self.copy(tag, uid, &set, &mailbox, moving).await,
            Command::GetQuotaRoot(m) => {
                let name = self.decode_name(&m).unwrap_or(m);
                let enc = self.encode_name(&name);
                match self.quota() {
                    Some(q) => {
                        self.untagged(&format!("QUOTAROOT {enc} \"\""));
                        self.untagged(&q);
                    }
                    None => self.untagged(&format!("QUOTAROOT {enc}")),
                }
                self.tagged(tag, "OK", "GETQUOTAROOT completed");
            }
            Command::Notify(spec) => self.notify(tag, spec).await,
            Command::GetQuota(root) => match (root.is_empty(), self.quota()) {
                (true, Some(q)) => {
                    self.untagged(&q);
                    self.tagged(tag, "OK", "GETQUOTA completed");
                }
                _ => self.tagged(tag, "NO", "[NONEXISTENT] No such quota root"),
            },
        }
        Flow::Continue
    }

    pub(super) fn account(&self) -> &str {
        self.user.as_deref().unwrap_or("")
    }

    pub(super) fn done(&mut self, tag: &str, what: &str, r: Result<(), IndexError>) {
        match r {
            Ok(()) => self.tagged(tag, "OK", &format!("{what} completed")),
            Err(e) => self.tagged(tag, "NO", &index_error(&e)),
        }
    }

    /// The destination folder of APPEND, COPY and MOVE; answers NO (with TRYCREATE when it
    /// does not exist) and returns `None` when it cannot be used.
    pub(super) async fn target(&mut self, tag: &str, name: &str) -> Option<Arc<Folder>> {
        match self.svc.index.open(self.account(), name).await {
            Ok(f) => Some(f),
            Err(IndexError::NoSuchFolder) => {
                self.tagged(tag, "NO", "[TRYCREATE] No such mailbox");
                None
            }
            Err(e) => {
                self.tagged(tag, "NO", &index_error(&e));
                None
            }
        }
    }

    /// Messages were removed: the quota usage is counted again on next use.
    pub(super) fn usage_changed(&self) {
        if let Some(info) = self.svc.routing.get().mailbox(self.account()) {
            self.svc.store.forget_usage(&info.maildir);
        }
    }

    pub(super) async fn open(&mut self, name: &str) -> Result<Arc<Folder>, IndexError> {
        let f = self.svc.index.open(self.account(), name).await?;
        f.sync().await?;
        Ok(f)
    }
}

/// RFC 9051 §9: `tag = 1*<any ASTRING-CHAR except "+">`.
fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        })
}

/// The tag of a command's first line, when it has a valid one.
fn tag_of(first_line: &[u8]) -> String {
    parse::Parser::new(first_line)
        .tag()
        .ok()
        .filter(|t| valid_tag(t))
        .unwrap_or_else(|| "*".to_owned())
}

/// A literal announcement at the end of a line: `{n}` (sync), `{n+}` (non-sync), `~{n}`.
fn literal_suffix(line: &[u8]) -> Option<(u64, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let mut num = &inner[open + 1..];
    let sync = if let Some(n) = num.strip_suffix(b"+") {
        num = n;
        false
    } else if let Some(n) = num.strip_suffix(b"-") {
        num = n;
        false
    } else {
        true
    };
    if num.is_empty() || num.len() > 19 || !num.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(num).ok()?.parse().ok().map(|n| (n, sync))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the imap_session fuzz target: a literal refused before login answered with
    /// the line's first word as tag, `)))…@a`, which is no tag.
    #[test]
    fn only_valid_tags_are_echoed() {
        assert!(valid_tag("a1") && valid_tag("A.b-c]") && valid_tag("x~y"));
        for bad in ["", "a+", "))@a", "a(b", "a{1", "a%", "a*", "a\"b", "é", "a b"] {
            assert!(!valid_tag(bad), "{bad:?}");
        }
        assert_eq!(tag_of(b"))))@a LOGIN {9999999+}"), "*");
        assert_eq!(tag_of(b"t7 APPEND INBOX {99999999}"), "t7");
    }

    #[test]
    fn literal_announcements() {
        assert_eq!(literal_suffix(b"a LOGIN {5}"), Some((5, true)));
        assert_eq!(literal_suffix(b"a APPEND x {100+}"), Some((100, false)));
        assert_eq!(literal_suffix(b"a LOGIN {x}"), None);
        assert_eq!(literal_suffix(b"a NOOP"), None);
    }
}
