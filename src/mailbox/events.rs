//! Changes to an account's list of folders (created, deleted, renamed, subscribed), for the
//! sessions that asked to hear of them (IMAP NOTIFY's MailboxName and SubscriptionChange,
//! RFC 5465 §5.4, §5.5). Message changes travel through each folder's own watch.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;

use super::index::Index;

/// A change to an account's folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxEvent {
    /// A folder was created.
    Created(String),
    /// A folder was deleted.
    Deleted(String),
    /// A folder was renamed (old, new).
    Renamed(String, String),
    /// A name was subscribed (true) or unsubscribed.
    Subscribed(String, bool),
}

/// Per-account channels, made when the first listener asks.
#[derive(Debug, Default)]
pub struct Channels(Mutex<HashMap<String, broadcast::Sender<MailboxEvent>>>);

impl Channels {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<MailboxEvent>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Index {
    /// Listens to the changes of `account`'s folders.
    pub fn mailbox_events(&self, account: &str) -> broadcast::Receiver<MailboxEvent> {
        self.events
            .lock()
            .entry(account.to_owned())
            .or_insert_with(|| broadcast::channel(64).0)
            .subscribe()
    }

    /// Tells the listeners of `account`, if any.
    pub(super) fn emit(&self, account: &str, event: MailboxEvent) {
        let mut map = self.events.lock();
        if let Some(tx) = map.get(account)
            && tx.send(event).is_err()
        {
            // Nobody listens any more.
            map.remove(account);
        }
    }
}
