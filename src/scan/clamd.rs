//! A clamd client: `zINSTREAM` over a unix or TCP socket (the message in length-prefixed
//! chunks, then a zero-length chunk), answered `stream: OK` or `stream: <name> FOUND`.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use crate::plan::Endpoint;

/// The size of each INSTREAM chunk.
const CHUNK: usize = 64 * 1024;
/// The longest answer read from clamd.
const MAX_ANSWER: usize = 4096;

/// What clamd said about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Nothing found.
    Clean,
    /// A signature matched: its name.
    Infected(String),
}

/// Why a scan did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClamdError {
    /// Connecting, writing or reading failed.
    #[error("clamd at {0}: {1}")]
    Io(String, std::io::Error),
    /// No answer in time.
    #[error("clamd at {0}: no answer within {1:?}")]
    Timeout(String, Duration),
    /// clamd answered something else (`INSTREAM size limit exceeded. ERROR`, ...).
    #[error("clamd at {0}: {1}")]
    Answer(String, String),
}

/// Scans `message` with the clamd at `endpoint`.
pub async fn scan(endpoint: &Endpoint, message: &[u8], timeout: Duration) -> Result<Finding, ClamdError> {
    let name = match endpoint {
        Endpoint::Unix(p) => format!("unix:{p}"),
        Endpoint::Tcp(a) => a.clone(),
    };
    let work = async {
        match endpoint {
            Endpoint::Unix(path) => instream(UnixStream::connect(path).await?, message).await,
            Endpoint::Tcp(addr) => {
                let s = TcpStream::connect(addr.as_str()).await?;
                s.set_nodelay(true)?;
                instream(s, message).await
            }
        }
    };
    let answer = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ClamdError::Timeout(name.clone(), timeout))?
        .map_err(|e| ClamdError::Io(name.clone(), e))?;
    parse_answer(&answer).map_err(|a| ClamdError::Answer(name, a))
}

async fn instream<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, message: &[u8]) -> std::io::Result<String> {
    let sent = async {
        s.write_all(b"zINSTREAM\0").await?;
        for chunk in message.chunks(CHUNK) {
            s.write_all(&(chunk.len() as u32).to_be_bytes()).await?;
            s.write_all(chunk).await?;
        }
        s.write_all(&0u32.to_be_bytes()).await?;
        s.flush().await
    }
    .await;
    let mut answer = Vec::new();
    let read = (&mut s).take(MAX_ANSWER as u64).read_to_end(&mut answer).await;
    // clamd answers before it hangs up on a stream over its StreamMaxLength
    // ("INSTREAM size limit exceeded. ERROR"): that answer says more than the broken pipe.
    match (sent, read) {
        (Err(e), _) if answer.is_empty() => return Err(e),
        (_, Err(e)) if answer.is_empty() => return Err(e),
        _ => {}
    }
    Ok(String::from_utf8_lossy(&answer)
        .trim_end_matches(['\0', '\n'])
        .to_owned())
}

/// `stream: OK` → clean; `stream: Eicar-Signature FOUND` → infected; anything else is an error.
fn parse_answer(answer: &str) -> Result<Finding, String> {
    let rest = answer.strip_prefix("stream: ").unwrap_or(answer);
    if rest == "OK" {
        return Ok(Finding::Clean);
    }
    if let Some(name) = rest.strip_suffix(" FOUND") {
        let name: String = name
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(200)
            .collect();
        return Ok(Finding::Infected(name));
    }
    Err(if answer.is_empty() {
        "empty answer".to_owned()
    } else {
        answer.chars().take(200).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(parse_answer("stream: OK"), Ok(Finding::Clean));
        assert_eq!(
            parse_answer("stream: Test.EICAR.Custom.UNOFFICIAL FOUND"),
            Ok(Finding::Infected("Test.EICAR.Custom.UNOFFICIAL".into()))
        );
        assert!(parse_answer("INSTREAM size limit exceeded. ERROR").is_err());
        assert!(parse_answer("").is_err());
    }
}
