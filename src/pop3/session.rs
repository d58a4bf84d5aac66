//! One POP3 session: the AUTHORIZATION, TRANSACTION and UPDATE states of RFC 1939.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{Instrument, info, info_span, warn};

use super::Pop3Listener;
use crate::auth::Login;
use crate::mailbox::index::{AccountLock, Flags, Folder, IndexError, SEEN};
use crate::smtp::Services;
use crate::smtp::conn::{Conn, Line, ReadError, Stream};

/// Longest command line (RFC 2449 allows 255 octets; AUTH PLAIN responses can be longer).
const MAX_LINE: usize = 4096;
/// RFC 1939 §3: an autologout timer of at least 10 minutes.
const TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Errors before the session is closed.
const MAX_ERRORS: u32 = 20;

/// One message of the snapshot taken at login.
struct Item {
    uid: u32,
    size: u64,
    deleted: bool,
    retrieved: bool,
}

/// The TRANSACTION state.
struct Maildrop {
    folder: Arc<Folder>,
    uidvalidity: u32,
    items: Vec<Item>,
    _lock: AccountLock,
}

struct Session<IO> {
    conn: Conn<IO>,
    svc: Arc<Services>,
    listener: Arc<Pop3Listener>,
    peer: SocketAddr,
    /// The name given by USER.
    user: Option<String>,
    drop: Option<(String, Maildrop)>,
    errors: u32,
    auth_failures: u32,
}

enum Flow {
    Continue,
    Close,
}

/// Serves one POP3 connection.
pub async fn serve<IO>(io: IO, peer: SocketAddr, listener: Arc<Pop3Listener>, svc: Arc<Services>)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let span = info_span!("pop3", listener = %listener.name, peer = %peer);
    async move {
        let conn = Conn::new(Stream::Plain(io), svc.shutdown.clone());
        let mut s = Session {
            conn,
            svc,
            listener,
            peer,
            user: None,
            drop: None,
            errors: 0,
            auth_failures: 0,
        };
        s.run().await;
        s.conn.close().await;
    }
    .instrument(span)
    .await
}

/// Appends a message for RETR/TOP: CRLF line endings, dot-stuffing, the terminating line.
/// `body_lines`: only the header and this many body lines (TOP).
fn write_message(out: &mut Vec<u8>, raw: &[u8], body_lines: Option<usize>) {
    let mut in_body = false;
    let mut left = body_lines;
    for line in raw.split_inclusive(|b| *b == b'\n') {
        if in_body && let Some(n) = &mut left {
            if *n == 0 {
                break;
            }
            *n -= 1;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if !in_body && text.is_empty() {
            in_body = true;
        }
        if text.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    fn ok(&mut self, text: &str) {
        self.conn.write_raw(format!("+OK {text}\r\n").as_bytes());
    }

    fn err(&mut self, text: &str) {
        self.conn.write_raw(format!("-ERR {text}\r\n").as_bytes());
    }

    fn tls_offered(&self) -> bool {
        !self.conn.is_tls() && !self.listener.implicit_tls && self.svc.tls.is_some()
    }

    async fn run(&mut self) {
        // Until login, the whole session has a deadline (not only each read).
        self.conn.deadline = Some(tokio::time::Instant::now() + self.svc.timeouts.login);
        if self.listener.implicit_tls {
            let Some(acceptor) = self.svc.tls.clone() else {
                return;
            };
            if self
                .conn
                .start_tls(&acceptor, Duration::from_secs(30))
                .await
                .is_err()
            {
                return;
            }
        }
        if self.svc.bans.is_banned(self.peer.ip()) {
            self.err("[AUTH] Too many failed logins from your address, try again later");
            return;
        }
        let host = self.svc.hostname.clone();
        self.ok(&format!("{host} POP3 ready"));
        loop {
            self.conn.idle = true;
            if self.conn.shutting_down() {
                self.err("[SYS/TEMP] Server shutting down");
                return;
            }
            let line = match self.conn.read_line(MAX_LINE, TIMEOUT).await {
                Ok(Line::Text(t)) => t,
                Ok(Line::TooLong(_)) => {
                    self.err("Line too long");
                    continue;
                }
                Err(ReadError::Timeout) => {
                    self.err("Autologout; idle for too long");
                    return;
                }
                Err(ReadError::Shutdown) => {
                    self.err("[SYS/TEMP] Server shutting down");
                    return;
                }
                Err(ReadError::Closed) => return,
            };
            self.conn.idle = false;
            let line = String::from_utf8_lossy(&line).into_owned();
            let (verb, args) = match line.split_once(' ') {
                Some((v, a)) => (v.to_ascii_uppercase(), a.to_owned()),
                None => (line.to_ascii_uppercase(), String::new()),
            };
            let flow = if self.drop.is_some() {
                self.transaction(&verb, &args).await
            } else {
                self.authorization(&verb, &args).await
            };
            if let Flow::Close = flow {
                return;
            }
            if self.errors >= MAX_ERRORS {
                self.err("Too many errors");
                return;
            }
        }
    }

    fn capa(&mut self) {
        let mut lines = vec!["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"];
        if self.drop.is_none() {
            if self.conn.is_tls() {
                lines.extend(["USER", "SASL PLAIN"]);
            }
            if self.tls_offered() {
                lines.push("STLS");
            }
        }
        let mut out = String::from("+OK Capability list follows\r\n");
        for l in lines {
            out.push_str(l);
            out.push_str("\r\n");
        }
        out.push_str("IMPLEMENTATION yubin\r\n.\r\n");
        self.conn.write_raw(out.as_bytes());
    }

    async fn authorization(&mut self, verb: &str, args: &str) -> Flow {
        match verb {
            "CAPA" => self.capa(),
            "QUIT" => {
                self.ok("Bye");
                return Flow::Close;
            }
            "NOOP" => self.ok(""),
            "STLS" => {
                if !self.tls_offered() {
                    self.err("TLS is already active or not available");
                    return Flow::Continue;
                }
                let Some(acceptor) = self.svc.tls.clone() else {
                    return Flow::Close;
                };
                self.ok("Begin TLS negotiation");
                if self.conn.discard_buffered() > 0 {
                    warn!("discarded plaintext pipelined after STLS");
                }
                if self
                    .conn
                    .start_tls(&acceptor, Duration::from_secs(30))
                    .await
                    .is_err()
                {
                    return Flow::Close;
                }
                self.user = None;
            }
            "USER" => {
                if !self.conn.is_tls() {
                    self.err("[AUTH] Log in only after STLS");
                } else if args.is_empty() {
                    self.err("USER needs a name");
                } else {
                    self.user = Some(args.to_owned());
                    self.ok("Send PASS");
                }
            }
            "PASS" => {
                let Some(user) = self.user.take() else {
                    self.err("Send USER first");
                    self.errors += 1;
                    return Flow::Continue;
                };
                return self.login(&user, args).await;
            }
            "AUTH" => return self.auth(args).await,
            "APOP" => {
                self.err("APOP is not supported; use USER/PASS or AUTH PLAIN over TLS");
            }
            _ => {
                self.errors += 1;
                self.err("Unknown command or not allowed before login");
            }
        }
        Flow::Continue
    }

    async fn auth(&mut self, args: &str) -> Flow {
        let mut words = args.split_whitespace();
        let Some(mech) = words.next() else {
            self.conn.write_raw(b"+OK Mechanisms follow\r\nPLAIN\r\n.\r\n");
            return Flow::Continue;
        };
        if !mech.eq_ignore_ascii_case("PLAIN") {
            self.err("Unsupported mechanism");
            return Flow::Continue;
        }
        if !self.conn.is_tls() {
            self.err("[AUTH] Authentication only after STLS");
            return Flow::Continue;
        }
        let data = match words.next() {
            Some(i) => i.to_owned(),
            None => {
                self.conn.write_raw(b"+ \r\n");
                match self.conn.read_line(MAX_LINE, TIMEOUT).await {
                    Ok(Line::Text(t)) => String::from_utf8_lossy(&t).into_owned(),
                    _ => return Flow::Close,
                }
            }
        };
        if data == "*" {
            self.err("Authentication cancelled");
            return Flow::Continue;
        }
        let raw = if data == "=" {
            Vec::new()
        } else {
            match base64::engine::general_purpose::STANDARD.decode(data.trim()) {
                Ok(r) => r,
                Err(_) => {
                    self.err("Invalid base64");
                    return Flow::Continue;
                }
            }
        };
        let parts: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
        if parts.len() != 3 {
            self.err("Malformed PLAIN response");
            return Flow::Continue;
        }
        let user = String::from_utf8_lossy(parts[1]).into_owned();
        let pass = String::from_utf8_lossy(parts[2]).into_owned();
        if !parts[0].is_empty() && parts[0] != parts[1] {
            self.err("[AUTH] Cannot act as another user");
            return Flow::Continue;
        }
        self.login(&user, &pass).await
    }

    async fn login(&mut self, login: &str, password: &str) -> Flow {
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
        let address = match outcome {
            Login::Ok(a) => a,
            Login::Temporary => {
                self.err("[SYS/TEMP] Temporary failure, try again");
                return Flow::Continue;
            }
            Login::Banned => {
                info!(login = %login, "login refused: the address is banned");
                self.err("[AUTH] Too many failed logins from your address, try again later");
                return Flow::Close;
            }
            Login::Invalid { close } => {
                crate::metrics::auth_failure("pop3");
                warn!(login = %login, close, "authentication failed");
                self.err("[AUTH] Authentication failed");
                return if close { Flow::Close } else { Flow::Continue };
            }
        };
        let Some(lock) = self.svc.index.lock_pop3(&address) else {
            self.err("[IN-USE] Another POP3 session holds this mailbox");
            return Flow::Continue;
        };
        let folder = match self.open_inbox(&address).await {
            Ok(f) => f,
            Err(e) => {
                warn!(error = %e, "cannot open INBOX");
                self.err("[SYS/TEMP] Mailbox not available, try again");
                return Flow::Continue;
            }
        };
        let (uidvalidity, items) = {
            let st = folder.state().await;
            let items = st
                .msgs
                .iter()
                .map(|m| Item {
                    uid: m.uid,
                    size: m.size,
                    deleted: false,
                    retrieved: false,
                })
                .collect();
            (st.uidvalidity, items)
        };
        let drop = Maildrop {
            folder,
            uidvalidity,
            items,
            _lock: lock,
        };
        let (n, octets) = (drop.items.len(), drop.items.iter().map(|i| i.size).sum::<u64>());
        info!(user = %address, messages = n, "logged in");
        self.drop = Some((address, drop));
        self.conn.deadline = None;
        self.ok(&format!("Logged in, {n} messages ({octets} octets)"));
        Flow::Continue
    }

    async fn open_inbox(&self, address: &str) -> Result<Arc<Folder>, IndexError> {
        self.svc.index.ensure_account(address).await?;
        let f = self.svc.index.open(address, "INBOX").await?;
        f.sync().await?;
        Ok(f)
    }

    /// The message a number names, unless it is out of range or deleted.
    fn item(&mut self, arg: &str) -> Option<usize> {
        let Some((_, d)) = &self.drop else { return None };
        let n: usize = match arg.trim().parse() {
            Ok(n) if n >= 1 && n <= d.items.len() => n,
            _ => {
                self.errors += 1;
                self.err("No such message");
                return None;
            }
        };
        if d.items[n - 1].deleted {
            self.err(&format!("Message {n} is deleted"));
            return None;
        }
        Some(n - 1)
    }

    async fn transaction(&mut self, verb: &str, args: &str) -> Flow {
        let args = args.trim();
        match verb {
            "CAPA" => self.capa(),
            "NOOP" => self.ok(""),
            "STAT" => {
                let Some((_, d)) = &self.drop else {
                    return Flow::Close;
                };
                let live = d.items.iter().filter(|i| !i.deleted);
                let (n, size) = live.fold((0, 0), |(n, s), i| (n + 1, s + i.size));
                self.ok(&format!("{n} {size}"));
            }
            "LIST" | "UIDL" => {
                let uidl = verb == "UIDL";
                let Some((_, d)) = &self.drop else {
                    return Flow::Close;
                };
                let uv = d.uidvalidity;
                let show = |i: &Item| {
                    if uidl {
                        format!("{uv}.{}", i.uid)
                    } else {
                        i.size.to_string()
                    }
                };
                if args.is_empty() {
                    let mut out = String::from("+OK\r\n");
                    for (n, i) in d.items.iter().enumerate().filter(|(_, i)| !i.deleted) {
                        out.push_str(&format!("{} {}\r\n", n + 1, show(i)));
                    }
                    out.push_str(".\r\n");
                    self.conn.write_raw(out.as_bytes());
                } else if let Some(n) = self.item(args) {
                    let Some((_, d)) = &self.drop else {
                        return Flow::Close;
                    };
                    let line = format!("{} {}", n + 1, show(&d.items[n]));
                    self.ok(&line);
                }
            }
            "RETR" | "TOP" => {
                let mut words = args.split_whitespace();
                let Some(n) = self.item(words.next().unwrap_or("")) else {
                    return Flow::Continue;
                };
                let lines = if verb == "TOP" {
                    match words.next().and_then(|w| w.parse::<usize>().ok()) {
                        Some(l) => Some(l),
                        None => {
                            self.err("TOP needs a message number and a line count");
                            return Flow::Continue;
                        }
                    }
                } else {
                    None
                };
                let Some((_, d)) = &mut self.drop else {
                    return Flow::Close;
                };
                let (uid, size) = (d.items[n].uid, d.items[n].size);
                match d.folder.read(uid).await {
                    Ok(raw) => {
                        if lines.is_none() {
                            d.items[n].retrieved = true;
                        }
                        let mut out = format!("+OK {size} octets\r\n").into_bytes();
                        write_message(&mut out, &raw, lines);
                        self.conn.write_raw(&out);
                        if self.conn.flush().await.is_err() {
                            return Flow::Close;
                        }
                    }
                    Err(IndexError::Gone(_)) => {
                        self.err("[SYS/PERM] This message was removed by another session")
                    }
                    Err(e) => {
                        warn!(error = %e, "cannot read a message");
                        self.err("[SYS/TEMP] Cannot read the message, try again");
                    }
                }
            }
            "DELE" => {
                if let Some(n) = self.item(args) {
                    if let Some((_, d)) = &mut self.drop {
                        d.items[n].deleted = true;
                    }
                    self.ok(&format!("Message {} deleted", n + 1));
                }
            }
            "RSET" => {
                let Some((_, d)) = &mut self.drop else {
                    return Flow::Close;
                };
                for i in &mut d.items {
                    i.deleted = false;
                }
                let n = d.items.len();
                self.ok(&format!("{n} messages"));
            }
            "QUIT" => return self.update().await,
            _ => {
                self.errors += 1;
                self.err("Unknown command");
            }
        }
        Flow::Continue
    }

    /// The UPDATE state: removes the deleted messages and marks retrieved ones \Seen.
    async fn update(&mut self) -> Flow {
        let Some((address, d)) = self.drop.take() else {
            return Flow::Close;
        };
        let deleted: Vec<u32> = d.items.iter().filter(|i| i.deleted).map(|i| i.uid).collect();
        let seen: Vec<u32> = d
            .items
            .iter()
            .filter(|i| i.retrieved && !i.deleted)
            .map(|i| i.uid)
            .collect();
        if !seen.is_empty() {
            let flag = Flags {
                system: SEEN,
                keywords: Vec::new(),
            };
            if let Err(e) = d.folder.store(&seen, 1, &flag, None).await {
                warn!(error = %e, "cannot mark retrieved messages seen");
            }
        }
        if deleted.is_empty() {
            self.ok("Bye");
            return Flow::Close;
        }
        match d.folder.remove(&deleted).await {
            Ok(gone) => {
                if let Some(info) = self.svc.routing.get().mailbox(&address) {
                    self.svc.store.forget_usage(&info.maildir);
                }
                info!(user = %address, deleted = gone.len(), "messages deleted");
                self.ok(&format!("Bye, {} messages deleted", deleted.len()));
            }
            Err(e) => {
                warn!(error = %e, "cannot delete messages");
                self.err("[SYS/TEMP] Some deleted messages were not removed");
            }
        }
        Flow::Close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_dot_stuffed_with_crlf() {
        let mut out = Vec::new();
        write_message(&mut out, b"Subject: x\n\n.hidden\nline\r\n", None);
        assert_eq!(out, b"Subject: x\r\n\r\n..hidden\r\nline\r\n.\r\n");
    }

    #[test]
    fn top_stops_after_n_body_lines() {
        let mut out = Vec::new();
        write_message(&mut out, b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree\r\n", Some(1));
        assert_eq!(out, b"A: 1\r\nB: 2\r\n\r\none\r\n.\r\n");
        let mut out = Vec::new();
        write_message(&mut out, b"A: 1\r\n\r\none\r\n", Some(0));
        assert_eq!(out, b"A: 1\r\n\r\n.\r\n");
    }
}
