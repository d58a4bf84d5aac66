//! The Sender Rewriting Scheme for forwarded mail: when an alias sends a stranger's message
//! on to an external address, the envelope sender becomes an address at our domain, so SPF
//! at the destination checks our servers, not the stranger's; a bounce to that address comes
//! back here and is sent on to the original sender.
//!
//! ```text
//! srs-address = "SRS0=" hash "=" stamp "=" orig-domain "=" orig-local "@" forwarder-domain
//! hash        = 6 base32 characters of HMAC-SHA-256(key, stamp orig-domain "=" orig-local),
//!               over the lower-cased address
//! stamp       = 2 base32 characters: days since 1970 modulo 1024
//! ```
//!
//! The key is 32 random bytes in `<data>/srs.key` (0600), made on first start. A reverse
//! address is accepted for 21 days; the hash is compared without regard to case (some
//! servers lower-case local parts).

use std::io::{self, Read, Write};
use std::path::Path;

/// How long a rewritten address is accepted back, in days.
const VALID_DAYS: u32 = 21;
/// RFC 5321 §4.5.3.1.1: the longest local part.
const MAX_LOCAL: usize = 64;
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Why an SRS address is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SrsError {
    /// Not of the SRS0 form.
    #[error("not an SRS address")]
    Malformed,
    /// The hash does not match: forged, or made with another key.
    #[error("the SRS hash does not match")]
    BadHash,
    /// Older than the validity window.
    #[error("the SRS address has expired")]
    Expired,
}

/// The SRS key.
pub struct Srs {
    key: aws_lc_rs::hmac::Key,
}

impl std::fmt::Debug for Srs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Srs { key: <secret> }")
    }
}

fn days_now() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (secs / 86_400) as u32
}

impl Srs {
    /// A scheme with this key.
    pub fn new(key: &[u8; 32]) -> Srs {
        Srs {
            key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key),
        }
    }

    /// Reads `<data>/srs.key`, making it (0600) on first use.
    pub fn load_or_create(data_dir: &Path) -> io::Result<Srs> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = data_dir.join("srs.key");
        let mut key = [0u8; 32];
        match std::fs::File::open(&path) {
            Ok(mut f) => {
                f.read_exact(&mut key)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                aws_lc_rs::rand::fill(&mut key).map_err(|_| io::Error::other("no randomness"))?;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)?;
                f.write_all(&key)?;
                f.sync_all()?;
            }
            Err(e) => return Err(e),
        }
        Ok(Srs::new(&key))
    }

    fn hash(&self, stamp: &str, domain: &str, local: &str) -> String {
        // Over the lower-cased address: a server that lower-cases the SRS local part keeps
        // it valid.
        let data = format!("{stamp}{}={}", domain.to_ascii_lowercase(), local.to_lowercase());
        let tag = aws_lc_rs::hmac::sign(&self.key, data.as_bytes());
        base32(tag.as_ref()).chars().take(6).collect()
    }

    /// The rewritten sender for `sender` (`local@domain`) forwarded through `via` (one of our
    /// domains); `None` when the result would not fit in a local part, or `sender` has no
    /// domain.
    pub fn forward(&self, sender: &str, via: &str) -> Option<String> {
        self.forward_on(sender, via, days_now())
    }

    fn forward_on(&self, sender: &str, via: &str, day: u32) -> Option<String> {
        let (local, domain) = sender.rsplit_once('@')?;
        if local.is_empty() || domain.is_empty() {
            return None;
        }
        let stamp = stamp(day);
        let hash = self.hash(&stamp, domain, local);
        let rewritten = format!("SRS0={hash}={stamp}={domain}={local}");
        (rewritten.len() <= MAX_LOCAL).then(|| format!("{rewritten}@{via}"))
    }

    /// Whether `local` (a local part at one of our domains) is an SRS address at all.
    pub fn is_srs(local: &str) -> bool {
        local.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("SRS0="))
    }

    /// The original sender behind the local part of an SRS address.
    pub fn reverse(&self, local: &str) -> Result<String, SrsError> {
        self.reverse_on(local, days_now())
    }

    fn reverse_on(&self, local: &str, today: u32) -> Result<String, SrsError> {
        if !Self::is_srs(local) {
            return Err(SrsError::Malformed);
        }
        let rest = local.get(5..).ok_or(SrsError::Malformed)?;
        let mut parts = rest.splitn(4, '=');
        let (Some(hash), Some(stamp), Some(domain), Some(orig)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SrsError::Malformed);
        };
        if hash.len() != 6 || stamp.len() != 2 || domain.is_empty() || orig.is_empty() {
            return Err(SrsError::Malformed);
        }
        let stamp = stamp.to_ascii_lowercase();
        if !self.hash(&stamp, domain, orig).eq_ignore_ascii_case(hash) {
            return Err(SrsError::BadHash);
        }
        let made = unstamp(&stamp).ok_or(SrsError::Malformed)?;
        let age = (today % 1024 + 1024 - made) % 1024;
        if age > VALID_DAYS {
            return Err(SrsError::Expired);
        }
        Ok(format!("{orig}@{domain}"))
    }
}

fn stamp(day: u32) -> String {
    let d = day % 1024;
    let mut s = String::with_capacity(2);
    s.push(BASE32[(d >> 5) as usize] as char);
    s.push(BASE32[(d & 31) as usize] as char);
    s
}

fn unstamp(s: &str) -> Option<u32> {
    let pos = |c: u8| BASE32.iter().position(|b| *b == c).map(|p| p as u32);
    let b = s.as_bytes();
    Some(pos(*b.first()?)? << 5 | pos(*b.get(1)?)?)
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((acc >> bits) & 31) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srs() -> Srs {
        Srs::new(&[7u8; 32])
    }

    #[test]
    fn a_forwarded_sender_comes_back_as_it_was() {
        let s = srs();
        let a = s
            .forward_on("John.Doe@Sender.example", "example.com", 20_000)
            .expect("fits");
        assert!(
            a.starts_with("SRS0=") && a.ends_with("=Sender.example=John.Doe@example.com"),
            "{a}"
        );
        let local = a.rsplit_once('@').expect("at").0;
        assert_eq!(s.reverse_on(local, 20_005), Ok("John.Doe@Sender.example".into()));
        // Servers that lower-case local parts.
        assert_eq!(
            s.reverse_on(&local.to_ascii_lowercase(), 20_000),
            Ok("john.doe@sender.example".into())
        );
    }

    #[test]
    fn forged_expired_and_malformed_addresses_are_refused() {
        let s = srs();
        let a = s
            .forward_on("x@sender.example", "example.com", 20_000)
            .expect("fits");
        let local = a.rsplit_once('@').expect("at").0.to_owned();
        assert_eq!(s.reverse_on(&local, 20_000 + 22), Err(SrsError::Expired));
        assert_eq!(
            Srs::new(&[8u8; 32]).reverse_on(&local, 20_000),
            Err(SrsError::BadHash)
        );
        let forged = local.replace("=x", "=y");
        assert_eq!(s.reverse_on(&forged, 20_000), Err(SrsError::BadHash));
        for bad in ["SRS0=", "SRS0=abc=de=x", "srs1=aaaaaa=aa=d=l", "alice"] {
            assert!(s.reverse_on(bad, 20_000).is_err(), "{bad}");
        }
        // Across the 1024-day wrap of the stamp.
        let b = s
            .forward_on("x@sender.example", "example.com", 1023)
            .expect("fits");
        let local = b.rsplit_once('@').expect("at").0;
        assert!(s.reverse_on(local, 1025).is_ok());
    }

    #[test]
    fn a_sender_too_long_for_a_local_part_is_not_rewritten() {
        let long = format!("{}@sender.example", "a".repeat(50));
        assert_eq!(srs().forward_on(&long, "example.com", 1), None);
        assert_eq!(srs().forward_on("no-domain", "example.com", 1), None);
    }

    #[test]
    fn stamps_round_trip() {
        for d in [0, 1, 31, 32, 1023, 20_000] {
            assert_eq!(unstamp(&stamp(d)), Some(d % 1024));
        }
    }
}
