//! The connection under a session: plain or TLS, a read buffer that yields lines and exact
//! byte counts, and a write buffer flushed only before the server would block on reading, so
//! pipelined replies go out together (RFC 2920).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::reply::Reply;

/// A plain or TLS stream.
pub enum Stream<IO> {
    /// Before (or without) TLS.
    Plain(IO),
    /// After the TLS handshake.
    Tls(Box<TlsStream<IO>>),
    /// Transiently, during the STARTTLS upgrade.
    Upgrading,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Upgrading => Poll::Ready(Ok(())),
        }
    }
}

/// Why reading stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection or the socket failed.
    Closed,
    /// Nothing arrived in time.
    Timeout,
    /// The server is shutting down and the session was idle.
    Shutdown,
}

/// A line read from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line without its CRLF (or bare LF).
    Text(Vec<u8>),
    /// The line was longer than allowed; it was discarded up to its end, but for its first
    /// [`TOO_LONG_HEAD`] bytes (an IMAP server answers with the line's tag).
    TooLong(Vec<u8>),
}

/// Bytes of an over-long line kept for the reply.
pub const TOO_LONG_HEAD: usize = 64;

/// A buffered connection.
pub struct Conn<IO> {
    stream: Stream<IO>,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    shutdown: watch::Receiver<bool>,
    /// Whether a shutdown may interrupt a read (only while waiting for a command).
    pub idle: bool,
    /// Reads fail with [`ReadError::Timeout`] after this instant, whatever the timeout of the
    /// single read: the whole command, message or login phase must be done by then.
    pub deadline: Option<Instant>,
}

const READ_CHUNK: usize = 8 * 1024;

/// A client that reads nothing for this long while the server writes to it is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(300);

impl<IO: AsyncRead + AsyncWrite + Unpin> Conn<IO> {
    /// Wraps a stream.
    pub fn new(stream: Stream<IO>, shutdown: watch::Receiver<bool>) -> Self {
        Conn {
            stream,
            rbuf: Vec::new(),
            rpos: 0,
            wbuf: Vec::new(),
            shutdown,
            idle: true,
            deadline: None,
        }
    }

    /// True once TLS is active.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// The negotiated TLS version and cipher, for Received headers and logs.
    pub fn tls_info(&self) -> Option<String> {
        match &self.stream {
            Stream::Tls(s) => {
                let (_, c) = s.get_ref();
                let v = match c.protocol_version() {
                    Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
                    Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
                    Some(other) => format!("{other:?}"),
                    None => String::new(),
                };
                let cs = c
                    .negotiated_cipher_suite()
                    .map(|cs| format!("{:?}", cs.suite()))
                    .unwrap_or_default();
                Some(format!("{v} with cipher {cs}"))
            }
            _ => None,
        }
    }

    /// Queues a reply (sent at the next flush).
    pub fn reply(&mut self, reply: &Reply) {
        reply.write_to(&mut self.wbuf);
    }

    /// Sends queued replies.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            let stream = &mut self.stream;
            let wbuf = &self.wbuf;
            tokio::time::timeout(WRITE_TIMEOUT, async {
                stream.write_all(wbuf).await?;
                stream.flush().await
            })
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading"))??;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Bytes read but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.rbuf[self.rpos..]
    }

    /// Marks `n` buffered bytes as consumed.
    pub fn consume(&mut self, n: usize) {
        self.rpos += n;
        if self.rpos >= self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        }
    }

    /// Drops everything buffered (pipelined plaintext after STARTTLS, CVE-2011-0411).
    pub fn discard_buffered(&mut self) -> usize {
        let n = self.rbuf.len() - self.rpos;
        self.rbuf.clear();
        self.rpos = 0;
        n
    }

    /// Reads more from the socket (flushing replies first). Returns the number of new bytes.
    /// Cancel-safe: bytes are only added to the buffer once a read completed.
    pub async fn fill(&mut self, timeout: Duration) -> Result<usize, ReadError> {
        self.flush().await.map_err(|_| ReadError::Closed)?;
        if self.rpos > 0 && self.rpos * 2 > self.rbuf.len() {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
            self.rbuf.reserve(READ_CHUNK);
        }
        let timeout = match self.deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(timeout),
            None => timeout,
        };
        if timeout.is_zero() {
            return Err(ReadError::Timeout);
        }
        let idle = self.idle;
        let stream = &mut self.stream;
        let buf = &mut self.rbuf;
        let shutdown = &mut self.shutdown;
        tokio::select! {
            // Shutdown first: an idle session must not start new work once it is set.
            biased;
            _ = wait_shutdown(shutdown), if idle => Err(ReadError::Shutdown),
            r = tokio::time::timeout(timeout, stream.read_buf(buf)) => match r {
                Ok(Ok(0)) | Ok(Err(_)) => Err(ReadError::Closed),
                Ok(Ok(n)) => Ok(n),
                Err(_) => Err(ReadError::Timeout),
            },
        }
    }

    /// Queues raw bytes (sent at the next flush).
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.wbuf.extend_from_slice(bytes);
    }

    /// Bytes queued for sending.
    pub fn pending_output(&self) -> usize {
        self.wbuf.len()
    }

    /// Releases buffer memory an idle session does not need.
    pub fn shrink(&mut self) {
        if self.rpos >= self.rbuf.len() {
            self.rbuf = Vec::new();
            self.rpos = 0;
        }
        if self.wbuf.is_empty() {
            self.wbuf = Vec::new();
        }
    }

    /// True once the server is shutting down.
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Reads one line of at most `max` bytes (without its terminator).
    pub async fn read_line(&mut self, max: usize, timeout: Duration) -> Result<Line, ReadError> {
        let mut discarded: Option<Vec<u8>> = None;
        loop {
            let buf = &self.rbuf[self.rpos..];
            if let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let mut end = nl;
                if end > 0 && buf[end - 1] == b'\r' {
                    end -= 1;
                }
                let line = match discarded {
                    Some(head) => Line::TooLong(head),
                    None if end > max => Line::TooLong(buf[..end.min(TOO_LONG_HEAD)].to_vec()),
                    None => Line::Text(buf[..end].to_vec()),
                };
                self.consume(nl + 1);
                return Ok(line);
            }
            if buf.len() > max {
                // Keep reading, but do not keep the over-long line.
                if discarded.is_none() {
                    discarded = Some(buf[..TOO_LONG_HEAD.min(buf.len())].to_vec());
                }
                self.rbuf.clear();
                self.rpos = 0;
            }
            self.fill(timeout).await?;
        }
    }

    /// Reads exactly `n` bytes, handing them to `sink` as they arrive.
    pub async fn read_exact_into(
        &mut self,
        mut n: u64,
        timeout: Duration,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<(), ReadError> {
        while n > 0 {
            if self.buffered().is_empty() {
                self.fill(timeout).await?;
            }
            let take = (self.buffered().len() as u64).min(n) as usize;
            sink(&self.rbuf[self.rpos..self.rpos + take]);
            self.consume(take);
            n -= take as u64;
        }
        Ok(())
    }

    /// Performs the TLS handshake on the current plain stream.
    pub async fn start_tls(&mut self, acceptor: &TlsAcceptor, timeout: Duration) -> io::Result<()> {
        self.flush().await?;
        let Stream::Plain(io) = std::mem::replace(&mut self.stream, Stream::Upgrading) else {
            return Err(io::Error::other("TLS is already active"));
        };
        let tls = tokio::time::timeout(timeout, acceptor.accept(io))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        if let Some(v) = tls.get_ref().1.protocol_version() {
            crate::metrics::tls_handshake(&format!("{v:?}"));
        }
        self.stream = Stream::Tls(Box::new(tls));
        Ok(())
    }

    /// Flushes and closes the write side.
    pub async fn close(&mut self) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }
}

async fn wait_shutdown(rx: &mut watch::Receiver<bool>) {
    if *rx.borrow() {
        return;
    }
    while rx.changed().await.is_ok() {
        if *rx.borrow() {
            return;
        }
    }
    // The sender is gone: never resolve.
    std::future::pending::<()>().await
}
