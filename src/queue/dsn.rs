//! Delivery status notifications (RFC 3464 reports, RFC 3461 DSN requests): what a sender
//! hears about a message. Failed recipients always (unless NOTIFY=NEVER or no FAILURE),
//! delayed ones once when NOTIFY asks for DELAY, and delivered or relayed ones when NOTIFY
//! asks for SUCCESS and no further server will report. One report covers recipients with the
//! same action.

use std::time::SystemTime;

use crate::smtp::headers::rfc5322_date;

/// What happened to a recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Given up: the message will not be delivered.
    Failed,
    /// Not delivered yet; still being retried.
    Delayed,
    /// Delivered into a mailbox here.
    Delivered,
    /// Passed to a server that does not send DSNs: the last report the sender gets.
    Relayed,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
        }
    }

    /// The RFC 3461 NOTIFY keyword that asks for this report.
    pub fn notify_keyword(self) -> &'static str {
        match self {
            Action::Failed => "FAILURE",
            Action::Delayed => "DELAY",
            Action::Delivered | Action::Relayed => "SUCCESS",
        }
    }

    /// Whether a recipient with `notify` (absent: the default, RFC 3461 §4.1) wants this
    /// report. The default asks for failures only; yubin sends no unrequested delay warnings.
    pub fn wanted(self, notify: Option<&str>) -> bool {
        match notify {
            None => self == Action::Failed,
            Some(n) => n
                .split(',')
                .any(|w| w.eq_ignore_ascii_case(self.notify_keyword())),
        }
    }
}

/// One recipient in a report.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The recipient.
    pub recipient: String,
    /// RFC 3461 ORCPT, as received.
    pub orcpt: Option<String>,
    /// What happened (an SMTP reply or a local reason).
    pub diagnostic: String,
    /// The host that answered, when one did.
    pub remote_mta: Option<String>,
}

/// A report about one message.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// This server's name.
    pub hostname: &'a str,
    /// The queue id of the message reported on.
    pub id: &'a str,
    /// Who gets the report: the message's envelope sender.
    pub sender: &'a str,
    /// The message as queued.
    pub original: &'a [u8],
    /// What happened to every recipient listed.
    pub action: Action,
    /// The recipients.
    pub entries: &'a [Entry],
    /// RET=FULL: the whole message is attached; otherwise its headers.
    pub ret_full: bool,
    /// RFC 3461 ENVID.
    pub envid: Option<&'a str>,
    /// When the message arrived.
    pub arrival: SystemTime,
    /// For delays: when the queue gives up (Will-Retry-Until, RFC 3464 §2.3.9).
    pub retry_until: Option<SystemTime>,
}

/// The RFC 3463 status for a recipient: the enhanced code in the reply when there is one
/// (its class set by the action), else one inferred from the local reason.
fn status(action: Action, diagnostic: &str) -> String {
    let class = match action {
        Action::Failed => '5',
        Action::Delayed => '4',
        Action::Delivered | Action::Relayed => return "2.0.0".to_owned(),
    };
    let lower = diagnostic.to_ascii_lowercase();
    // Expiry is what decided the failure, whatever the last attempt said (RFC 3463 X.4.7).
    if lower.contains("queue lifetime") {
        return "4.4.7".to_owned();
    }
    let enhanced = diagnostic.split_whitespace().find(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() == 3
            && matches!(parts[0], "4" | "5")
            && parts[1..]
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u16>().is_ok())
    });
    let detail = match enhanced {
        Some(code) => code.get(1..).unwrap_or(".0.0").to_owned(),
        None if lower.contains("does not exist") || lower.contains("no such domain") => ".1.2".into(),
        None if lower.contains("null mx") => ".1.10".into(),
        None if lower.contains("smtputf8") => ".6.7".into(),
        None if lower.contains("exceeds the receiving server's limit") => ".3.4".into(),
        None if lower.contains("certificate") || lower.contains("tls") => ".7.5".into(),
        None if lower.contains("refused") || lower.contains("timed out") || lower.contains("unreachable") => {
            ".4.1".into()
        }
        None => ".0.0".into(),
    };
    format!("{class}{detail}")
}

fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The report as a message (multipart/report, RFC 3462), without Return-Path.
pub fn report(r: &Report<'_>) -> Vec<u8> {
    let now = SystemTime::now();
    let (hostname, id) = (r.hostname, r.id);
    let boundary = format!("{id}/{hostname}");
    let (subject, lead) = match r.action {
        Action::Failed => (
            "Undelivered Mail Returned to Sender",
            "Your message could not be delivered to one or more recipients.",
        ),
        Action::Delayed => (
            "Delayed Mail (still being retried)",
            "Your message has not been delivered yet to one or more recipients.\r\nThis is only a warning: delivery is being retried.",
        ),
        Action::Delivered => (
            "Successful Mail Delivery Report",
            "Your message was delivered to the following recipients.",
        ),
        Action::Relayed => (
            "Successful Mail Delivery Report",
            "Your message was passed on to the following recipients' mail servers, which\r\ndo not send delivery reports: this is the last report about them.",
        ),
    };
    let attached = if r.ret_full {
        "The message is attached below."
    } else {
        "Its headers are attached below."
    };
    let mut m = String::new();
    m.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n"
    ));
    m.push_str(&format!("To: <{}>\r\n", clean(r.sender)));
    m.push_str(&format!("Subject: {subject}\r\n"));
    m.push_str(&format!("Date: {}\r\n", rfc5322_date(now)));
    m.push_str(&format!("Message-ID: <{id}.{}@{hostname}>\r\n", r.action.word()));
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
        "This is the mail system at {hostname}.\r\n\r\n{lead}\r\n{attached}\r\n\r\n"
    ));
    for e in r.entries {
        m.push_str(&format!(
            "<{}>: {}\r\n",
            clean(&e.recipient),
            clean(&e.diagnostic)
        ));
    }
    if let (Action::Delayed, Some(until)) = (r.action, r.retry_until) {
        m.push_str(&format!(
            "\r\nDelivery will be retried until {}.\r\n",
            rfc5322_date(until)
        ));
    }
    m.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
    ));
    m.push_str(&format!("Reporting-MTA: dns; {hostname}\r\n"));
    if let Some(e) = r.envid {
        m.push_str(&format!("Original-Envelope-Id: {}\r\n", clean(e)));
    }
    m.push_str(&format!(
        "X-Queue-ID: {id}\r\nArrival-Date: {}\r\n",
        rfc5322_date(r.arrival)
    ));
    for e in r.entries {
        m.push_str("\r\n");
        m.push_str(&format!("Final-Recipient: rfc822; {}\r\n", clean(&e.recipient)));
        if let Some(o) = &e.orcpt {
            m.push_str(&format!("Original-Recipient: {}\r\n", clean(o)));
        }
        m.push_str(&format!("Action: {}\r\n", r.action.word()));
        m.push_str(&format!("Status: {}\r\n", status(r.action, &e.diagnostic)));
        if let Some(h) = &e.remote_mta {
            m.push_str(&format!("Remote-MTA: dns; {}\r\n", clean(h)));
        }
        if !e.diagnostic.is_empty() {
            m.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", clean(&e.diagnostic)));
        }
        if r.action != Action::Delivered {
            m.push_str(&format!("Last-Attempt-Date: {}\r\n", rfc5322_date(now)));
        }
        if let (Action::Delayed, Some(until)) = (r.action, r.retry_until) {
            m.push_str(&format!("Will-Retry-Until: {}\r\n", rfc5322_date(until)));
        }
    }
    let mut out = m.into_bytes();
    let headers_end = r
        .original
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(r.original.len(), |p| p + 2);
    if r.ret_full {
        out.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n").as_bytes());
        out.extend_from_slice(r.original);
    } else {
        out.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(&r.original[..headers_end]);
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
    fn status_codes_are_found_or_inferred() {
        assert_eq!(status(Action::Failed, "550 5.1.1 No such user"), "5.1.1");
        assert_eq!(status(Action::Failed, "451 4.3.0 Try later"), "5.3.0");
        assert_eq!(status(Action::Delayed, "451 4.3.0 Try later"), "4.3.0");
        assert_eq!(
            status(Action::Failed, "domain nowhere.test does not exist"),
            "5.1.2"
        );
        assert_eq!(
            status(
                Action::Failed,
                "domain x.test accepts no mail (null MX, RFC 7505)"
            ),
            "5.1.10"
        );
        assert_eq!(
            status(
                Action::Failed,
                "451 4.3.0 busy (gave up after the queue lifetime)"
            ),
            "4.4.7"
        );
        assert_eq!(
            status(Action::Delayed, "mx.x.test (192.0.2.1:25): connection refused"),
            "4.4.1"
        );
        assert_eq!(status(Action::Failed, "something odd"), "5.0.0");
        assert_eq!(status(Action::Relayed, "250 2.0.0 Ok"), "2.0.0");
    }

    #[test]
    fn notify_decides_which_reports_are_sent() {
        assert!(Action::Failed.wanted(None));
        assert!(!Action::Delayed.wanted(None) && !Action::Relayed.wanted(None));
        assert!(Action::Relayed.wanted(Some("SUCCESS,DELAY")));
        assert!(Action::Delayed.wanted(Some("SUCCESS,DELAY")));
        assert!(!Action::Failed.wanted(Some("SUCCESS,DELAY")));
        assert!(!Action::Failed.wanted(Some("NEVER")));
    }

    fn sample(action: Action, ret_full: bool) -> String {
        let entries = [Entry {
            recipient: "bob@remote.example".into(),
            orcpt: Some("rfc822;bob@remote.example".into()),
            diagnostic: "550 5.1.1 No such user".into(),
            remote_mta: Some("mx.remote.example".into()),
        }];
        let b = report(&Report {
            hostname: "mx.example.com",
            id: "ABC",
            sender: "alice@example.com",
            original: b"Subject: hi\r\nFrom: alice@example.com\r\n\r\nbody\r\n",
            action,
            entries: &entries,
            ret_full,
            envid: Some("env-1"),
            arrival: SystemTime::now(),
            retry_until: Some(SystemTime::now()),
        });
        String::from_utf8(b).expect("utf-8")
    }

    #[test]
    fn a_bounce_is_a_multipart_report_that_says_what_is_attached() {
        let text = sample(Action::Failed, false);
        assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status"));
        assert!(text.contains("Final-Recipient: rfc822; bob@remote.example"));
        assert!(text.contains("Original-Recipient: rfc822;bob@remote.example"));
        assert!(text.contains("Original-Envelope-Id: env-1"));
        assert!(text.contains("Action: failed\r\nStatus: 5.1.1"));
        assert!(text.contains("Its headers are attached below."));
        assert!(text.contains("Subject: hi\r\n"));
        assert!(!text.contains("body\r\n"), "RET=HDRS: headers only");
        let parsed = mail_parser::MessageParser::default()
            .parse(text.as_bytes())
            .expect("parses");
        assert_eq!(parsed.parts.len(), 4);
        let full = sample(Action::Failed, true);
        assert!(full.contains("The message is attached below.") && full.contains("body\r\n"));
    }

    #[test]
    fn delays_and_successes_have_their_own_words() {
        let delayed = sample(Action::Delayed, false);
        assert!(delayed.contains("Subject: Delayed Mail (still being retried)"));
        assert!(delayed.contains("Action: delayed\r\nStatus: 4.1.1"));
        assert!(delayed.contains("Will-Retry-Until: "));
        let relayed = sample(Action::Relayed, false);
        assert!(relayed.contains("Subject: Successful Mail Delivery Report"));
        assert!(relayed.contains("Action: relayed\r\nStatus: 2.0.0"));
    }
}
