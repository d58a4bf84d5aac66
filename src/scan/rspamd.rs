//! An rspamd client: `POST /checkv2` on the normal worker with the message and its envelope
//! (`IP`, `Helo`, `From`, `Rcpt`, `Queue-Id`, `User`), answered with a JSON score.

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest answer read from rspamd.
const MAX_ANSWER: u64 = 1024 * 1024;

/// What rspamd thought of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// The score.
    pub score: f64,
    /// rspamd's own action (`no action`, `add header`, `reject`, ...), for the log.
    pub action: String,
    /// The symbols that fired, highest score first (at most 12).
    pub symbols: Vec<String>,
}

/// The message's envelope as rspamd wants it.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The client's IP, when known.
    pub ip: Option<IpAddr>,
    /// What it said in EHLO.
    pub helo: &'a str,
    /// MAIL FROM (empty for bounces).
    pub from: &'a str,
    /// RCPT TOs.
    pub rcpts: &'a [String],
    /// Our queue id.
    pub id: &'a str,
    /// The authenticated user.
    pub user: Option<&'a str>,
}

/// Why rspamd gave no score.
#[derive(Debug, thiserror::Error)]
pub enum RspamdError {
    /// Connecting, writing or reading failed.
    #[error("rspamd at {0}: {1}")]
    Io(String, std::io::Error),
    /// No answer in time.
    #[error("rspamd at {0}: no answer within {1:?}")]
    Timeout(String, Duration),
    /// An answer that is not a score.
    #[error("rspamd at {0}: {1}")]
    Answer(String, String),
}

/// `http://host:port[/prefix]` split into the address to connect to, the Host header and the
/// path prefix. Only plain HTTP: rspamd runs next to the mail server.
pub fn parse_url(url: &str) -> Option<(String, String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    if authority.is_empty() {
        return None;
    }
    let addr = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let prefix = path.trim_end_matches('/');
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("/{prefix}")
    };
    Some((addr, authority.to_owned(), prefix))
}

/// Scores `message` with the rspamd at `url`.
pub async fn check(
    url: &str,
    env: &Envelope<'_>,
    message: &[u8],
    timeout: Duration,
) -> Result<Score, RspamdError> {
    let Some((addr, host, prefix)) = parse_url(url) else {
        return Err(RspamdError::Answer(
            url.to_owned(),
            "not an http:// URL".to_owned(),
        ));
    };
    let mut head = format!(
        "POST {prefix}/checkv2 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\nQueue-Id: {}\r\n",
        message.len(),
        clean(env.id)
    );
    if let Some(ip) = env.ip {
        head.push_str(&format!("IP: {ip}\r\n"));
    }
    head.push_str(&format!(
        "Helo: {}\r\nFrom: {}\r\n",
        clean(env.helo),
        clean(env.from)
    ));
    for r in env.rcpts {
        head.push_str(&format!("Rcpt: {}\r\n", clean(r)));
    }
    if let Some(u) = env.user {
        head.push_str(&format!("User: {}\r\n", clean(u)));
    }
    head.push_str("\r\n");
    let work = async {
        let mut s = TcpStream::connect(addr.as_str()).await?;
        s.set_nodelay(true)?;
        s.write_all(head.as_bytes()).await?;
        s.write_all(message).await?;
        s.flush().await?;
        let mut answer = Vec::new();
        (&mut s).take(MAX_ANSWER).read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| RspamdError::Timeout(url.to_owned(), timeout))?
        .map_err(|e| RspamdError::Io(url.to_owned(), e))?;
    parse_answer(&answer).map_err(|why| RspamdError::Answer(url.to_owned(), why))
}

/// Header values cannot carry line breaks.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '_' } else { c }).collect()
}

fn parse_answer(answer: &[u8]) -> Result<Score, String> {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP answer")?;
    let head = String::from_utf8_lossy(&answer[..end]);
    let status = head.split(' ').nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("HTTP status {status}"));
    }
    let chunked = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case("transfer-encoding") && v.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let raw = &answer[end + 4..];
    let body = if chunked {
        dechunk(raw).ok_or("bad chunked answer")?
    } else {
        raw.to_vec()
    };
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| format!("bad JSON: {e}"))?;
    let score = v["score"].as_f64().ok_or("no score in the answer")?;
    let action = v["action"].as_str().unwrap_or("").to_owned();
    let mut symbols: Vec<(String, f64)> = v["symbols"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(name, s)| (name.clone(), s["score"].as_f64().unwrap_or(0.0)))
                .collect()
        })
        .unwrap_or_default();
    symbols.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Score {
        score,
        action,
        symbols: symbols.into_iter().take(12).map(|(n, _)| n).collect(),
    })
}

fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:11333"),
            Some(("127.0.0.1:11333".into(), "127.0.0.1:11333".into(), String::new()))
        );
        assert_eq!(
            parse_url("http://rspamd/scan/"),
            Some(("rspamd:80".into(), "rspamd".into(), "/scan".into()))
        );
        assert_eq!(parse_url("https://x"), None);
    }

    #[test]
    fn answers() {
        let body = br#"{"is_skipped":false,"score":7.5,"required_score":15.0,"action":"add header","symbols":{"A":{"score":1.0},"B":{"score":6.5}}}"#;
        let mut plain = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n".to_vec();
        plain.extend_from_slice(body);
        let s = parse_answer(&plain).unwrap();
        assert_eq!(s.score, 7.5);
        assert_eq!(s.action, "add header");
        assert_eq!(s.symbols, ["B", "A"]);
        let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        chunked.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        chunked.extend_from_slice(body);
        chunked.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(parse_answer(&chunked).unwrap(), s);
        assert!(parse_answer(b"HTTP/1.1 500 Oops\r\n\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\n\r\n{\"error\":1}").is_err());
        assert!(parse_answer(b"garbage").is_err());
    }
}
