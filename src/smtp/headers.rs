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
