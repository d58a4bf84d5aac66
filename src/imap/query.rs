//! SEARCH (RFC 9051 §6.4.4) with ESEARCH results (RFC 4731) over the selected folder.

use tokio::io::{AsyncRead, AsyncWrite};

use super::parse::{self};
use super::search::{self, Candidate, Content, SearchKey};
use super::session::Session;
use super::write::{compress, string};

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
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
        let Some(sel) = &self.sel else { return };
        let folder = sel.folder.clone();
        let view = sel.uids.clone();
        let recent = sel.recent.clone();
        let msgs: Vec<(u32, crate::mailbox::index::Msg)> = {
            let st = folder.state().await;
            view.iter()
                .enumerate()
                .filter_map(|(i, u)| st.position(*u).map(|p| (i as u32 + 1, st.msgs[p].clone())))
                .collect()
        };
        let max_uid = view.last().copied().unwrap_or(0);
        let max_seq = view.len() as u32;
        let needs = key.needs_content();
        let mut hits: Vec<(u32, u32, u64)> = Vec::new();
        for (seq, m) in &msgs {
            let content = if needs {
                let Ok(raw) = folder.read(m.uid).await else {
                    continue;
                };
                Some(
                    tokio::task::spawn_blocking(move || Content::of(&raw))
                        .await
                        .unwrap_or_default(),
                )
            } else {
                None
            };
            let c = Candidate {
                seq: *seq,
                msg: m,
                max_seq,
                max_uid,
                content: content.as_ref(),
                recent: recent.contains(&m.uid),
            };
            if search::matches(&key, &c) {
                hits.push((*seq, m.uid, m.modseq));
            }
        }
        let numbers: Vec<u32> = hits.iter().map(|(s, u, _)| if uid { *u } else { *s }).collect();
        let modseq = key
            .uses_modseq()
            .then(|| hits.iter().map(|h| h.2).max().unwrap_or(0));
        match ret.or_else(|| {
            self.rev2.then(|| parse::SearchReturn {
                all: true,
                ..Default::default()
            })
        }) {
            None => {
                let mut l = String::from("SEARCH");
                for n in &numbers {
                    l.push_str(&format!(" {n}"));
                }
                if let Some(m) = modseq.filter(|_| !numbers.is_empty()) {
                    l.push_str(&format!(" (MODSEQ {m})"));
                }
                self.untagged(&l);
            }
            Some(r) => {
                let mut l = format!("ESEARCH (TAG {})", string(tag, false));
                if uid {
                    l.push_str(" UID");
                }
                if !numbers.is_empty() {
                    if r.min {
                        l.push_str(&format!(" MIN {}", numbers.iter().min().copied().unwrap_or(0)));
                    }
                    if r.max {
                        l.push_str(&format!(" MAX {}", numbers.iter().max().copied().unwrap_or(0)));
                    }
                    if r.all {
                        l.push_str(&format!(" ALL {}", compress(&numbers)));
                    }
                }
                if r.count {
                    l.push_str(&format!(" COUNT {}", numbers.len()));
                }
                // RFC 7162 §3.1.5: the highest MODSEQ of the messages returned; MIN and MAX
                // alone return only those messages (hits are in ascending order).
                let returned = if (r.min || r.max) && !(r.all || r.count) {
                    let ends = [r.min.then(|| hits.first()), r.max.then(|| hits.last())];
                    ends.into_iter().flatten().flatten().map(|h| h.2).max()
                } else {
                    hits.iter().map(|h| h.2).max()
                };
                if let Some(m) = returned.filter(|_| modseq.is_some()) {
                    l.push_str(&format!(" MODSEQ {m}"));
                }
                self.untagged(&l);
            }
        }
        self.tagged(tag, "OK", "SEARCH completed");
    }
}
