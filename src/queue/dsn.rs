//! Delivery status notifications (RFC 3464, RFC 3461): the bounce a sender receives when a
//! recipient failed for good.

use std::time::SystemTime;

use crate::smtp::headers::rfc5322_date;

/// A failed recipient for the report.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The recipient.
    pub recipient: String,
    /// RFC 3461 ORCPT, as received.
    pub orcpt: Option<String>,
    /// What happened (SMTP reply or local reason).
    pub diagnostic: String,
    /// The host that refused, when one did.
    pub remote_mta: Option<String>,
}

/// The enhanced status code in a diagnostic (`550 5.1.1 ...` → `5.1.1`), or a generic one.
fn status_of(diagnostic: &str) -> String {
    diagnostic
        .split_whitespace()
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && parts[0].len() == 1
                && (parts[0] == "5" || parts[0] == "4")
                && parts.iter().all(|p| p.parse::<u16>().is_ok())
        })
        .map(|s| {
            s.replace('4', "5")
                .chars()
                .take(1)
                .chain(s.chars().skip(1))
                .collect()
        })
        .unwrap_or_else(|| "5.0.0".to_owned())
}

fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Builds the bounce for `original` (queued from `sender` with id `id`).
#[allow(clippy::too_many_arguments)]
pub fn bounce(
    hostname: &str,
    id: &str,
    sender: &str,
    original: &[u8],
    failures: &[Failure],
    ret_full: bool,
    envid: Option<&str>,
    arrival: SystemTime,
) -> Vec<u8> {
    let now = SystemTime::now();
    let boundary = format!("{id}/{hostname}");
    let mut m = String::new();
    m.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n"
    ));
    m.push_str(&format!("To: <{}>\r\n", clean(sender)));
    m.push_str("Subject: Undelivered Mail Returned to Sender\r\n");
    m.push_str(&format!("Date: {}\r\n", rfc5322_date(now)));
    m.push_str(&format!("Message-ID: <{id}.bounce@{hostname}>\r\n"));
    m.push_str("Auto-Submitted: auto-replied\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str(&format!(
        "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\r\n"
    ));
    m.push_str("This is a MIME-encapsulated message.\r\n\r\n");
    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    ));
    m.push_str(&format!(
        "This is the mail system at {hostname}.\r\n\r\nYour message could not be delivered to one or more recipients.\r\nIt is attached below.\r\n\r\n"
    ));
    for f in failures {
        m.push_str(&format!(
            "<{}>: {}\r\n",
            clean(&f.recipient),
            clean(&f.diagnostic)
        ));
    }
    m.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
    ));
    m.push_str(&format!("Reporting-MTA: dns; {hostname}\r\n"));
    if let Some(e) = envid {
        m.push_str(&format!("Original-Envelope-Id: {}\r\n", clean(e)));
    }
    m.push_str(&format!(
        "X-Queue-ID: {id}\r\nArrival-Date: {}\r\n",
        rfc5322_date(arrival)
    ));
    for f in failures {
        m.push_str("\r\n");
        m.push_str(&format!("Final-Recipient: rfc822; {}\r\n", clean(&f.recipient)));
        if let Some(o) = &f.orcpt {
            m.push_str(&format!("Original-Recipient: {}\r\n", clean(o)));
        }
        m.push_str("Action: failed\r\n");
        m.push_str(&format!("Status: {}\r\n", status_of(&f.diagnostic)));
        if let Some(r) = &f.remote_mta {
            m.push_str(&format!("Remote-MTA: dns; {}\r\n", clean(r)));
        }
        m.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", clean(&f.diagnostic)));
        m.push_str(&format!("Last-Attempt-Date: {}\r\n", rfc5322_date(now)));
    }
    let mut out = m.into_bytes();
    let headers_end = original
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(original.len(), |p| p + 2);
    if ret_full {
        out.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n").as_bytes());
        out.extend_from_slice(original);
    } else {
        out.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(&original[..headers_end]);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_found_or_defaulted() {
        assert_eq!(status_of("550 5.1.1 No such user"), "5.1.1");
        assert_eq!(status_of("451 4.4.1 Timeout (expired)"), "5.4.1");
        assert_eq!(status_of("connection refused"), "5.0.0");
    }

    #[test]
    fn bounce_is_a_multipart_report() {
        let b = bounce(
            "mx.example.com",
            "ABC",
            "alice@example.com",
            b"Subject: hi\r\nFrom: alice@example.com\r\n\r\nbody\r\n",
            &[Failure {
                recipient: "bob@remote.example".into(),
                orcpt: None,
                diagnostic: "550 5.1.1 No such user".into(),
                remote_mta: Some("mx.remote.example".into()),
            }],
            false,
            None,
            SystemTime::now(),
        );
        let text = String::from_utf8(b).unwrap();
        assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status"));
        assert!(text.contains("Final-Recipient: rfc822; bob@remote.example"));
        assert!(text.contains("Status: 5.1.1"));
        assert!(text.contains("Subject: hi\r\n"));
        assert!(!text.contains("body\r\n"), "RET=HDRS: headers only");
        let parsed = mail_parser::MessageParser::default()
            .parse(text.as_bytes())
            .unwrap();
        assert_eq!(parsed.parts.len(), 4);
    }
}
