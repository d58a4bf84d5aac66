//! Parsers for the value syntaxes of `mail.kdl`: sizes, durations, rates, times, networks,
//! socket addresses, URLs. Each returns the normalised value or a message for the user.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use super::names;

/// Parses a size with a unit: `25MiB`, `2 GB`, `1.5GiB`, `512KiB`, `100B`.
///
/// Decimal units (`KB`, `MB`, `GB`, `TB`) are powers of 1000, binary ones (`KiB` … `TiB`) of 1024.
pub fn size(input: &str) -> Result<u64, String> {
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit = unit.trim();
    if number.is_empty() {
        return Err("a size starts with a number, e.g. \"25MiB\"".into());
    }
    // Binary units read the same in any case; decimal ones only as written in SI (a lower-case
    // `mb` or `gb` reads as bits to some), and a bare letter (`2G`, `2m`) is refused: Dovecot
    // reads `2G` as GiB, others as GB.
    let multiplier: u64 = match unit {
        "" => return Err(format!("`{s}` has no unit; write e.g. \"{s}MiB\" or \"{s}B\"")),
        "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        u if u.eq_ignore_ascii_case("kib") => 1 << 10,
        u if u.eq_ignore_ascii_case("mib") => 1 << 20,
        u if u.eq_ignore_ascii_case("gib") => 1 << 30,
        u if u.eq_ignore_ascii_case("tib") => 1 << 40,
        "b" => return Err(format!("`{s}` reads as bits to some: write {number}B for bytes")),
        u if u.len() <= 2 && matches!(u.as_bytes()[0].to_ascii_lowercase(), b'k' | b'm' | b'g' | b't') => {
            let letter = u[..1].to_ascii_uppercase();
            let si = format!("{}B", if letter == "K" { "k" } else { &letter });
            let bin = format!("{letter}iB");
            return Err(format!(
                "`{s}` is ambiguous (`{u}` means different things to different programs): write \
                 {number}{bin} for powers of 1024 or {number}{si} for powers of 1000"
            ));
        }
        _ => {
            return Err(format!(
                "unknown size unit `{unit}` (use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ));
        }
    };
    let value = if let Some((whole, frac)) = number.split_once('.') {
        if whole.is_empty() || frac.is_empty() || frac.contains('.') {
            return Err(format!("`{number}` is not a number"));
        }
        let whole: u64 = whole.parse().map_err(|_| format!("`{number}` is too large"))?;
        let frac_digits = frac.len().min(9);
        let frac_value: u64 = frac
            .get(..frac_digits)
            .unwrap_or(frac)
            .parse()
            .map_err(|_| format!("`{number}` is not a number"))?;
        let scale = 10u64.pow(frac_digits as u32);
        whole
            .checked_mul(multiplier)
            .and_then(|w| w.checked_add(frac_value.checked_mul(multiplier)? / scale))
    } else {
        let whole: u64 = number.parse().map_err(|_| format!("`{number}` is too large"))?;
        whole.checked_mul(multiplier)
    };
    value.ok_or_else(|| format!("`{s}` is too large"))
}

fn duration_unit(unit: &str) -> Option<u64> {
    Some(match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    })
}

/// Parses a duration into seconds: `90s`, `10m`, `1h30m`, `5d`, `2w`, `1 hour`.
pub fn duration(input: &str) -> Result<u64, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("the duration is empty; write e.g. \"10m\"".into());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{s}` is not a duration; write e.g. \"90s\", \"10m\", \"1h30m\" or \"5d\""
            ));
        }
        let (number, after) = rest.split_at_checked(digits).unwrap_or((rest, ""));
        let number: u64 = number.parse().map_err(|_| format!("`{s}` is too large"))?;
        rest = after.trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let (unit, after) = rest.split_at_checked(unit_len).unwrap_or((rest, ""));
        if unit.is_empty() {
            return Err(format!("`{s}` has a number without a unit (s, m, h, d or w)"));
        }
        let seconds = duration_unit(&unit.to_ascii_lowercase())
            .ok_or_else(|| format!("unknown duration unit `{unit}` (use s, m, h, d or w)"))?;
        total = number
            .checked_mul(seconds)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{s}` is too large"))?;
        rest = after.trim_start();
    }
    Ok(total)
}

/// Parses a rate `count/period` into (count, period in seconds): `200/hour`, `10/m`, `1000/1d`.
pub fn rate(input: &str) -> Result<(u64, u64), String> {
    let s = input.trim();
    let Some((count, period)) = s.split_once('/') else {
        return Err(format!("`{s}` is not a rate; write e.g. \"200/hour\""));
    };
    let count: u64 = count
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not a whole number of messages", count.trim()))?;
    let period = period.trim();
    let seconds = if period.starts_with(|c: char| c.is_ascii_digit()) {
        duration(period)?
    } else {
        duration_unit(&period.to_ascii_lowercase())
            .ok_or_else(|| format!("unknown period `{period}` (use second, minute, hour, day or week)"))?
    };
    if count == 0 {
        return Err("a rate of 0 would refuse everything".into());
    }
    if seconds == 0 {
        return Err("the period is zero".into());
    }
    Ok((count, seconds))
}

/// Parses `HH:MM` (24-hour clock) into minutes after midnight.
pub fn time_of_day(input: &str) -> Result<u32, String> {
    let bad = || format!("`{input}` is not a time; write e.g. \"03:00\" (24-hour clock)");
    let (h, m) = input.trim().split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// The weekdays, Monday first, as the plan writes them.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEKDAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Parses a weekday: `sun`, `Sunday`; returns its three-letter form.
pub fn weekday(input: &str) -> Result<&'static str, String> {
    let lower = input.trim().to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .zip(WEEKDAY_NAMES)
        .find(|(short, long)| lower == **short || lower == *long)
        .map(|(short, _)| *short)
        .ok_or_else(|| format!("`{input}` is not a weekday (mon, tue, wed, thu, fri, sat or sun)"))
}

/// Parses an IP address or CIDR block; a bare address is a /32 or /128. Host bits must be zero.
pub fn cidr(input: &str) -> Result<IpNet, String> {
    let s = input.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net: IpNet = s
        .parse()
        .map_err(|_| format!("`{s}` is not an IP address or CIDR block like \"10.0.0.0/8\""))?;
    if net.trunc() != net {
        return Err(format!(
            "`{s}` has host bits set; did you mean \"{}\"?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// Parses `IP:port` (IPv6 in brackets); port 0 is refused.
pub fn socket_addr(input: &str) -> Result<SocketAddr, String> {
    let s = input.trim();
    let addr: SocketAddr = s.parse().map_err(|_| {
        if s.parse::<IpAddr>().is_ok() {
            format!("`{s}` has no port; write e.g. \"{s}:25\" (IPv6 as \"[::1]:25\")")
        } else {
            format!("`{s}` is not an IP address and port like \"0.0.0.0:25\" or \"[::]:25\"")
        }
    })?;
    if addr.port() == 0 {
        return Err("port 0 is not a real port".into());
    }
    Ok(addr)
}

/// A certificate fingerprint: `sha256:` and 32 bytes in hex, colons between them optional
/// (`openssl x509 -fingerprint -sha256` prints `AB:CD:…`). Returns the digest and its
/// normal form, `sha256:AB:CD:…`.
pub fn sha256_fingerprint(input: &str) -> Result<([u8; 32], String), String> {
    let hint = "expected `sha256:` and 64 hex digits, e.g. what `openssl x509 -noout -fingerprint -sha256 -in cert.pem` prints";
    let Some(hex) = input
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("sha256:"))
        .and_then(|_| input.get(7..))
    else {
        return Err(hint.to_owned());
    };
    let digits: Vec<u8> = hex.bytes().filter(|b| *b != b':').collect();
    if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(hint.to_owned());
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).map_err(|_| hint.to_owned())?;
        out[i] = u8::from_str_radix(text, 16).map_err(|_| hint.to_owned())?;
    }
    let normal: Vec<String> = out.iter().map(|b| format!("{b:02X}")).collect();
    Ok((out, format!("sha256:{}", normal.join(":"))))
}

/// A host (name or IP) and an optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Lower-case ASCII host name, or an IP address as text.
    pub host: String,
    /// The port, when given.
    pub port: Option<u16>,
}

/// Parses `host`, `host:port`, `IP`, `IP:port` or `[IPv6]:port`.
pub fn host_port(input: &str) -> Result<HostPort, String> {
    let s = input.trim();
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(HostPort {
            host: addr.ip().to_string(),
            port: Some(addr.port()),
        });
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(HostPort {
            host: ip.to_string(),
            port: None,
        });
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => {
            let port: u16 = p.parse().map_err(|_| format!("`{p}` is not a port number"))?;
            if port == 0 {
                return Err("port 0 is not a real port".into());
            }
            (h, Some(port))
        }
        None => (s, None),
    };
    let host = names::domain_to_ascii(host).map_err(|e| format!("`{host}` is not a host name: {e}"))?;
    Ok(HostPort { host, port })
}

/// An `http(s)://host[:port][/path]` URL, checked and split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`.
    pub scheme: String,
    /// Host name (lower-case ASCII) or IP literal.
    pub host: String,
    /// The port, when given.
    pub port: Option<u16>,
    /// The path, `/` when absent.
    pub path: String,
}

impl Url {
    /// The URL in normal form.
    pub fn to_string_normalised(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => format!("{}://{}:{}{}", self.scheme, host, p, self.path),
            None => format!("{}://{}{}", self.scheme, host, self.path),
        }
    }
}

/// Parses an `http://` or `https://` URL. User info (credentials) is refused.
pub fn url(input: &str) -> Result<Url, String> {
    let s = input.trim();
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| format!("`{s}` is not a URL like \"https://host/path\""))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "`{scheme}://` URLs are not supported here (http or https)"
        ));
    }
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at_checked(i).unwrap_or((rest, "/")),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err("credentials in URLs are not allowed; use a secret reference".into());
    }
    if authority.is_empty() {
        return Err(format!("`{s}` has no host"));
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL path contains white space".into());
    }
    let hp = if let Some(v6) = authority.strip_prefix('[') {
        let (ip, after) = v6.split_once(']').ok_or("unclosed `[` in the URL host")?;
        let ip: std::net::Ipv6Addr = ip.parse().map_err(|_| format!("`{ip}` is not an IPv6 address"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| format!("`{p}` is not a port number"))?,
            ),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected `{after}` after the host")),
        };
        HostPort {
            host: ip.to_string(),
            port,
        }
    } else {
        host_port(authority)?
    };
    Ok(Url {
        scheme,
        host: hp.host,
        port: hp.port,
        path: path.to_owned(),
    })
}

/// Where a scanner daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket path (relative to the config folder until resolved).
    Unix(String),
    /// A TCP host and port.
    Tcp(String, u16),
}

/// Parses `unix:/path`, `tcp:host:port` or `host:port`.
pub fn endpoint(input: &str) -> Result<Endpoint, String> {
    let s = input.trim();
    if let Some(path) = s.strip_prefix("unix:") {
        if path.is_empty() {
            return Err("the socket path is empty".into());
        }
        return Ok(Endpoint::Unix(path.to_owned()));
    }
    if s.starts_with('/') {
        return Ok(Endpoint::Unix(s.to_owned()));
    }
    let hp = host_port(s.strip_prefix("tcp:").unwrap_or(s))?;
    let port = hp
        .port
        .ok_or_else(|| format!("`{s}` needs a port, e.g. \"127.0.0.1:3310\", or write \"unix:/path\""))?;
    Ok(Endpoint::Tcp(hp.host, port))
}

/// Checks an environment variable name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn env_name(input: &str) -> Result<(), String> {
    let mut chars = input.chars();
    match chars.next() {
        None => return Err("the variable name is empty".into()),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err(format!(
                "`{input}` is not a variable name (letters, digits and `_`, not starting with a digit)"
            ));
        }
        _ => {}
    }
    if chars.any(|c| !(c.is_ascii_alphanumeric() || c == '_')) {
        return Err(format!(
            "`{input}` is not a variable name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    Ok(())
}

/// A database location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file path (relative to the config folder until resolved).
    Sqlite(String),
    /// A PostgreSQL URL without password.
    Postgres(String),
}

/// Parses `sqlite://PATH` (`sqlite:///abs/path`) or `postgres://user@host[:port]/db`.
pub fn database(input: &str) -> Result<Database, String> {
    let s = input.trim();
    if let Some(path) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return Err("the SQLite path is empty".into());
        }
        if path == ":memory:" {
            return Err("an in-memory database would lose every mailbox at restart".into());
        }
        return Ok(Database::Sqlite(path.to_owned()));
    }
    let rest = s
        .strip_prefix("postgres://")
        .or_else(|| s.strip_prefix("postgresql://"))
        .ok_or_else(|| {
            format!(
                "`{}` is not a database URL (sqlite:///path or postgres://user@host/db)",
                super::redact::mask_url(s)
            )
        })?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && userinfo.contains(':')
    {
        return Err("inline-password".into());
    }
    if s.contains("password=") {
        return Err("inline-password".into());
    }
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        return Err(format!("`{s}` has no host"));
    }
    Ok(Database::Postgres(s.to_owned()))
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn fingerprints_with_and_without_colons() {
        let colons = "sha256:".to_owned() + &["AB"; 32].join(":");
        let (digest, normal) = sha256_fingerprint(&colons).expect("valid");
        assert_eq!(digest, [0xAB; 32]);
        assert_eq!(normal, colons);
        let bare = "SHA256:".to_owned() + &"ab".repeat(32);
        assert_eq!(sha256_fingerprint(&bare).expect("valid").1, colons);
        for bad in [
            "ab".repeat(32),
            "sha256:abc".into(),
            format!("sha1:{}", "ab".repeat(20)),
            format!("sha256:{}", "zz".repeat(32)),
        ] {
            assert!(sha256_fingerprint(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(size("25MiB"), Ok(25 << 20));
        assert_eq!(size("2 GB"), Ok(2_000_000_000));
        assert_eq!(size("1.5GiB"), Ok(3 << 29));
        assert_eq!(size("10gib"), Ok(10 << 30));
        assert_eq!(size("100B"), Ok(100));
        assert_eq!(size("2 GiB"), Ok(2 << 30));
        // Issue 13: a bare letter or a lower-case decimal unit is ambiguous.
        assert!(size("5b").expect_err("bits").contains("5B for bytes"));
        for ambiguous in ["2G", "2m", "2 gb", "2 mb", "10k", "3T"] {
            let e = size(ambiguous).expect_err(ambiguous);
            assert!(e.contains("ambiguous") && e.contains("iB"), "{ambiguous}: {e}");
        }
        assert!(
            size("2G")
                .expect_err("2G")
                .contains("2GiB for powers of 1024 or 2GB")
        );
        for bad in [
            "",
            "MiB",
            "25",
            "25XB",
            "1.2.3MB",
            ".5MB",
            "5.MB",
            "99999999999999999999TB",
            "-1MB",
        ] {
            assert!(size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("10m"), Ok(600));
        assert_eq!(duration("1h30m"), Ok(5400));
        assert_eq!(duration("5d"), Ok(432_000));
        assert_eq!(duration("2 weeks"), Ok(1_209_600));
        assert_eq!(duration("90s"), Ok(90));
        for bad in [
            "",
            "10",
            "m",
            "10x",
            "1h-",
            "ten minutes",
            "99999999999999999999w",
        ] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(rate("200/hour"), Ok((200, 3600)));
        assert_eq!(rate("10/m"), Ok((10, 60)));
        assert_eq!(rate("1000/1d"), Ok((1000, 86_400)));
        for bad in ["200", "x/hour", "200/fortnight", "0/hour", "5/0s", "/h"] {
            assert!(rate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_and_days() {
        assert_eq!(time_of_day("03:00"), Ok(180));
        assert_eq!(time_of_day("23:59"), Ok(1439));
        assert_eq!(time_of_day("3:05"), Ok(185));
        for bad in ["24:00", "03:60", "0300", "03:0", "a:00", ""] {
            assert!(time_of_day(bad).is_err(), "{bad:?}");
        }
        assert_eq!(weekday("Sunday"), Ok("sun"));
        assert_eq!(weekday("mon"), Ok("mon"));
        assert!(weekday("sonntag").is_err());
    }

    #[test]
    fn networks_and_addresses() {
        assert_eq!(cidr("127.0.0.0/8").unwrap().to_string(), "127.0.0.0/8");
        assert_eq!(cidr("::1").unwrap().to_string(), "::1/128");
        assert!(cidr("10.0.0.1/8").is_err());
        assert!(cidr("10.0.0.0/33").is_err());
        assert!(cidr("example.com").is_err());
        assert_eq!(socket_addr("[::]:25").unwrap().port(), 25);
        assert!(socket_addr("0.0.0.0").is_err());
        assert!(socket_addr("localhost:25").is_err());
        assert!(socket_addr("0.0.0.0:0").is_err());
        assert_eq!(
            host_port("smtp.Example.net:587").unwrap(),
            HostPort {
                host: "smtp.example.net".into(),
                port: Some(587)
            }
        );
        assert_eq!(host_port("[::1]:25").unwrap().host, "::1");
        assert!(host_port("smtp.example.net:x").is_err());
    }

    #[test]
    fn urls_and_endpoints() {
        let u = url("http://127.0.0.1:11333").unwrap();
        assert_eq!(u.to_string_normalised(), "http://127.0.0.1:11333/");
        assert!(url("ftp://x").is_err());
        assert!(url("https://user:pw@x.org/").is_err());
        assert_eq!(
            endpoint("unix:/run/c.sock"),
            Ok(Endpoint::Unix("/run/c.sock".into()))
        );
        assert_eq!(
            endpoint("127.0.0.1:3310"),
            Ok(Endpoint::Tcp("127.0.0.1".into(), 3310))
        );
        assert!(endpoint("127.0.0.1").is_err());
        assert_eq!(
            database("sqlite:///var/lib/y.db"),
            Ok(Database::Sqlite("/var/lib/y.db".into()))
        );
        assert_eq!(database("postgres://u:p@h/db"), Err("inline-password".into()));
        assert!(matches!(database("postgres://u@h/db"), Ok(Database::Postgres(_))));
        assert!(env_name("YUBIN_S3_").is_ok());
        assert!(env_name("1X").is_err());
        assert!(env_name("A-B").is_err());
    }
}
