//! A small, strict HTTP/1.1 reader and writer for the `http`/`https` listeners: one request per
//! connection, a bounded head, bodies by `Content-Length` or `chunked`, with a size limit
//! checked before the bytes are buffered.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest request head.
pub const MAX_HEAD: usize = 16 * 1024;
/// Longest chunk-size line of a chunked body.
const MAX_CHUNK_LINE: usize = 1024;

/// A request head.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Header fields, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (lower-case).
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An error answered with a status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status(pub u16, pub &'static str);

/// Reads bytes from a connection, keeping what was read past the head for the body.
#[derive(Debug)]
pub struct Reader<IO> {
    io: IO,
    buf: Vec<u8>,
    timeout: Duration,
}

impl<IO: AsyncRead + Unpin> Reader<IO> {
    /// A reader with a per-read `timeout`.
    pub fn new(io: IO, timeout: Duration) -> Self {
        Reader {
            io,
            buf: Vec::with_capacity(2048),
            timeout,
        }
    }

    /// The connection, for writing the response.
    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }

    /// Reads more bytes into the buffer; 0 at end of stream.
    async fn fill(&mut self) -> Result<usize, Status> {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(self.timeout, self.io.read(&mut chunk))
            .await
            .map_err(|_| Status(408, "request timeout"))?
            .map_err(|_| Status(400, "connection error"))?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads and parses the request line and headers.
    pub async fn head(&mut self) -> Result<Request, Status> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n")
                && end <= MAX_HEAD
            {
                let head = self.buf[..end].to_vec();
                self.buf.drain(..end + 4);
                return parse_head(&head);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Status(431, "request head too large"));
            }
            if self.fill().await? == 0 {
                return Err(Status(400, "incomplete request"));
            }
        }
    }

    /// Reads the body that `req` announces, refusing more than `limit` bytes (413). A request
    /// with neither `Content-Length` nor `Transfer-Encoding: chunked` has no body.
    pub async fn body(&mut self, req: &Request, limit: u64) -> Result<Vec<u8>, Status> {
        let chunked = match req.header("transfer-encoding") {
            None => false,
            Some(te) if te.eq_ignore_ascii_case("chunked") => true,
            Some(_) => return Err(Status(501, "unsupported transfer encoding")),
        };
        if chunked {
            if req.header("content-length").is_some() {
                // RFC 9112 §6.3: both at once is how requests are smuggled.
                return Err(Status(400, "both Content-Length and Transfer-Encoding"));
            }
            return self.chunked(limit).await;
        }
        let mut lengths = req.headers("content-length");
        let Some(length) = lengths.next() else {
            return Ok(Vec::new());
        };
        if lengths.next().is_some() {
            return Err(Status(400, "more than one Content-Length"));
        }
        if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Status(400, "bad Content-Length"));
        }
        let length: u64 = length.parse().map_err(|_| Status(413, "message too large"))?;
        if length > limit {
            return Err(Status(413, "message too large"));
        }
        let length = length as usize;
        while self.buf.len() < length {
            if self.fill().await? == 0 {
                return Err(Status(400, "body shorter than Content-Length"));
            }
        }
        let rest = self.buf.split_off(length);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    /// Decodes a chunked body (RFC 9112 §7.1); chunk extensions and trailers are read and ignored.
    async fn chunked(&mut self, limit: u64) -> Result<Vec<u8>, Status> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await?;
            let size = line.split(';').next().unwrap_or("").trim();
            if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Status(400, "bad chunk size"));
            }
            let size = u64::from_str_radix(size, 16).map_err(|_| Status(400, "bad chunk size"))?;
            if size == 0 {
                // Trailer fields up to the empty line.
                while !self.line().await?.is_empty() {}
                return Ok(body);
            }
            if size > limit.saturating_sub(body.len() as u64) {
                return Err(Status(413, "message too large"));
            }
            let size = size as usize;
            while self.buf.len() < size + 2 {
                if self.fill().await? == 0 {
                    return Err(Status(400, "incomplete chunk"));
                }
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(Status(400, "chunk not followed by CRLF"));
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    /// One CRLF-terminated line of a chunked body.
    async fn line(&mut self) -> Result<String, Status> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line =
                    String::from_utf8(self.buf[..end].to_vec()).map_err(|_| Status(400, "bad chunk line"))?;
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_CHUNK_LINE {
                return Err(Status(400, "chunk line too long"));
            }
            if self.fill().await? == 0 {
                return Err(Status(400, "incomplete chunked body"));
            }
        }
    }
}

fn parse_head(head: &[u8]) -> Result<Request, Status> {
    let head = std::str::from_utf8(head).map_err(|_| Status(400, "request head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Status(400, "bad request line"));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase())
    {
        return Err(Status(400, "bad request line"));
    }
    let path = target.split('?').next().unwrap_or_default();
    let mut headers = Vec::new();
    for l in lines {
        if l.starts_with([' ', '\t']) {
            return Err(Status(400, "folded header lines are not accepted"));
        }
        let Some((name, value)) = l.split_once(':') else {
            return Err(Status(400, "bad header line"));
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Status(400, "bad header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
    })
}

/// A complete response with `Connection: close`; `extra` are more header lines (`Name: value`).
pub fn response(status: u16, content_type: &str, extra: &[String], body: &str) -> String {
    let reason = match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n");
    for e in extra {
        out.push_str(e);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(input: &[u8], limit: u64) -> Result<(Request, Vec<u8>), Status> {
        let mut r = Reader::new(input, Duration::from_secs(1));
        let req = r.head().await?;
        let body = r.body(&req, limit).await?;
        Ok((req, body))
    }

    #[tokio::test]
    async fn content_length_body() {
        let (req, body) = read(
            b"POST /inbound?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nRcpt-To: a@b\r\nrcpt-to: c@d\r\n\r\nhello",
            10,
        )
        .await
        .unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/inbound");
        assert_eq!(req.headers("rcpt-to").collect::<Vec<_>>(), ["a@b", "c@d"]);
        assert_eq!(body, b"hello");
    }

    #[tokio::test]
    async fn chunked_body() {
        let (_, body) = read(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: x\r\n\r\n",
            10,
        )
        .await
        .unwrap();
        assert_eq!(body, b"hello!");
    }

    #[tokio::test]
    async fn refusals() {
        let cases: &[(&[u8], u16)] = &[
            (b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world", 413),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n",
                413,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
                400,
            ),
            (b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                413,
            ),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\nFFFFFFFFFFFFFFFF\r\n",
                413,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
                400,
            ),
            (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel", 400),
            (b"POST / HTTP/1.1\r\n folded: x\r\n\r\n", 400),
            (b"POST /\r\n\r\n", 400),
            (b"post / HTTP/1.1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nContent-Length: 5", 400),
        ];
        for (input, status) in cases {
            let got = read(input, 10).await.map(|_| ()).unwrap_err();
            assert_eq!(got.0, *status, "{}", String::from_utf8_lossy(input));
        }
    }

    #[tokio::test]
    async fn head_too_large() {
        let mut input = b"GET / HTTP/1.1\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert_eq!(read(&input, 10).await.unwrap_err().0, 431);
    }
}
