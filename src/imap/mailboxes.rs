//! Commands on mailboxes rather than messages: LIST/LSUB (RFC 9051 §6.3.9, RFC 5258
//! LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE), STATUS and QUOTA (RFC 9208).

use tokio::io::{AsyncRead, AsyncWrite};

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

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn list(
        &mut self,
        tag: &str,
        reference: &str,
        patterns: &[String],
        subscribed_only: bool,
        return_subscribed: bool,
        special_use_only: bool,
        status: &[String],
        lsub: bool,
    ) {
        let folders = match self.svc.index.list(self.account()).await {
            Ok(f) => f,
            Err(e) => {
                self.tagged(tag, "NO", &index_error(&e));
                return;
            }
        };
        let verb = if lsub { "LSUB" } else { "LIST" };
        if patterns.len() == 1 && patterns[0].is_empty() {
            self.untagged(&format!("{verb} (\\Noselect) \".\" \"\""));
            self.tagged(tag, "OK", &format!("{verb} completed"));
            return;
        }
        let reference = self.decode_name(reference).unwrap_or_default();
        let compiled: Vec<super::list::Pattern> = patterns
            .iter()
            .map(|p| {
                let p = self.decode_name(p).unwrap_or_else(|| p.clone());
                super::list::compile(&format!("{reference}{p}"))
            })
            .collect();
        // Every folder that has a child: the parents of every name.
        let parents: std::collections::HashSet<&str> = folders
            .iter()
            .flat_map(|f| f.name.match_indices('.').map(|(i, _)| &f.name[..i]))
            .collect();
        let mut out = Vec::new();
        for f in &folders {
            let matched = compiled.iter().any(|p| p.matches(&f.name));
            if !matched || ((subscribed_only || lsub) && !f.subscribed) {
                continue;
            }
            if special_use_only && f.special_use.is_none() {
                continue;
            }
            let children = parents.contains(f.name.as_str());
            let mut attrs = vec![
                if children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                }
                .to_owned(),
            ];
            if let Some(su) = &f.special_use {
                attrs.push(su.clone());
            }
            if (return_subscribed || subscribed_only) && f.subscribed {
                attrs.push("\\Subscribed".into());
            }
            out.push((f.name.clone(), attrs));
        }
        for (name, attrs) in out {
            let enc = self.encode_name(&name);
            self.untagged(&format!("{verb} ({}) \".\" {enc}", attrs.join(" ")));
            if !status.is_empty()
                && let Ok(line) = self.status_line(&name, status).await
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
