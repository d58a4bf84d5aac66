//! SEARCH (RFC 9051 §6.4.4) with ESEARCH results (RFC 4731), SORT (RFC 5256, RFC 5957) with
//! ESORT results (RFC 5267), and THREAD (RFC 5256) over the selected folder.
//!
//! All three find their messages the same way ([`Session::matching`]); SORT and THREAD then
//! take what they compare from the folder's message summaries ([`summarize::summaries`]:
//! memory, database, or the message headers, read once) and order or thread on the blocking
//! pool.

use std::collections::HashSet;
use std::fmt::Write;

use tokio::io::{AsyncRead, AsyncWrite};

use super::parse::{self};
use super::search::{self, Candidate, Content, SearchKey};
use super::session::Session;
use super::sort::{self, Criterion, Entry};
use super::summarize;
use super::thread::{self, Algorithm};
use super::write::{compress, compress_ordered, string};
use crate::mailbox::index::Msg;

/// A message a search program matched: what SEARCH, SORT and THREAD answer with or compare.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hit {
    seq: u32,
    pub(super) uid: u32,
    internaldate: i64,
    size: u64,
    modseq: u64,
}

impl Hit {
    fn of(seq: u32, m: &Msg) -> Hit {
        Hit {
            seq,
            uid: m.uid,
            internaldate: m.internaldate,
            size: m.size,
            modseq: m.modseq,
        }
    }

    /// The number a command answers with.
    fn number(&self, uid: bool) -> u32 {
        if uid { self.uid } else { self.seq }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    /// The messages of the selected folder that `key` matches, in mailbox order.
    async fn matching(&mut self, key: &SearchKey) -> Vec<Hit> {
        self.matching_in(key, None).await
    }

    /// The messages of the selected folder (those with UIDs in `only`, when given) that `key`
    /// matches, in mailbox order. Keys that need no message content are evaluated under the
    /// folder's lock, without copies; the others read each message.
    pub(super) async fn matching_in(&mut self, key: &SearchKey, only: Option<&HashSet<u32>>) -> Vec<Hit> {
        let wanted = |uid: &u32| only.is_none_or(|o| o.contains(uid));
        let Some(sel) = &self.sel else {
            return Vec::new();
        };
        let folder = sel.folder.clone();
        let max_uid = sel.uids.last().copied().unwrap_or(0);
        let max_seq = sel.uids.len() as u32;
        if !key.needs_content() {
            let st = folder.state().await;
            let mut hits = Vec::with_capacity(sel.uids.len());
            for (i, u) in sel.uids.iter().enumerate() {
                if !wanted(u) {
                    continue;
                }
                let Some(m) = st.position(*u).and_then(|p| st.msgs.get(p)) else {
                    continue;
                };
                let c = Candidate {
                    seq: i as u32 + 1,
                    msg: m,
                    max_seq,
                    max_uid,
                    content: None,
                    recent: sel.recent.contains(&m.uid),
                };
                if *key == SearchKey::All || search::matches(key, &c) {
                    hits.push(Hit::of(c.seq, m));
                }
            }
            return hits;
        }
        let recent = sel.recent.clone();
        let msgs: Vec<(u32, Msg)> = {
            let st = folder.state().await;
            sel.uids
                .iter()
                .enumerate()
                .filter(|(_, u)| wanted(u))
                .filter_map(|(i, u)| st.position(*u).map(|p| (i as u32 + 1, st.msgs[p].clone())))
                .collect()
        };
        let mut hits = Vec::new();
        for (seq, m) in msgs {
            let Ok(raw) = folder.read(m.uid).await else {
                continue;
            };
            let content = tokio::task::spawn_blocking(move || Content::of(&raw))
                .await
                .unwrap_or_default();
            let c = Candidate {
                seq,
                msg: &m,
                max_seq,
                max_uid,
                content: Some(&content),
                recent: recent.contains(&m.uid),
            };
            if search::matches(key, &c) {
                hits.push(Hit::of(seq, &m));
            }
        }
        hits
    }

    pub(super) async fn search(
        &mut self,
        tag: &str,
        uid: bool,
        ret: Option<parse::SearchReturn>,
        key: SearchKey,
    ) {
        self.refresh(uid).await;
        if key.uses_modseq() {
            self.enable_condstore().await;
        }
        let highest = match &self.sel {
            Some(sel) => sel.folder.state().await.highestmodseq,
            None => 0,
        };
        let hits = self.matching(&key).await;
        let found: Vec<(u32, u64)> = hits.iter().map(|h| (h.number(uid), h.modseq)).collect();
        let ret = ret.or_else(|| {
            self.rev2.then(|| parse::SearchReturn {
                all: true,
                ..Default::default()
            })
        });
        let update = ret.as_ref().is_some_and(|r| r.update);
        self.results(tag, uid, "SEARCH", ret, key.uses_modseq(), &found);
        if update {
            let uids: Vec<u32> = hits.iter().map(|h| h.uid).collect();
            if !self.keep_context(tag, uid, key, &uids, highest) {
                let code = format!("[NOUPDATE {}]", string(tag, false));
                self.tagged(
                    tag,
                    "OK",
                    &format!("{code} SEARCH completed; too many searches are kept updated"),
                );
                return;
            }
        }
        self.tagged(tag, "OK", "SEARCH completed");
    }

    /// The answer of SEARCH or SORT: `found` is (number, MODSEQ) in the result's order
    /// (ascending for SEARCH). With return options, an ESEARCH response in which MIN and MAX
    /// are the first and last of that order and ALL keeps it (RFC 5267 §4.2).
    fn results(
        &mut self,
        tag: &str,
        uid: bool,
        name: &str,
        ret: Option<parse::SearchReturn>,
        uses_modseq: bool,
        found: &[(u32, u64)],
    ) {
        let numbers: Vec<u32> = found.iter().map(|f| f.0).collect();
        let highest = uses_modseq.then(|| found.iter().map(|f| f.1).max().unwrap_or(0));
        let Some(r) = ret else {
            let mut l = String::with_capacity(name.len() + numbers.len() * 6 + 24);
            l.push_str(name);
            for n in &numbers {
                let _ = write!(l, " {n}");
            }
            if let Some(m) = highest.filter(|_| !numbers.is_empty()) {
                l.push_str(&format!(" (MODSEQ {m})"));
            }
            self.untagged(&l);
            return;
        };
        let mut l = format!("ESEARCH (TAG {})", string(tag, false));
        if uid {
            l.push_str(" UID");
        }
        if let (Some(first), Some(last)) = (numbers.first(), numbers.last()) {
            if r.min {
                l.push_str(&format!(" MIN {first}"));
            }
            if r.max {
                l.push_str(&format!(" MAX {last}"));
            }
            if r.all {
                l.push_str(&format!(" ALL {}", compress_ordered(&numbers)));
            }
        }
        if r.count {
            l.push_str(&format!(" COUNT {}", numbers.len()));
        }
        if let Some((low, high)) = r.partial {
            // RFC 5267 §4.4: the messages at positions low..=high of the result, or NIL.
            let window = numbers
                .get(low as usize - 1..)
                .map(|rest| &rest[..rest.len().min((high - low) as usize + 1)])
                .filter(|w| !w.is_empty());
            let set = match window {
                Some(w) if name == "SEARCH" => compress(w),
                Some(w) => compress_ordered(w),
                None => "NIL".to_owned(),
            };
            l.push_str(&format!(" PARTIAL ({low}:{high} {set})"));
        }
        // RFC 7162 §3.1.5: the highest MODSEQ of the messages returned; MIN and MAX alone
        // return only those messages.
        let returned = if (r.min || r.max) && !(r.all || r.count) {
            let ends = [r.min.then(|| found.first()), r.max.then(|| found.last())];
            ends.into_iter().flatten().flatten().map(|h| h.1).max()
        } else {
            found.iter().map(|h| h.1).max()
        };
        if let Some(m) = returned.filter(|_| highest.is_some()) {
            l.push_str(&format!(" MODSEQ {m}"));
        }
        self.untagged(&l);
    }

    /// SORT and UID SORT.
    pub(super) async fn sort(
        &mut self,
        tag: &str,
        uid: bool,
        ret: Option<parse::SearchReturn>,
        criteria: &[Criterion],
        key: SearchKey,
    ) {
        self.refresh(uid).await;
        if key.uses_modseq() {
            self.enable_condstore().await;
        }
        let Some(folder) = self.sel.as_ref().map(|s| s.folder.clone()) else {
            return;
        };
        let hits = self.matching(&key).await;
        let uids: Vec<u32> = hits.iter().map(|h| h.uid).collect();
        let summaries = summarize::summaries(&folder, &uids).await;
        let criteria = criteria.to_vec();
        let found = tokio::task::spawn_blocking(move || {
            let mut entries: Vec<Entry<'_>> = summaries
                .iter()
                .zip(&hits)
                .enumerate()
                .map(|(i, (s, h))| Entry {
                    number: i as u32,
                    arrival: h.internaldate,
                    size: h.size,
                    summary: s,
                })
                .collect();
            sort::sort(&mut entries, &criteria);
            entries
                .iter()
                .filter_map(|e| hits.get(e.number as usize))
                .map(|h| (h.number(uid), h.modseq))
                .collect::<Vec<(u32, u64)>>()
        })
        .await;
        let Ok(found) = found else {
            self.tagged(tag, "NO", "[SERVERBUG] Internal error, try again");
            return;
        };
        self.results(tag, uid, "SORT", ret, key.uses_modseq(), &found);
        self.tagged(tag, "OK", "SORT completed");
    }

    /// THREAD and UID THREAD.
    pub(super) async fn thread(&mut self, tag: &str, uid: bool, algorithm: Algorithm, key: SearchKey) {
        self.refresh(uid).await;
        if key.uses_modseq() {
            self.enable_condstore().await;
        }
        let Some(folder) = self.sel.as_ref().map(|s| s.folder.clone()) else {
            return;
        };
        let hits = self.matching(&key).await;
        let uids: Vec<u32> = hits.iter().map(|h| h.uid).collect();
        let summaries = summarize::summaries(&folder, &uids).await;
        let threads = tokio::task::spawn_blocking(move || {
            let entries: Vec<Entry<'_>> = summaries
                .iter()
                .zip(&hits)
                .map(|(s, h)| Entry {
                    number: h.number(uid),
                    arrival: h.internaldate,
                    size: h.size,
                    summary: s,
                })
                .collect();
            thread::thread(&entries, algorithm).write()
        })
        .await;
        let Ok(threads) = threads else {
            self.tagged(tag, "NO", "[SERVERBUG] Internal error, try again");
            return;
        };
        if threads.is_empty() {
            self.untagged("THREAD");
        } else {
            self.untagged(&format!("THREAD {threads}"));
        }
        self.tagged(tag, "OK", "THREAD completed");
    }
}
