//! The inbound webhook: mail handed over by HTTP(S) instead of SMTP, for hosts whose port 25 is
//! closed and whose mail arrives from an edge e-mail router (a worker that received it by SMTP).
//!
//! ```text
//! POST /inbound HTTP/1.1
//! Authorization: Bearer TOKEN
//! Content-Type: message/rfc822
//! Mail-From: <sender@example.org>        (empty or <> for a bounce)
//! Rcpt-To: <alice@example.com>, bob@example.com   (repeatable)
//! Client-Ip: 192.0.2.7                   (optional: where the edge got it; enables SPF)
//! Client-Helo: mail.example.org          (optional, with Client-Ip)
//! Idempotency-Key: 3f1c...               (optional: a retry returns the first answer)
//! Content-Length: 1234                   (or Transfer-Encoding: chunked)
//!
//! <the RFC 5322 message>
//! ```
//!
//! Only local addresses are accepted: the webhook never relays. The answer is JSON, sent only
//! after every copy is durably on disk: `200` with the message id and each recipient's result
//! when at least one recipient took it; `422` when every recipient refused it permanently (the
//! edge should reject the mail); `503` when it failed temporarily (the edge should defer). Wrong
//! tokens count towards the same ban as failed SMTP/IMAP logins.

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tracing::{info, warn};

use super::request::{Reader, Request, Status, response};
use crate::config::secrets::Secret;
use crate::delivery::Resolution;
use crate::queue::store::{NewMessage, NewRecipient};
use crate::scan::{Rejection, Verdict};
use crate::smtp::intake::{self, Refusal};
use crate::smtp::parse::{self, Domain, ReversePath};
use crate::smtp::{Services, headers};

/// Longest `Idempotency-Key`.
const MAX_KEY: usize = 200;
/// The longest a client may take to upload a message.
const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(600);
/// How long an `Idempotency-Key` is remembered.
const KEY_LIFETIME_SECS: i64 = 7 * 24 * 3600;

/// The webhook as the server runs it.
#[derive(Debug)]
pub struct Webhook {
    /// The URL path.
    pub path: String,
    /// The bearer token.
    pub token: Secret,
}

/// One recipient's result.
struct Refused {
    recipient: String,
    reason: &'static str,
    temporary: bool,
}

impl Refused {
    fn new(recipient: &str, reason: &'static str, temporary: bool) -> Self {
        Refused {
            recipient: recipient.to_owned(),
            reason,
            temporary,
        }
    }
}

fn json_response(status: u16, extra: &[String], body: &Value) -> String {
    response(status, "application/json", extra, &format!("{body}\n"))
}

fn error(status: u16, message: &str) -> String {
    json_response(status, &[], &json!({ "error": message }))
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Handles a request for the webhook's path; returns the complete response.
pub async fn handle<IO>(
    reader: &mut Reader<IO>,
    req: &Request,
    peer: SocketAddr,
    tls: bool,
    svc: &Services,
    hook: &Webhook,
) -> String
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let ip = peer.ip();
    if req.method != "POST" {
        return json_response(405, &["Allow: POST".to_owned()], &json!({ "error": "use POST" }));
    }
    let presented = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("bearer ")))
        .map(str::trim);
    let authorized =
        presented.is_some_and(|t| constant_time_eq(t.as_bytes(), hook.token.expose().as_bytes()));
    // The right token always works: edge routers share their addresses with strangers, whose
    // failures must not lock the real sender out.
    if !authorized && svc.bans.is_banned(ip) {
        return error(429, "too many failed attempts; try later");
    }
    if !authorized {
        let banned = svc.bans.record_failure(ip);
        warn!(%peer, banned, "webhook: missing or wrong token");
        return json_response(
            401,
            &["WWW-Authenticate: Bearer".to_owned()],
            &json!({ "error": "missing or wrong bearer token" }),
        );
    }
    svc.bans.record_success(ip);
    let content_type = req.header("content-type").unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("message/rfc822") {
        return error(415, "send the message as Content-Type: message/rfc822");
    }
    let envelope = match Envelope::from_request(req, svc.limits.recipients_per_message as usize) {
        Ok(e) => e,
        Err(why) => return error(400, &why),
    };
    if let Some(key) = &envelope.key
        && let Some(previous) = replay(svc, key).await
    {
        info!(%peer, key, "webhook: request replayed by Idempotency-Key");
        return response(
            200,
            "application/json",
            &["Idempotent-Replayed: true".to_owned()],
            &previous,
        );
    }
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        let _ = reader.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }
    let body =
        match tokio::time::timeout(BODY_DEADLINE, reader.body(req, svc.limits.message_size_bytes)).await {
            Ok(Ok(b)) => b,
            // A slow or broken upload is worth retrying: temporary for the edge.
            Err(_) | Ok(Err(Status(408, _))) => return error(503, "the upload timed out; try again"),
            Ok(Err(Status(413, _))) => {
                return error(
                    413,
                    &format!(
                        "message larger than the limit of {} bytes",
                        svc.limits.message_size_bytes
                    ),
                );
            }
            Ok(Err(Status(code, why))) => return error(code, why),
        };
    let body = match normalise(&body) {
        Ok(b) => b,
        Err(why) => return error(400, why),
    };
    // The limit is on what is stored: bare LFs became CRLFs above.
    if body.len() as u64 > svc.limits.message_size_bytes {
        return error(
            413,
            &format!(
                "message larger than the limit of {} bytes once its line endings are CRLF",
                svc.limits.message_size_bytes
            ),
        );
    }
    let body = headers::strip_forged(&body, &svc.hostname, svc.scanner.is_some()).unwrap_or(body);
    let id = crate::queue::new_id();
    let started = std::time::Instant::now();
    let (status, answer) = take(svc, &envelope, body, &id, ip, tls).await;
    info!(
        %peer,
        id = %id,
        from = %envelope.from.to_address(),
        rcpts = ?envelope.rcpts,
        status,
        ms = started.elapsed().as_millis() as u64,
        "webhook message"
    );
    let text = format!("{answer}\n");
    if status == 200
        && let Some(key) = &envelope.key
    {
        remember(svc, key, &text).await;
    }
    response(status, "application/json", &[], &text)
}

/// What the request says about the envelope.
#[derive(Debug)]
struct Envelope {
    from: ReversePath,
    rcpts: Vec<String>,
    client_ip: Option<IpAddr>,
    client_helo: Option<String>,
    key: Option<String>,
}

impl Envelope {
    fn from_request(req: &Request, max_rcpts: usize) -> Result<Self, String> {
        let from = req
            .header("mail-from")
            .ok_or("the Mail-From header is required (empty for a bounce)")?
            .trim();
        let from = match from {
            "" | "<>" => ReversePath::Null,
            f => {
                let bracketed = if f.starts_with('<') {
                    f.to_owned()
                } else {
                    format!("<{f}>")
                };
                match parse::path(&bracketed, true) {
                    Ok(p) if p.domain.is_some() => ReversePath::Path(p),
                    _ => return Err(format!("Mail-From `{f}` is not an address")),
                }
            }
        };
        let rcpts: Vec<String> = req
            .headers("rcpt-to")
            .flat_map(|v| v.split(','))
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect();
        if rcpts.is_empty() {
            return Err("at least one Rcpt-To header is required".to_owned());
        }
        if rcpts.len() > max_rcpts {
            return Err(format!("more than {max_rcpts} recipients"));
        }
        let client_ip = match req.header("client-ip") {
            None => None,
            Some(s) => Some(
                s.parse::<IpAddr>()
                    .map_err(|_| format!("Client-Ip `{s}` is not an IP address"))?,
            ),
        };
        let key = req.header("idempotency-key").map(str::to_owned);
        if key.as_ref().is_some_and(|k| {
            k.is_empty() || k.len() > MAX_KEY || !k.bytes().all(|b| (b' '..=b'~').contains(&b))
        }) {
            return Err(format!(
                "Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters"
            ));
        }
        Ok(Envelope {
            from,
            rcpts,
            client_ip,
            client_helo: req.header("client-helo").map(str::to_owned),
            key,
        })
    }
}

/// CRLF line endings throughout (a lone LF becomes CRLF); a lone CR is refused, as on SMTP.
/// The message must start with a header field.
fn normalise(body: &[u8]) -> Result<Vec<u8>, &'static str> {
    if body.is_empty() {
        return Err("the message is empty");
    }
    let first_line = body.split(|&b| b == b'\n').next().unwrap_or_default();
    let name_len = first_line
        .iter()
        .position(|&b| b == b':')
        .ok_or("the message does not start with a header field")?;
    if name_len == 0 || !first_line[..name_len].iter().all(|b| b.is_ascii_graphic()) {
        return Err("the message does not start with a header field");
    }
    let mut out = Vec::with_capacity(body.len() + body.len() / 50 + 2);
    for (i, &b) in body.iter().enumerate() {
        match b {
            b'\n' if i == 0 || body[i - 1] != b'\r' => out.extend_from_slice(b"\r\n"),
            b'\r' if body.get(i + 1) != Some(&b'\n') => {
                return Err("the message contains a bare CR");
            }
            _ => out.push(b),
        }
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    Ok(out)
}

/// Resolves the recipients, runs the checks and stores the message; the status and JSON answer.
async fn take(
    svc: &Services,
    env: &Envelope,
    body: Vec<u8>,
    id: &str,
    ip: IpAddr,
    tls: bool,
) -> (u16, Value) {
    let mut rejected: Vec<Refused> = Vec::new();
    let mut accepted: Vec<String> = Vec::new();
    let mut mailboxes: Vec<String> = Vec::new();
    let mut forwards: Vec<NewRecipient> = Vec::new();
    {
        let routing = svc.routing.get();
        for r in &env.rcpts {
            let bracketed = if r.starts_with('<') {
                r.clone()
            } else {
                format!("<{r}>")
            };
            let path = match parse::path(&bracketed, true) {
                Ok(p) => p,
                Err(_) => {
                    rejected.push(Refused::new(r, "not a valid address", false));
                    continue;
                }
            };
            let resolution = match &path.domain {
                Some(Domain::Name(d)) => routing.resolve(&path.local, d),
                _ => Resolution::Remote,
            };
            let route = match resolution {
                Resolution::Local(route) => route,
                Resolution::Unknown => {
                    rejected.push(Refused::new(r, "no such user", false));
                    continue;
                }
                Resolution::Remote => {
                    rejected.push(Refused::new(
                        r,
                        "not a local domain; the webhook does not relay",
                        false,
                    ));
                    continue;
                }
            };
            match intake::expand(svc, &routing, route, body.len() as u64) {
                Ok(e) => {
                    accepted.push(path.to_address());
                    for m in e.mailboxes {
                        if !mailboxes.contains(&m) {
                            mailboxes.push(m);
                        }
                    }
                    for f in e.forwards {
                        if !forwards
                            .iter()
                            .any(|x| x.address.eq_ignore_ascii_case(&f.address))
                        {
                            forwards.push(f);
                        }
                    }
                }
                Err(Refusal::Disabled) => rejected.push(Refused::new(r, "mailbox disabled", false)),
                Err(Refusal::QuotaFull) => rejected.push(Refused::new(r, "mailbox full", true)),
                Err(Refusal::QueueUnavailable) => {
                    rejected.push(Refused::new(r, "forwarding unavailable", true))
                }
            }
        }
    }
    let rejections: Vec<Value> = rejected
        .iter()
        .map(|r| json!({ "recipient": r.recipient, "reason": r.reason, "temporary": r.temporary }))
        .collect();
    if accepted.is_empty() {
        let status = if rejected.iter().any(|r| r.temporary) {
            503
        } else {
            422
        };
        return (status, json!({ "accepted": [], "rejected": rejections }));
    }

    let helo = env.client_helo.as_deref().unwrap_or("webhook");
    let from = env.from.to_address();
    let mut folder = None;
    let mut auth_header = String::new();
    let mut checks = Value::Null;
    if let Some(v) = &svc.verifier {
        let verdict = v.check(env.client_ip, helo, &from, &body).await;
        if verdict.reject {
            return (
                422,
                json!({ "error": "rejected by the sender domain's DMARC policy", "checks": verdict.summary }),
            );
        }
        if verdict.quarantine {
            folder = Some(".Junk");
        }
        checks = Value::String(verdict.summary);
        auth_header = verdict.header;
    }
    let mut scan_headers = String::new();
    if let Some(scanner) = &svc.scanner {
        let scan_env = crate::scan::Envelope {
            ip: env.client_ip,
            helo,
            from: &from,
            rcpts: &accepted,
            id,
            user: None,
        };
        match scanner.scan(&scan_env, &body, true).await {
            Verdict::Deliver {
                headers,
                junk,
                summary,
            } => {
                scan_headers = headers;
                if junk {
                    folder = Some(".Junk");
                }
                if !summary.is_empty() {
                    let all = match checks.as_str() {
                        Some(c) => format!("{c} {summary}"),
                        None => summary,
                    };
                    checks = Value::String(all);
                }
            }
            Verdict::Reject(Rejection::Virus(name)) => {
                return (
                    422,
                    json!({ "error": format!("the message contains a virus ({name})") }),
                );
            }
            Verdict::Reject(Rejection::Spam(score)) => {
                return (422, json!({ "error": "rejected as spam", "score": score }));
            }
            Verdict::Defer(why) => return (503, json!({ "error": why })),
            Verdict::Quarantine { virus, path } => {
                warn!(id, virus, path = %path.display(), "webhook: message quarantined");
                return (
                    200,
                    json!({ "id": id, "accepted": accepted, "rejected": rejections, "quarantined": virus }),
                );
            }
        }
    }
    let for_rcpt = (accepted.len() == 1).then(|| accepted[0].as_str());
    let trace = headers::Trace {
        helo: "webhook",
        ip,
        host: &svc.hostname,
        protocol: if tls { "HTTPS" } else { "HTTP" },
        tls: None,
        id,
        for_rcpt,
        date: headers::rfc5322_date(SystemTime::now()),
    };
    let received = headers::received(&trace);
    if !forwards.is_empty() {
        let Some(queue) = &svc.queue else {
            return (503, json!({ "error": "forwarding unavailable" }));
        };
        let mut q = Vec::with_capacity(received.len() + body.len());
        q.extend_from_slice(received.as_bytes());
        q.extend_from_slice(&body);
        let msg = NewMessage {
            id: id.to_owned(),
            sender: from.clone(),
            recipients: forwards,
            envid: None,
            ret: None,
        };
        if let Err(e) = queue.submit(msg, std::sync::Arc::new(q)).await {
            warn!(id, error = %e, "webhook: cannot queue forwards");
            return (503, json!({ "error": "temporary failure; try again" }));
        }
    }
    if !mailboxes.is_empty() {
        let return_path = headers::return_path(&from);
        let mut message =
            Vec::with_capacity(return_path.len() + auth_header.len() + received.len() + body.len());
        message.extend_from_slice(return_path.as_bytes());
        message.extend_from_slice(auth_header.as_bytes());
        message.extend_from_slice(scan_headers.as_bytes());
        message.extend_from_slice(received.as_bytes());
        message.extend_from_slice(&body);
        if let Err(e) = intake::deliver_local(svc, &mailboxes, message, folder).await {
            warn!(id, error = %e, "webhook: delivery to Maildir failed");
            return (503, json!({ "error": "temporary failure; try again" }));
        }
    }
    crate::metrics::message_received("webhook");
    (
        200,
        json!({ "id": id, "accepted": accepted, "rejected": rejections, "checks": checks }),
    )
}

async fn replay(svc: &Services, key: &str) -> Option<String> {
    sqlx::query_scalar("SELECT response FROM webhook_requests WHERE key = ?")
        .bind(key)
        .fetch_optional(&svc.db)
        .await
        .ok()
        .flatten()
}

async fn remember(svc: &Services, key: &str, response: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let stored =
        sqlx::query("INSERT OR IGNORE INTO webhook_requests (key, response, created) VALUES (?, ?, ?)")
            .bind(key)
            .bind(response)
            .bind(now)
            .execute(&svc.db)
            .await;
    if let Err(e) = stored {
        warn!(error = %e, "webhook: cannot record the Idempotency-Key");
    }
    let _ = sqlx::query("DELETE FROM webhook_requests WHERE created < ?")
        .bind(now - KEY_LIFETIME_SECS)
        .execute(&svc.db)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings() {
        assert_eq!(normalise(b"A: b\n\nbody\n").unwrap(), b"A: b\r\n\r\nbody\r\n");
        assert_eq!(normalise(b"A: b\r\n\r\nbody").unwrap(), b"A: b\r\n\r\nbody\r\n");
        assert!(normalise(b"A: b\r\n\r\nbo\rdy\r\n").is_err());
        assert!(normalise(b"").is_err());
        assert!(normalise(b"not a message\r\n").is_err());
        assert!(normalise(b": empty name\r\n").is_err());
        assert!(normalise(b"With space: x\r\n").is_err());
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
