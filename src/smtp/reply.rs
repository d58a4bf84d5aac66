//! SMTP replies: a code, an enhanced status code (RFC 3463) and text, written with CRLF and
//! continuation lines. Every reply the server sends is built here or from these constructors,
//! so the codes stay consistent (RFC 5321 §4.2, RFC 3463, RFC 4954, RFC 6531).

use std::borrow::Cow;
use std::fmt;

/// One SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The enhanced status code, as `class.subject.detail`.
    pub status: Option<(u8, u16, u16)>,
    /// The text; several lines for multi-line replies.
    pub lines: Vec<Cow<'static, str>>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, status: (u8, u16, u16), text: impl Into<Cow<'static, str>>) -> Self {
        Reply {
            code,
            status: Some(status),
            lines: vec![text.into()],
        }
    }

    /// A reply without an enhanced status code (greeting, EHLO, 334 challenges).
    pub fn plain(code: u16, text: impl Into<Cow<'static, str>>) -> Self {
        Reply {
            code,
            status: None,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply without enhanced codes (EHLO).
    pub fn multi(code: u16, lines: Vec<Cow<'static, str>>) -> Self {
        Reply {
            code,
            status: None,
            lines,
        }
    }

    /// True for 2xx and 3xx.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// True for 5xx.
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// Appends the wire form (with CRLFs) to `out`. Text is sanitised: CR and LF in a line
    /// would break the framing and are replaced by spaces.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let n = self.lines.len().max(1);
        for i in 0..n {
            let text = self.lines.get(i).map(|l| l.as_ref()).unwrap_or("");
            let sep = if i + 1 < n { '-' } else { ' ' };
            out.extend_from_slice(format!("{}{sep}", self.code).as_bytes());
            if let Some((c, s, d)) = self.status {
                out.extend_from_slice(format!("{c}.{s}.{d} ").as_bytes());
            }
            for ch in text.chars() {
                let ch = if ch == '\r' || ch == '\n' { ' ' } else { ch };
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some((c, s, d)) = self.status {
            write!(f, " {c}.{s}.{d}")?;
        }
        for l in &self.lines {
            write!(f, " {l}")?;
        }
        Ok(())
    }
}

/// A header field RFC 5322 §3.6 allows once appears more than once.
pub fn repeated_header(field: &str) -> Reply {
    Reply::new(
        550,
        (5, 6, 0),
        format!("Message has more than one {field}: header field (RFC 5322 section 3.6)"),
    )
}

macro_rules! replies {
    ($( $(#[doc = $doc:literal])* $name:ident => $code:literal ($c:literal, $s:literal, $d:literal) $text:literal; )*) => {
        $(
            $(#[doc = $doc])*
            pub fn $name() -> Reply {
                Reply::new($code, ($c, $s, $d), $text)
            }
        )*
    };
}

replies! {
    /// 250 after MAIL, RCPT, RSET, NOOP.
    ok => 250 (2, 0, 0) "OK";
    /// MAIL FROM accepted.
    sender_ok => 250 (2, 1, 0) "Sender OK";
    /// RCPT TO accepted.
    recipient_ok => 250 (2, 1, 5) "Recipient OK";
    /// Goodbye.
    bye => 221 (2, 0, 0) "Bye";
    /// STARTTLS accepted.
    ready_for_tls => 220 (2, 0, 0) "Ready to start TLS";
    /// AUTH succeeded.
    auth_ok => 235 (2, 7, 0) "Authentication successful";
    /// VRFY is answered without disclosing anything (RFC 5321 §3.5.3).
    cannot_vrfy => 252 (2, 5, 2) "Cannot VRFY user, but will accept message and attempt delivery";
    /// HELP.
    help => 214 (2, 0, 0) "See RFC 5321; yubin supports EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS AUTH";
    /// Shutting down or overloaded.
    shutting_down => 421 (4, 3, 2) "Service shutting down, try again later";
    /// Read timeout.
    timeout => 421 (4, 4, 2) "Timeout waiting for input, closing connection";
    /// Too many errors in one session.
    too_many_errors => 421 (4, 7, 0) "Too many errors, closing connection";
    /// Too many NOOP/RSET/VRFY/HELP.
    too_many_junk => 421 (4, 7, 0) "Too many commands without mail, closing connection";
    /// Connection limit reached.
    too_many_connections => 421 (4, 7, 0) "Too many connections, try again later";
    /// This client is banned after failed logins.
    banned => 421 (4, 7, 0) "Too many failed logins from your address, try again later";
    /// The session used up its login attempts (or this failure banned the address).
    too_many_auth_failures => 421 (4, 7, 0) "Too many failed logins, closing connection";
    /// Local problem (disk, database).
    local_error => 451 (4, 3, 0) "Local error in processing, try again later";
    /// Remote recipient while the queue is not available.
    queue_unavailable => 451 (4, 3, 0) "Outbound delivery is not available yet, try again later";
    /// Too many recipients (RFC 5321 §4.5.3.1.10).
    too_many_recipients => 452 (4, 5, 3) "Too many recipients";
    /// A command line that is too long.
    line_too_long => 500 (5, 5, 2) "Line too long";
    /// Unknown command.
    unknown_command => 500 (5, 5, 2) "Command not recognised";
    /// Syntax error in arguments.
    syntax_args => 501 (5, 5, 4) "Syntax error in parameters or arguments";
    /// Command disabled.
    not_implemented => 502 (5, 5, 1) "Command not implemented";
    /// Bad sequence.
    bad_sequence => 503 (5, 5, 1) "Bad sequence of commands";
    /// EHLO/HELO first.
    hello_first => 503 (5, 5, 1) "Send EHLO first";
    /// MAIL first.
    mail_first => 503 (5, 5, 1) "Need MAIL before RCPT";
    /// RCPT first.
    rcpt_first => 503 (5, 5, 1) "Need RCPT before DATA";
    /// Nested MAIL.
    nested_mail => 503 (5, 5, 1) "Sender already specified";
    /// AUTH twice.
    already_authenticated => 503 (5, 5, 1) "Already authenticated";
    /// AUTH on a listener that has none.
    auth_not_available => 503 (5, 5, 1) "AUTH is not available on this port";
    /// AUTH inside a transaction.
    auth_in_transaction => 503 (5, 5, 1) "AUTH not allowed during a mail transaction";
    /// STARTTLS twice or unavailable.
    tls_not_available => 454 (4, 7, 0) "TLS not available";
    /// AUTH before STARTTLS (RFC 4954 §4).
    tls_required => 530 (5, 7, 0) "Must issue a STARTTLS command first";
    /// Submission without AUTH.
    auth_required => 530 (5, 7, 0) "Authentication required";
    /// Unknown SASL mechanism.
    unknown_mechanism => 504 (5, 5, 4) "Unrecognised authentication mechanism";
    /// SASL cancelled by the client.
    auth_cancelled => 501 (5, 0, 0) "Authentication cancelled";
    /// Malformed SASL data.
    auth_malformed => 501 (5, 5, 2) "Cannot decode the authentication data";
    /// Wrong credentials (RFC 4954 §6).
    auth_failed => 535 (5, 7, 8) "Authentication credentials invalid";
    /// Temporary failure while verifying.
    auth_temp => 454 (4, 7, 0) "Temporary authentication failure";
    /// Unknown MAIL/RCPT parameter.
    unknown_parameter => 555 (5, 5, 4) "Unsupported MAIL or RCPT parameter";
    /// Address syntax.
    bad_address => 501 (5, 1, 3) "Bad address syntax";
    /// Sender address syntax.
    bad_sender => 501 (5, 1, 7) "Bad sender address syntax";
    /// Unknown local user.
    no_such_user => 550 (5, 1, 1) "No such user here";
    /// A disabled mailbox.
    mailbox_disabled => 550 (5, 2, 1) "Mailbox disabled, not accepting messages";
    /// Relay attempt.
    relay_denied => 550 (5, 7, 1) "Relay access denied";
    /// Sender not owned by the authenticated user.
    sender_not_owned => 553 (5, 7, 1) "Sender address not owned by the authenticated user";
    /// Sender domain not allowed.
    sender_domain_denied => 553 (5, 7, 1) "Sender domain not allowed here";
    /// Header From not allowed.
    from_header_denied => 550 (5, 7, 1) "From: header address not allowed for this sender";
    /// A From: address without a domain on submission.
    from_header_incomplete => 550 (5, 6, 0) "From: header needs an address with a domain (RFC 5322 section 3.4)";
    /// UTF-8 address without SMTPUTF8.
    utf8_required => 553 (5, 6, 7) "Non-ASCII address requires SMTPUTF8";
    /// Mailbox full.
    quota_exceeded => 552 (5, 2, 2) "Mailbox full";
    /// Message too big.
    too_big => 552 (5, 3, 4) "Message size exceeds fixed maximum message size";
    /// Bare CR in content (SMTP smuggling defence).
    bare_cr => 550 (5, 6, 11) "Bare CR in message content is not allowed (RFC 5321 2.3.8)";
    /// DMARC reject.
    dmarc_reject => 550 (5, 7, 1) "Message rejected by the sender domain's DMARC policy";
    /// A scanner is down and `on-failure` is `defer`.
    scan_unavailable => 451 (4, 7, 1) "Message could not be scanned, try again later";
    /// rspamd scored it at or above `reject-score`.
    spam_reject => 550 (5, 7, 1) "Message rejected as spam";
    /// Empty message.
    empty_message => 554 (5, 6, 0) "Message has no content";
    /// DATA after BDAT or vice versa.
    data_bdat_mix => 503 (5, 5, 1) "DATA and BDAT cannot be mixed in one transaction";
}

/// clamd found a virus.
pub fn virus(name: &str) -> Reply {
    let name: String = name.chars().filter(|c| c.is_ascii_graphic()).take(100).collect();
    Reply::new(554, (5, 7, 1), format!("Message contains a virus ({name})"))
}

/// 354 go-ahead for DATA.
pub fn start_data() -> Reply {
    Reply::plain(354, "Start mail input; end with <CRLF>.<CRLF>")
}

/// 250 after a message is stored, naming its id.
pub fn queued(id: &str) -> Reply {
    Reply::new(250, (2, 0, 0), format!("OK: message {id} accepted"))
}

/// 250 after a BDAT chunk that is not the last.
pub fn chunk_ok(size: u64) -> Reply {
    Reply::new(250, (2, 0, 0), format!("{size} octets received"))
}

/// 334 SASL challenge (base64 text).
pub fn challenge(b64: &'static str) -> Reply {
    Reply::plain(334, b64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_framed() {
        let mut out = Vec::new();
        no_such_user().write_to(&mut out);
        assert_eq!(out, b"550 5.1.1 No such user here\r\n");
        out.clear();
        Reply::multi(250, vec!["a".into(), "b\r\nINJECT".into()]).write_to(&mut out);
        assert_eq!(out, b"250-a\r\n250 b  INJECT\r\n");
    }
}
