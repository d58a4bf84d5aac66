//! The sent date SORT and THREAD use (RFC 5256 §2.2): the Date header as an instant.
//!
//! ```text
//! date-time = [ day-of-week "," ] date time [CFWS]      ; RFC 5322 §3.3
//! date      = day month year
//! time      = hour ":" minute [ ":" second ] FWS zone
//! ```
//!
//! Read as leniently as Dovecot reads it, so that both servers order the same mail the same
//! way: comments and folding anywhere, a month by its first three letters, two-digit years
//! (before 70: 20xx), a one-digit hour, `.` as a time separator, no seconds, and a missing or
//! unknown zone taken as UTC (RFC 5322 §4.3's obsolete zones: UT, GMT, EST/EDT, CST/CDT,
//! MST/MDT, PST/PDT, military letters). A value that does not fit is not a date: the message
//! then sorts by its INTERNALDATE.

/// The instant (unix seconds, UTC) a Date header value names, if it is a date.
pub fn parse(value: &str) -> Option<i64> {
    let mut t = Tokens {
        s: value.as_bytes(),
        pos: 0,
    };
    t.skip_cfws();
    let mut token = t.atom()?;
    if token.len() == 3 {
        // A day of the week, which a comma must follow.
        if !t.eat(b',') {
            return None;
        }
        token = t.atom()?;
    }
    let day = digits(token, 1, 2)?;
    let month_name = t.atom()?;
    let month = MONTHS
        .iter()
        .position(|m| month_name.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(m)))?;
    let year_token = t.atom()?;
    let mut year = digits(year_token, 2, 4)?;
    match year_token.len() {
        2 if year < 70 => year += 2000,
        2 => year += 1900,
        4 if year < 1900 => return None,
        4 => {}
        _ => return None,
    }
    let hour = digits(t.atom()?, 1, 2)?;
    if !(t.eat(b':') || t.eat(b'.')) {
        return None;
    }
    let minute = digits(t.atom()?, 2, 2)?;
    let second = if t.eat(b':') || t.eat(b'.') {
        digits(t.atom()?, 2, 2)?
    } else {
        0
    };
    let offset = t.atom().map_or(0, zone_minutes);
    let days = crate::time::days_from_civil(year, month as u32 + 1, day as u32);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset * 60)
}

const MONTHS: [&[u8]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// A number of `min` to `max` digits.
fn digits(token: &[u8], min: usize, max: usize) -> Option<i64> {
    if token.len() < min || token.len() > max || !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(token.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

/// A zone's offset from UTC in minutes; what is not known is UTC.
fn zone_minutes(zone: &[u8]) -> i64 {
    match zone {
        [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 4 => {
            let Some(n) = digits(rest, 4, 4) else { return 0 };
            let minutes = n / 100 * 60 + n % 100;
            if *sign == b'-' { -minutes } else { minutes }
        }
        // Military zones, as their definition says (RFC 822 had the signs backwards).
        [letter] => {
            let c = letter.to_ascii_uppercase();
            let hours = match c {
                b'A'..=b'I' => i64::from(c - b'A') + 1,
                b'K'..=b'M' => i64::from(c - b'A'),
                b'N'..=b'Y' => -(i64::from(c - b'N') + 1),
                _ => 0,
            };
            hours * 60
        }
        [a, b, b'T' | b't'] => {
            let base = match a.to_ascii_uppercase() {
                b'E' => -5,
                b'C' => -6,
                b'M' => -7,
                b'P' => -8,
                _ => return 0,
            };
            match b.to_ascii_uppercase() {
                b'D' => (base + 1) * 60,
                b'S' => base * 60,
                _ => 0,
            }
        }
        _ => 0,
    }
}

struct Tokens<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// White space and (nested, escaped) comments.
    fn skip_cfws(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'(' => depth += 1,
                b')' if depth > 0 => depth -= 1,
                b'\\' if depth > 0 => self.pos += 1,
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ if depth > 0 => {}
                _ => return,
            }
            self.pos += 1;
        }
    }

    /// An atom (RFC 5322 `atext`, and 8-bit bytes), then CFWS; `None` when there is none.
    fn atom(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c >= 0x80 || (c.is_ascii_graphic() && !b"()<>[]:;@\\,.\"".contains(&c)))
        {
            self.pos += 1;
        }
        let token = self.s.get(start..self.pos)?;
        self.skip_cfws();
        (!token.is_empty()).then_some(token)
    }

    /// A special character, then CFWS.
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            self.skip_cfws();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 22 Feb 2008 00:00:00 UTC.
    const DAY: i64 = 1_203_638_400;

    #[test]
    fn rfc_5322_dates() {
        assert_eq!(parse("Fri, 22 Feb 2008 00:00:00 +0000"), Some(DAY));
        assert_eq!(parse("Fri, 22 Feb 2008 02:00:00 +0200"), Some(DAY));
        assert_eq!(parse("Thu, 21 Feb 2008 19:00:00 -0500"), Some(DAY));
        assert_eq!(parse("22 Feb 2008 00:00:00 +0000"), Some(DAY));
        assert_eq!(parse(" Fri , 22 Feb 2008 00:00:00 +0000 (UTC)"), Some(DAY));
        assert_eq!(parse("Fri,\r\n 22\r\n Feb 2008 00:00:00 -0000"), Some(DAY));
    }

    #[test]
    fn lenient_forms_as_dovecot_reads_them() {
        // Each checked against Dovecot 2.3's SORT (DATE).
        assert_eq!(parse("Fri, 22 Feb 2008 01:00 +0000"), Some(DAY + 3600));
        assert_eq!(parse("22 Feb 2008 01:10 GMT"), Some(DAY + 4200));
        assert_eq!(parse("Fri, 22 Feb 08 01:20:00 EST"), Some(DAY + 4800 + 5 * 3600));
        assert_eq!(parse("Fri, 22 Feb 2008 01:30:00"), Some(DAY + 5400));
        assert_eq!(parse("Fri, 22 Feb 2008 01:40:00 XYZ"), Some(DAY + 6000));
        assert_eq!(
            parse("Fri, 22 February 2008 1.00.00 PDT"),
            Some(DAY + 3600 + 7 * 3600)
        );
        assert_eq!(parse("Fri, 22 Feb 2008 00:00:00 A"), Some(DAY - 3600));
        assert_eq!(parse("Fri, 22 Feb 2008 00:00:00 N"), Some(DAY + 3600));
        assert_eq!(
            parse("Fri, 22 Feb 69 00:00:00 +0000").map(|t| t > DAY),
            Some(true)
        );
        assert_eq!(parse("Fri, 22 Feb 70 00:00:00 +0000").map(|t| t < 0), Some(false));
    }

    #[test]
    fn not_dates() {
        for v in [
            "garbage",
            "",
            "Friday, 22 Feb 2008 02:00:00 +0000",
            "Fri 22 Feb 2008 00:00:00 +0000",
            "22-Feb-2008 00:00:00 +0000",
            "Fri, 22 Foo 2008 00:00:00 +0000",
            "Fri, 22 Feb 208 00:00:00 +0000",
            "Fri, 22 Feb 1899 00:00:00 +0000",
            "Fri, 22 Feb 2008 00 +0000",
            "Fri, 22 Feb 2008 00:0 +0000",
            "2008-02-22T00:00:00Z",
        ] {
            assert_eq!(parse(v), None, "{v}");
        }
    }
}
