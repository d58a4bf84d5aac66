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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
