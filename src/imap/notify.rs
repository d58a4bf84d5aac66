//! NOTIFY (RFC 5465): a client names the mailboxes and events it wants to hear of, and the
//! server tells it while it waits for its next command (or idles), without the client polling
//! each folder with STATUS.
//!
//! Each watched folder gets a small task that forwards its change signal (the same watch that
//! wakes IDLE) into one channel per session; folder-list changes (MailboxName,
//! SubscriptionChange) come from the index's per-account broadcast. The session compares a
//! folder's STATUS with what it last said and reports only differences. Events the client did
//! not ask for are not reported; annotation and metadata events are refused with BADEVENT
//! (RFC 5465 §3.1), as yubin has neither.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::warn;

use super::command::{FetchItem, NotifyEvent, NotifyFilter, NotifySpec};
use super::session::{Session, index_error};
use crate::mailbox::events::MailboxEvent;
use crate::mailbox::index::{Folder, SEEN};

/// What woke a waiting session.
#[derive(Debug)]
pub(super) enum Wake {
    /// A watched folder (not the selected one) changed.
    Folder(String),
    /// The account's list of folders changed.
    Mailbox(MailboxEvent),
}

/// A session's NOTIFY state.
pub(super) struct Notifier {
    /// Changes to report.
    pub rx: mpsc::Receiver<Wake>,
    /// The sending side, for the tasks of folders that appear later.
    tx: mpsc::Sender<Wake>,
    tasks: Vec<JoinHandle<()>>,
    /// Watched folders (other than the selected one) and the STATUS last reported.
    watched: HashMap<String, (Arc<Folder>, Option<String>)>,
    /// Events for the selected mailbox: None when the client did not ask for any.
    pub selected: Option<SelectedEvents>,
    /// Report HIGHESTMODSEQ in STATUS (FlagChange asked for).
    flag_change: bool,
    mailbox_name: bool,
    subscription_change: bool,
    /// Filters of the groups that watch other mailboxes (to pick up new folders).
    filters: Vec<NotifyFilter>,
}

/// What the client asked to hear of the selected mailbox.
#[derive(Debug, Clone, Default)]
pub(super) struct SelectedEvents {
    /// FETCH items to send for new messages.
    pub fetch: Vec<FetchItem>,
    /// SELECTED-DELAYED: expunges wait for a command that allows them.
    pub delayed: bool,
}

impl Drop for Notifier {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The FETCH items MessageNew may carry (RFC 5465 §5.2): the ones the index answers without
/// reading the message.
fn cheap(item: &FetchItem) -> bool {
    matches!(
        item,
        FetchItem::Uid
            | FetchItem::Flags
            | FetchItem::InternalDate
            | FetchItem::Rfc822Size
            | FetchItem::ModSeq
    )
}

/// Checks the events of every group (RFC 5465 §3.1, §5): MessageNew and MessageExpunge go
/// together, FlagChange needs them; unsupported events are a NO with BADEVENT.
fn check(spec: &NotifySpec) -> Result<(), (&'static str, &'static str)> {
    for g in &spec.groups {
        let new = g.events.iter().any(|e| matches!(e, NotifyEvent::MessageNew(_)));
        let expunge = g.events.contains(&NotifyEvent::MessageExpunge);
        let flags = g.events.contains(&NotifyEvent::FlagChange);
        if new != expunge || (flags && !new) {
            return Err((
                "BAD",
                "MessageNew and MessageExpunge go together; FlagChange needs both",
            ));
        }
        if g.events
            .iter()
            .any(|e| matches!(e, NotifyEvent::MessageNew(items) if !items.iter().all(cheap)))
        {
            return Err((
                "BAD",
                "MessageNew may ask for UID, FLAGS, INTERNALDATE, RFC822.SIZE and MODSEQ",
            ));
        }
        if g.events.iter().any(|e| matches!(e, NotifyEvent::Other(_))) {
            return Err((
                "NO",
                "[BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)] Unsupported event",
            ));
        }
        let selected = matches!(g.filter, NotifyFilter::Selected | NotifyFilter::SelectedDelayed);
        if selected
            && g.events
                .iter()
                .any(|e| matches!(e, NotifyEvent::MailboxName | NotifyEvent::SubscriptionChange))
        {
            return Err((
                "BAD",
                "MailboxName and SubscriptionChange are not for the selected mailbox",
            ));
        }
    }
    Ok(())
}

/// Whether `name` is in a filter for other mailboxes.
fn in_filter(filter: &NotifyFilter, name: &str, subscribed: &[String]) -> bool {
    match filter {
        NotifyFilter::Selected | NotifyFilter::SelectedDelayed => false,
        NotifyFilter::Inboxes => name == "INBOX" || name == "Junk",
        NotifyFilter::Personal => true,
        NotifyFilter::Subscribed => subscribed.iter().any(|s| s == name),
        NotifyFilter::Subtree(roots) => roots
            .iter()
            .any(|r| name == r || name.strip_prefix(r.as_str()).is_some_and(|t| t.starts_with('.'))),
        NotifyFilter::Mailboxes(names) => names.iter().any(|n| n == name),
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    /// NOTIFY SET / NOTIFY NONE.
    pub(super) async fn notify(&mut self, tag: &str, spec: Option<NotifySpec>) {
        self.notifier = None;
        let Some(spec) = spec else {
            self.tagged(tag, "OK", "NOTIFY completed");
            return;
        };
        if let Err((status, text)) = check(&spec) {
            self.tagged(tag, status, text);
            return;
        }
        let account = self.account().to_owned();
        let (folders, subscribed) = match (
            self.svc.index.list(&account).await,
            self.svc.index.subscriptions(&account).await,
        ) {
            (Ok(f), Ok(s)) => (f, s),
            (Err(e), _) | (_, Err(e)) => {
                self.tagged(tag, "NO", &index_error(&e));
                return;
            }
        };
        let (tx, rx) = mpsc::channel(64);
        let mut n = Notifier {
            rx,
            tx: tx.clone(),
            tasks: Vec::new(),
            watched: HashMap::new(),
            selected: None,
            flag_change: false,
            mailbox_name: false,
            subscription_change: false,
            filters: Vec::new(),
        };
        let mut names: Vec<String> = Vec::new();
        for g in &spec.groups {
            let message_events = !g.events.is_empty()
                && g.events.iter().any(|e| {
                    matches!(
                        e,
                        NotifyEvent::MessageNew(_) | NotifyEvent::MessageExpunge | NotifyEvent::FlagChange
                    )
                });
            n.flag_change |= g.events.contains(&NotifyEvent::FlagChange);
            n.mailbox_name |= g.events.contains(&NotifyEvent::MailboxName);
            n.subscription_change |= g.events.contains(&NotifyEvent::SubscriptionChange);
            match &g.filter {
                NotifyFilter::Selected | NotifyFilter::SelectedDelayed => {
                    if message_events {
                        let fetch = g
                            .events
                            .iter()
                            .find_map(|e| match e {
                                NotifyEvent::MessageNew(items) => Some(items.clone()),
                                _ => None,
                            })
                            .unwrap_or_default();
                        n.selected = Some(SelectedEvents {
                            fetch,
                            delayed: g.filter == NotifyFilter::SelectedDelayed,
                        });
                    }
                }
                other => {
                    if message_events {
                        n.filters.push(other.clone());
                        for f in &folders {
                            if in_filter(other, &f.name, &subscribed) && !names.contains(&f.name) {
                                names.push(f.name.clone());
                            }
                        }
                    }
                }
            }
        }
        for name in names {
            match self.svc.index.open(&account, &name).await {
                Ok(folder) => {
                    n.tasks.push(forward(&folder, tx.clone()));
                    n.watched.insert(name, (folder, None));
                }
                Err(e) => warn!(folder = %name, error = %e, "NOTIFY cannot watch a folder"),
            }
        }
        if n.mailbox_name || n.subscription_change || !n.filters.is_empty() {
            let mut events = self.svc.index.mailbox_events(&account);
            let tx = tx.clone();
            n.tasks.push(tokio::spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(e) => {
                            if tx.send(Wake::Mailbox(e)).await.is_err() {
                                return;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => return,
                    }
                }
            }));
        }
        self.notifier = Some(n);
        // Remember (and with STATUS, report) where each watched folder stands now.
        let names: Vec<String> = self
            .notifier
            .as_ref()
            .map(|n| n.watched.keys().cloned().collect())
            .unwrap_or_default();
        for name in names {
            self.report_folder(&name, spec.status).await;
        }
        self.tagged(tag, "OK", "NOTIFY completed");
    }

    /// After new messages arrived in the selected mailbox (they follow sequence number
    /// `before`), sends the FETCH items MessageNew asked for (RFC 5465 §5.2).
    pub(super) async fn announce_new(&mut self, before: usize, items: &[FetchItem]) {
        if items.is_empty() {
            return;
        }
        let Some(sel) = &self.sel else { return };
        let folder = sel.folder.clone();
        let news: Vec<(usize, crate::mailbox::index::Msg)> = {
            let st = folder.state().await;
            sel.uids
                .iter()
                .enumerate()
                .skip(before)
                .filter_map(|(i, u)| st.position(*u).map(|p| (i + 1, st.msgs[p].clone())))
                .collect()
        };
        for (seq, m) in news {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    FetchItem::Uid => format!("UID {}", m.uid),
                    FetchItem::Flags => format!("FLAGS ({})", self.flag_list(&m)),
                    FetchItem::InternalDate => {
                        format!("INTERNALDATE \"{}\"", super::fetch::internal_date(m.internaldate))
                    }
                    FetchItem::Rfc822Size => format!("RFC822.SIZE {}", m.size),
                    _ => format!("MODSEQ ({})", m.modseq),
                })
                .collect();
            self.untagged(&format!("{seq} FETCH ({})", parts.join(" ")));
        }
    }

    /// Handles what woke the session.
    pub(super) async fn notify_wake(&mut self, wake: Wake) {
        match wake {
            Wake::Folder(name) => self.report_folder(&name, true).await,
            Wake::Mailbox(event) => self.report_mailbox(event).await,
        }
    }

    /// Reports the STATUS of a watched folder when it differs from what was last said (or
    /// just records it when `say` is false). The selected folder is reported by the usual
    /// untagged responses instead.
    async fn report_folder(&mut self, name: &str, say: bool) {
        if self.sel.as_ref().is_some_and(|s| s.folder.name == name) {
            return;
        }
        let Some((folder, _)) = self.notifier.as_ref().and_then(|n| n.watched.get(name)) else {
            return;
        };
        let folder = folder.clone();
        if let Err(e) = folder.sync().await {
            warn!(folder = %name, error = %e, "cannot sync a watched folder");
        }
        let modseq = self.notifier.as_ref().is_some_and(|n| n.flag_change);
        let status = {
            let st = folder.state().await;
            let mut s = format!(
                "MESSAGES {} UIDNEXT {} UIDVALIDITY {}",
                st.msgs.len(),
                st.uidnext,
                st.uidvalidity
            );
            if modseq {
                let unseen = st.msgs.iter().filter(|m| m.flags.system & SEEN == 0).count();
                s.push_str(&format!(" UNSEEN {unseen} HIGHESTMODSEQ {}", st.highestmodseq));
            }
            s
        };
        let Some(n) = &mut self.notifier else { return };
        let Some(entry) = n.watched.get_mut(name) else {
            return;
        };
        if entry.1.as_deref() == Some(status.as_str()) {
            return;
        }
        entry.1 = Some(status.clone());
        if say {
            let line = format!("STATUS {} ({status})", self.encode_name(name));
            self.untagged(&line);
        }
    }

    /// Reports a change of the folder list (RFC 5465 §5.4, §5.5) and watches new folders
    /// that fall in a filter.
    async fn report_mailbox(&mut self, event: MailboxEvent) {
        let Some(n) = &self.notifier else { return };
        let (names, subs) = (n.mailbox_name, n.subscription_change);
        let line = match &event {
            MailboxEvent::Created(name) if names => Some(format!("LIST () \".\" {}", self.encode_name(name))),
            MailboxEvent::Deleted(name) if names => {
                Some(format!("LIST (\\NonExistent) \".\" {}", self.encode_name(name)))
            }
            MailboxEvent::Renamed(old, new) if names => Some(format!(
                "LIST () \".\" {} (\"OLDNAME\" ({}))",
                self.encode_name(new),
                self.encode_name(old)
            )),
            MailboxEvent::Subscribed(name, on) if subs => Some(format!(
                "LIST ({}) \".\" {}",
                if *on { "\\Subscribed" } else { "" },
                self.encode_name(name)
            )),
            _ => None,
        };
        if let Some(l) = line {
            self.untagged(&l);
        }
        let new_name = match &event {
            MailboxEvent::Created(name) | MailboxEvent::Renamed(_, name) => Some(name.clone()),
            _ => None,
        };
        if let MailboxEvent::Deleted(name) | MailboxEvent::Renamed(name, _) = &event
            && let Some(n) = &mut self.notifier
        {
            n.watched.remove(name);
        }
        if let Some(name) = new_name {
            let subscribed = self
                .svc
                .index
                .subscriptions(self.account())
                .await
                .unwrap_or_default();
            let watch = self
                .notifier
                .as_ref()
                .is_some_and(|n| n.filters.iter().any(|f| in_filter(f, &name, &subscribed)));
            if watch && let Ok(folder) = self.svc.index.open(self.account(), &name).await {
                let Some(n) = &mut self.notifier else { return };
                n.tasks.push(forward(&folder, n.tx.clone()));
                n.watched.insert(name, (folder, None));
            }
        }
    }
}

/// A task that sends `Wake::Folder` whenever `folder` changes.
fn forward(folder: &Arc<Folder>, tx: mpsc::Sender<Wake>) -> JoinHandle<()> {
    let mut watch = folder.watch();
    let name = folder.name.clone();
    tokio::spawn(async move {
        while watch.changed().await.is_ok() {
            if tx.send(Wake::Folder(name.clone())).await.is_err() {
                return;
            }
        }
    })
}
