//! Commands on mailboxes rather than messages: LIST/LSUB (RFC 9051 §6.3.9, RFC 5258
//! LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE), STATUS and QUOTA (RFC 9208).

use tokio::io::{AsyncRead, AsyncWrite};

use super::command::ListArgs;
use super::list;
use super::session::{Session, index_error};
use crate::mailbox::index::{DELETED, IndexError, SEEN};

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    pub(super) fn quota(&self) -> Option<String> {
        let routing = self.svc.routing.get();
        let info = routing.mailbox(self.account())?;
        let limit = info.quota?;
        let used = self.svc.store.usage(&info.maildir);
        Some(format!("QUOTA \"\" (STORAGE {} {})", used / 1024, limit / 1024))
    }

    /// LIST and LSUB: the entries [`super::list::entries`] selects, each with its STATUS
    /// when asked (RFC 5819).
    pub(super) async fn list(&mut self, tag: &str, args: &ListArgs) {
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
        let verb = if args.lsub { "LSUB" } else { "LIST" };
        if args.patterns.len() == 1 && args.patterns[0].is_empty() {
            // RFC 9051 §6.3.9: the hierarchy delimiter and root.
            self.untagged(&format!("{verb} (\\Noselect) \".\" \"\""));
            self.tagged(tag, "OK", &format!("{verb} completed"));
            return;
        }
        let reference = self.decode_name(&args.reference).unwrap_or_default();
        let patterns: Vec<list::Pattern> = args
            .patterns
            .iter()
            .map(|p| {
                let p = self.decode_name(p).unwrap_or_else(|| p.clone());
                list::compile(&format!("{reference}{p}"))
            })
            .collect();
        let view: Vec<list::Folder<'_>> = folders
            .iter()
            .map(|f| list::Folder {
                name: &f.name,
                special_use: f.special_use.as_deref(),
            })
            .collect();
        let entries = list::entries(&view, &subscribed, &patterns, args);
        for e in entries {
            let enc = self.encode_name(&e.name);
            let extra = if e.childinfo {
                " (CHILDINFO (\"SUBSCRIBED\"))"
            } else {
                ""
            };
            self.untagged(&format!("{verb} ({}) \".\" {enc}{extra}", e.attrs.join(" ")));
            if !args.status.is_empty()
                && e.exists
                && let Ok(line) = self.status_line(&e.name, &args.status).await
            {
                self.untagged(&line);
            }
        }
        self.tagged(tag, "OK", &format!("{verb} completed"));
    }

    pub(super) async fn status_line(&mut self, name: &str, items: &[String]) -> Result<String, IndexError> {
        let folder = self.open(name).await?;
        let st = folder.state().await;
        let mut parts = Vec::new();
        for i in items {
            let v = match i.as_str() {
                "MESSAGES" => st.msgs.len() as u64,
                "UIDNEXT" => u64::from(st.uidnext),
                "UIDVALIDITY" => u64::from(st.uidvalidity),
                "UNSEEN" => st.msgs.iter().filter(|m| m.flags.system & SEEN == 0).count() as u64,
                "RECENT" => st.msgs.iter().filter(|m| m.uid > st.recent_uid).count() as u64,
                "DELETED" => st.msgs.iter().filter(|m| m.flags.system & DELETED != 0).count() as u64,
                "SIZE" => st.msgs.iter().map(|m| m.size).sum(),
                "HIGHESTMODSEQ" => st.highestmodseq,
                _ => 0,
            };
            parts.push(format!("{i} {v}"));
        }
        Ok(format!("STATUS {} ({})", self.encode_name(name), parts.join(" ")))
    }
}
