//! The IMAP server (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1) on `imap` (STARTTLS, LOGIN
//! disabled before TLS) and `imaps` (implicit TLS), over the Maildir index
//! ([`crate::mailbox::index`]) that SMTP delivers into.
//!
//! Parsing ([`parse`]), MIME structure ([`mime`]), addresses and ENVELOPE ([`address`]),
//! transfer encodings ([`transfer`]), SEARCH ([`search`]), SORT ([`sort`]), THREAD
//! ([`thread`], [`references`]), base subjects ([`subject`]), sent dates ([`sentdate`]) and
//! LIST patterns ([`list`]) are pure and tested on their own; [`session`] runs the command
//! loop, [`fetch`] streams FETCH responses (their sections from `section`), and
//! [`summarize`] finds what SORT and THREAD compare.

pub mod address;
mod append;
pub mod command;
mod context;
pub mod fetch;
pub mod list;
mod login;
mod mailboxes;
mod messages;
pub mod mime;
mod notify;
pub mod parse;
mod query;
pub mod references;
pub mod search;
mod section;
mod selected;
pub mod sentdate;
pub mod session;
pub mod sort;
pub mod subject;
pub mod summarize;
pub mod thread;
pub mod transfer;
pub mod url;
pub mod write;

use std::sync::Arc;

use tokio::net::TcpListener;

pub use session::ImapListener;

use crate::smtp::Services;

/// Accepts IMAP connections on `listener` until shutdown, one task per session.
pub async fn accept_loop(listener: TcpListener, info: Arc<ImapListener>, svc: Arc<Services>) {
    let busy = (!info.implicit_tls)
        .then(|| b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n".to_vec());
    let name = info.name.clone();
    let shared = svc.clone();
    crate::listen::accept_loop(listener, name, busy, svc, move |stream, peer| {
        session::serve(stream, peer, info.clone(), shared.clone())
    })
    .await;
}
