//! Trace headers added at delivery: `Return-Path` (RFC 5321 §4.4) and `Received`, with an
//! RFC 5322 date, and the protocol keyword of RFC 3848 (`ESMTPSA` and friends).

use std::time::{SystemTime, UNIX_EPOCH};

/// An RFC 5322 date in UTC: `Sun, 22 Nov 2026 11:32:47 +0000`.
pub fn rfc5322_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let (year, month, day) = crate::time::civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    format!(
        "{weekday}, {day} {} {year} {h:02}:{m:02}:{s:02} +0000",
        MONTHS[(month - 1) as usize]
    )
}

/// The RFC 3848 `with` keyword.
pub fn protocol(esmtp: bool, tls: bool, auth: bool) -> &'static str {
    match (esmtp, tls, auth) {
        (false, _, _) => "SMTP",
        (true, false, false) => "ESMTP",
        (true, true, false) => "ESMTPS",
        (true, false, true) => "ESMTPA",
        (true, true, true) => "ESMTPSA",
    }
}

/// Header fields a sender could forge to pass for this server's verdicts: the
/// `Authentication-Results` fields naming `host` as their authserv-id (RFC 8601 §5 asks a
/// receiver to delete them) and, when `scanning`, the spam and virus fields yubin adds. Returns
/// the message without them, or `None` when there was nothing to remove.
pub fn strip_forged(message: &[u8], host: &str, scanning: bool) -> Option<Vec<u8>> {
    const OURS: [&str; 4] = ["x-spam-status", "x-spam", "x-virus", "x-virus-scan"];
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |p| p + 2);
    let head = &message[..end];
    // Field boundaries: a line that does not start with white space starts a field.
    let mut starts: Vec<usize> = vec![0];
    for (i, w) in head.windows(3).enumerate() {
        if w[0] == b'\r' && w[1] == b'\n' && w[2] != b' ' && w[2] != b'\t' {
            starts.push(i + 2);
        }
    }
    starts.push(end);
    starts.dedup();
    let mut out: Option<Vec<u8>> = None;
    for (n, pair) in starts.windows(2).enumerate() {
        let field = &message[pair[0]..pair[1]];
        // Every message passes here: compare names as bytes, decode nothing else.
        let forged = field.iter().position(|&b| b == b':').is_some_and(|colon| {
            let name = field[..colon].trim_ascii();
            if name.eq_ignore_ascii_case(b"authentication-results") {
                let value = field[colon + 1..].trim_ascii_start();
                let id_len = value
                    .iter()
                    .position(|&b| b == b';' || b == b'(' || b.is_ascii_whitespace())
                    .unwrap_or(value.len());
                value[..id_len].eq_ignore_ascii_case(host.as_bytes())
            } else {
                scanning && OURS.iter().any(|o| name.eq_ignore_ascii_case(o.as_bytes()))
            }
        });
        match (&mut out, forged) {
            (None, true) => {
                let mut v = Vec::with_capacity(message.len());
                v.extend_from_slice(&message[..starts[n]]);
                out = Some(v);
            }
            (Some(v), false) => v.extend_from_slice(field),
            _ => {}
        }
    }
    let mut v = out?;
    v.extend_from_slice(&message[end..]);
    Some(v)
}

fn clean(s: &str) -> String {
    // Header text must not break the header structure.
    s.chars()
        .map(|c| {
            if c.is_control() || c == '(' || c == ')' || c == ';' {
                '_'
            } else {
                c
            }
        })
        .take(255)
        .collect()
}

/// Everything a Received header says.
#[derive(Debug)]
pub struct Trace<'a> {
    /// What the client said in EHLO/HELO.
    pub helo: &'a str,
    /// The client's IP.
    pub ip: std::net::IpAddr,
    /// This server.
    pub host: &'a str,
    /// `ESMTPS` etc.
    pub protocol: &'static str,
    /// TLS version and cipher, when encrypted.
    pub tls: Option<String>,
    /// The message id.
    pub id: &'a str,
    /// The recipient, when there is exactly one.
    pub for_rcpt: Option<&'a str>,
    /// When.
    pub date: String,
}

/// `Received: from helo ([ip]) by host (yubin) with ESMTPS id X for <r>; date` (RFC 5321 §4.4).
pub fn received(t: &Trace<'_>) -> String {
    let mut s = format!(
        "Received: from {} ([{}])\r\n\tby {} (yubin)",
        clean(t.helo),
        t.ip,
        t.host
    );
    if let Some(tls) = &t.tls {
        s.push_str(&format!("\r\n\t(using {})", clean(tls)));
    }
    s.push_str(&format!("\r\n\twith {} id {}", t.protocol, t.id));
    if let Some(r) = t.for_rcpt {
        s.push_str(&format!("\r\n\tfor <{}>", clean(r)));
    }
    s.push_str(&format!(";\r\n\t{}\r\n", t.date));
    s
}

/// `Return-Path: <sender>` (empty for bounces).
pub fn return_path(sender: &str) -> String {
    format!("Return-Path: <{}>\r\n", clean(sender))
}

/// Fields a message may have at most once (RFC 5322 §3.6, the table's "max number" column).
const AT_MOST_ONCE: &[&str] = &[
    "Date",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Subject",
];

/// Why a submitted message's header is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// A field RFC 5322 §3.6 allows once appears more than once (readers would show one of
    /// them, checks may look at another: `From: alice` then `From: bob`).
    Repeated(&'static str),
    /// A From: address without a domain (`From: alice`, `From: <>`), or a From: field with no
    /// address at all.
    FromWithoutDomain,
}

/// The From: addresses of a submitted message, once its header is sound: every field of
/// [`AT_MOST_ONCE`] at most once, and every From: address with a local part and a domain.
/// A message without a From: field gives an empty list.
pub fn submitted_from(message: &[u8]) -> Result<Vec<String>, HeaderProblem> {
    let Some(parsed) = mail_parser::MessageParser::default().parse_headers(message) else {
        return Ok(Vec::new());
    };
    let mut seen = [0usize; AT_MOST_ONCE.len()];
    let mut from = Vec::new();
    for h in parsed.headers() {
        let name = match &h.name {
            mail_parser::HeaderName::Other(n) => n.as_ref(),
            n => n.as_static_str(),
        };
        if let Some(i) = AT_MOST_ONCE.iter().position(|f| f.eq_ignore_ascii_case(name)) {
            seen[i] += 1;
            if seen[i] > 1 {
                return Err(HeaderProblem::Repeated(AT_MOST_ONCE[i]));
            }
        }
        if !name.eq_ignore_ascii_case("From") {
            continue;
        }
        let addrs: Vec<&str> = match &h.value {
            mail_parser::HeaderValue::Address(a) => a.iter().filter_map(|a| a.address()).collect(),
            _ => Vec::new(),
        };
        if addrs.is_empty() {
            return Err(HeaderProblem::FromWithoutDomain);
        }
        for a in addrs {
            match a.rsplit_once('@') {
                Some((local, domain)) if !local.is_empty() && !domain.is_empty() => from.push(a.to_owned()),
                _ => return Err(HeaderProblem::FromWithoutDomain),
            }
        }
    }
    Ok(from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn submitted_headers() {
        let ok = b"From: Bob <bob@example.test>\r\nTo: a@example.test\r\nSubject: x\r\n\r\nbody\r\n";
        assert_eq!(submitted_from(ok), Ok(vec!["bob@example.test".to_owned()]));
        assert_eq!(submitted_from(b"Subject: x\r\n\r\nno from\r\n"), Ok(vec![]));
        // Issue 10, case 12: a second From: after the spoofed one.
        let two = b"From: alice@example.test\r\nFrom: bob@example.test\r\nSubject: x\r\n\r\nb\r\n";
        assert_eq!(submitted_from(two), Err(HeaderProblem::Repeated("From")));
        for field in ["Sender", "To", "Subject", "Reply-To", "Message-ID", "Date"] {
            let m = format!(
                "From: bob@example.test\r\n{field}: x\r\n{}: y\r\n\r\nb\r\n",
                field.to_lowercase()
            );
            assert_eq!(
                submitted_from(m.as_bytes()),
                Err(HeaderProblem::Repeated(
                    AT_MOST_ONCE.iter().find(|f| **f == field).unwrap()
                )),
                "{field}"
            );
        }
        // Fields allowed many times stay allowed.
        let many = b"From: bob@example.test\r\nReceived: a\r\nReceived: b\r\nComments: c\r\nComments: d\r\n\r\nb\r\n";
        assert!(submitted_from(many).is_ok());
        for bad in [
            "From: alice",
            "From: <>",
            "From: Alice <alice>",
            "From: @example.test",
            "From: alice@",
        ] {
            let m = format!("{bad}\r\nSubject: x\r\n\r\nb\r\n");
            assert_eq!(
                submitted_from(m.as_bytes()),
                Err(HeaderProblem::FromWithoutDomain),
                "{bad}"
            );
        }
        // A group's members count as its addresses.
        let group = b"From: team: bob@example.test, carol@example.test;\r\n\r\nb\r\n";
        assert_eq!(submitted_from(group).map(|v| v.len()), Ok(2));
    }

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(UNIX_EPOCH + Duration::from_secs(1_795_347_167)),
            "Sun, 22 Nov 2026 11:32:47 +0000"
        );
        assert_eq!(
            rfc5322_date(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
    }

    #[test]
    fn forged_verdicts_are_removed() {
        let m = b"Authentication-Results: mx.example.com;\r\n\tdkim=pass\r\nSubject: hi\r\n\
                  Authentication-Results: other.example; spf=fail\r\nX-Spam-Status: No\r\n\
                  authentication-results: MX.EXAMPLE.COM (forged); dmarc=pass\r\n\r\nbody\r\n\
                  Authentication-Results: mx.example.com; in the body\r\n";
        let out = String::from_utf8(strip_forged(m, "mx.example.com", true).unwrap()).unwrap();
        assert_eq!(
            out,
            "Subject: hi\r\nAuthentication-Results: other.example; spf=fail\r\n\r\nbody\r\n\
             Authentication-Results: mx.example.com; in the body\r\n"
        );
        let kept = strip_forged(b"X-Spam-Status: No\r\n\r\nb\r\n", "mx.example.com", false);
        assert!(kept.is_none());
        assert!(strip_forged(b"Subject: x\r\n\r\nb", "mx.example.com", true).is_none());
        assert!(strip_forged(b"", "mx.example.com", true).is_none());
    }

    #[test]
    fn received_is_folded_and_clean() {
        let r = received(&Trace {
            helo: "evil\r\nX-Injected: 1",
            ip: "192.0.2.1".parse().unwrap(),
            host: "mx.example.com",
            protocol: protocol(true, true, false),
            tls: None,
            id: "ABC",
            for_rcpt: Some("a@example.com"),
            date: "D".into(),
        });
        assert!(!r.contains("\r\nX-Injected"));
        assert!(r.starts_with("Received: from evil__X-Injected: 1 ([192.0.2.1])"));
        assert!(r.ends_with(";\r\n\tD\r\n"));
    }
}
