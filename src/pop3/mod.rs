//! The POP3 server (RFC 1939, RFC 2449 CAPA and response codes, RFC 2595 STLS, RFC 5034
//! AUTH PLAIN) on `pop3s` (implicit TLS) and `pop3` (STLS), over the INBOX of the Maildir
//! index that IMAP and SMTP share.
//!
//! A session works on a snapshot of INBOX taken at login; DELE takes effect at QUIT through
//! the index (which serialises it with IMAP and deliveries), so IMAP and POP3 never see a
//! half-changed folder. Two POP3 sessions of one account exclude each other ([IN-USE]).

pub mod session;

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::smtp::Services;

/// What a POP3 listener is.
#[derive(Debug, Clone)]
pub struct Pop3Listener {
    /// `pop3` or `pop3s`.
    pub name: String,
    /// TLS from the first byte.
    pub implicit_tls: bool,
}

/// Accepts POP3 connections on `listener` until shutdown, one task per session.
pub async fn accept_loop(listener: TcpListener, info: Arc<Pop3Listener>, svc: Arc<Services>) {
    let busy =
        (!info.implicit_tls).then(|| b"-ERR [SYS/TEMP] Too many connections, try again later\r\n".to_vec());
    let name = info.name.clone();
    let shared = svc.clone();
    crate::listen::accept_loop(listener, name, busy, svc, move |stream, peer| {
        session::serve(stream, peer, info.clone(), shared.clone())
    })
    .await;
}
