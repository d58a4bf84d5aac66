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

use base64::Engine;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tracing::{Instrument, debug, info, info_span, warn};

use super::parse::{self, Command, SeqSet, StoreOp};
use super::search::{self, Candidate, Content, SearchKey};
use super::write::{astring, string};
use crate::auth::Login;
use crate::mailbox::index::{DELETED, Flags, Folder, IndexError, SEEN};
use crate::mailbox::mutf7;
use crate::smtp::Services;
use crate::smtp::conn::{Conn, Line, ReadError, Stream};

/// Longest command line (without literals).
const MAX_LINE: usize = 64 * 1024;
/// Before login, the longest command line, and the most literal bytes one command may carry:
/// a login name and a password, never a message.
const PREAUTH_MAX: usize = 8 * 1024;
/// Idle time before logging out an authenticated client (RFC 9051 §5.4: at least 30 minutes).
const AUTH_TIMEOUT: Duration = Duration::from_secs(31 * 60);
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
    errors: u32,
    auth_failures: u32,
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
            errors: 0,
            auth_failures: 0,
        };
        s.run(preauth).await;
        s.conn.close().await;
    }
    .instrument(span)
    .await
}

fn index_error(e: &IndexError) -> String {
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

    pub(super) fn tagged(&mut self, tag: &str, status: &str, text: &str) {
        self.conn
            .write_raw(format!("{tag} {status} {text}\r\n").as_bytes());
    }

    fn capabilities(&self) -> String {
        let mut caps = vec![
            "IMAP4rev1",
            "IMAP4rev2",
            "SASL-IR",
            "LITERAL+",
            "ID",
            "ENABLE",
            "IDLE",
        ];
        if self.user.is_none() {
            if !self.conn.is_tls() && self.svc.tls.is_some() && !self.listener.implicit_tls {
                caps.push("STARTTLS");
            }
            if self.conn.is_tls() {
                caps.push("AUTH=PLAIN");
            } else {
                caps.push("LOGINDISABLED");
            }
        } else {
            caps.extend([
                "NAMESPACE",
                "UIDPLUS",
                "MOVE",
                "UNSELECT",
                "CHILDREN",
                "SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "ESEARCH",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "CONDSTORE",
                "STATUS=SIZE",
                "UTF8=ACCEPT",
                "BINARY",
            ]);
        }
        caps.join(" ")
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
            let buf = match self.read_command().await {
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

    fn timeout(&self) -> Duration {
        if self.user.is_some() {
            AUTH_TIMEOUT
        } else {
            PREAUTH_TIMEOUT
        }
    }

    /// Reads a command with its literals. `Ok(None)`: a refused literal was handled.
    async fn read_command(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        let authenticated = self.user.is_some();
        let (max_line, limit) = if authenticated {
            (MAX_LINE, self.svc.limits.message_size_bytes.max(64 * 1024))
        } else {
            (PREAUTH_MAX, PREAUTH_MAX as u64)
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
                let tag =
                    String::from_utf8_lossy(buf.split(|b| *b == b' ').next().unwrap_or(b"*")).into_owned();
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

    fn decode_name(&self, name: &str) -> Option<String> {
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
    fn permitted(&self, name: &str) -> Result<(), &'static str> {
        let authenticated = self.user.is_some();
        let selected = self.sel.is_some();
        let allowed = match name {
            "CAPABILITY" | "NOOP" | "LOGOUT" | "ID" => true,
            "STARTTLS" | "AUTHENTICATE" | "LOGIN" => !authenticated,
            "CHECK" | "CLOSE" | "UNSELECT" | "EXPUNGE" | "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE"
            | "UID" => selected,
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
                            self.condstore = true;
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
            } => self.select(tag, &mailbox, read_only, condstore).await,
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
            Command::Subscribe(m) | Command::Unsubscribe(m) if false => {
                let _ = m;
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
            Command::List {
                reference,
                patterns,
                subscribed_only,
                return_subscribed,
                special_use,
                children: _,
                status,
                lsub,
            } => {
                self.list(
                    tag,
                    &reference,
                    &patterns,
                    subscribed_only,
                    return_subscribed,
                    special_use,
                    &status,
                    lsub,
                )
                .await
            }
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
            Command::Append {
                mailbox,
                flags,
                date,
                data,
            } => self.append(tag, &mailbox, &flags, date, data).await,
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
            Command::Fetch {
                uid,
                set,
                items,
                changed_since,
            } => self.fetch(tag, uid, &set, &items, changed_since).await,
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

    fn account(&self) -> &str {
        self.user.as_deref().unwrap_or("")
    }

    fn done(&mut self, tag: &str, what: &str, r: Result<(), IndexError>) {
        match r {
            Ok(()) => self.tagged(tag, "OK", &format!("{what} completed")),
            Err(e) => self.tagged(tag, "NO", &index_error(&e)),
        }
    }

    /// The destination folder of APPEND, COPY and MOVE; answers NO (with TRYCREATE when it
    /// does not exist) and returns `None` when it cannot be used.
    async fn target(&mut self, tag: &str, name: &str) -> Option<Arc<Folder>> {
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
    fn usage_changed(&self) {
        if let Some(info) = self.svc.routing.get().mailbox(self.account()) {
            self.svc.store.forget_usage(&info.maildir);
        }
    }

    fn quota(&self) -> Option<String> {
        let routing = self.svc.routing.get();
        let info = routing.mailbox(self.account())?;
        let limit = info.quota?;
        let used = self.svc.store.usage(&info.maildir);
        Some(format!("QUOTA \"\" (STORAGE {} {})", used / 1024, limit / 1024))
    }

    async fn starttls(&mut self, tag: &str) -> Flow {
        if self.conn.is_tls() || self.listener.implicit_tls {
            self.tagged(tag, "BAD", "TLS is already active");
            return Flow::Continue;
        }
        let Some(acceptor) = self.svc.tls.clone() else {
            self.tagged(tag, "NO", "TLS is not available");
            return Flow::Continue;
        };
        self.tagged(tag, "OK", "Begin TLS negotiation now");
        if self.conn.discard_buffered() > 0 {
            warn!("discarded plaintext pipelined after STARTTLS");
        }
        if self
            .conn
            .start_tls(&acceptor, Duration::from_secs(30))
            .await
            .is_err()
        {
            return Flow::Close;
        }
        Flow::Continue
    }

    async fn finish_login(&mut self, tag: &str, login: &str, password: &str) -> Flow {
        let directory = self.svc.directory.get();
        let outcome = crate::auth::attempt_login(
            &directory,
            &self.svc.bans,
            self.peer.ip(),
            &mut self.auth_failures,
            login,
            password,
        )
        .await;
        match outcome {
            Login::Ok(address) => {
                if let Err(e) = self.svc.index.ensure_account(&address).await {
                    warn!(error = %e, "cannot prepare the account's folders");
                    self.tagged(tag, "NO", "[UNAVAILABLE] Mailbox not available, try again");
                    return Flow::Continue;
                }
                info!(user = %address, "logged in");
                self.user = Some(address);
                self.conn.deadline = None;
                let caps = self.capabilities();
                self.tagged(tag, "OK", &format!("[CAPABILITY {caps}] Logged in"));
                Flow::Continue
            }
            Login::Temporary => {
                self.tagged(tag, "NO", "[UNAVAILABLE] Temporary failure, try again");
                Flow::Continue
            }
            Login::Banned => {
                info!(login = %login, "login refused: the address is banned");
                self.untagged("BYE [UNAVAILABLE] Too many failed logins from your address, try again later");
                Flow::Close
            }
            Login::Invalid { close } => {
                warn!(login = %login, close, "authentication failed");
                self.tagged(tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
                if close {
                    self.untagged("BYE [UNAVAILABLE] Too many failed logins");
                    return Flow::Close;
                }
                Flow::Continue
            }
        }
    }

    async fn login(&mut self, tag: &str, user: &str, pass: &str) -> Flow {
        if !self.conn.is_tls() {
            self.tagged(tag, "NO", "[PRIVACYREQUIRED] LOGIN is disabled before STARTTLS");
            return Flow::Continue;
        }
        self.finish_login(tag, user, pass).await
    }

    async fn authenticate(&mut self, tag: &str, mech: &str, initial: Option<String>) -> Flow {
        if mech != "PLAIN" {
            self.tagged(tag, "NO", "[CANNOT] Unsupported authentication mechanism");
            return Flow::Continue;
        }
        if !self.conn.is_tls() {
            self.tagged(
                tag,
                "NO",
                "[PRIVACYREQUIRED] Authentication is disabled before STARTTLS",
            );
            return Flow::Continue;
        }
        let data = match initial {
            Some(i) => i,
            None => {
                self.conn.write_raw(b"+ \r\n");
                match self.conn.read_line(PREAUTH_MAX, self.timeout()).await {
                    Ok(Line::Text(t)) => String::from_utf8_lossy(&t).into_owned(),
                    _ => return Flow::Close,
                }
            }
        };
        if data == "*" {
            self.tagged(tag, "BAD", "Authentication cancelled");
            return Flow::Continue;
        }
        let raw = if data == "=" {
            Vec::new()
        } else {
            match base64::engine::general_purpose::STANDARD.decode(data.trim()) {
                Ok(r) => r,
                Err(_) => {
                    self.tagged(tag, "BAD", "Invalid base64");
                    return Flow::Continue;
                }
            }
        };
        let parts: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
        if parts.len() != 3 {
            self.tagged(tag, "BAD", "Malformed PLAIN response");
            return Flow::Continue;
        }
        let (authz, user, pass) = (
            parts[0],
            String::from_utf8_lossy(parts[1]).into_owned(),
            String::from_utf8_lossy(parts[2]).into_owned(),
        );
        if !authz.is_empty() && authz != user.as_bytes() {
            self.tagged(tag, "NO", "[AUTHORIZATIONFAILED] Cannot act as another user");
            return Flow::Continue;
        }
        self.finish_login(tag, &user, &pass).await
    }

    async fn open(&mut self, name: &str) -> Result<Arc<Folder>, IndexError> {
        let f = self.svc.index.open(self.account(), name).await?;
        f.sync().await?;
        Ok(f)
    }

    async fn select(&mut self, tag: &str, mailbox: &str, read_only: bool, condstore: bool) {
        self.sel = None;
        if condstore {
            self.condstore = true;
        }
        let name = self.decode_name(mailbox).unwrap_or_else(|| mailbox.to_owned());
        let folder = match self.open(&name).await {
            Ok(f) => f,
            Err(e) => {
                self.tagged(tag, "NO", &index_error(&e));
                return;
            }
        };
        let watch = folder.watch();
        let (uids, uidvalidity, uidnext, modseq, keywords, first_unseen) = {
            let st = folder.state().await;
            let mut kw: Vec<String> = Vec::new();
            for m in &st.msgs {
                for k in &m.flags.keywords {
                    if !kw.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                        kw.push(k.clone());
                    }
                }
            }
            let unseen = st
                .msgs
                .iter()
                .position(|m| m.flags.system & SEEN == 0)
                .map(|i| i + 1);
            (
                st.msgs.iter().map(|m| m.uid).collect::<Vec<_>>(),
                st.uidvalidity,
                st.uidnext,
                st.highestmodseq,
                kw,
                unseen,
            )
        };
        let mut flags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft".to_owned();
        for k in &keywords {
            flags.push(' ');
            flags.push_str(k);
        }
        self.untagged(&format!("{} EXISTS", uids.len()));
        if !self.rev2 {
            self.untagged("0 RECENT");
            if let Some(u) = first_unseen {
                self.untagged(&format!("OK [UNSEEN {u}] First unseen"));
            }
        }
        self.untagged(&format!("FLAGS ({flags})"));
        let perm = if read_only {
            "()".to_owned()
        } else {
            format!("({flags} \\*)")
        };
        self.untagged(&format!("OK [PERMANENTFLAGS {perm}] Limited"));
        self.untagged(&format!("OK [UIDVALIDITY {uidvalidity}] UIDs valid"));
        self.untagged(&format!("OK [UIDNEXT {uidnext}] Predicted next UID"));
        self.untagged(&format!("OK [HIGHESTMODSEQ {modseq}] Highest"));
        if self.rev2 {
            let enc = self.encode_name(&folder.name);
            self.untagged(&format!("LIST () \".\" {enc}"));
        }
        self.sel = Some(Selected {
            folder,
            read_only,
            uids,
            modseq,
            watch,
        });
        let rw = if read_only { "[READ-ONLY]" } else { "[READ-WRITE]" };
        self.tagged(
            tag,
            "OK",
            &format!("{rw} {} completed", if read_only { "EXAMINE" } else { "SELECT" }),
        );
    }

    /// Reports changes of the selected folder since the last report. EXPUNGE responses only
    /// when `expunges` is true (not during FETCH, STORE and SEARCH by sequence number).
    pub(super) async fn refresh(&mut self, expunges: bool) {
        let Some(sel) = &self.sel else { return };
        let folder = sel.folder.clone();
        if let Err(e) = folder.sync().await {
            warn!(error = %e, "cannot sync the folder");
        }
        let condstore = self.condstore;
        let mut lines = Vec::new();
        {
            let st = folder.state().await;
            let Some(sel) = &mut self.sel else { return };
            if expunges {
                let mut i = sel.uids.len();
                while i > 0 {
                    i -= 1;
                    if st.position(sel.uids[i]).is_none() {
                        lines.push(format!("{} EXPUNGE", i + 1));
                        sel.uids.remove(i);
                    }
                }
            }
            let max = sel.uids.last().copied().unwrap_or(0);
            let before = sel.uids.len();
            for m in st.msgs.iter().filter(|m| m.uid > max) {
                sel.uids.push(m.uid);
            }
            if sel.uids.len() != before {
                lines.push(format!("{} EXISTS", sel.uids.len()));
            }
            if st.highestmodseq > sel.modseq {
                for (i, uid) in sel.uids.iter().enumerate() {
                    if let Some(p) = st.position(*uid) {
                        let m = &st.msgs[p];
                        if m.modseq > sel.modseq && m.uid <= max {
                            let mut l = format!("{} FETCH (FLAGS ({})", i + 1, m.flags.words().join(" "));
                            if condstore {
                                l.push_str(&format!(" MODSEQ ({})", m.modseq));
                            }
                            l.push(')');
                            lines.push(l);
                        }
                    }
                }
                sel.modseq = st.highestmodseq;
            }
        }
        for l in lines {
            self.untagged(&l);
        }
    }

    /// (sequence number, UID) pairs of a set, in order; `None` when a sequence number is
    /// beyond the mailbox.
    pub(super) fn resolve(&self, set: &SeqSet, uid: bool) -> Option<Vec<(u32, u32)>> {
        let sel = self.sel.as_ref()?;
        let n = sel.uids.len() as u32;
        if uid {
            let max = sel.uids.last().copied().unwrap_or(0);
            return Some(
                sel.uids
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| set.contains(**u, max))
                    .map(|(i, u)| (i as u32 + 1, *u))
                    .collect(),
            );
        }
        // A number beyond the mailbox is an error, but a range with `*` is not: `1:*` of an
        // empty mailbox is simply empty (clients send it to resynchronise).
        if set
            .0
            .iter()
            .any(|&(a, b)| a != u32::MAX && b != u32::MAX && a.max(b) > n)
        {
            return None;
        }
        Some(
            (1..=n)
                .filter(|s| set.contains(*s, n))
                .map(|s| (s, sel.uids[s as usize - 1]))
                .collect(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    async fn list(
        &mut self,
        tag: &str,
        reference: &str,
        patterns: &[String],
        subscribed_only: bool,
        return_subscribed: bool,
        special_use_only: bool,
        status: &[String],
        lsub: bool,
    ) {
        let folders = match self.svc.index.list(self.account()).await {
            Ok(f) => f,
            Err(e) => {
                self.tagged(tag, "NO", &index_error(&e));
                return;
            }
        };
        let verb = if lsub { "LSUB" } else { "LIST" };
        if patterns.len() == 1 && patterns[0].is_empty() {
            self.untagged(&format!("{verb} (\\Noselect) \".\" \"\""));
            self.tagged(tag, "OK", &format!("{verb} completed"));
            return;
        }
        let reference = self.decode_name(reference).unwrap_or_default();
        let compiled: Vec<super::list::Pattern> = patterns
            .iter()
            .map(|p| {
                let p = self.decode_name(p).unwrap_or_else(|| p.clone());
                super::list::compile(&format!("{reference}{p}"))
            })
            .collect();
        // Every folder that has a child: the parents of every name.
        let parents: std::collections::HashSet<&str> = folders
            .iter()
            .flat_map(|f| f.name.match_indices('.').map(|(i, _)| &f.name[..i]))
            .collect();
        let mut out = Vec::new();
        for f in &folders {
            let matched = compiled.iter().any(|p| p.matches(&f.name));
            if !matched || ((subscribed_only || lsub) && !f.subscribed) {
                continue;
            }
            if special_use_only && f.special_use.is_none() {
                continue;
            }
            let children = parents.contains(f.name.as_str());
            let mut attrs = vec![
                if children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                }
                .to_owned(),
            ];
            if let Some(su) = &f.special_use {
                attrs.push(su.clone());
            }
            if (return_subscribed || subscribed_only) && f.subscribed {
                attrs.push("\\Subscribed".into());
            }
            out.push((f.name.clone(), attrs));
        }
        for (name, attrs) in out {
            let enc = self.encode_name(&name);
            self.untagged(&format!("{verb} ({}) \".\" {enc}", attrs.join(" ")));
            if !status.is_empty()
                && let Ok(line) = self.status_line(&name, status).await
            {
                self.untagged(&line);
            }
        }
        self.tagged(tag, "OK", &format!("{verb} completed"));
    }

    async fn status_line(&mut self, name: &str, items: &[String]) -> Result<String, IndexError> {
        let folder = self.open(name).await?;
        let st = folder.state().await;
        let mut parts = Vec::new();
        for i in items {
            let v = match i.as_str() {
                "MESSAGES" => st.msgs.len() as u64,
                "UIDNEXT" => u64::from(st.uidnext),
                "UIDVALIDITY" => u64::from(st.uidvalidity),
                "UNSEEN" => st.msgs.iter().filter(|m| m.flags.system & SEEN == 0).count() as u64,
                "DELETED" => st.msgs.iter().filter(|m| m.flags.system & DELETED != 0).count() as u64,
                "SIZE" => st.msgs.iter().map(|m| m.size).sum(),
                "HIGHESTMODSEQ" => st.highestmodseq,
                _ => 0,
            };
            parts.push(format!("{i} {v}"));
        }
        Ok(format!("STATUS {} ({})", self.encode_name(name), parts.join(" ")))
    }

    async fn append(&mut self, tag: &str, mailbox: &str, flags: &[String], date: Option<i64>, data: Vec<u8>) {
        let name = self.decode_name(mailbox).unwrap_or_else(|| mailbox.to_owned());
        let Some(flags) = Flags::parse(flags.iter().map(String::as_str)) else {
            self.tagged(tag, "BAD", "Invalid flag");
            return;
        };
        if data.len() as u64 > self.svc.limits.message_size_bytes {
            self.tagged(tag, "NO", "[TOOBIG] Message too large");
            return;
        }
        if let Some(info) = self.svc.routing.get().mailbox(self.account())
            && let Some(q) = info.quota
            && self.svc.store.usage(&info.maildir) + data.len() as u64 > q
        {
            self.tagged(tag, "NO", "[OVERQUOTA] Quota exceeded");
            return;
        }
        let Some(folder) = self.target(tag, &name).await else {
            return;
        };
        let size = data.len() as u64;
        // Stored with CRLF line ends, so sizes and sections are what IMAP clients expect.
        let data = crlf(data);
        match folder.append(data, flags, date, &self.svc.index.host).await {
            Ok(uid) => {
                if let Some(info) = self.svc.routing.get().mailbox(self.account()) {
                    self.svc.store.add_usage(&info.maildir, size);
                }
                let uidvalidity = folder.state().await.uidvalidity;
                self.refresh(false).await;
                self.tagged(
                    tag,
                    "OK",
                    &format!("[APPENDUID {uidvalidity} {uid}] APPEND completed"),
                );
            }
            Err(e) => self.tagged(tag, "NO", &index_error(&e)),
        }
    }

    async fn idle(&mut self, tag: &str) -> Flow {
        self.conn.write_raw(b"+ idling\r\n");
        self.refresh(true).await;
        loop {
            let _ = self.conn.flush().await;
            self.conn.shrink();
            let mut watch = self.sel.as_ref().map(|s| s.watch.clone());
            enum Ev {
                Line(Result<Line, ReadError>),
                Changed,
            }
            let ev = {
                let changed = async {
                    match &mut watch {
                        Some(w) => {
                            let _ = w.changed().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    l = self.conn.read_line(MAX_LINE, AUTH_TIMEOUT) => Ev::Line(l),
                    _ = changed => Ev::Changed,
                }
            };
            match ev {
                Ev::Changed => {
                    if let (Some(sel), Some(w)) = (&mut self.sel, watch) {
                        sel.watch = w;
                    }
                    self.refresh(true).await;
                }
                Ev::Line(Ok(Line::Text(t))) if t.eq_ignore_ascii_case(b"DONE") => {
                    self.tagged(tag, "OK", "IDLE terminated");
                    return Flow::Continue;
                }
                Ev::Line(Ok(_)) => {
                    self.tagged(tag, "BAD", "Expected DONE");
                    return Flow::Continue;
                }
                Ev::Line(Err(ReadError::Shutdown)) => {
                    self.untagged("BYE [UNAVAILABLE] Server shutting down");
                    return Flow::Close;
                }
                Ev::Line(Err(_)) => return Flow::Close,
            }
        }
    }

    async fn expunge(&mut self, tag: &str, set: Option<SeqSet>) {
        let Some(sel) = &self.sel else { return };
        if sel.read_only {
            self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        let only: Option<Vec<u32>> = set.map(|s| {
            self.resolve(&s, true)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, u)| u)
                .collect()
        });
        let folder = sel.folder.clone();
        match folder.expunge(only.as_deref()).await {
            Ok(gone) => {
                if !gone.is_empty() {
                    self.usage_changed();
                }
                self.refresh(true).await;
                self.tagged(tag, "OK", "EXPUNGE completed");
            }
            Err(e) => self.tagged(tag, "NO", &index_error(&e)),
        }
    }

    async fn search(&mut self, tag: &str, uid: bool, ret: Option<parse::SearchReturn>, key: SearchKey) {
        self.refresh(uid).await;
        let Some(sel) = &self.sel else { return };
        let folder = sel.folder.clone();
        let view = sel.uids.clone();
        let msgs: Vec<(u32, crate::mailbox::index::Msg)> = {
            let st = folder.state().await;
            view.iter()
                .enumerate()
                .filter_map(|(i, u)| st.position(*u).map(|p| (i as u32 + 1, st.msgs[p].clone())))
                .collect()
        };
        let max_uid = view.last().copied().unwrap_or(0);
        let max_seq = view.len() as u32;
        let needs = key.needs_content();
        let mut hits: Vec<(u32, u32, u64)> = Vec::new();
        for (seq, m) in &msgs {
            let content = if needs {
                let Ok(raw) = folder.read(m.uid).await else {
                    continue;
                };
                Some(
                    tokio::task::spawn_blocking(move || Content::of(&raw))
                        .await
                        .unwrap_or_default(),
                )
            } else {
                None
            };
            let c = Candidate {
                seq: *seq,
                msg: m,
                max_seq,
                max_uid,
                content: content.as_ref(),
            };
            if search::matches(&key, &c) {
                hits.push((*seq, m.uid, m.modseq));
            }
        }
        let numbers: Vec<u32> = hits.iter().map(|(s, u, _)| if uid { *u } else { *s }).collect();
        let modseq = key
            .uses_modseq()
            .then(|| hits.iter().map(|h| h.2).max().unwrap_or(0));
        match ret.or_else(|| {
            self.rev2.then(|| parse::SearchReturn {
                all: true,
                ..Default::default()
            })
        }) {
            None => {
                let mut l = String::from("SEARCH");
                for n in &numbers {
                    l.push_str(&format!(" {n}"));
                }
                if let Some(m) = modseq.filter(|_| !numbers.is_empty()) {
                    l.push_str(&format!(" (MODSEQ {m})"));
                }
                self.untagged(&l);
            }
            Some(r) => {
                let mut l = format!("ESEARCH (TAG {})", string(tag, false));
                if uid {
                    l.push_str(" UID");
                }
                if !numbers.is_empty() {
                    if r.min {
                        l.push_str(&format!(" MIN {}", numbers.iter().min().copied().unwrap_or(0)));
                    }
                    if r.max {
                        l.push_str(&format!(" MAX {}", numbers.iter().max().copied().unwrap_or(0)));
                    }
                    if r.all {
                        l.push_str(&format!(" ALL {}", compress(&numbers)));
                    }
                }
                if r.count {
                    l.push_str(&format!(" COUNT {}", numbers.len()));
                }
                if let Some(m) = modseq.filter(|_| !numbers.is_empty()) {
                    l.push_str(&format!(" MODSEQ {m}"));
                }
                self.untagged(&l);
            }
        }
        self.tagged(tag, "OK", "SEARCH completed");
    }

    #[allow(clippy::too_many_arguments)]
    async fn store(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SeqSet,
        op: StoreOp,
        silent: bool,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) {
        let Some(sel) = &self.sel else { return };
        if sel.read_only {
            self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        let folder = sel.folder.clone();
        let Some(targets) = self.resolve(set, uid) else {
            self.tagged(tag, "BAD", "Invalid message sequence number");
            return;
        };
        let Some(f) = Flags::parse(flags.iter().map(String::as_str)) else {
            self.tagged(tag, "BAD", "Invalid flag");
            return;
        };
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let op_n = match op {
            StoreOp::Add => 1,
            StoreOp::Remove => -1,
            StoreOp::Replace => 0,
        };
        if unchanged_since.is_some() {
            self.condstore = true;
        }
        match folder.store(&uids, op_n, &f, unchanged_since).await {
            Ok((changed, failed)) => {
                let condstore = self.condstore;
                for (u, fl, modseq) in &changed {
                    let Some((seq, _)) = targets.iter().find(|(_, x)| x == u) else {
                        continue;
                    };
                    if silent && !condstore {
                        continue;
                    }
                    let mut l = format!("{seq} FETCH (");
                    let mut items = Vec::new();
                    if !silent {
                        items.push(format!("FLAGS ({})", fl.words().join(" ")));
                    }
                    if uid {
                        items.push(format!("UID {u}"));
                    }
                    if condstore {
                        items.push(format!("MODSEQ ({modseq})"));
                    }
                    l.push_str(&items.join(" "));
                    l.push(')');
                    self.untagged(&l);
                }
                // Our own changes are reported; do not report them again.
                if let Some(sel) = &mut self.sel {
                    let st = folder.state().await;
                    if changed.iter().all(|(_, _, m)| *m > sel.modseq)
                        && st.highestmodseq == changed.iter().map(|c| c.2).max().unwrap_or(0)
                    {
                        sel.modseq = st.highestmodseq;
                    }
                }
                if failed.is_empty() {
                    self.tagged(tag, "OK", "STORE completed");
                } else {
                    let nums: Vec<u32> = if uid {
                        failed.clone()
                    } else {
                        failed
                            .iter()
                            .filter_map(|f| targets.iter().find(|(_, u)| u == f).map(|(s, _)| *s))
                            .collect()
                    };
                    self.tagged(
                        tag,
                        "OK",
                        &format!("[MODIFIED {}] Conditional STORE failed", compress(&nums)),
                    );
                }
            }
            Err(e) => self.tagged(tag, "NO", &index_error(&e)),
        }
    }

    async fn copy(&mut self, tag: &str, uid: bool, set: &SeqSet, mailbox: &str, moving: bool) {
        let Some(sel) = &self.sel else { return };
        if moving && sel.read_only {
            self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        let src = sel.folder.clone();
        let Some(targets) = self.resolve(set, uid) else {
            self.tagged(tag, "BAD", "Invalid message sequence number");
            return;
        };
        let name = self.decode_name(mailbox).unwrap_or_else(|| mailbox.to_owned());
        let Some(dest) = self.target(tag, &name).await else {
            return;
        };
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let pairs = match src.copy_to(&uids, &dest, &self.svc.index.host).await {
            Ok(p) => p,
            Err(e) => {
                self.tagged(tag, "NO", &index_error(&e));
                return;
            }
        };
        let uidvalidity = dest.state().await.uidvalidity;
        let code = if pairs.is_empty() {
            String::new()
        } else {
            let from: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            let to: Vec<u32> = pairs.iter().map(|p| p.1).collect();
            format!(
                "[COPYUID {uidvalidity} {} {}] ",
                compress_ordered(&from),
                compress_ordered(&to)
            )
        };
        if moving {
            if !code.is_empty() {
                self.untagged(&format!("OK {}Moved", code));
            }
            let moved: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            if let Err(e) = src.remove(&moved).await {
                warn!(error = %e, "MOVE copied but could not remove the originals");
            }
            self.refresh(true).await;
            self.tagged(tag, "OK", "MOVE completed");
        } else {
            self.tagged(tag, "OK", &format!("{code}COPY completed"));
        }
        debug!(count = pairs.len(), moving, "copied");
    }
}

/// Turns bare LF line ends into CRLF (data from APPEND).
fn crlf(data: Vec<u8>) -> Vec<u8> {
    let bare = data
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\n' && (i == 0 || data[i - 1] != b'\r'));
    if !bare {
        return data;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    for (i, b) in data.iter().enumerate() {
        if *b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    out
}

/// A sequence set for a list of numbers (`1:3,7,9:10`), sorted.
pub(super) fn compress(nums: &[u32]) -> String {
    let mut v = nums.to_vec();
    v.sort_unstable();
    v.dedup();
    compress_ordered(&v)
}

/// A sequence set keeping the given order (COPYUID pairs must line up).
pub(super) fn compress_ordered(v: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    out.join(",")
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

    #[test]
    fn sets_compress() {
        assert_eq!(compress(&[5, 1, 2, 3, 9, 10]), "1:3,5,9:10");
        assert_eq!(compress_ordered(&[4, 5, 1]), "4:5,1");
        assert_eq!(compress(&[]), "");
    }

    #[test]
    fn append_data_gets_crlf() {
        assert_eq!(crlf(b"a\nb\r\nc\n".to_vec()), b"a\r\nb\r\nc\r\n");
        assert_eq!(crlf(b"\n".to_vec()), b"\r\n");
        assert_eq!(crlf(b"x\r\n".to_vec()), b"x\r\n");
    }

    #[test]
    fn literal_announcements() {
        assert_eq!(literal_suffix(b"a LOGIN {5}"), Some((5, true)));
        assert_eq!(literal_suffix(b"a APPEND x {100+}"), Some((100, false)));
        assert_eq!(literal_suffix(b"a LOGIN {x}"), None);
        assert_eq!(literal_suffix(b"a NOOP"), None);
    }
}
