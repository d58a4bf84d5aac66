//! Search contexts (RFC 5267 §4.3, CONTEXT=SEARCH): a `SEARCH RETURN (UPDATE)` result that
//! the server keeps up to date, announcing changes as
//!
//! ```text
//! ret-data-addto      = "ADDTO" SP "(" context-position SP sequence-set ")"
//! ret-data-removefrom = "REMOVEFROM" SP "(" context-position SP sequence-set ")"
//! ```
//!
//! in untagged `ESEARCH (TAG "…")` responses, until `CANCELUPDATE "…"` or the folder is
//! closed. The result is unsorted, so the position is always 0 (as Dovecot sends).
//!
//! A context remembers the UIDs it matched and the MODSEQ up to which it looked: a change
//! re-evaluates its search program on the messages whose MODSEQ moved past that (flag changes,
//! new messages) and nothing else, so the cost follows what changed, not the folder's size.
//! Expunged messages leave a context before their EXPUNGE responses (§4.3.1: sequence
//! numbers in REMOVEFROM are the ones the client still knows).

use std::collections::{BTreeSet, HashSet};

use tokio::io::{AsyncRead, AsyncWrite};

use super::search::SearchKey;
use super::session::Session;
use super::write::{compress, string};

/// Searches a session may keep updated at once; more get `[NOUPDATE]` (RFC 5267 §4.3).
pub(super) const MAX_CONTEXTS: usize = 16;

/// One updated search result.
#[derive(Debug)]
pub(super) struct SearchContext {
    /// The SEARCH command's tag.
    tag: String,
    /// `UID SEARCH`: updates carry UIDs, else sequence numbers.
    uid: bool,
    key: SearchKey,
    /// UIDs in the result now.
    hits: BTreeSet<u32>,
    /// The folder's HIGHESTMODSEQ when the result was last brought up to date.
    modseq: u64,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    /// Keeps the result of `SEARCH RETURN (UPDATE)` tagged `tag`; false when the session
    /// holds [`MAX_CONTEXTS`] already (the caller answers `[NOUPDATE]`).
    pub(super) fn keep_context(
        &mut self,
        tag: &str,
        uid: bool,
        key: SearchKey,
        hits: &[u32],
        modseq: u64,
    ) -> bool {
        let Some(sel) = &mut self.sel else {
            return false;
        };
        sel.contexts.retain(|c| c.tag != tag);
        if sel.contexts.len() >= MAX_CONTEXTS {
            return false;
        }
        sel.contexts.push(SearchContext {
            tag: tag.to_owned(),
            uid,
            key,
            hits: hits.iter().copied().collect(),
            modseq,
        });
        true
    }

    /// `CANCELUPDATE` (RFC 5267 §4.3): every tag must name a context of this folder.
    pub(super) fn cancel_update(&mut self, tag: &str, tags: &[String]) {
        let Some(sel) = &mut self.sel else {
            self.tagged(tag, "BAD", "No mailbox selected");
            return;
        };
        if let Some(t) = tags.iter().find(|t| !sel.contexts.iter().any(|c| &c.tag == *t)) {
            let msg = format!("No search is being updated under the tag {}", string(t, false));
            self.tagged(tag, "NO", &msg);
            return;
        }
        sel.contexts.retain(|c| !tags.contains(&c.tag));
        self.tagged(tag, "OK", "CANCELUPDATE completed");
    }

    /// Before EXPUNGE responses: `gone` holds (sequence number as the client knows it, UID)
    /// of the messages about to be reported expunged.
    pub(super) fn contexts_expunged(&mut self, gone: &[(u32, u32)]) {
        let Some(sel) = &mut self.sel else { return };
        let mut lines = Vec::new();
        for c in &mut sel.contexts {
            let removed: Vec<u32> = gone
                .iter()
                .filter(|(_, uid)| c.hits.remove(uid))
                .map(|&(seq, uid)| if c.uid { uid } else { seq })
                .collect();
            if !removed.is_empty() {
                lines.push(update_line(&c.tag, c.uid, &removed, &[]));
            }
        }
        for l in lines {
            self.untagged(&l);
        }
    }

    /// Brings every context up to date with the messages the session knows (after EXISTS
    /// and FETCH responses): messages whose MODSEQ moved are searched again.
    pub(super) async fn update_contexts(&mut self) {
        let Some(sel) = &self.sel else { return };
        if sel.contexts.is_empty() {
            return;
        }
        let folder = sel.folder.clone();
        let floor = sel.contexts.iter().map(|c| c.modseq).min().unwrap_or(0);
        // (UID, MODSEQ) of the session's messages changed since the oldest context looked.
        let (highest, moved): (u64, Vec<(u32, u64)>) = {
            let st = folder.state().await;
            let moved = sel
                .uids
                .iter()
                .filter_map(|u| st.position(*u).map(|p| &st.msgs[p]))
                .filter(|m| m.modseq > floor)
                .map(|m| (m.uid, m.modseq))
                .collect();
            (st.highestmodseq, moved)
        };
        let count = self.sel.as_ref().map_or(0, |s| s.contexts.len());
        let mut lines = Vec::new();
        for i in 0..count {
            let Some(c) = self.sel.as_ref().and_then(|s| s.contexts.get(i)) else {
                break;
            };
            let since = c.modseq;
            let key = c.key.clone();
            let candidates: HashSet<u32> = moved.iter().filter(|m| m.1 > since).map(|m| m.0).collect();
            let matched: HashSet<u32> = if candidates.is_empty() {
                HashSet::new()
            } else {
                self.matching_in(&key, Some(&candidates))
                    .await
                    .iter()
                    .map(|h| h.uid)
                    .collect()
            };
            let Some(sel) = &mut self.sel else { return };
            let Some(c) = sel.contexts.get_mut(i) else { break };
            c.modseq = highest;
            let mut added = Vec::new();
            let mut removed = Vec::new();
            for uid in &candidates {
                match (matched.contains(uid), c.hits.contains(uid)) {
                    (true, false) => added.push(*uid),
                    (false, true) => removed.push(*uid),
                    _ => {}
                }
            }
            if added.is_empty() && removed.is_empty() {
                continue;
            }
            for u in &added {
                c.hits.insert(*u);
            }
            for u in &removed {
                c.hits.remove(u);
            }
            let number = |uid: u32| -> u32 {
                if c.uid {
                    uid
                } else {
                    sel.uids.binary_search(&uid).map_or(0, |p| p as u32 + 1)
                }
            };
            let added: Vec<u32> = added.into_iter().map(number).collect();
            let removed: Vec<u32> = removed.into_iter().map(number).collect();
            lines.push(update_line(&c.tag, c.uid, &removed, &added));
        }
        for l in lines {
            self.untagged(&l);
        }
    }
}

/// `ESEARCH (TAG "t") [UID] [REMOVEFROM (0 set)] [ADDTO (0 set)]`.
fn update_line(tag: &str, uid: bool, removed: &[u32], added: &[u32]) -> String {
    let mut l = format!("ESEARCH (TAG {})", string(tag, false));
    if uid {
        l.push_str(" UID");
    }
    if !removed.is_empty() {
        l.push_str(&format!(" REMOVEFROM (0 {})", compress(removed)));
    }
    if !added.is_empty() {
        l.push_str(&format!(" ADDTO (0 {})", compress(added)));
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_one_esearch_response() {
        assert_eq!(
            update_line("A1", false, &[5, 3, 4], &[9]),
            "ESEARCH (TAG \"A1\") REMOVEFROM (0 3:5) ADDTO (0 9)"
        );
        assert_eq!(
            update_line("t", true, &[], &[7, 8]),
            "ESEARCH (TAG \"t\") UID ADDTO (0 7:8)"
        );
    }
}
