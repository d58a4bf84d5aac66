//! The selected state: SELECT/EXAMINE, the untagged updates that keep a session's view of its
//! folder in step (EXISTS, EXPUNGE, FETCH FLAGS; RFC 9051 §7.5.1 says when), sequence sets,
//! IDLE (RFC 2177) and EXPUNGE.

use std::collections::BTreeSet;

use tokio::io::{AsyncRead, AsyncWrite};
use tracing::warn;

use super::parse::{Qresync, SeqSet};
use super::session::{AUTH_TIMEOUT, Flow, MAX_LINE, Selected, Session, index_error};
use super::write::compress;
use crate::mailbox::index::{Flags, Folder, Msg, SEEN};

/// The FLAGS and PERMANENTFLAGS responses for a folder with `keywords` (RFC 9051 §7.3.5,
/// §7.1): any keyword may be created (`\*`) unless the folder is read-only.
fn flags_responses(keywords: &[String], read_only: bool) -> [String; 2] {
    let mut flags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft".to_owned();
    for k in keywords {
        flags.push(' ');
        flags.push_str(k);
    }
    let perm = if read_only {
        "()".to_owned()
    } else {
        format!("({flags} \\*)")
    };
    [
        format!("FLAGS ({flags})"),
        format!("OK [PERMANENTFLAGS {perm}] Limited"),
    ]
}
use crate::smtp::conn::{Line, ReadError};

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    pub(super) async fn select(
        &mut self,
        tag: &str,
        mailbox: &str,
        read_only: bool,
        condstore: bool,
        qresync: Option<Qresync>,
    ) {
        // RFC 9051 §7.1, RFC 7162 §3.2.11: the client learns that the previous mailbox is
        // closed before any response about the new one.
        if self.sel.take().is_some() && (self.rev2 || self.qresync) {
            self.untagged("OK [CLOSED] Previous mailbox closed");
        }
        if condstore {
            self.condstore = true;
        }
        let name = self.decode_name(mailbox).unwrap_or_else(|| mailbox.to_owned());
        // The folder's stored SORT/THREAD summaries load while the SELECT runs.
        if let Ok(f) = self.svc.index.open(self.account(), &name).await {
            f.preload_summaries();
        }
        let folder = match self.open(&name).await {
            Ok(f) => f,
            Err(e) => {
                self.tagged(tag, "NO", &index_error(&e));
                return;
            }
        };
        // \Recent is for IMAP4rev1 clients: the first read-write session to select the folder
        // takes the new messages; EXAMINE only looks (RFC 3501 §2.3.2, §6.3.2).
        let recent: BTreeSet<u32> = if self.rev2 {
            BTreeSet::new()
        } else if read_only {
            folder.unclaimed_recent().await.into_iter().collect()
        } else {
            match folder.claim_recent().await {
                Ok(r) => r.into_iter().collect(),
                Err(e) => {
                    warn!(error = %e, "cannot record \\Recent");
                    BTreeSet::new()
                }
            }
        };
        let watch = folder.watch();
        let (uids, uidvalidity, uidnext, modseq, keywords, first_unseen) = {
            let st = folder.state().await;
            let mut kw: Vec<String> = Vec::new();
            for m in &st.msgs {
                for k in &m.flags.keywords {
                    if !kw.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                        kw.push(k.clone());
                    }
                }
            }
            let unseen = st
                .msgs
                .iter()
                .position(|m| m.flags.system & SEEN == 0)
                .map(|i| i + 1);
            (
                st.msgs.iter().map(|m| m.uid).collect::<Vec<_>>(),
                st.uidvalidity,
                st.uidnext,
                st.highestmodseq,
                kw,
                unseen,
            )
        };
        self.untagged(&format!("{} EXISTS", uids.len()));
        // Claimed before the view was taken: one expunged in between is not in it.
        let recent: BTreeSet<u32> = recent
            .into_iter()
            .filter(|u| uids.binary_search(u).is_ok())
            .collect();
        if !self.rev2 {
            self.untagged(&format!("{} RECENT", recent.len()));
            if let Some(u) = first_unseen {
                self.untagged(&format!("OK [UNSEEN {u}] First unseen"));
            }
        }
        for line in flags_responses(&keywords, read_only) {
            self.untagged(&line);
        }
        self.untagged(&format!("OK [UIDVALIDITY {uidvalidity}] UIDs valid"));
        self.untagged(&format!("OK [UIDNEXT {uidnext}] Predicted next UID"));
        self.untagged(&format!("OK [HIGHESTMODSEQ {modseq}] Highest"));
        if self.rev2 {
            let enc = self.encode_name(&folder.name);
            self.untagged(&format!("LIST () \".\" {enc}"));
        }
        let resync = match &qresync {
            Some(q) if q.uidvalidity == uidvalidity => Some(folder.clone()),
            _ => None,
        };
        self.sel = Some(Selected {
            folder,
            read_only,
            uids,
            modseq,
            watch,
            recent,
            keywords,
            contexts: Vec::new(),
        });
        if let (Some(folder), Some(q)) = (resync, &qresync) {
            self.resync(&folder, q).await;
        }
        let rw = if read_only { "[READ-ONLY]" } else { "[READ-WRITE]" };
        self.tagged(
            tag,
            "OK",
            &format!("{rw} {} completed", if read_only { "EXAMINE" } else { "SELECT" }),
        );
    }

    /// QRESYNC at SELECT (RFC 7162 §3.2.5.2): what the client lost since its MODSEQ
    /// (VANISHED (EARLIER)) and what changed (FETCH with UID, FLAGS and MODSEQ), within the UIDs
    /// it says it knows.
    async fn resync(&mut self, folder: &Folder, q: &Qresync) {
        let known = |u: u32| q.known_uids.as_ref().is_none_or(|k| k.contains(u, u32::MAX));
        match folder.vanished_since(q.modseq).await {
            Ok(gone) => {
                let gone: Vec<u32> = gone.into_iter().filter(|u| known(*u)).collect();
                if !gone.is_empty() {
                    self.untagged(&format!("VANISHED (EARLIER) {}", compress(&gone)));
                }
            }
            Err(e) => warn!(error = %e, "cannot read expunged UIDs"),
        }
        let changed: Vec<(usize, Msg)> = {
            let st = folder.state().await;
            st.msgs
                .iter()
                .enumerate()
                .filter(|(_, m)| m.modseq > q.modseq && known(m.uid))
                .map(|(i, m)| (i + 1, m.clone()))
                .collect()
        };
        for (seq, m) in changed {
            let line = format!(
                "{seq} FETCH (UID {} FLAGS ({}) MODSEQ ({}))",
                m.uid,
                self.flag_list(&m),
                m.modseq
            );
            self.untagged(&line);
        }
    }

    /// `VANISHED (EARLIER)` for the UIDs of `set` expunged after `since` (UID FETCH with the
    /// VANISHED modifier, RFC 7162 §3.2.6).
    pub(super) async fn vanished_earlier(&mut self, set: &SeqSet, since: u64) {
        let Some(sel) = &self.sel else { return };
        let folder = sel.folder.clone();
        match folder.vanished_since(since).await {
            Ok(gone) => {
                // `*` reaches past the last message still there: expunged UIDs may be higher.
                let gone: Vec<u32> = gone.into_iter().filter(|u| set.contains(*u, u32::MAX)).collect();
                if !gone.is_empty() {
                    self.untagged(&format!("VANISHED (EARLIER) {}", compress(&gone)));
                }
            }
            Err(e) => warn!(error = %e, "cannot read expunged UIDs"),
        }
    }

    /// The flag list of a message as this session shows it: with `\Recent` for an IMAP4rev1
    /// session that holds the message as recent.
    pub(super) fn flag_list(&self, m: &Msg) -> String {
        self.flag_words(m.uid, &m.flags)
    }

    /// [`Session::flag_list`] for a UID and its flags.
    pub(super) fn flag_words(&self, uid: u32, flags: &Flags) -> String {
        let mut words = flags.words();
        if !self.rev2 && self.sel.as_ref().is_some_and(|s| s.recent.contains(&uid)) {
            words.insert(0, "\\Recent");
        }
        words.join(" ")
    }

    /// Announces keywords the session has not seen yet (FLAGS and PERMANENTFLAGS), before a
    /// FETCH response shows them: a client must learn of a keyword from FLAGS first (RFC 9051
    /// §7.3.5; imaptest: "Keyword used without being in FLAGS").
    pub(super) fn announce_keywords<'a>(&mut self, flags: impl IntoIterator<Item = &'a Flags>) {
        let Some(sel) = &mut self.sel else { return };
        let mut new = false;
        for f in flags {
            for k in &f.keywords {
                if !sel.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                    sel.keywords.push(k.clone());
                    new = true;
                }
            }
        }
        if new {
            let lines = flags_responses(&sel.keywords, sel.read_only);
            for line in lines {
                self.untagged(&line);
            }
        }
    }

    /// Turns CONDSTORE on for the session (RFC 7162 §3.1): a command that uses it enables it,
    /// and with a folder selected the client learns HIGHESTMODSEQ at once.
    pub(super) async fn enable_condstore(&mut self) {
        if self.condstore {
            return;
        }
        self.condstore = true;
        if let Some(sel) = &self.sel {
            let modseq = sel.folder.state().await.highestmodseq;
            self.untagged(&format!("OK [HIGHESTMODSEQ {modseq}] Highest"));
        }
    }

    /// Reports changes of the selected folder since the last report. EXPUNGE responses only
    /// when `expunges` is true (not during FETCH, STORE and SEARCH by sequence number).
    pub(super) async fn refresh(&mut self, expunges: bool) {
        let Some(sel) = &self.sel else { return };
        let folder = sel.folder.clone();
        if let Err(e) = folder.sync().await {
            warn!(error = %e, "cannot sync the folder");
        }
        let mut expunged = Vec::new();
        let mut vanished = Vec::new();
        let mut changed: Vec<(usize, Msg)> = Vec::new();
        let (exists, grew) = {
            let st = folder.state().await;
            let Some(sel) = &mut self.sel else { return };
            if expunges {
                let mut i = sel.uids.len();
                while i > 0 {
                    i -= 1;
                    if st.position(sel.uids[i]).is_none() {
                        expunged.push(i + 1);
                        vanished.push(sel.uids[i]);
                        sel.recent.remove(&sel.uids[i]);
                        sel.uids.remove(i);
                    }
                }
            }
            let max = sel.uids.last().copied().unwrap_or(0);
            let before = sel.uids.len();
            for m in st.msgs.iter().filter(|m| m.uid > max) {
                sel.uids.push(m.uid);
            }
            if st.highestmodseq > sel.modseq {
                for (i, uid) in sel.uids.iter().enumerate() {
                    if let Some(p) = st.position(*uid) {
                        let m = &st.msgs[p];
                        if m.modseq > sel.modseq && m.uid <= max {
                            changed.push((i + 1, m.clone()));
                        }
                    }
                }
                sel.modseq = st.highestmodseq;
            }
            (sel.uids.len(), sel.uids.len() != before)
        };
        if !vanished.is_empty() {
            // RFC 5267 §4.3.1: search updates before the numbers they use change.
            let gone: Vec<(u32, u32)> = expunged
                .iter()
                .map(|&n| n as u32)
                .zip(vanished.iter().copied())
                .collect();
            self.contexts_expunged(&gone);
        }
        if self.qresync {
            // RFC 7162 §3.2.10: VANISHED instead of EXPUNGE once QRESYNC is on.
            if !vanished.is_empty() {
                self.untagged(&format!("VANISHED {}", compress(&vanished)));
            }
        } else {
            for n in expunged {
                self.untagged(&format!("{n} EXPUNGE"));
            }
        }
        if grew {
            self.untagged(&format!("{exists} EXISTS"));
            if !self.rev2 {
                self.take_recent(&folder).await;
            }
        }
        self.announce_keywords(changed.iter().map(|(_, m)| &m.flags));
        for (seq, m) in &changed {
            let mut l = format!("{seq} FETCH (FLAGS ({})", self.flag_list(m));
            if self.condstore {
                l.push_str(&format!(" MODSEQ ({})", m.modseq));
            }
            l.push(')');
            self.untagged(&l);
        }
        self.update_contexts().await;
    }

    /// New messages arrived: a read-write IMAP4rev1 session takes those no other session has
    /// taken as \Recent, and says how many it holds.
    async fn take_recent(&mut self, folder: &Folder) {
        let Some(sel) = &self.sel else { return };
        // Only messages this session's view holds: one that arrived after it was taken is
        // not known to the client yet (imaptest's stress run caught `5 RECENT` with 1 EXISTS).
        let max = sel.uids.last().copied().unwrap_or(0);
        let news: Vec<u32> = if sel.read_only {
            folder
                .unclaimed_recent()
                .await
                .into_iter()
                .filter(|u| *u <= max)
                .collect()
        } else {
            folder.claim_recent_up_to(max).await.unwrap_or_default()
        };
        let Some(sel) = &mut self.sel else { return };
        sel.recent.extend(news);
        let uids = &sel.uids;
        sel.recent.retain(|u| uids.binary_search(u).is_ok());
        let n = sel.recent.len();
        self.untagged(&format!("{n} RECENT"));
    }

    /// (sequence number, UID) pairs of a set, in order; `None` when a sequence number is
    /// beyond the mailbox.
    pub(super) fn resolve(&self, set: &SeqSet, uid: bool) -> Option<Vec<(u32, u32)>> {
        let sel = self.sel.as_ref()?;
        let n = sel.uids.len() as u32;
        if uid {
            let max = sel.uids.last().copied().unwrap_or(0);
            return Some(
                sel.uids
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| set.contains(**u, max))
                    .map(|(i, u)| (i as u32 + 1, *u))
                    .collect(),
            );
        }
        // A number beyond the mailbox is an error, but a range with `*` is not: `1:*` of an
        // empty mailbox is simply empty (clients send it to resynchronise).
        if set
            .0
            .iter()
            .any(|&(a, b)| a != SeqSet::STAR && b != SeqSet::STAR && a.max(b) > n)
        {
            return None;
        }
        Some(
            (1..=n)
                .filter(|s| set.contains(*s, n))
                .map(|s| (s, sel.uids[s as usize - 1]))
                .collect(),
        )
    }

    pub(super) async fn idle(&mut self, tag: &str) -> Flow {
        self.conn.write_raw(b"+ idling\r\n");
        self.refresh(true).await;
        loop {
            let _ = self.conn.flush().await;
            self.conn.shrink();
            let mut watch = self.sel.as_ref().map(|s| s.watch.clone());
            enum Ev {
                Line(Result<Line, ReadError>),
                Changed,
                Wake(Option<super::notify::Wake>),
            }
            let ev = {
                let changed = async {
                    match &mut watch {
                        Some(w) => {
                            let _ = w.changed().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                // NOTIFY events for other mailboxes arrive during IDLE too (RFC 5465 §4).
                let notifier = &mut self.notifier;
                let wake = async {
                    match notifier {
                        Some(n) => n.rx.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    l = self.conn.read_line(MAX_LINE, AUTH_TIMEOUT) => Ev::Line(l),
                    _ = changed => Ev::Changed,
                    w = wake => Ev::Wake(w),
                }
            };
            match ev {
                Ev::Wake(Some(w)) => self.notify_wake(w).await,
                Ev::Wake(None) => self.notifier = None,
                Ev::Changed => {
                    if let (Some(sel), Some(w)) = (&mut self.sel, watch) {
                        sel.watch = w;
                    }
                    self.refresh(true).await;
                }
                Ev::Line(Ok(Line::Text(t))) if t.eq_ignore_ascii_case(b"DONE") => {
                    self.tagged(tag, "OK", "IDLE terminated");
                    return Flow::Continue;
                }
                Ev::Line(Ok(_)) => {
                    self.tagged(tag, "BAD", "Expected DONE");
                    return Flow::Continue;
                }
                Ev::Line(Err(ReadError::Shutdown)) => {
                    self.untagged("BYE [UNAVAILABLE] Server shutting down");
                    return Flow::Close;
                }
                Ev::Line(Err(_)) => return Flow::Close,
            }
        }
    }

    pub(super) async fn expunge(&mut self, tag: &str, set: Option<SeqSet>) {
        let Some(sel) = &self.sel else { return };
        if sel.read_only {
            self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        let only: Option<Vec<u32>> = set.map(|s| {
            self.resolve(&s, true)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, u)| u)
                .collect()
        });
        let folder = sel.folder.clone();
        match folder.expunge(only.as_deref()).await {
            Ok(gone) => {
                if !gone.is_empty() {
                    self.usage_changed();
                }
                self.refresh(true).await;
                self.tagged(tag, "OK", "EXPUNGE completed");
            }
            Err(e) => self.tagged(tag, "NO", &index_error(&e)),
        }
    }
}
