//! One SMTP session: the command loop, the transaction state, and the MX and submission
//! policies (RFC 5321, RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 3030 CHUNKING, RFC 2920
//! PIPELINING). A message is acknowledged only after [`Store::deliver`] returned, that is after
//! it is durably in every recipient's Maildir.
//!
//! [`Store::deliver`]: crate::mailbox::maildir::Store::deliver

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use base64::Engine;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{Instrument, debug, info, info_span, warn};

use super::conn::{Conn, Line, ReadError, Stream};
use super::data::{ChunkReader, DataReader, Outcome};
use super::headers;
use super::intake::{self, Refusal};
use super::parse::{self, Command, Domain, MailParams, Path, RcptParams, ReversePath};
use super::reply::{self, Reply};
use super::spool::Body;
use super::{ListenerInfo, Services};
use crate::auth::Login;
use crate::delivery::Resolution;
use crate::delivery::srs::Srs;
use crate::plan::SmtpRole;
use crate::queue::store::{NewMessage, NewRecipient};
use crate::scan::{Rejection, Verdict};

/// Longest command line accepted (RFC 5321 allows 512; extensions and UTF-8 need more).
pub const MAX_COMMAND_LINE: usize = 2048;
/// Longest SASL response line.
const MAX_AUTH_LINE: usize = 12 * 1024;
/// Errors before the session is closed.
const MAX_ERRORS: u32 = 10;
/// NOOP/RSET/VRFY/EXPN/HELP before the session is closed.
const MAX_JUNK: u32 = 100;

enum Flow {
    Continue,
    Close,
}

struct Txn {
    id: String,
    from: ReversePath,
    params: MailParams,
    rcpts: Vec<String>,
    mailboxes: Vec<String>,
    remote: Vec<NewRecipient>,
    /// Local recipients whose NOTIFY asks for SUCCESS: (address, ORCPT).
    report_delivered: Vec<(String, Option<String>)>,
    /// The local domain of the first alias that forwards outside: forwarded copies of a
    /// stranger's message leave with an SRS sender at it.
    forwarded_via: Option<String>,
    chunks: Option<(ChunkReader, Body)>,
    started: Instant,
    /// When the message body must have arrived in full (set at DATA or the first BDAT).
    data_deadline: Option<tokio::time::Instant>,
}

struct Session<IO> {
    conn: Conn<IO>,
    svc: Arc<Services>,
    listener: Arc<ListenerInfo>,
    peer: SocketAddr,
    helo: Option<String>,
    esmtp: bool,
    user: Option<String>,
    trusted: bool,
    txn: Option<Txn>,
    errors: u32,
    junk: u32,
    messages: u32,
    auth_failures: u32,
    /// The session is closed unless it completes a message by then.
    progress_deadline: tokio::time::Instant,
}

/// Serves one connection until it ends.
pub async fn serve<IO>(io: IO, peer: SocketAddr, listener: Arc<ListenerInfo>, svc: Arc<Services>)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let span = info_span!("smtp", listener = %listener.name, peer = %peer);
    async move {
        let trusted = svc.trusted.iter().any(|n| n.contains(&peer.ip()));
        let svc_progress = svc.timeouts.progress;
        let conn = Conn::new(Stream::Plain(io), svc.shutdown.clone());
        let mut s = Session {
            conn,
            svc,
            listener,
            peer,
            helo: None,
            esmtp: false,
            user: None,
            trusted,
            txn: None,
            errors: 0,
            junk: 0,
            messages: 0,
            auth_failures: 0,
            progress_deadline: tokio::time::Instant::now() + svc_progress,
        };
        s.run().await;
        s.conn.close().await;
        debug!(messages = s.messages, "session closed");
    }
    .instrument(span)
    .await
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    async fn run(&mut self) {
        if self.listener.implicit_tls {
            let Some(acceptor) = self.svc.tls.clone() else {
                return;
            };
            if let Err(e) = self.conn.start_tls(&acceptor, self.svc.timeouts.tls).await {
                debug!(error = %e, "TLS handshake failed");
                return;
            }
        }
        if self.svc.bans.is_banned(self.peer.ip()) {
            info!("refused: client is banned after failed logins");
            self.conn.reply(&reply::banned());
            return;
        }
        self.conn
            .reply(&Reply::plain(220, format!("{} ESMTP yubin", self.svc.hostname)));
        loop {
            self.conn.idle = true;
            if self.conn.shutting_down() {
                // Even commands already buffered are not started once shutdown began.
                self.conn.reply(&reply::shutting_down());
                return;
            }
            // The whole line must arrive in time, and the session must keep completing
            // messages (RFC 5321 §4.5.3.2: 5 minutes per command).
            let now = tokio::time::Instant::now();
            self.conn.deadline = Some((now + self.svc.timeouts.command).min(self.progress_deadline));
            let line = match self
                .conn
                .read_line(MAX_COMMAND_LINE, self.svc.timeouts.command)
                .await
            {
                Ok(l) => l,
                Err(ReadError::Closed) => return,
                Err(ReadError::Timeout) => {
                    self.conn.reply(&reply::timeout());
                    return;
                }
                Err(ReadError::Shutdown) => {
                    self.conn.reply(&reply::shutting_down());
                    return;
                }
            };
            self.conn.idle = false;
            let flow = match line {
                Line::TooLong(_) => self.error(reply::line_too_long()),
                Line::Text(text) => match parse::command(&text) {
                    Ok(cmd) => self.dispatch(cmd).await,
                    Err(r) if r.code == 521 => {
                        self.conn.reply(&r);
                        Flow::Close
                    }
                    Err(r) => self.error(r),
                },
            };
            if let Flow::Close = flow {
                return;
            }
        }
    }

    fn error(&mut self, r: Reply) -> Flow {
        self.errors += 1;
        self.conn.reply(&r);
        if self.errors >= MAX_ERRORS {
            info!(errors = self.errors, "closing: too many errors");
            self.conn.reply(&reply::too_many_errors());
            return Flow::Close;
        }
        Flow::Continue
    }

    fn junk(&mut self, r: Reply) -> Flow {
        self.junk += 1;
        self.conn.reply(&r);
        if self.junk > MAX_JUNK {
            self.conn.reply(&reply::too_many_junk());
            return Flow::Close;
        }
        Flow::Continue
    }

    async fn dispatch(&mut self, cmd: Command) -> Flow {
        match cmd {
            Command::Ehlo(name) => {
                self.txn = None;
                self.helo = Some(name);
                self.esmtp = true;
                let ehlo = self.ehlo_reply();
                self.conn.reply(&ehlo);
                Flow::Continue
            }
            Command::Helo(name) => {
                self.txn = None;
                self.helo = Some(name);
                self.esmtp = false;
                self.conn.reply(&Reply::plain(250, self.svc.hostname.clone()));
                Flow::Continue
            }
            Command::StartTls => self.starttls().await,
            Command::Auth(mech, initial) => self.auth(&mech, initial).await,
            Command::Mail(from, params) => match self.mail(from, params) {
                Ok(()) => {
                    self.conn.reply(&reply::sender_ok());
                    Flow::Continue
                }
                Err(r) => self.error(r),
            },
            Command::Rcpt(path, params) => match self.rcpt(&path, params) {
                Ok(()) => {
                    self.conn.reply(&reply::recipient_ok());
                    Flow::Continue
                }
                Err(r) => self.error(r),
            },
            Command::Data => self.data().await,
            Command::Bdat(size, last) => self.bdat(size, last).await,
            Command::Rset => {
                self.txn = None;
                self.junk(reply::ok())
            }
            Command::Noop => self.junk(reply::ok()),
            Command::Vrfy => self.junk(reply::cannot_vrfy()),
            Command::Expn => self.junk(reply::not_implemented()),
            Command::Help => self.junk(reply::help()),
            Command::Quit => {
                self.conn.reply(&reply::bye());
                Flow::Close
            }
        }
    }

    fn auth_offered(&self) -> bool {
        self.listener.role == SmtpRole::Submission && self.conn.is_tls()
    }

    fn ehlo_reply(&self) -> Reply {
        let mut lines: Vec<std::borrow::Cow<'static, str>> = vec![
            format!(
                "{} Hello {} [{}]",
                self.svc.hostname,
                self.helo.as_deref().unwrap_or(""),
                self.peer.ip()
            )
            .into(),
        ];
        lines.push("PIPELINING".into());
        lines.push(format!("SIZE {}", self.svc.limits.message_size_bytes).into());
        lines.push("8BITMIME".into());
        lines.push("SMTPUTF8".into());
        lines.push("ENHANCEDSTATUSCODES".into());
        lines.push("CHUNKING".into());
        lines.push("DSN".into());
        if !self.conn.is_tls() && self.svc.tls.is_some() {
            lines.push("STARTTLS".into());
        }
        if self.auth_offered() && self.user.is_none() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        lines.push("HELP".into());
        Reply::multi(250, lines)
    }

    async fn starttls(&mut self) -> Flow {
        if self.conn.is_tls() {
            return self.error(reply::bad_sequence());
        }
        let Some(acceptor) = self.svc.tls.clone() else {
            return self.error(reply::tls_not_available());
        };
        self.conn.reply(&reply::ready_for_tls());
        // Anything pipelined after STARTTLS was sent in plaintext: never act on it.
        let dropped = self.conn.discard_buffered();
        if dropped > 0 {
            warn!(bytes = dropped, "discarded plaintext pipelined after STARTTLS");
        }
        if let Err(e) = self.conn.start_tls(&acceptor, self.svc.timeouts.tls).await {
            debug!(error = %e, "STARTTLS handshake failed");
            return Flow::Close;
        }
        // RFC 3207 §4.2: forget everything learnt before TLS.
        self.helo = None;
        self.esmtp = false;
        self.user = None;
        self.txn = None;
        Flow::Continue
    }

    async fn read_sasl_line(&mut self, challenge: &'static str) -> Result<String, Reply> {
        self.conn.reply(&reply::challenge(challenge));
        match self
            .conn
            .read_line(MAX_AUTH_LINE, self.svc.timeouts.command)
            .await
        {
            Ok(Line::Text(t)) => {
                let t = String::from_utf8(t).map_err(|_| reply::auth_malformed())?;
                if t == "*" {
                    return Err(reply::auth_cancelled());
                }
                Ok(t)
            }
            Ok(Line::TooLong(_)) => Err(reply::line_too_long()),
            Err(_) => Err(reply::timeout()),
        }
    }

    fn decode64(s: &str) -> Result<Vec<u8>, Reply> {
        if s == "=" {
            return Ok(Vec::new());
        }
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|_| reply::auth_malformed())
    }

    async fn sasl(&mut self, mech: &str, initial: Option<String>) -> Result<(String, String), Reply> {
        match mech {
            "PLAIN" => {
                let data = match initial {
                    Some(i) => i,
                    None => self.read_sasl_line("").await?,
                };
                let raw = Self::decode64(&data)?;
                let mut parts = raw.split(|b| *b == 0);
                let (Some(authz), Some(user), Some(pass), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(reply::auth_malformed());
                };
                let user = String::from_utf8(user.to_vec()).map_err(|_| reply::auth_malformed())?;
                let pass = String::from_utf8(pass.to_vec()).map_err(|_| reply::auth_malformed())?;
                if !authz.is_empty() && authz != user.as_bytes() {
                    return Err(reply::auth_failed());
                }
                Ok((user, pass))
            }
            "LOGIN" => {
                let user_b64 = match initial {
                    Some(i) => i,
                    None => self.read_sasl_line("VXNlcm5hbWU6").await?,
                };
                let user =
                    String::from_utf8(Self::decode64(&user_b64)?).map_err(|_| reply::auth_malformed())?;
                let pass_b64 = self.read_sasl_line("UGFzc3dvcmQ6").await?;
                let pass =
                    String::from_utf8(Self::decode64(&pass_b64)?).map_err(|_| reply::auth_malformed())?;
                Ok((user, pass))
            }
            _ => Err(reply::unknown_mechanism()),
        }
    }

    async fn auth(&mut self, mech: &str, initial: Option<String>) -> Flow {
        if self.listener.role != SmtpRole::Submission {
            return self.error(reply::auth_not_available());
        }
        if !self.conn.is_tls() {
            return self.error(reply::tls_required());
        }
        if self.helo.is_none() {
            return self.error(reply::hello_first());
        }
        if self.user.is_some() {
            return self.error(reply::already_authenticated());
        }
        if self.txn.is_some() {
            return self.error(reply::auth_in_transaction());
        }
        let (login, password) = match self.sasl(mech, initial).await {
            Ok(c) => c,
            Err(r) if r.code == 535 => return self.auth_failure(&r, "").await,
            Err(r) => return self.error(r),
        };
        let directory = self.svc.directory.get();
        let outcome = crate::auth::attempt_login(
            &directory,
            &self.svc.bans,
            self.peer.ip(),
            &mut self.auth_failures,
            &login,
            &password,
        )
        .await;
        match outcome {
            Login::Ok(address) => {
                info!(user = %address, mechanism = mech, "authenticated");
                self.user = Some(address);
                self.conn.reply(&reply::auth_ok());
                Flow::Continue
            }
            Login::Temporary => self.error(reply::auth_temp()),
            Login::Banned => {
                info!(login = %login, "authentication refused: the address is banned");
                self.conn.reply(&reply::banned());
                Flow::Close
            }
            Login::Invalid { close } => {
                crate::metrics::auth_failure("smtp");
                warn!(login = %login, close, "authentication failed");
                self.conn.reply(&reply::auth_failed());
                if close {
                    self.conn.reply(&reply::too_many_auth_failures());
                    return Flow::Close;
                }
                self.errors += 1;
                Flow::Continue
            }
        }
    }

    /// A malformed or cancelled exchange counts as a failed attempt too.
    async fn auth_failure(&mut self, r: &Reply, login: &str) -> Flow {
        self.auth_failures += 1;
        let banned = self.svc.bans.record_failure(self.peer.ip());
        warn!(login = %login, banned, "authentication failed");
        if banned || self.auth_failures >= crate::auth::MAX_FAILED_LOGINS_PER_SESSION {
            self.conn.reply(r);
            self.conn.reply(&reply::too_many_auth_failures());
            return Flow::Close;
        }
        self.error(r.clone())
    }

    fn domain_allowed(&self, domain: &str) -> bool {
        self.svc.allowed_sender_domains.contains(domain)
    }

    fn mail(&mut self, from: ReversePath, params: MailParams) -> Result<(), Reply> {
        if self.helo.is_none() {
            return Err(reply::hello_first());
        }
        if self.txn.is_some() {
            return Err(reply::nested_mail());
        }
        if self.listener.role == SmtpRole::Submission && self.user.is_none() && !self.trusted {
            return Err(if self.conn.is_tls() || self.svc.tls.is_none() {
                reply::auth_required()
            } else {
                reply::tls_required()
            });
        }
        if params
            .size
            .is_some_and(|s| s > self.svc.limits.message_size_bytes)
        {
            return Err(reply::too_big());
        }
        if self.listener.role == SmtpRole::Submission {
            match (&from, &self.user) {
                (ReversePath::Null, Some(_)) => return Err(reply::sender_not_owned()),
                (ReversePath::Null, None) => {}
                (ReversePath::Path(p), user) => {
                    let Some(Domain::Name(domain)) = &p.domain else {
                        return Err(reply::sender_domain_denied());
                    };
                    if !self.domain_allowed(domain) {
                        return Err(reply::sender_domain_denied());
                    }
                    if let Some(u) = user
                        && !self.svc.routing.get().may_send_as(u, &p.local, domain)
                    {
                        return Err(reply::sender_not_owned());
                    }
                }
            }
        }
        let submitting = self.user.is_some() || self.trusted;
        if submitting {
            let key = match (&self.user, self.svc.send_rate_per_user) {
                (Some(u), true) => u.clone(),
                _ => self.peer.ip().to_string(),
            };
            if let Err(wait) = self.svc.send_rate.check(&key) {
                warn!(sender = %key, "sending rate limit reached");
                return Err(Reply::new(
                    451,
                    (4, 7, 1),
                    format!(
                        "Sending rate limit exceeded; try again in {} seconds",
                        wait.as_secs().max(1)
                    ),
                ));
            }
        }
        self.txn = Some(Txn {
            id: crate::queue::new_id(),
            from,
            params,
            rcpts: Vec::new(),
            mailboxes: Vec::new(),
            remote: Vec::new(),
            report_delivered: Vec::new(),
            forwarded_via: None,
            chunks: None,
            started: Instant::now(),
            data_deadline: None,
        });
        Ok(())
    }

    fn may_relay(&self) -> bool {
        match self.listener.role {
            SmtpRole::Submission => self.user.is_some() || self.trusted,
            SmtpRole::Mx => self.trusted,
        }
    }

    fn remote_recipient(address: &str, domain: &str, params: &RcptParams) -> NewRecipient {
        NewRecipient {
            address: address.to_owned(),
            domain: domain.to_owned(),
            orcpt: params.orcpt.clone(),
            notify: params.notify.clone(),
        }
    }

    /// A recipient that is an SRS address of ours: a bounce (or reply) to a forwarded message,
    /// sent on to the original sender when the address is genuine and recent.
    fn rcpt_srs(&mut self, path: &Path, params: &RcptParams) -> Result<(), Reply> {
        let original = match self.svc.srs.reverse(&path.local) {
            Ok(a) => a,
            Err(e) => {
                info!(rcpt = %path.to_address(), error = %e, "SRS address refused");
                return Err(reply::no_such_user());
            }
        };
        let Some((_, domain)) = original.rsplit_once('@') else {
            return Err(reply::no_such_user());
        };
        if self.svc.queue.is_none() {
            return Err(reply::queue_unavailable());
        }
        let r = Self::remote_recipient(&original, &domain.to_ascii_lowercase(), params);
        let Some(txn) = &mut self.txn else {
            return Err(reply::mail_first());
        };
        txn.rcpts.push(path.to_address());
        if !txn
            .remote
            .iter()
            .any(|x| x.address.eq_ignore_ascii_case(&r.address))
        {
            txn.remote.push(r);
        }
        Ok(())
    }

    fn rcpt(&mut self, path: &Path, params: RcptParams) -> Result<(), Reply> {
        let Some(txn) = &self.txn else {
            return Err(reply::mail_first());
        };
        if txn.rcpts.len() >= self.svc.limits.recipients_per_message as usize {
            return Err(reply::too_many_recipients());
        }
        if path.utf8 && !txn.params.smtputf8 {
            return Err(reply::utf8_required());
        }
        let declared = txn.params.size.unwrap_or(0);
        let routing = self.svc.routing.get();
        let resolution = match &path.domain {
            None => match routing.postmaster() {
                Some(pm) => {
                    let (l, d) = pm.rsplit_once('@').unwrap_or((pm, ""));
                    routing.resolve(l, d)
                }
                None => Resolution::Unknown,
            },
            Some(Domain::Literal(_)) => Resolution::Remote,
            Some(Domain::Name(d)) if routing.is_local_domain(d) && Srs::is_srs(&path.local) => {
                return self.rcpt_srs(path, &params);
            }
            Some(Domain::Name(d)) => routing.resolve(&path.local, d),
        };
        let mut remote = Vec::new();
        let mailboxes = match resolution {
            Resolution::Unknown => return Err(reply::no_such_user()),
            Resolution::Remote => {
                if !self.may_relay() {
                    return Err(reply::relay_denied());
                }
                if self.listener.role == SmtpRole::Mx {
                    // Trusted hosts relaying through the MX port: same sender rule as submission.
                    if let ReversePath::Path(p) = &txn.from {
                        let allowed = matches!(&p.domain, Some(Domain::Name(d)) if self.domain_allowed(d));
                        if !allowed {
                            return Err(reply::sender_domain_denied());
                        }
                    }
                }
                let Some(Domain::Name(domain)) = &path.domain else {
                    return Err(Reply::new(
                        553,
                        (5, 1, 3),
                        "Address literals are not supported as destinations",
                    ));
                };
                if self.svc.queue.is_none() {
                    return Err(reply::queue_unavailable());
                }
                remote.push(Self::remote_recipient(&path.to_address(), domain, &params));
                Vec::new()
            }
            Resolution::Local(route) => match intake::expand(&self.svc, &routing, route, declared) {
                Ok(e) => {
                    remote = e.forwards;
                    if !remote.is_empty()
                        && let (Some(Domain::Name(d)), Some(txn)) = (&path.domain, &mut self.txn)
                    {
                        txn.forwarded_via.get_or_insert_with(|| d.clone());
                    }
                    e.mailboxes
                }
                Err(Refusal::Disabled) => return Err(reply::mailbox_disabled()),
                Err(Refusal::QuotaFull) => return Err(reply::quota_exceeded()),
                Err(Refusal::QueueUnavailable) => return Err(reply::queue_unavailable()),
            },
        };
        let Some(txn) = &mut self.txn else {
            return Err(reply::mail_first());
        };
        txn.rcpts.push(path.to_address());
        if !mailboxes.is_empty() && crate::queue::dsn::Action::Delivered.wanted(params.notify.as_deref()) {
            txn.report_delivered
                .push((path.to_address(), params.orcpt.clone()));
        }
        for m in mailboxes {
            if !txn.mailboxes.contains(&m) {
                txn.mailboxes.push(m);
            }
        }
        for r in remote {
            if !txn
                .remote
                .iter()
                .any(|x| x.address.eq_ignore_ascii_case(&r.address))
            {
                txn.remote.push(r);
            }
        }
        Ok(())
    }

    fn ready_for_data(&self) -> Result<(), Reply> {
        match &self.txn {
            None => Err(reply::mail_first()),
            Some(t) if t.rcpts.is_empty() => Err(Reply::new(554, (5, 5, 1), "No valid recipients")),
            Some(_) => Ok(()),
        }
    }

    async fn data(&mut self) -> Flow {
        if let Err(r) = self.ready_for_data() {
            return self.error(r);
        }
        if self.txn.as_ref().is_some_and(|t| t.chunks.is_some()) {
            return self.error(reply::data_bdat_mix());
        }
        self.conn.reply(&reply::start_data());
        let limit = self.svc.limits.message_size_bytes;
        self.conn.deadline = Some(tokio::time::Instant::now() + self.svc.timeouts.data_total(limit));
        let mut reader = DataReader::new(limit);
        let mut body = self.svc.spool.body();
        let outcome = loop {
            if let Some((used, outcome)) = reader.feed(self.conn.buffered(), body.buf()) {
                self.conn.consume(used);
                break outcome;
            }
            let n = self.conn.buffered().len();
            self.conn.consume(n);
            body.spill().await;
            match self.conn.fill(self.svc.timeouts.data).await {
                Ok(_) => {}
                Err(ReadError::Timeout) => {
                    self.conn.reply(&reply::timeout());
                    return Flow::Close;
                }
                Err(_) => return Flow::Close,
            }
        };
        let r = self.finish_message(body, outcome).await;
        self.conn.reply(&r);
        Flow::Continue
    }

    async fn bdat(&mut self, size: u64, last: bool) -> Flow {
        let refusal = match self.ready_for_data() {
            Err(r) => Some(r),
            Ok(()) if size > self.svc.limits.message_size_bytes.saturating_add(1) => Some(reply::too_big()),
            Ok(()) => None,
        };
        if let Some(r) = refusal {
            // The chunk is on its way regardless: read and drop it (RFC 3030 §2).
            if self
                .conn
                .read_exact_into(size, self.svc.timeouts.data, |_| {})
                .await
                .is_err()
            {
                return Flow::Close;
            }
            self.txn = None;
            return self.error(r);
        }
        let limit = self.svc.limits.message_size_bytes;
        let data_total = self.svc.timeouts.data_total(limit);
        let Some(txn) = &mut self.txn else {
            return Flow::Close;
        };
        let deadline = *txn
            .data_deadline
            .get_or_insert_with(|| tokio::time::Instant::now() + data_total);
        self.conn.deadline = Some(deadline);
        let (mut reader, mut body) = match txn.chunks.take() {
            Some(c) => c,
            None => (ChunkReader::new(limit), self.svc.spool.body()),
        };
        // In slices, so that what arrives goes to the spool file as it comes.
        let mut left = size;
        while left > 0 {
            let slice = left.min(super::spool::SPILL_AT as u64);
            let read = self
                .conn
                .read_exact_into(slice, self.svc.timeouts.data, |b| reader.feed(b, body.buf()))
                .await;
            if read.is_err() {
                return Flow::Close;
            }
            body.spill().await;
            left -= slice;
        }
        if !last {
            let total = reader.size();
            if let Some(txn) = &mut self.txn {
                txn.chunks = Some((reader, body));
            }
            self.conn.reply(&reply::chunk_ok(total));
            return Flow::Continue;
        }
        let outcome = reader.finish(body.buf());
        let r = self.finish_message(body, outcome).await;
        self.conn.reply(&r);
        Flow::Continue
    }

    /// Checks a complete message and delivers it; the reply is the transaction's result.
    async fn finish_message(&mut self, body: Body, outcome: Outcome) -> Reply {
        let Some(txn) = self.txn.take() else {
            return reply::bad_sequence();
        };
        let result = self.deliver(&txn, body, outcome).await;
        let elapsed_ms = txn.started.elapsed().as_millis() as u64;
        crate::metrics::smtp_transaction(txn.started.elapsed());
        if result.is_ok() {
            crate::metrics::message_received(&self.listener.name);
        }
        match &result {
            Ok(summary) => info!(
                id = %txn.id,
                from = %txn.from.to_address(),
                rcpts = ?txn.rcpts,
                size = outcome.size,
                user = self.user.as_deref().unwrap_or(""),
                checks = %summary,
                ms = elapsed_ms,
                "message accepted"
            ),
            Err(r) => info!(
                id = %txn.id,
                from = %txn.from.to_address(),
                rcpts = ?txn.rcpts,
                size = outcome.size,
                reply = %r,
                "message refused"
            ),
        }
        match result {
            Ok(_) => {
                self.messages += 1;
                self.progress_deadline = tokio::time::Instant::now() + self.svc.timeouts.progress;
                reply::queued(&txn.id)
            }
            Err(r) => r,
        }
    }

    async fn deliver(&self, txn: &Txn, body: Body, outcome: Outcome) -> Result<String, Reply> {
        if outcome.too_big {
            return Err(reply::too_big());
        }
        if outcome.bare_cr {
            return Err(reply::bare_cr());
        }
        // Held until the message is delivered: large bodies are processed a few at a time.
        let loaded = body.load().await.map_err(|e| {
            warn!(id = %txn.id, error = %e, "cannot read the spooled message back");
            reply::local_error()
        })?;
        let body = loaded.bytes;
        let body =
            headers::strip_forged(&body, &self.svc.hostname, self.svc.scanner.is_some()).unwrap_or(body);
        let submission = self.user.is_some() || (self.trusted && self.listener.role == SmtpRole::Submission);
        if submission {
            self.check_from_header(&body)?;
        }
        let helo = self.helo.as_deref().unwrap_or("unknown");
        let mut folder: Option<&str> = None;
        let mut summary = String::new();
        let mut auth_header = String::new();
        if self.listener.role == SmtpRole::Mx
            && !self.trusted
            && self.user.is_none()
            && let Some(v) = &self.svc.verifier
        {
            let verdict = v
                .check(Some(self.peer.ip()), helo, &txn.from.to_address(), &body)
                .await;
            if verdict.reject {
                return Err(reply::dmarc_reject());
            }
            if verdict.quarantine {
                folder = Some(".Junk");
            }
            summary = verdict.summary;
            auth_header = verdict.header;
        }
        let mut scan_headers = String::new();
        if let Some(scanner) = &self.svc.scanner {
            let env = crate::scan::Envelope {
                ip: Some(self.peer.ip()),
                helo,
                from: &txn.from.to_address(),
                rcpts: &txn.rcpts,
                id: &txn.id,
                user: self.user.as_deref(),
            };
            // Spam scores are for mail from outside, not for what our users and apps submit.
            let spam = self.listener.role == SmtpRole::Mx && !self.trusted && self.user.is_none();
            match scanner.scan(&env, &body, spam).await {
                Verdict::Deliver {
                    headers,
                    junk,
                    summary: s,
                } => {
                    scan_headers = headers;
                    if junk {
                        folder = Some(".Junk");
                    }
                    if !s.is_empty() {
                        if !summary.is_empty() {
                            summary.push(' ');
                        }
                        summary.push_str(&s);
                    }
                }
                Verdict::Reject(Rejection::Virus(name)) => return Err(reply::virus(&name)),
                Verdict::Reject(Rejection::Spam(_)) => return Err(reply::spam_reject()),
                Verdict::Defer(_) => return Err(reply::scan_unavailable()),
                Verdict::Quarantine { virus, path } => {
                    warn!(id = %txn.id, virus, path = %path.display(), "message quarantined");
                    return Ok(format!("quarantined virus={virus}"));
                }
            }
        }
        let for_rcpt = (txn.rcpts.len() == 1).then(|| txn.rcpts[0].as_str());
        let trace = headers::Trace {
            helo,
            ip: self.peer.ip(),
            host: &self.svc.hostname,
            protocol: headers::protocol(self.esmtp, self.conn.is_tls(), self.user.is_some()),
            tls: self.conn.tls_info(),
            id: &txn.id,
            for_rcpt,
            date: headers::rfc5322_date(SystemTime::now()),
        };
        let return_path = headers::return_path(&txn.from.to_address());
        let received = headers::received(&trace);
        let local = !txn.mailboxes.is_empty();
        let remote = !txn.remote.is_empty();
        // The copy for the queue: our trace header and the DKIM signatures, no Return-Path
        // (that is added at final delivery, RFC 5321 §4.4).
        let queued = if remote {
            let mut q = Vec::with_capacity(received.len() + 1024 + body.len());
            q.extend_from_slice(received.as_bytes());
            // Our users and our applications get their mail signed; mail merely forwarded
            // for strangers does not.
            if (self.user.is_some() || self.trusted)
                && let Some(domain) = crate::msgauth::dkim::from_domain(&body)
            {
                {
                    match self.svc.signer.get().sign(&domain, &body) {
                        Ok(sig) => q.extend_from_slice(sig.as_bytes()),
                        Err(e) => warn!(id = %txn.id, error = %e, "DKIM signing failed; sending unsigned"),
                    }
                }
            }
            q.extend_from_slice(&body);
            Some(q)
        } else {
            None
        };
        if local {
            let mut message = Vec::with_capacity(
                return_path.len() + auth_header.len() + scan_headers.len() + received.len() + body.len(),
            );
            message.extend_from_slice(return_path.as_bytes());
            message.extend_from_slice(auth_header.as_bytes());
            message.extend_from_slice(scan_headers.as_bytes());
            message.extend_from_slice(received.as_bytes());
            message.extend_from_slice(&body);
            if let Err(e) = intake::deliver_local(&self.svc, &txn.mailboxes, message, folder).await {
                warn!(id = %txn.id, error = %e, "delivery to Maildir failed");
                return Err(reply::local_error());
            }
            let sender = txn.from.to_address();
            intake::report_delivered(
                &self.svc,
                &txn.id,
                &sender,
                &txn.params,
                &txn.report_delivered,
                &body,
            )
            .await;
        }
        drop(body);
        if let (Some(q), Some(queue)) = (queued, &self.svc.queue) {
            let msg = NewMessage {
                id: txn.id.clone(),
                sender: self.queued_sender(txn),
                recipients: txn.remote.clone(),
                envid: txn.params.envid.clone(),
                ret: txn.params.ret.clone(),
            };
            if let Err(e) = queue.submit(msg, Arc::new(q)).await {
                warn!(id = %txn.id, error = %e, "cannot queue the message");
                return Err(reply::local_error());
            }
            if !summary.is_empty() {
                summary.push(' ');
            }
            summary.push_str(&format!("queued={}", txn.remote.len()));
        }
        Ok(summary)
    }

    /// The envelope sender the queued copy leaves with: a stranger's address is rewritten
    /// with SRS when an alias of ours forwards the message (its SPF would fail at the
    /// destination); our own senders and the null sender stay as they are.
    fn queued_sender(&self, txn: &Txn) -> String {
        let sender = txn.from.to_address();
        let Some(via) = &txn.forwarded_via else {
            return sender;
        };
        let foreign = sender
            .rsplit_once('@')
            .is_some_and(|(_, d)| !self.svc.routing.get().is_local_domain(&d.to_ascii_lowercase()));
        if !foreign {
            return sender;
        }
        match self.svc.srs.forward(&sender, via) {
            Some(rewritten) => rewritten,
            None => {
                info!(id = %txn.id, sender = %sender, "sender too long for SRS; forwarded unchanged");
                sender
            }
        }
    }

    /// Submitted mail: a sound header (one From:, one Subject:, ...), and every From: address
    /// one the sender may use.
    fn check_from_header(&self, body: &[u8]) -> Result<(), Reply> {
        let from = headers::submitted_from(body).map_err(|p| match p {
            headers::HeaderProblem::Repeated(field) => reply::repeated_header(field),
            headers::HeaderProblem::FromWithoutDomain => reply::from_header_incomplete(),
        })?;
        for a in &from {
            let Some((local, domain)) = a.rsplit_once('@') else {
                return Err(reply::from_header_denied());
            };
            let domain = parse::domain(domain, true).map_err(|_| reply::from_header_denied())?;
            if !self.domain_allowed(&domain) {
                return Err(reply::from_header_denied());
            }
            if let Some(u) = &self.user
                && !self.svc.routing.get().may_send_as(u, local, &domain)
            {
                return Err(reply::from_header_denied());
            }
        }
        Ok(())
    }
}
