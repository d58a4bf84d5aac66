//! Commands that change messages: STORE (with CONDSTORE's UNCHANGEDSINCE, RFC 7162) and
//! COPY/MOVE (RFC 6851, COPYUID). APPEND is in [`super::append`].

use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{debug, warn};

use super::parse::{SeqSet, StoreOp};
use super::session::{Session, index_error};
use super::write::{compress, compress_ordered};
use crate::mailbox::index::Flags;

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn store(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SeqSet,
        op: StoreOp,
        silent: bool,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) {
        let Some(sel) = &self.sel else { return };
        if sel.read_only {
            self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        let folder = sel.folder.clone();
        let Some(targets) = self.resolve(set, uid) else {
            self.tagged(tag, "BAD", "Invalid message sequence number");
            return;
        };
        let Some(f) = Flags::parse(flags.iter().map(String::as_str)) else {
            self.tagged(tag, "BAD", "Invalid flag");
            return;
        };
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let op_n = match op {
            StoreOp::Add => 1,
            StoreOp::Remove => -1,
            StoreOp::Replace => 0,
        };
        if unchanged_since.is_some() {
            self.enable_condstore().await;
        }
        match folder.store(&uids, op_n, &f, unchanged_since).await {
            Ok((changed, failed)) => {
                let condstore = self.condstore;
                let seq_of: std::collections::HashMap<u32, u32> =
                    targets.iter().map(|(s, u)| (*u, *s)).collect();
                if !silent {
                    self.announce_keywords(changed.iter().map(|(_, fl, _)| fl));
                }
                for (u, fl, modseq) in &changed {
                    let Some(seq) = seq_of.get(u) else {
                        continue;
                    };
                    if silent && !condstore {
                        continue;
                    }
                    let mut l = format!("{seq} FETCH (");
                    let mut items = Vec::new();
                    if !silent {
                        items.push(format!("FLAGS ({})", self.flag_words(*u, fl)));
                    }
                    if uid {
                        items.push(format!("UID {u}"));
                    }
                    if condstore {
                        items.push(format!("MODSEQ ({modseq})"));
                    }
                    l.push_str(&items.join(" "));
                    l.push(')');
                    self.untagged(&l);
                }
                // Our own changes are reported; do not report them again.
                if let Some(sel) = &mut self.sel {
                    let st = folder.state().await;
                    if changed.iter().all(|(_, _, m)| *m > sel.modseq)
                        && st.highestmodseq == changed.iter().map(|c| c.2).max().unwrap_or(0)
                    {
                        sel.modseq = st.highestmodseq;
                    }
                }
                self.update_contexts().await;
                if failed.is_empty() {
                    self.tagged(tag, "OK", "STORE completed");
                } else {
                    let nums: Vec<u32> = if uid {
                        failed.clone()
                    } else {
                        failed
                            .iter()
                            .filter_map(|f| targets.iter().find(|(_, u)| u == f).map(|(s, _)| *s))
                            .collect()
                    };
                    self.tagged(
                        tag,
                        "OK",
                        &format!("[MODIFIED {}] Conditional STORE failed", compress(&nums)),
                    );
                }
            }
            Err(e) => self.tagged(tag, "NO", &index_error(&e)),
        }
    }

    pub(super) async fn copy(&mut self, tag: &str, uid: bool, set: &SeqSet, mailbox: &str, moving: bool) {
        let Some(sel) = &self.sel else { return };
        if moving && sel.read_only {
            self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        let src = sel.folder.clone();
        let Some(targets) = self.resolve(set, uid) else {
            self.tagged(tag, "BAD", "Invalid message sequence number");
            return;
        };
        let name = self.decode_name(mailbox).unwrap_or_else(|| mailbox.to_owned());
        let Some(dest) = self.target(tag, &name).await else {
            return;
        };
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let pairs = match src.copy_to(&uids, &dest, &self.svc.index.host).await {
            Ok(p) => p,
            Err(e) => {
                self.tagged(tag, "NO", &index_error(&e));
                return;
            }
        };
        let uidvalidity = dest.state().await.uidvalidity;
        let code = if pairs.is_empty() {
            String::new()
        } else {
            let from: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            let to: Vec<u32> = pairs.iter().map(|p| p.1).collect();
            format!(
                "[COPYUID {uidvalidity} {} {}] ",
                compress_ordered(&from),
                compress_ordered(&to)
            )
        };
        if moving {
            if !code.is_empty() {
                self.untagged(&format!("OK {}Moved", code));
            }
            let moved: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            if let Err(e) = src.remove(&moved).await {
                warn!(error = %e, "MOVE copied but could not remove the originals");
            }
            self.refresh(true).await;
            self.tagged(tag, "OK", "MOVE completed");
        } else {
            self.tagged(tag, "OK", &format!("{code}COPY completed"));
        }
        debug!(count = pairs.len(), moving, "copied");
    }
}
