//! The SMTP client of the outbound queue (RFC 5321, RFC 3207 STARTTLS, RFC 4954 AUTH,
//! RFC 2920 PIPELINING): one connection to a relay or MX host that can carry several messages.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How TLS is used on a connection.
#[derive(Clone)]
pub enum TlsMode {
    /// Plain text only.
    None,
    /// STARTTLS when offered, certificate not verified (opportunistic, RFC 7435).
    Opportunistic(TlsConnector),
    /// STARTTLS required, certificate verified against `server_name`.
    Required(TlsConnector),
    /// TLS from the first byte, certificate verified.
    Implicit(TlsConnector),
}

impl std::fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsMode::None => "none",
            TlsMode::Opportunistic(_) => "opportunistic",
            TlsMode::Required(_) => "required",
            TlsMode::Implicit(_) => "implicit",
        })
    }
}

/// Client settings for one destination.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Our EHLO name.
    pub helo: String,
    /// TLS policy.
    pub tls: TlsMode,
    /// AUTH user and password.
    pub auth: Option<(String, String)>,
    /// Connect and per-command timeout.
    pub timeout: Duration,
}

/// A reply from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReply {
    /// The code.
    pub code: u16,
    /// All text lines joined with spaces.
    pub text: String,
}

impl std::fmt::Display for ServerReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

impl ServerReply {
    /// 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.code)
    }
    /// 5xx.
    pub fn permanent(&self) -> bool {
        self.code >= 500
    }
}

/// Why a connection or session failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// TCP or TLS I/O.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// No reply in time.
    #[error("timeout: {0}")]
    Timeout(&'static str),
    /// The server said no to something that concerns every recipient.
    #[error("{stage}: {reply}")]
    Rejected {
        /// Which step.
        stage: &'static str,
        /// What it said.
        reply: ServerReply,
    },
    /// TLS was required but is not available or failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The server's reply could not be parsed.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl ClientError {
    /// True when retrying cannot help (a 5xx to the whole transaction).
    pub fn permanent(&self) -> bool {
        matches!(self, ClientError::Rejected { reply, stage } if reply.permanent() && *stage != "AUTH")
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Empty,
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Empty => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Empty => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Empty => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Empty => Poll::Ready(Ok(())),
        }
    }
}

/// What the server announced in EHLO.
#[derive(Debug, Default, Clone)]
pub struct Capabilities {
    /// ESMTP (EHLO accepted).
    pub esmtp: bool,
    /// STARTTLS.
    pub starttls: bool,
    /// PIPELINING.
    pub pipelining: bool,
    /// 8BITMIME.
    pub eightbit: bool,
    /// SMTPUTF8.
    pub smtputf8: bool,
    /// SIZE limit (0: none announced).
    pub size: Option<u64>,
    /// AUTH mechanisms.
    pub auth: Vec<String>,
    /// DSN (RFC 3461): the server takes over delivery reports.
    pub dsn: bool,
}

/// The RFC 3461 parameters of a message, passed on to a server that offers DSN.
#[derive(Debug, Clone, Default)]
pub struct DsnParams {
    /// `RET=FULL|HDRS`.
    pub ret: Option<String>,
    /// `ENVID`, decoded (xtext-encoded again when sent).
    pub envid: Option<String>,
    /// Per recipient, in order: `NOTIFY` and `ORCPT` (as received, already xtext).
    pub recipients: Vec<(Option<String>, Option<String>)>,
}

/// RFC 3461 §4: `xtext = *( xchar / hexchar )`: `+`, `=`, controls, space and non-ASCII as `+XX`.
fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// A NOTIFY or ORCPT value as received is sent on only if it is plain printable ASCII.
fn safe_param(v: &str) -> bool {
    !v.is_empty() && v.len() <= 500 && v.bytes().all(|b| (b'!'..=b'~').contains(&b))
}

/// One recipient's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the server after DATA.
    Delivered(ServerReply),
    /// Try again later.
    Deferred(String),
    /// Give up; bounce.
    Failed(String),
}

/// Most lines one server reply may have (an EHLO reply has a dozen or two).
const MAX_REPLY_LINES: usize = 100;
/// Most bytes one server reply may have.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// An open SMTP session.
pub struct Connection {
    stream: Stream,
    rbuf: Vec<u8>,
    timeout: Duration,
    /// What the server supports.
    pub caps: Capabilities,
    /// The server's greeting host, for logs and DSNs.
    pub remote: String,
    /// Whether the session is encrypted.
    pub tls: bool,
    clean: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("remote", &self.remote)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Adds dot-stuffing and the final `.` line (RFC 5321 §4.5.2).
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 8);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn is_ascii(s: &str) -> bool {
    s.is_ascii()
}

impl Connection {
    /// Reads one reply (RFC 5321 §4.2: `Reply-line = *( Reply-code "-" [ textstring ] CRLF )
    /// Reply-code [ SP textstring ] CRLF`), bounded: at most [`MAX_REPLY_LINES`] lines and
    /// [`MAX_REPLY_BYTES`] in all, and the whole reply within the timeout (a hostile server
    /// trickling continuation lines forever is cut off).
    async fn read_reply(&mut self) -> Result<ServerReply, ClientError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut text = Vec::new();
        let mut total = 0usize;
        loop {
            if text.len() >= MAX_REPLY_LINES {
                return Err(ClientError::Protocol(format!(
                    "reply of more than {MAX_REPLY_LINES} lines"
                )));
            }
            let line = loop {
                if let Some(pos) = self.rbuf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.rbuf.drain(..=pos).collect();
                    break line;
                }
                if self.rbuf.len() + total > MAX_REPLY_BYTES {
                    return Err(ClientError::Protocol("reply too long".into()));
                }
                let mut chunk = [0u8; 4096];
                let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                    .await
                    .map_err(|_| ClientError::Timeout("reading a reply"))??;
                if n == 0 {
                    return Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into()));
                }
                self.rbuf.extend_from_slice(&chunk[..n]);
            };
            total += line.len();
            if total > MAX_REPLY_BYTES {
                return Err(ClientError::Protocol("reply too long".into()));
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            if line.len() < 3 || !line.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
                return Err(ClientError::Protocol(format!("bad reply line {line:?}")));
            }
            let code: u16 = line[..3]
                .parse()
                .map_err(|_| ClientError::Protocol(line.to_owned()))?;
            let rest = line.get(4..).unwrap_or("");
            text.push(rest.to_owned());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(ServerReply {
                    code,
                    text: text.join(" "),
                });
            }
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), ClientError> {
        tokio::time::timeout(self.timeout, async {
            self.stream.write_all(data).await?;
            self.stream.flush().await
        })
        .await
        .map_err(|_| ClientError::Timeout("writing"))??;
        Ok(())
    }

    async fn command(&mut self, line: &str, stage: &'static str) -> Result<ServerReply, ClientError> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        let r = self.read_reply().await?;
        if r.code >= 400 {
            return Err(ClientError::Rejected { stage, reply: r });
        }
        Ok(r)
    }

    fn parse_ehlo(text: &str) -> Capabilities {
        // `text` is the EHLO reply lines joined with spaces; parse keyword by keyword.
        let mut caps = Capabilities {
            esmtp: true,
            ..Capabilities::default()
        };
        let words: Vec<String> = text.split(' ').map(|w| w.to_ascii_uppercase()).collect();
        for (i, w) in words.iter().enumerate() {
            match w.as_str() {
                "STARTTLS" => caps.starttls = true,
                "PIPELINING" => caps.pipelining = true,
                "8BITMIME" => caps.eightbit = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "SIZE" => caps.size = words.get(i + 1).and_then(|n| n.parse().ok()),
                "DSN" => caps.dsn = true,
                "AUTH" => {
                    caps.auth = words[i + 1..]
                        .iter()
                        .take_while(|m| {
                            matches!(
                                m.as_str(),
                                "PLAIN"
                                    | "LOGIN"
                                    | "CRAM-MD5"
                                    | "XOAUTH2"
                                    | "OAUTHBEARER"
                                    | "SCRAM-SHA-1"
                                    | "SCRAM-SHA-256"
                                    | "GSSAPI"
                                    | "NTLM"
                                    | "DIGEST-MD5"
                            )
                        })
                        .cloned()
                        .collect()
                }
                _ => {}
            }
        }
        caps
    }

    async fn ehlo(&mut self, helo: &str) -> Result<(), ClientError> {
        self.write(format!("EHLO {helo}\r\n").as_bytes()).await?;
        let r = self.read_reply().await?;
        if r.ok() {
            self.caps = Self::parse_ehlo(&r.text);
            return Ok(());
        }
        if r.code >= 500 {
            self.command(&format!("HELO {helo}"), "HELO").await?;
            self.caps = Capabilities::default();
            return Ok(());
        }
        Err(ClientError::Rejected {
            stage: "EHLO",
            reply: r,
        })
    }

    async fn upgrade(mut self, connector: &TlsConnector, server_name: &str) -> Result<Self, ClientError> {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Empty) else {
            return Err(ClientError::Tls("already encrypted".into()));
        };
        let name =
            ServerName::try_from(server_name.to_owned()).map_err(|e| ClientError::Tls(e.to_string()))?;
        let tls = tokio::time::timeout(self.timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| ClientError::Timeout("TLS handshake"))?
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        self.stream = Stream::Tls(Box::new(tls));
        self.tls = true;
        self.rbuf.clear();
        Ok(self)
    }

    /// Connects to `addr` (whose certificate should name `server_name`), greets, negotiates TLS
    /// and AUTH as `config` says.
    pub async fn open(
        addr: SocketAddr,
        server_name: &str,
        config: &ClientConfig,
    ) -> Result<Connection, ClientError> {
        let tcp = tokio::time::timeout(config.timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout("connecting"))??;
        let _ = tcp.set_nodelay(true);
        let mut c = Connection {
            stream: Stream::Plain(tcp),
            rbuf: Vec::with_capacity(4096),
            timeout: config.timeout,
            caps: Capabilities::default(),
            remote: server_name.to_owned(),
            tls: false,
            clean: true,
        };
        if let TlsMode::Implicit(connector) = &config.tls {
            c = c.upgrade(connector, server_name).await?;
        }
        let greeting = c.read_reply().await?;
        if greeting.code != 220 {
            return Err(ClientError::Rejected {
                stage: "greeting",
                reply: greeting,
            });
        }
        c.ehlo(&config.helo).await?;
        match &config.tls {
            TlsMode::Required(connector) | TlsMode::Opportunistic(connector) if !c.tls => {
                let required = matches!(config.tls, TlsMode::Required(_));
                if c.caps.starttls {
                    c.command("STARTTLS", "STARTTLS").await?;
                    c = c.upgrade(connector, server_name).await?;
                    c.ehlo(&config.helo).await?;
                } else if required {
                    return Err(ClientError::Tls(format!("{server_name} does not offer STARTTLS")));
                }
            }
            _ => {}
        }
        if let Some((user, password)) = &config.auth {
            if !c.tls && !matches!(config.tls, TlsMode::None) {
                return Err(ClientError::Tls(
                    "refusing to send credentials without TLS".into(),
                ));
            }
            c.authenticate(user, password).await?;
        }
        Ok(c)
    }

    async fn authenticate(&mut self, user: &str, password: &str) -> Result<(), ClientError> {
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        if self.caps.auth.iter().any(|m| m == "PLAIN") || self.caps.auth.is_empty() {
            let mut blob = vec![0u8];
            blob.extend_from_slice(user.as_bytes());
            blob.push(0);
            blob.extend_from_slice(password.as_bytes());
            self.command(&format!("AUTH PLAIN {}", b64(&blob)), "AUTH")
                .await?;
        } else if self.caps.auth.iter().any(|m| m == "LOGIN") {
            self.write(b"AUTH LOGIN\r\n").await?;
            for (i, part) in [user, password].into_iter().enumerate() {
                let r = self.read_reply().await?;
                if r.code != 334 {
                    return Err(ClientError::Rejected {
                        stage: "AUTH",
                        reply: r,
                    });
                }
                let _ = i;
                self.write(format!("{}\r\n", b64(part.as_bytes())).as_bytes())
                    .await?;
            }
            let r = self.read_reply().await?;
            if !r.ok() {
                return Err(ClientError::Rejected {
                    stage: "AUTH",
                    reply: r,
                });
            }
        } else {
            return Err(ClientError::Tls(format!(
                "no supported AUTH mechanism in {:?}",
                self.caps.auth
            )));
        }
        Ok(())
    }

    /// True when the connection can carry another message.
    pub fn reusable(&self) -> bool {
        self.clean
    }

    /// Sends one message to `rcpts`. Whole-transaction problems (MAIL refused, connection
    /// lost) are errors; per-recipient refusals are outcomes.
    pub async fn send(
        &mut self,
        from: &str,
        rcpts: &[String],
        message: &[u8],
    ) -> Result<Vec<Outcome>, ClientError> {
        self.send_with(from, rcpts, message, &DsnParams::default()).await
    }

    /// [`Connection::send`] with the message's DSN parameters, which go along when the server
    /// offers DSN (RFC 3461 §4: it then reports in our place).
    pub async fn send_with(
        &mut self,
        from: &str,
        rcpts: &[String],
        message: &[u8],
        dsn: &DsnParams,
    ) -> Result<Vec<Outcome>, ClientError> {
        self.clean = false;
        let needs_utf8 = !is_ascii(from) || rcpts.iter().any(|r| !is_ascii(r));
        if needs_utf8 && !self.caps.smtputf8 {
            let why = "the receiving server does not support SMTPUTF8 (RFC 6531)".to_owned();
            self.clean = true;
            return Ok(rcpts.iter().map(|_| Outcome::Failed(why.clone())).collect());
        }
        if let Some(max) = self.caps.size.filter(|m| *m > 0 && (message.len() as u64) > *m) {
            self.clean = true;
            let why = format!(
                "message size {} exceeds the receiving server's limit of {max}",
                message.len()
            );
            return Ok(rcpts.iter().map(|_| Outcome::Failed(why.clone())).collect());
        }
        let mut mail = format!("MAIL FROM:<{from}>");
        if self.caps.size.is_some() {
            mail.push_str(&format!(" SIZE={}", message.len()));
        }
        if self.caps.eightbit && !message.is_ascii() {
            mail.push_str(" BODY=8BITMIME");
        }
        if needs_utf8 {
            mail.push_str(" SMTPUTF8");
        }
        let rcpt_lines: Vec<String> = rcpts
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut line = format!("RCPT TO:<{r}>");
                if self.caps.dsn
                    && let Some((notify, orcpt)) = dsn.recipients.get(i)
                {
                    if let Some(n) = notify.as_deref().filter(|n| safe_param(n)) {
                        line.push_str(&format!(" NOTIFY={n}"));
                    }
                    if let Some(o) = orcpt.as_deref().filter(|o| safe_param(o)) {
                        line.push_str(&format!(" ORCPT={o}"));
                    }
                }
                line
            })
            .collect();
        if self.caps.dsn {
            if let Some(ret) = dsn.ret.as_deref().filter(|r| matches!(*r, "FULL" | "HDRS")) {
                mail.push_str(&format!(" RET={ret}"));
            }
            if let Some(envid) = &dsn.envid {
                mail.push_str(&format!(" ENVID={}", xtext(envid)));
            }
        }
        let mut rcpt_replies = Vec::with_capacity(rcpts.len());
        if self.caps.pipelining {
            let mut batch = format!("{mail}\r\n");
            for line in &rcpt_lines {
                batch.push_str(line);
                batch.push_str("\r\n");
            }
            self.write(batch.as_bytes()).await?;
            let mail_reply = self.read_reply().await?;
            for _ in rcpts {
                rcpt_replies.push(self.read_reply().await?);
            }
            if !mail_reply.ok() {
                self.reset().await?;
                return Err(ClientError::Rejected {
                    stage: "MAIL",
                    reply: mail_reply,
                });
            }
        } else {
            let mail_reply = self.command(&mail, "MAIL").await;
            if let Err(e) = mail_reply {
                let _ = self.reset().await;
                return Err(e);
            }
            for line in &rcpt_lines {
                self.write(format!("{line}\r\n").as_bytes()).await?;
                rcpt_replies.push(self.read_reply().await?);
            }
        }
        let accepted = rcpt_replies.iter().filter(|r| r.ok()).count();
        let mut outcomes: Vec<Outcome> = rcpt_replies
            .iter()
            .map(|r| match r.code {
                200..=299 => Outcome::Deferred(String::new()), // replaced after DATA
                500..=599 => Outcome::Failed(r.to_string()),
                _ => Outcome::Deferred(r.to_string()),
            })
            .collect();
        if accepted == 0 {
            self.reset().await?;
            return Ok(outcomes);
        }
        let r = self.command("DATA", "DATA").await;
        match r {
            Ok(r) if r.code == 354 => {}
            Ok(r) => {
                return Err(ClientError::Rejected {
                    stage: "DATA",
                    reply: r,
                });
            }
            Err(e) => {
                let _ = self.reset().await;
                return Err(e);
            }
        }
        self.write(&dot_stuff(message)).await?;
        let end = self.read_reply().await?;
        self.clean = true;
        for (o, r) in outcomes.iter_mut().zip(&rcpt_replies) {
            if r.ok() {
                *o = if end.ok() {
                    Outcome::Delivered(end.clone())
                } else if end.permanent() {
                    Outcome::Failed(end.to_string())
                } else {
                    Outcome::Deferred(end.to_string())
                };
            }
        }
        Ok(outcomes)
    }

    async fn reset(&mut self) -> Result<(), ClientError> {
        self.command("RSET", "RSET").await?;
        self.clean = true;
        Ok(())
    }

    /// Says goodbye (best effort).
    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let _ = self.stream.write_all(b"QUIT\r\n").await;
            let _ = self.read_reply().await;
            let _ = self.stream.shutdown().await;
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtext_escapes_what_it_must() {
        assert_eq!(xtext("abc-123@x"), "abc-123@x");
        assert_eq!(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(xtext("é"), "+C3+A9");
        assert!(safe_param("rfc822;bob@x.test") && !safe_param("a b") && !safe_param(""));
    }

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n..c\r\n"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuff(b".x"), b"..x\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n");
    }

    /// A server that sends `greeting` and then holds the connection open.
    async fn hostile_server(greeting: Vec<u8>) -> SocketAddr {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let _ = s.write_all(&greeting).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
        addr
    }

    fn config(timeout: Duration) -> ClientConfig {
        ClientConfig {
            helo: "client.example".into(),
            tls: TlsMode::None,
            auth: None,
            timeout,
        }
    }

    #[tokio::test]
    async fn endless_continuation_lines_are_refused() {
        // Issue 10, case 10: a hostile MX sent reply continuation lines without end.
        let mut greeting = Vec::new();
        for _ in 0..200_000 {
            greeting.extend_from_slice(b"220-mx.example hello again\r\n");
        }
        let addr = hostile_server(greeting).await;
        let r = Connection::open(addr, "mx.example", &config(Duration::from_secs(20))).await;
        match r {
            Err(ClientError::Protocol(why)) => assert!(why.contains("100 lines"), "{why}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_trickled_reply_times_out_as_a_whole() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                for _ in 0..50 {
                    if s.write_all(b"220-x\r\n").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        let started = std::time::Instant::now();
        let r = Connection::open(addr, "mx.example", &config(Duration::from_secs(1))).await;
        assert!(matches!(r, Err(ClientError::Timeout(_))), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn ehlo_capabilities() {
        let caps = Connection::parse_ehlo(
            "mx.example Hello PIPELINING SIZE 1000 STARTTLS AUTH PLAIN LOGIN 8BITMIME",
        );
        assert!(caps.pipelining && caps.starttls && caps.eightbit && !caps.smtputf8);
        assert_eq!(caps.size, Some(1000));
        assert_eq!(caps.auth, ["PLAIN", "LOGIN"]);
    }
}
