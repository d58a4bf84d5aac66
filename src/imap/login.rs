//! Before and at login: CAPABILITY, STARTTLS, LOGIN and AUTHENTICATE PLAIN (RFC 9051 §6.1,
//! §6.2; RFC 4616), each attempt through [`crate::auth::attempt_login`] (bans, per-session cap).

use std::time::Duration;

use base64::Engine;

use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{info, warn};

use super::session::{Flow, PREAUTH_MAX_LINE, Session};
use crate::auth::Login;
use crate::smtp::conn::Line;

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    pub(super) fn capabilities(&self) -> String {
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
                "MULTIAPPEND",
                "CATENATE",
                "MOVE",
                "UNSELECT",
                "CHILDREN",
                "SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "ESEARCH",
                "SORT",
                "SORT=DISPLAY",
                "THREAD=ORDEREDSUBJECT",
                "THREAD=REFERENCES",
                "ESORT",
                "CONTEXT=SEARCH",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "CONDSTORE",
                "QRESYNC",
                "NOTIFY",
                "STATUS=SIZE",
                "UTF8=ACCEPT",
                "BINARY",
            ]);
        }
        caps.join(" ")
    }

    pub(super) async fn starttls(&mut self, tag: &str) -> Flow {
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

    pub(super) async fn finish_login(&mut self, tag: &str, login: &str, password: &str) -> Flow {
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
                crate::metrics::auth_failure("imap");
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

    pub(super) async fn login(&mut self, tag: &str, user: &str, pass: &str) -> Flow {
        if !self.conn.is_tls() {
            self.tagged(tag, "NO", "[PRIVACYREQUIRED] LOGIN is disabled before STARTTLS");
            return Flow::Continue;
        }
        self.finish_login(tag, user, pass).await
    }

    pub(super) async fn authenticate(&mut self, tag: &str, mech: &str, initial: Option<String>) -> Flow {
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
                match self.conn.read_line(PREAUTH_MAX_LINE, self.timeout()).await {
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
}
