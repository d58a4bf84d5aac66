//! SMTP command lines → [`Command`] (RFC 5321 §4.1, RFC 6531 for UTF-8 addresses, RFC 1870
//! SIZE, RFC 6152 8BITMIME, RFC 3461 DSN, RFC 3030 CHUNKING, RFC 4954 AUTH).
//!
//! One function per ABNF production. Parsing is total: any byte string yields a command or a
//! [`Reply`] saying what is wrong; nothing here panics (the fuzz and property tests check it).

use std::net::IpAddr;

use super::reply::{self, Reply};

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain`.
    Ehlo(String),
    /// `HELO domain`.
    Helo(String),
    /// `MAIL FROM:<path> params`.
    Mail(ReversePath, MailParams),
    /// `RCPT TO:<path> params`.
    Rcpt(Path, RcptParams),
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]`.
    Bdat(u64, bool),
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY string`.
    Vrfy,
    /// `EXPN string`.
    Expn,
    /// `HELP`.
    Help,
    /// `STARTTLS`.
    StartTls,
    /// `AUTH mechanism [initial-response]`.
    Auth(String, Option<String>),
}

impl Command {
    /// The verb, for logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::Mail(..) => "MAIL",
            Command::Rcpt(..) => "RCPT",
            Command::Data => "DATA",
            Command::Bdat(..) => "BDAT",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::Vrfy => "VRFY",
            Command::Expn => "EXPN",
            Command::Help => "HELP",
            Command::StartTls => "STARTTLS",
            Command::Auth(..) => "AUTH",
        }
    }
}

/// The domain part of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A DNS name, lower-case ASCII (U-labels converted with IDNA).
    Name(String),
    /// An address literal `[192.0.2.1]` or `[IPv6:...]`.
    Literal(IpAddr),
}

/// A mailbox `local@domain`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    /// The local part, unquoted (a quoted local part loses its quotes and escapes).
    pub local: String,
    /// Whether the local part was written as a quoted string.
    pub quoted: bool,
    /// The domain; `None` only for the special `<postmaster>` recipient.
    pub domain: Option<Domain>,
    /// Whether the address contains non-ASCII characters.
    pub utf8: bool,
}

impl Path {
    /// The address as text (`local@domain`), local part as received.
    pub fn to_address(&self) -> String {
        match &self.domain {
            Some(Domain::Name(d)) => format!("{}@{d}", self.local_display()),
            Some(Domain::Literal(ip @ IpAddr::V4(_))) => format!("{}@[{ip}]", self.local_display()),
            Some(Domain::Literal(ip)) => format!("{}@[IPv6:{ip}]", self.local_display()),
            None => self.local.clone(),
        }
    }

    fn local_display(&self) -> String {
        if self.quoted {
            let escaped: String = self
                .local
                .chars()
                .flat_map(|c| {
                    if c == '"' || c == '\\' {
                        vec!['\\', c]
                    } else {
                        vec![c]
                    }
                })
                .collect();
            format!("\"{escaped}\"")
        } else {
            self.local.clone()
        }
    }
}

/// The sender: a mailbox, or the null path `<>` of bounces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversePath {
    /// `<>`.
    Null,
    /// A mailbox.
    Path(Path),
}

impl ReversePath {
    /// The address as text, empty for `<>`.
    pub fn to_address(&self) -> String {
        match self {
            ReversePath::Null => String::new(),
            ReversePath::Path(p) => p.to_address(),
        }
    }
}

/// `BODY=` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `7BIT`.
    SevenBit,
    /// `8BITMIME`.
    EightBitMime,
}

/// MAIL parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `SIZE=` (RFC 1870).
    pub size: Option<u64>,
    /// `BODY=` (RFC 6152).
    pub body: Option<Body>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `RET=FULL|HDRS` (RFC 3461).
    pub ret: Option<String>,
    /// `ENVID=` (RFC 3461), xtext-decoded.
    pub envid: Option<String>,
}

/// RCPT parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParams {
    /// `NOTIFY=` (RFC 3461).
    pub notify: Option<String>,
    /// `ORCPT=` (RFC 3461), as given.
    pub orcpt: Option<String>,
}

/// The longest local part (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL: usize = 64;
/// The longest domain (RFC 5321 §4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// The longest path including the angle brackets (RFC 5321 §4.5.3.1.3).
pub const MAX_PATH: usize = 256;

/// Parses one command line (without its CRLF or LF).
pub fn command(line: &[u8]) -> Result<Command, Reply> {
    let text = std::str::from_utf8(line).map_err(|_| reply::syntax_args())?;
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(reply::syntax_args());
    }
    let (verb, rest) = match text.find(' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let args = rest.trim_matches(|c| c == ' ' || c == '\t');
    let verb = verb.to_ascii_uppercase();
    let no_args = |cmd: Command| {
        if args.is_empty() {
            Ok(cmd)
        } else {
            Err(reply::syntax_args())
        }
    };
    match verb.as_str() {
        "EHLO" | "HELO" => {
            let name = args.split([' ', '\t']).next().unwrap_or("");
            if name.is_empty() {
                return Err(Reply::new(501, (5, 5, 4), "EHLO/HELO needs your host name"));
            }
            let name = name.to_owned();
            Ok(if verb == "EHLO" {
                Command::Ehlo(name)
            } else {
                Command::Helo(name)
            })
        }
        "MAIL" => mail(args),
        "RCPT" => rcpt(args),
        "DATA" => no_args(Command::Data),
        "BDAT" => bdat(args),
        "RSET" => no_args(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_args(Command::Quit),
        "VRFY" => Ok(Command::Vrfy),
        "EXPN" => Ok(Command::Expn),
        "HELP" => Ok(Command::Help),
        "STARTTLS" => no_args(Command::StartTls),
        "AUTH" => auth(args),
        // Browsers speaking to the port: close fast (cross-protocol attacks).
        "GET" | "POST" | "HEAD" | "PUT" | "CONNECT" => {
            Err(Reply::new(521, (5, 5, 1), "This is an SMTP server"))
        }
        _ => Err(reply::unknown_command()),
    }
}

fn strip_keyword<'a>(args: &'a str, keyword: &str) -> Option<&'a str> {
    let head = args.get(..keyword.len())?;
    if head.eq_ignore_ascii_case(keyword) {
        // Many clients write `MAIL FROM: <a@b>`; RFC 5321 has no space, Postfix allows it.
        Some(args[keyword.len()..].trim_start_matches(' '))
    } else {
        None
    }
}

/// Splits `<path> params` into the path text (with brackets) and the rest.
fn split_path(s: &str) -> Result<(&str, &str), Reply> {
    if s.starts_with('<') {
        // The path ends at the first `>` outside a quoted string.
        let mut in_quotes = false;
        let mut escaped = false;
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_quotes => escaped = true,
                '"' => in_quotes = !in_quotes,
                '>' if !in_quotes => return Ok((&s[..=i], s[i + 1..].trim_start_matches(' '))),
                _ => {}
            }
        }
        Err(reply::bad_address())
    } else {
        // Without brackets (not RFC 5321, but common): the path is the first word.
        let end = s.find(' ').unwrap_or(s.len());
        Ok((&s[..end], s[end..].trim_start_matches(' ')))
    }
}

fn mail(args: &str) -> Result<Command, Reply> {
    let rest = strip_keyword(args, "FROM:").ok_or_else(reply::syntax_args)?;
    let (path_text, params_text) = split_path(rest)?;
    let params = mail_params(params_text)?;
    let from = if path_text == "<>" {
        ReversePath::Null
    } else {
        ReversePath::Path(
            path(path_text, params.smtputf8)
                .map_err(|r| if r.code == 553 { r } else { reply::bad_sender() })?,
        )
    };
    Ok(Command::Mail(from, params))
}

fn rcpt(args: &str) -> Result<Command, Reply> {
    let rest = strip_keyword(args, "TO:").ok_or_else(reply::syntax_args)?;
    let (path_text, params_text) = split_path(rest)?;
    let params = rcpt_params(params_text)?;
    // RFC 5321 §4.1.1.3: "<Postmaster>" without a domain must be accepted.
    let inner = path_text.trim_start_matches('<').trim_end_matches('>');
    if inner.eq_ignore_ascii_case("postmaster") {
        return Ok(Command::Rcpt(
            Path {
                local: "postmaster".into(),
                quoted: false,
                domain: None,
                utf8: false,
            },
            params,
        ));
    }
    // Whether UTF-8 is allowed depends on the MAIL's SMTPUTF8, which the session checks.
    Ok(Command::Rcpt(path(path_text, true)?, params))
}

fn bdat(args: &str) -> Result<Command, Reply> {
    let mut words = args.split(' ').filter(|w| !w.is_empty());
    let size = words
        .next()
        .filter(|w| w.len() <= 19 && w.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|w| w.parse::<u64>().ok())
        .ok_or_else(reply::syntax_args)?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(reply::syntax_args()),
    };
    if words.next().is_some() {
        return Err(reply::syntax_args());
    }
    Ok(Command::Bdat(size, last))
}

fn auth(args: &str) -> Result<Command, Reply> {
    let mut words = args.split(' ').filter(|w| !w.is_empty());
    let mech = words.next().ok_or_else(reply::syntax_args)?.to_ascii_uppercase();
    let initial = words.next().map(str::to_owned);
    if words.next().is_some() {
        return Err(reply::syntax_args());
    }
    Ok(Command::Auth(mech, initial))
}

/// `Path = "<" [ A-d-l ":" ] Mailbox ">"` (RFC 5321 §4.1.2). A source route is parsed and
/// dropped, as §4.1.1.3 and appendix C require: `<@a,@b:user@c>` is `user@c`.
pub fn path(text: &str, utf8_allowed: bool) -> Result<Path, Reply> {
    if text.len() > MAX_PATH + 2 {
        return Err(reply::bad_address());
    }
    let inner = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text);
    let mailbox_text = if inner.starts_with('@') {
        let (route, mailbox) = inner.split_once(':').ok_or_else(reply::bad_address)?;
        for hop in route.split(',') {
            let d = hop.strip_prefix('@').ok_or_else(reply::bad_address)?;
            domain(d, utf8_allowed)?;
        }
        mailbox
    } else {
        inner
    };
    mailbox(mailbox_text, utf8_allowed)
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )`.
fn mailbox(text: &str, utf8_allowed: bool) -> Result<Path, Reply> {
    let (local, quoted, rest) = if let Some(q) = text.strip_prefix('"') {
        let (content, after) = quoted_string(q)?;
        (content, true, after)
    } else {
        let at = text.rfind('@').ok_or_else(reply::bad_address)?;
        let local = &text[..at];
        dot_string(local, utf8_allowed)?;
        (local.to_owned(), false, &text[at..])
    };
    let domain_text = rest.strip_prefix('@').ok_or_else(reply::bad_address)?;
    if local.len() > MAX_LOCAL {
        return Err(Reply::new(553, (5, 1, 3), "Local part too long"));
    }
    let domain = if domain_text.starts_with('[') {
        Domain::Literal(address_literal(domain_text)?)
    } else {
        Domain::Name(domain(domain_text, utf8_allowed)?)
    };
    let utf8 = !local.is_ascii() || !domain_text.is_ascii();
    if utf8 && !utf8_allowed {
        return Err(reply::utf8_required());
    }
    let path = Path {
        local,
        quoted,
        domain: Some(domain),
        utf8,
    };
    // The limit holds for the path as it is recorded and relayed (A-labels), which IDNA can
    // make longer than the text received.
    if path.to_address().len() > MAX_PATH {
        return Err(reply::bad_address());
    }
    Ok(path)
}

fn is_atext(c: char, utf8: bool) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (utf8 && !c.is_ascii() && !c.is_control())
}

/// `Dot-string = Atom *("." Atom)`.
fn dot_string(s: &str, utf8: bool) -> Result<(), Reply> {
    if s.is_empty() || s.split('.').any(|atom| atom.is_empty()) {
        return Err(reply::bad_address());
    }
    if let Some(c) = s.chars().find(|c| *c != '.' && !is_atext(*c, true)) {
        let _ = c;
        return Err(reply::bad_address());
    }
    if !utf8 && !s.is_ascii() {
        return Err(reply::utf8_required());
    }
    Ok(())
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`; `text` starts after the opening quote.
/// Returns the unescaped content and what follows the closing quote.
fn quoted_string(text: &str) -> Result<(String, &str), Reply> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &text[i + 1..])),
            '\\' => match chars.next() {
                Some((_, e)) if (' '..='~').contains(&e) => out.push(e),
                _ => return Err(reply::bad_address()),
            },
            c if c == ' ' || (c.is_ascii_graphic()) || (!c.is_ascii() && !c.is_control()) => out.push(c),
            _ => return Err(reply::bad_address()),
        }
    }
    Err(reply::bad_address())
}

/// `Domain = sub-domain *("." sub-domain)`, with U-labels when UTF-8 is allowed. Returns the
/// lower-case ASCII form. Trailing dots and empty labels are refused.
pub fn domain(text: &str, utf8_allowed: bool) -> Result<String, Reply> {
    if text.is_empty() || text.len() > MAX_DOMAIN {
        return Err(reply::bad_address());
    }
    if !text.is_ascii() && !utf8_allowed {
        return Err(reply::utf8_required());
    }
    let ascii = if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(text).map_err(|_| reply::bad_address())?
    };
    // U-labels become longer A-labels: the limit is on the name DNS would see.
    if ascii.len() > MAX_DOMAIN {
        return Err(reply::bad_address());
    }
    for label in ascii.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(reply::bad_address());
        }
    }
    Ok(ascii)
}

/// `address-literal = "[" ( IPv4-address-literal / IPv6-address-literal ) "]"`.
fn address_literal(text: &str) -> Result<IpAddr, Reply> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(reply::bad_address)?;
    if let Some(v6) = inner
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("IPv6:"))
        .map(|_| &inner[5..])
    {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| reply::bad_address());
    }
    inner
        .parse::<std::net::Ipv4Addr>()
        .map(IpAddr::V4)
        .map_err(|_| reply::bad_address())
}

fn params(text: &str) -> impl Iterator<Item = (String, Option<&str>)> {
    text.split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_ascii_uppercase(), Some(v)),
            None => (w.to_ascii_uppercase(), None),
        })
}

/// Decodes RFC 3461 xtext (`+XX` hex escapes).
fn xtext(value: &str) -> Result<String, Reply> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                let hex = value.get(i + 1..i + 3).ok_or_else(reply::syntax_args)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| reply::syntax_args())?);
                i += 3;
            }
            b @ b'!'..=b'~' if b != b'=' => {
                out.push(b);
                i += 1;
            }
            _ => return Err(reply::syntax_args()),
        }
    }
    String::from_utf8(out).map_err(|_| reply::syntax_args())
}

fn mail_params(text: &str) -> Result<MailParams, Reply> {
    let mut p = MailParams::default();
    for (key, value) in params(text) {
        match (key.as_str(), value) {
            ("SIZE", Some(v)) => {
                p.size = Some(
                    v.parse()
                        .ok()
                        .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
                        .ok_or_else(reply::syntax_args)?,
                )
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => p.body = Some(Body::SevenBit),
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => p.body = Some(Body::EightBitMime),
            ("SMTPUTF8", None) => p.smtputf8 = true,
            ("RET", Some(v)) if v.eq_ignore_ascii_case("FULL") || v.eq_ignore_ascii_case("HDRS") => {
                p.ret = Some(v.to_ascii_uppercase())
            }
            ("ENVID", Some(v)) if v.len() <= 100 => p.envid = Some(xtext(v)?),
            // RFC 4954 §5: AUTH= on MAIL is accepted and not trusted.
            ("AUTH", Some(_)) => {}
            _ => return Err(reply::unknown_parameter()),
        }
    }
    Ok(p)
}

fn rcpt_params(text: &str) -> Result<RcptParams, Reply> {
    let mut p = RcptParams::default();
    for (key, value) in params(text) {
        match (key.as_str(), value) {
            ("NOTIFY", Some(v)) => {
                let words: Vec<String> = v.split(',').map(str::to_ascii_uppercase).collect();
                let valid = words
                    .iter()
                    .all(|w| matches!(w.as_str(), "NEVER" | "SUCCESS" | "FAILURE" | "DELAY"))
                    && (!words.contains(&"NEVER".to_owned()) || words.len() == 1);
                if !valid {
                    return Err(reply::syntax_args());
                }
                p.notify = Some(words.join(","));
            }
            ("ORCPT", Some(v)) if v.len() <= 500 && v.contains(';') => p.orcpt = Some(v.to_owned()),
            _ => return Err(reply::unknown_parameter()),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rcpt_path(line: &str) -> Result<Path, Reply> {
        match command(line.as_bytes())? {
            Command::Rcpt(p, _) => Ok(p),
            other => panic!("not RCPT: {other:?}"),
        }
    }

    /// Found by the `smtp_parse` fuzz target: U-labels within the limits of RFC 5321 §4.5.3.1
    /// whose A-labels (the form recorded and relayed) are past them.
    #[test]
    fn limits_hold_for_the_ascii_form() {
        let found = "RCPT TO:<jHEAD@bEEEEEEEEEEEEEEEEEEEchs.üHEApld.tEEEEEEEEchs.tEEEEEEEEchsEADEEEEEEEEEEEEEEEEEEEEchs.üHEApld.tEEEEEEEEcEADEEEEEEEEEEEEEEEEEEEEchs.üHEApld.tEEEEEEEEchs.üHEAHEADEEEEEEEEEEEEEEEEEEEEchs.üHEApld.tEEEEEEEEchs.üHEAhs.e2trt>";
        assert!(
            found["RCPT TO:".len()..].len() <= MAX_PATH + 2,
            "as received, within the limit"
        );
        assert_eq!(rcpt_path(found).unwrap_err().code, 501);
        // A domain of 227 bytes whose A-label form is past 255.
        let label = format!("{}ü", "a".repeat(35));
        let name = [label.as_str(); 6].join(".");
        assert!(name.len() <= MAX_DOMAIN && idna::domain_to_ascii(&name).unwrap().len() > MAX_DOMAIN);
        assert!(domain(&name, true).is_err());
        // Within both limits in both forms: accepted.
        let ok = format!("RCPT TO:<jörg@{}.test>", [label.as_str(); 3].join("."));
        assert!(rcpt_path(&ok).unwrap().to_address().len() <= MAX_PATH);
    }

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(
            command(b"ehlo client.example"),
            Ok(Command::Ehlo("client.example".into()))
        );
        assert_eq!(command(b"QuIt"), Ok(Command::Quit));
        assert_eq!(command(b"DATA x").unwrap_err().code, 501);
        assert_eq!(command(b"FOO").unwrap_err().code, 500);
        assert_eq!(command(b"GET / HTTP/1.1").unwrap_err().code, 521);
    }

    #[test]
    fn mail_from_variants() {
        let Ok(Command::Mail(ReversePath::Path(p), params)) =
            command(b"MAIL FROM:<Alice@Example.COM> SIZE=1000 BODY=8BITMIME")
        else {
            panic!()
        };
        assert_eq!(p.local, "Alice");
        assert_eq!(p.domain, Some(Domain::Name("example.com".into())));
        assert_eq!(params.size, Some(1000));
        assert_eq!(params.body, Some(Body::EightBitMime));
        assert!(matches!(
            command(b"MAIL FROM:<>"),
            Ok(Command::Mail(ReversePath::Null, _))
        ));
        assert!(matches!(
            command(b"MAIL FROM: <a@b.c>"),
            Ok(Command::Mail(ReversePath::Path(_), _))
        ));
        assert_eq!(command(b"MAIL FROM:<a@b.c> FOO=1").unwrap_err().code, 555);
        assert_eq!(command(b"MAIL FROM:<a@b.c> SIZE=x").unwrap_err().code, 501);
        assert_eq!(command(b"MAIL TO:<a@b.c>").unwrap_err().code, 501);
    }

    #[test]
    fn utf8_needs_smtputf8() {
        assert_eq!(
            command("MAIL FROM:<jörg@bücher.example>".as_bytes())
                .unwrap_err()
                .code,
            553
        );
        let Ok(Command::Mail(ReversePath::Path(p), params)) =
            command("MAIL FROM:<jörg@bücher.example> SMTPUTF8".as_bytes())
        else {
            panic!()
        };
        assert!(params.smtputf8 && p.utf8);
        assert_eq!(p.domain, Some(Domain::Name("xn--bcher-kva.example".into())));
    }

    #[test]
    fn relay_tricks_parse_to_what_they_really_are() {
        // Source routes are dropped: the mailbox is what counts.
        let p = rcpt_path("RCPT TO:<@relay.example:bob@remote.example>").unwrap();
        assert_eq!(p.to_address(), "bob@remote.example");
        // Quoted local parts keep their `@`: the domain is the last one.
        let p = rcpt_path("RCPT TO:<\"bob@remote.example\"@local.example>").unwrap();
        assert_eq!((p.local.as_str(), p.quoted), ("bob@remote.example", true));
        assert_eq!(p.domain, Some(Domain::Name("local.example".into())));
        // Percent hack and bang paths are local parts.
        assert_eq!(
            rcpt_path("RCPT TO:<bob%remote.example@local.example>")
                .unwrap()
                .local,
            "bob%remote.example"
        );
        assert_eq!(
            rcpt_path("RCPT TO:<remote.example!bob@local.example>")
                .unwrap()
                .local,
            "remote.example!bob"
        );
        // IP literals.
        assert_eq!(
            rcpt_path("RCPT TO:<bob@[192.0.2.1]>").unwrap().domain,
            Some(Domain::Literal("192.0.2.1".parse().unwrap()))
        );
        // Refused outright.
        for bad in [
            "RCPT TO:<bob@local.example.>",
            "RCPT TO:<bob>",
            "RCPT TO:<bob@>",
            "RCPT TO:<@local.example>",
            "RCPT TO:<bob..x@local.example>",
            "RCPT TO:<bob@local..example>",
            "RCPT TO:<bob@[999.1.1.1]>",
            "RCPT TO:<\"unterminated@local.example>",
        ] {
            assert!(rcpt_path(bad).is_err(), "{bad}");
        }
        assert_eq!(rcpt_path("RCPT TO:<Postmaster>").unwrap().domain, None);
    }

    #[test]
    fn bdat_and_auth() {
        assert_eq!(command(b"BDAT 100 LAST"), Ok(Command::Bdat(100, true)));
        assert_eq!(command(b"BDAT 0"), Ok(Command::Bdat(0, false)));
        assert!(command(b"BDAT -1").is_err());
        assert!(command(b"BDAT 99999999999999999999999").is_err());
        assert_eq!(
            command(b"AUTH plain AGFsaWNl"),
            Ok(Command::Auth("PLAIN".into(), Some("AGFsaWNl".into())))
        );
    }

    #[test]
    fn rcpt_params_are_checked() {
        assert!(command(b"RCPT TO:<a@b.c> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b.c").is_ok());
        assert!(command(b"RCPT TO:<a@b.c> NOTIFY=NEVER,SUCCESS").is_err());
        assert_eq!(command(b"RCPT TO:<a@b.c> X=1").unwrap_err().code, 555);
    }

    #[test]
    fn xtext_decodes() {
        assert_eq!(xtext("a+2Bb").unwrap(), "a+b");
        assert!(xtext("a+zz").is_err());
    }
}
