//! Taking in a message for local addresses: what the SMTP session and the inbound webhook share.
//! [`expand`] turns a local route into the mailboxes that take a copy (enabled, with room) and
//! the forwards to queue; [`deliver_local`] writes the composed message durably into them.

use std::sync::Arc;

use crate::delivery::Routing;
use crate::mailbox::maildir::Target;
use crate::plan::Route;
use crate::queue::store::NewRecipient;

use super::Services;

/// Why a local address takes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every mailbox of the address is disabled and nothing is forwarded.
    Disabled,
    /// Every mailbox of the address is over quota and nothing is forwarded.
    QuotaFull,
    /// The address forwards off-site but there is no outbound queue.
    QueueUnavailable,
}

/// Where one local address's copies go.
#[derive(Debug, Default)]
pub struct Expansion {
    /// Mailboxes (by address) that take a copy.
    pub mailboxes: Vec<String>,
    /// Remote addresses the message is forwarded to.
    pub forwards: Vec<NewRecipient>,
}

/// Expands `route` for a message of `declared` bytes (0 when unknown). A mailbox over quota is
/// skipped while others still take the message; a message may overshoot a quota by a tenth.
pub fn expand(svc: &Services, routing: &Routing, route: &Route, declared: u64) -> Result<Expansion, Refusal> {
    let mut forwards = Vec::new();
    for f in &route.forward {
        let Some((_, domain)) = f.rsplit_once('@') else {
            continue;
        };
        if svc.queue.is_none() {
            return Err(Refusal::QueueUnavailable);
        }
        forwards.push(NewRecipient {
            address: f.clone(),
            domain: domain.to_ascii_lowercase(),
            orcpt: None,
            notify: None,
        });
    }
    let enabled: Vec<&String> = route
        .mailboxes
        .iter()
        .filter(|m| routing.mailbox(m).is_some_and(|i| !i.disabled))
        .collect();
    if enabled.is_empty() && forwards.is_empty() {
        return Err(Refusal::Disabled);
    }
    let mailboxes: Vec<String> = enabled
        .iter()
        .filter(|m| {
            let Some(info) = routing.mailbox(m) else {
                return false;
            };
            let Some(quota) = info.quota else { return true };
            let used = svc.store.usage(&info.maildir);
            used < quota && used.saturating_add(declared) <= quota.saturating_add(quota / 10)
        })
        .map(|m| (*m).clone())
        .collect();
    if mailboxes.is_empty() && !enabled.is_empty() && forwards.is_empty() {
        return Err(Refusal::QuotaFull);
    }
    Ok(Expansion { mailboxes, forwards })
}

/// After a local delivery: the report the sender asked for with NOTIFY=SUCCESS (RFC 3461 §4.1)
/// for `recipients` (address, ORCPT), sent through the queue's report path. Nothing for the
/// null sender or without a queue.
pub async fn report_delivered(
    svc: &Services,
    id: &str,
    sender: &str,
    params: &crate::smtp::parse::MailParams,
    recipients: &[(String, Option<String>)],
    original: &[u8],
) {
    use crate::queue::dsn::{Action, Entry, Report, report};
    let Some(queue) = &svc.queue else { return };
    if sender.is_empty() || recipients.is_empty() {
        return;
    }
    let entries: Vec<Entry> = recipients
        .iter()
        .map(|(address, orcpt)| Entry {
            recipient: address.clone(),
            orcpt: orcpt.clone(),
            diagnostic: String::new(),
            remote_mta: None,
        })
        .collect();
    let now = std::time::SystemTime::now();
    let bytes = report(&Report {
        hostname: &svc.hostname,
        id,
        sender,
        original,
        action: Action::Delivered,
        entries: &entries,
        ret_full: params.ret.as_deref() == Some("FULL"),
        envid: params.envid.as_deref(),
        arrival: now,
        retry_until: None,
    });
    queue.send_report(id, sender, bytes).await;
}

/// Writes `message` into the Maildir of each of `mailboxes` (into `folder`, e.g. `.Junk`, when
/// given). When this returns `Ok` every copy is on disk, fsynced with its folder.
pub async fn deliver_local(
    svc: &Services,
    mailboxes: &[String],
    message: Vec<u8>,
    folder: Option<&str>,
) -> std::io::Result<()> {
    let targets: Vec<Target> = {
        let routing = svc.routing.get();
        mailboxes
            .iter()
            .filter_map(|m| routing.mailbox(m))
            .map(|info| Target {
                maildir: info.maildir.clone(),
                folder: folder.map(str::to_owned),
            })
            .collect()
    };
    svc.store.deliver(Arc::new(message), targets).await.map(drop)
}
