//! FETCH (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 CONDSTORE).
//!
//! The cheap items (FLAGS, UID, INTERNALDATE, RFC822.SIZE, MODSEQ) come from the in-memory
//! folder state. ENVELOPE and BODYSTRUCTURE are computed once per message and cached in the
//! index, so a client that resynchronises a large mailbox reads no message file. Sections read
//! the file. File reading and MIME parsing run on the blocking pool, a chunk of messages per
//! task; responses are streamed, so a FETCH of a whole mailbox holds at most one chunk.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tracing::warn;

use super::address;
use super::mime::{self, Part};
use super::parse::{FetchItem, SectionKind, SeqSet};
use super::section::{binary_bytes, push_literal, section_bytes, section_key};
use super::session::Session;
use crate::mailbox::index::{Flags, Folder, Msg, SEEN};

/// Messages per blocking task (and per response batch).
const CHUNK: usize = 128;
/// Message bytes per batch when sections are fetched.
const BATCH_BYTES: u64 = 4 << 20;

/// What one message needs computed from its file.
struct Work {
    uid: u32,
    path: PathBuf,
    /// Read the bytes for sections.
    raw: bool,
    /// Compute ENVELOPE and BODYSTRUCTURE (not cached yet).
    structure: bool,
}

/// What the blocking task found.
#[derive(Default)]
struct Found {
    raw: Option<Vec<u8>>,
    structure: Option<(String, String)>,
    gone: bool,
}

/// `22-Nov-2026 12:00:00 +0000`.
pub(super) fn internal_date(secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::time::civil_from_days(days);
    format!(
        "{d:02}-{}-{y:04} {:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn read_chunk(work: Vec<Work>) -> Vec<(u32, Found)> {
    work.into_iter()
        .map(|w| {
            if !w.raw && !w.structure {
                return (w.uid, Found::default());
            }
            let raw = match std::fs::read(&w.path) {
                Ok(r) => r,
                Err(_) => {
                    return (
                        w.uid,
                        Found {
                            gone: true,
                            ..Found::default()
                        },
                    );
                }
            };
            let structure = w.structure.then(|| {
                let p = Part::message(&raw);
                (
                    address::envelope(&p, false),
                    mime::body_structure(&raw, &p, true, false),
                )
            });
            (
                w.uid,
                Found {
                    raw: w.raw.then_some(raw),
                    structure,
                    gone: false,
                },
            )
        })
        .collect()
}

/// One batch of a FETCH, ready to be written.
struct Batch {
    msgs: Vec<(u32, Msg)>,
    cached: HashMap<u32, (Option<String>, Option<String>)>,
    found: HashMap<u32, Found>,
}

/// Splits the messages of a FETCH into batches: at most [`CHUNK`] messages, and when the
/// message bytes are needed at most [`BATCH_BYTES`] of them (at least one message).
fn batches(msgs: Vec<(u32, Msg)>, needs_raw: bool) -> Vec<Vec<(u32, Msg)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(u32, Msg)> = Vec::new();
    let mut bytes = 0;
    for x in msgs {
        if !cur.is_empty() && (cur.len() >= CHUNK || (needs_raw && bytes + x.1.size > BATCH_BYTES)) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += x.1.size;
        cur.push(x);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Looks up cached structures, reads and parses what is needed, and stores new structures in
/// the index in the background.
async fn prepare(
    folder: Arc<Folder>,
    msgs: Vec<(u32, Msg)>,
    needs_structure: bool,
    needs_raw: bool,
) -> Batch {
    let uids: Vec<u32> = msgs.iter().map(|(_, m)| m.uid).collect();
    let mut cached = if needs_structure {
        folder.cached(&uids).await.unwrap_or_default()
    } else {
        HashMap::new()
    };
    let work: Vec<Work> = msgs
        .iter()
        .map(|(_, m)| {
            let structure =
                needs_structure && cached.get(&m.uid).is_none_or(|(e, b)| e.is_none() || b.is_none());
            Work {
                uid: m.uid,
                path: folder.path(m),
                raw: needs_raw,
                structure,
            }
        })
        .collect();
    let mut found: HashMap<u32, Found> = if work.iter().any(|w| w.raw || w.structure) {
        tokio::task::spawn_blocking(move || read_chunk(work))
            .await
            .unwrap_or_default()
            .into_iter()
            .collect()
    } else {
        HashMap::new()
    };
    let mut fresh: Vec<(u32, String, String)> = Vec::new();
    for (uid, f) in &mut found {
        if let Some((e, b)) = f.structure.take() {
            cached.insert(*uid, (Some(e.clone()), Some(b.clone())));
            fresh.push((*uid, e, b));
        }
    }
    if !fresh.is_empty() {
        tokio::spawn(async move {
            if let Err(e) = folder.cache(&fresh).await {
                warn!(error = %e, "cannot cache message structure");
            }
        });
    }
    Batch { msgs, cached, found }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    /// FETCH and UID FETCH.
    pub(super) async fn fetch(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SeqSet,
        items: &[FetchItem],
        changed_since: Option<u64>,
        vanished: bool,
    ) {
        // New messages are announced first; expunges wait (RFC 9051 §7.5.1), except for UID
        // FETCH, whose numbers do not shift.
        self.refresh(uid).await;
        let Some(targets) = self.resolve(set, uid) else {
            self.tagged(tag, "BAD", "Invalid message sequence number");
            return;
        };
        if let (true, Some(since)) = (vanished, changed_since) {
            self.vanished_earlier(set, since).await;
        }
        let Some(sel) = &self.sel else { return };
        let folder = sel.folder.clone();
        let read_only = sel.read_only;
        let mut items: Vec<FetchItem> = items.to_vec();
        if uid && !items.contains(&FetchItem::Uid) {
            items.insert(0, FetchItem::Uid);
        }
        if changed_since.is_some() || items.contains(&FetchItem::ModSeq) {
            self.enable_condstore().await;
        }
        let needs_structure = items
            .iter()
            .any(|i| matches!(i, FetchItem::Envelope | FetchItem::BodyStructure));
        let needs_raw = items.iter().any(|i| {
            matches!(
                i,
                FetchItem::Section { .. } | FetchItem::Rfc822(_) | FetchItem::Body | FetchItem::BinarySize(_)
            )
        });
        let sets_seen = !read_only
            && items.iter().any(|i| {
                matches!(
                    i,
                    FetchItem::Section { peek: false, .. }
                        | FetchItem::Rfc822(None | Some(SectionKind::Text))
                )
            });

        // Snapshot the messages (and set \Seen first, so FLAGS shows it).
        if sets_seen {
            let unseen: Vec<u32> = {
                let st = folder.state().await;
                targets
                    .iter()
                    .filter_map(|(_, u)| st.position(*u).map(|p| &st.msgs[p]))
                    .filter(|m| m.flags.system & SEEN == 0)
                    .map(|m| m.uid)
                    .collect()
            };
            if !unseen.is_empty() {
                let seen = Flags {
                    system: SEEN,
                    keywords: Vec::new(),
                };
                match folder.store(&unseen, 1, &seen, None).await {
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "cannot set \\Seen"),
                }
                if !items.contains(&FetchItem::Flags) {
                    items.push(FetchItem::Flags);
                }
            }
        }
        if self.condstore
            && (changed_since.is_some() || items.contains(&FetchItem::Flags))
            && !items.contains(&FetchItem::ModSeq)
        {
            items.push(FetchItem::ModSeq);
        }
        let msgs: Vec<(u32, Msg)> = {
            let st = folder.state().await;
            targets
                .iter()
                .filter_map(|(seq, u)| st.position(*u).map(|p| (*seq, st.msgs[p].clone())))
                .filter(|(_, m)| changed_since.is_none_or(|c| m.modseq > c))
                .collect()
        };

        if items.contains(&FetchItem::Flags) {
            self.announce_keywords(msgs.iter().map(|(_, m)| &m.flags));
        }
        let reported = msgs.iter().map(|(_, m)| m.modseq).max().unwrap_or(0);
        // Batches are prepared (index lookups, file reads and MIME parsing on the blocking
        // pool) a few ahead of the one being written, so both cores work on a large FETCH.
        let depth = if needs_raw { 2 } else { 4 };
        let mut queue = batches(msgs, needs_raw).into_iter();
        let mut pending: VecDeque<JoinHandle<Batch>> = VecDeque::new();
        loop {
            while pending.len() < depth {
                let Some(b) = queue.next() else { break };
                pending.push_back(tokio::spawn(prepare(
                    folder.clone(),
                    b,
                    needs_structure,
                    needs_raw,
                )));
            }
            let Some(next) = pending.pop_front() else { break };
            let Ok(Batch {
                msgs: chunk,
                cached,
                mut found,
            }) = next.await
            else {
                continue;
            };
            for (seq, m) in &chunk {
                let f = found.remove(&m.uid).unwrap_or_default();
                if f.gone {
                    continue;
                }
                let mut out = Vec::with_capacity(256);
                out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
                let parsed = f.raw.as_deref().map(|r| (r, Part::message(r)));
                let mut first = true;
                // A BINARY item that cannot be decoded ends the FETCH (RFC 3516 §4.3).
                let mut unknown_cte = false;
                for item in &items {
                    let item_start = out.len();
                    if !first {
                        out.push(b' ');
                    }
                    first = false;
                    match item {
                        FetchItem::Uid => out.extend_from_slice(format!("UID {}", m.uid).as_bytes()),
                        FetchItem::Flags => {
                            out.extend_from_slice(format!("FLAGS ({})", self.flag_list(m)).as_bytes())
                        }
                        FetchItem::InternalDate => out.extend_from_slice(
                            format!("INTERNALDATE \"{}\"", internal_date(m.internaldate)).as_bytes(),
                        ),
                        FetchItem::Rfc822Size => {
                            out.extend_from_slice(format!("RFC822.SIZE {}", m.size).as_bytes())
                        }
                        FetchItem::ModSeq => {
                            out.extend_from_slice(format!("MODSEQ ({})", m.modseq).as_bytes())
                        }
                        FetchItem::Envelope => {
                            let e = cached.get(&m.uid).and_then(|c| c.0.as_deref()).unwrap_or("NIL");
                            out.extend_from_slice(b"ENVELOPE ");
                            out.extend_from_slice(e.as_bytes());
                        }
                        FetchItem::BodyStructure => {
                            let b = cached.get(&m.uid).and_then(|c| c.1.as_deref()).unwrap_or("NIL");
                            out.extend_from_slice(b"BODYSTRUCTURE ");
                            out.extend_from_slice(b.as_bytes());
                        }
                        FetchItem::Body => {
                            out.extend_from_slice(b"BODY ");
                            if let Some((raw, p)) = &parsed {
                                out.extend_from_slice(mime::body_structure(raw, p, false, false).as_bytes());
                            } else {
                                out.extend_from_slice(b"NIL");
                            }
                        }
                        FetchItem::Rfc822(kind) => {
                            let Some((raw, p)) = &parsed else { continue };
                            let (name, data) = match kind {
                                None => ("RFC822", raw.to_vec()),
                                Some(SectionKind::Header) => {
                                    ("RFC822.HEADER", raw[p.header.clone()].to_vec())
                                }
                                _ => ("RFC822.TEXT", raw[p.body.clone()].to_vec()),
                            };
                            out.extend_from_slice(name.as_bytes());
                            out.push(b' ');
                            push_literal(&mut out, &data, false);
                        }
                        FetchItem::Section {
                            section,
                            partial,
                            binary,
                            ..
                        } => {
                            let Some((raw, p)) = &parsed else { continue };
                            out.extend_from_slice(section_key(item).as_bytes());
                            out.push(b' ');
                            let data = if *binary {
                                match binary_bytes(raw, p, &section.part) {
                                    Ok(d) => Some(d),
                                    Err(_) => {
                                        out.truncate(item_start);
                                        unknown_cte = true;
                                        break;
                                    }
                                }
                            } else {
                                section_bytes(raw, p, &section.part, section.kind, &section.fields)
                            };
                            match data {
                                // A part that does not exist is empty (as Dovecot answers).
                                None => out.extend_from_slice(b"\"\""),
                                Some(d) => {
                                    let d = match partial {
                                        Some((origin, len)) => {
                                            let start = (*origin as usize).min(d.len());
                                            let end = start.saturating_add(*len as usize).min(d.len());
                                            d[start..end].to_vec()
                                        }
                                        None => d,
                                    };
                                    push_literal(&mut out, &d, *binary);
                                }
                            }
                        }
                        FetchItem::BinarySize(part) => {
                            let Some((raw, p)) = &parsed else { continue };
                            let Ok(data) = binary_bytes(raw, p, part) else {
                                out.truncate(item_start);
                                unknown_cte = true;
                                break;
                            };
                            let key: Vec<String> = part.iter().map(u32::to_string).collect();
                            out.extend_from_slice(
                                format!("BINARY.SIZE[{}] {}", key.join("."), data.len()).as_bytes(),
                            );
                        }
                    }
                }
                if !(unknown_cte && out.ends_with(b"FETCH (")) {
                    out.extend_from_slice(b")\r\n");
                    self.conn.write_raw(&out);
                }
                if unknown_cte {
                    self.tagged(tag, "NO", "[UNKNOWN-CTE] Cannot decode this part");
                    pending.iter().for_each(JoinHandle::abort);
                    return;
                }
            }
            if self.conn.pending_output() > 128 * 1024 && self.conn.flush().await.is_err() {
                pending.iter().for_each(JoinHandle::abort);
                return;
            }
        }
        // Flag changes made here (\Seen) were reported in the responses.
        if sets_seen && let Some(sel) = &mut self.sel {
            let st = folder.state().await;
            if reported >= st.highestmodseq {
                sel.modseq = st.highestmodseq;
            }
        }
        self.tagged(tag, "OK", "FETCH completed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(internal_date(0), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(internal_date(1_795_348_800), "22-Nov-2026 12:00:00 +0000");
        assert_eq!(internal_date(951_782_400), "29-Feb-2000 00:00:00 +0000");
    }
}
