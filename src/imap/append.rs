//! APPEND (RFC 9051 §6.3.12) with UIDPLUS's APPENDUID, MULTIAPPEND (RFC 3502: several
//! messages, all stored or none) and CATENATE (RFC 4469: a message made of text and of
//! messages or parts of messages already on the server, named by IMAP URLs).

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tracing::warn;

use super::command::{AppendContent, AppendMessage, CatPart};
use super::mime::Part;
use super::section::section_bytes;
use super::session::{Session, index_error};
use super::write::compress;
use super::{parse, transfer, url};
use crate::mailbox::index::{Flags, Folder};

/// Why an APPEND is refused (the tagged response).
struct Refusal(&'static str, String);

impl<IO: AsyncRead + AsyncWrite + Unpin> Session<IO> {
    pub(super) async fn append(&mut self, tag: &str, mailbox: &str, messages: Vec<AppendMessage>) {
        let name = self.decode_name(mailbox).unwrap_or_else(|| mailbox.to_owned());
        // The destination first (TRYCREATE before any URL problem), then everything is built
        // and checked before anything is stored.
        let Some(folder) = self.target(tag, &name).await else {
            return;
        };
        let mut built: Vec<(Vec<u8>, Flags, Option<i64>)> = Vec::with_capacity(messages.len());
        for m in messages {
            match self.build(m).await {
                Ok(b) => built.push(b),
                Err(Refusal(status, text)) => {
                    self.tagged(tag, status, &text);
                    return;
                }
            }
        }
        let total: u64 = built.iter().map(|b| b.0.len() as u64).sum();
        if let Some(info) = self.svc.routing.get().mailbox(self.account())
            && let Some(q) = info.quota
            && self.svc.store.usage(&info.maildir) + total > q
        {
            self.tagged(tag, "NO", "[OVERQUOTA] Quota exceeded");
            return;
        }
        let mut uids = Vec::with_capacity(built.len());
        for (data, flags, date) in built {
            match folder.append(data, flags, date, &self.svc.index.host).await {
                Ok(uid) => uids.push(uid),
                Err(e) => {
                    // RFC 3502 §6.3.11: all or nothing.
                    if let Err(e) = folder.remove(&uids).await {
                        warn!(error = %e, "MULTIAPPEND failed and could not take back what it stored");
                    }
                    self.tagged(tag, "NO", &index_error(&e));
                    return;
                }
            }
        }
        if let Some(info) = self.svc.routing.get().mailbox(self.account()) {
            self.svc.store.add_usage(&info.maildir, total);
        }
        let uidvalidity = folder.state().await.uidvalidity;
        self.refresh(false).await;
        self.tagged(
            tag,
            "OK",
            &format!("[APPENDUID {uidvalidity} {}] APPEND completed", compress(&uids)),
        );
    }

    /// One message of an APPEND, as it will be stored.
    async fn build(&mut self, m: AppendMessage) -> Result<(Vec<u8>, Flags, Option<i64>), Refusal> {
        let Some(flags) = Flags::parse(m.flags.iter().map(String::as_str)) else {
            return Err(Refusal("BAD", "Invalid flag".into()));
        };
        let limit = self.svc.limits.message_size_bytes;
        let data = match m.content {
            AppendContent::Literal { data, binary } => {
                if data.len() as u64 > limit {
                    return Err(Refusal("NO", "[TOOBIG] Message too large".into()));
                }
                stored_form(data, binary)
            }
            AppendContent::Catenate(parts) => {
                let mut data = Vec::new();
                for p in parts {
                    match p {
                        CatPart::Text(t) => data.extend_from_slice(&t),
                        CatPart::Url(u) => {
                            let bytes = self.url_bytes(&u).await.ok_or_else(|| {
                                // `url-resp-text`: the URL as sent, without "]" or line ends.
                                let text: String =
                                    u.chars().filter(|c| !matches!(c, ']' | '\r' | '\n')).collect();
                                Refusal("NO", format!("[BADURL {text}] The URL names no message here"))
                            })?;
                            data.extend_from_slice(&bytes);
                        }
                    }
                    if data.len() as u64 > limit {
                        return Err(Refusal("NO", "[TOOBIG] Message too large".into()));
                    }
                }
                crlf(data)
            }
        };
        if data.len() as u64 > limit {
            return Err(Refusal("NO", "[TOOBIG] Message too large".into()));
        }
        Ok((data, flags, m.date))
    }

    /// The bytes an IMAP URL names in this account (RFC 4469 §3): a whole message, a section
    /// of it, a range of that; `None` when it names nothing here.
    async fn url_bytes(&mut self, u: &str) -> Option<Vec<u8>> {
        let u = url::parse(u)?;
        let folder: Arc<Folder> = match &u.mailbox {
            Some(name) => {
                let f = self.svc.index.open(self.account(), name).await.ok()?;
                f.sync().await.ok()?;
                f
            }
            None => self.sel.as_ref()?.folder.clone(),
        };
        if let Some(v) = u.uidvalidity
            && v != folder.state().await.uidvalidity
        {
            return None;
        }
        let raw = folder.read(u.uid).await.ok()?;
        let bytes = match &u.section {
            None => raw,
            Some(s) => {
                let section = parse::url_section(s).ok()?;
                let msg = Part::message(&raw);
                section_bytes(&raw, &msg, &section.part, section.kind, &section.fields)?
            }
        };
        Some(match u.partial {
            None => bytes,
            Some((offset, length)) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
                let end = match length {
                    Some(l) => start
                        .saturating_add(usize::try_from(l).unwrap_or(usize::MAX))
                        .min(bytes.len()),
                    None => bytes.len(),
                };
                bytes[start..end].to_vec()
            }
        })
    }
}

/// What is stored of an APPEND (as Dovecot stores it): binary parts of a literal8 as base64
/// ([`transfer::binary_to_base64`]), so their bytes come back exactly from `BINARY[...]`;
/// then every line end as CRLF, so sizes and sections are what IMAP clients expect
/// (RFC 5322 §2.3: a bare LF is not a line end a message may have).
fn stored_form(data: Vec<u8>, binary: bool) -> Vec<u8> {
    let data = if binary {
        transfer::binary_to_base64(data)
    } else {
        data
    };
    crlf(data)
}

/// Turns bare LF line ends into CRLF (data from APPEND).
fn crlf(data: Vec<u8>) -> Vec<u8> {
    let bare = data
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\n' && (i == 0 || data[i - 1] != b'\r'));
    if !bare {
        return data;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    for (i, b) in data.iter().enumerate() {
        if *b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_data_gets_crlf() {
        assert_eq!(crlf(b"a\nb\r\nc\n".to_vec()), b"a\r\nb\r\nc\r\n");
        assert_eq!(crlf(b"\n".to_vec()), b"\r\n");
        assert_eq!(crlf(b"x\r\n".to_vec()), b"x\r\n");
    }

    /// imaptest append-binary: the binary part of a literal8 keeps its bytes (no LF turned
    /// into CRLF, NUL kept) behind base64; a plain literal is only made CRLF.
    #[test]
    fn literal8_binary_part_is_kept_exactly() {
        let msg = b"From: user@domain.org\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\0-\xe4\n\r\n\n";
        let stored = stored_form(msg.to_vec(), true);
        assert_eq!(
            stored,
            b"From: user@domain.org\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAC3kCg0KCg=="
        );
        let p = Part::message(&stored);
        let part = p.find(&[1]).unwrap();
        assert_eq!(transfer::decode_body(part, &stored).unwrap(), b"\0-\xe4\n\r\n\n");
        assert_eq!(stored_form(msg.to_vec(), false), crlf(msg.to_vec()));
    }
}
