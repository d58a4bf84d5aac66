//! Host names, domains, local parts and addresses: parsed, checked and normalised.
//!
//! Domains are stored in their ASCII (A-label) form, lower case, after UTS #46 processing, so
//! `Exämple.com` and `xn--exmple-cua.com` are the same domain. Local parts are dot-atoms
//! (RFC 5321 §4.1.2) with UTF-8 allowed (RFC 6531), compared in lower case.

use std::fmt;

/// Why a name was refused (the message shown to the user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(pub String);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, NameError> {
    Err(NameError(msg.into()))
}

/// Checks a DNS name (host or mail domain) and returns its lower-case ASCII form.
///
/// Refuses IP addresses, trailing dots, empty labels, labels over 63 octets, names over 253
/// octets, characters other than letters, digits and hyphens (after IDNA), labels that start
/// or end with a hyphen, and all-numeric top-level labels.
pub fn domain_to_ascii(input: &str) -> Result<String, NameError> {
    if input.is_empty() {
        return err("the name is empty");
    }
    if input.parse::<std::net::IpAddr>().is_ok() {
        return err("an IP address is not a domain name");
    }
    if input.starts_with('[') {
        return err("address literals are not domain names");
    }
    if input.ends_with('.') {
        return err("the name ends with a dot");
    }
    if input.chars().any(|c| c.is_whitespace()) {
        return err("the name contains white space");
    }
    let ascii = if input.is_ascii() {
        input.to_ascii_lowercase()
    } else {
        match idna::domain_to_ascii(input) {
            Ok(a) => a,
            Err(_) => return err("the name is not a valid internationalised domain name (IDNA)"),
        }
    };
    if ascii.len() > 253 {
        return err("the name is longer than 253 characters");
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return err("the name has an empty label (two dots in a row, or a leading dot)");
        }
        if label.len() > 63 {
            return err(format!("the label `{label}` is longer than 63 characters"));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return err(format!(
                "`{c}` is not allowed in a domain name (letters, digits and `-` only)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return err(format!("the label `{label}` starts or ends with `-`"));
        }
        if label.starts_with("xn--") && idna::domain_to_unicode(label).1.is_err() {
            return err(format!("the label `{label}` is not valid punycode"));
        }
    }
    if labels.len() > 1
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return err("the top-level label is all digits");
    }
    Ok(ascii)
}

/// True when the name has at least two labels.
pub fn is_qualified(ascii: &str) -> bool {
    ascii.contains('.')
}

const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

/// Checks a local part (dot-atom, UTF-8 allowed) and returns it in lower case.
pub fn local_part(input: &str) -> Result<String, NameError> {
    if input.is_empty() {
        return err("the local part is empty");
    }
    if input.len() > 64 {
        return err("the local part is longer than 64 octets (RFC 5321 §4.5.3.1.1)");
    }
    if input.starts_with('"') {
        return err("quoted local parts are not supported");
    }
    if input.starts_with('.') || input.ends_with('.') {
        return err("the local part starts or ends with a dot");
    }
    if input.contains("..") {
        return err("the local part has two dots in a row");
    }
    for c in input.chars() {
        let ok = c.is_ascii_alphanumeric()
            || c == '.'
            || ATEXT_SPECIALS.contains(c)
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace());
        if !ok {
            let shown = if c.is_control() || c.is_whitespace() {
                format!("{c:?}")
            } else {
                format!("`{c}`")
            };
            return err(format!("{shown} is not allowed in a local part"));
        }
    }
    Ok(input.to_lowercase())
}

/// An address split into its normalised parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    /// Lower-case local part.
    pub local: String,
    /// Lower-case ASCII domain.
    pub domain: String,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// Parses `local@domain`. With `default_domain`, a bare local part is allowed and completed.
pub fn address(input: &str, default_domain: Option<&str>) -> Result<Address, NameError> {
    let input = input.strip_prefix("mailto:").unwrap_or(input);
    match input.rsplit_once('@') {
        Some((local, domain)) => {
            if local.is_empty() {
                return err("the address has nothing before the `@`");
            }
            if local.contains('@') {
                return err("the address has more than one `@`");
            }
            if domain.is_empty() {
                return err("the address has nothing after the `@`");
            }
            let local = local_part(local)?;
            let domain = domain_to_ascii(domain).map_err(|e| NameError(format!("in the domain: {e}")))?;
            Ok(Address { local, domain })
        }
        None => match default_domain {
            Some(domain) => Ok(Address {
                local: local_part(input)?,
                domain: domain.to_owned(),
            }),
            None => err("an address needs `@` and a domain"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised_to_ascii() {
        assert_eq!(domain_to_ascii("Example.COM").unwrap(), "example.com");
        assert_eq!(domain_to_ascii("exämple.com").unwrap(), "xn--exmple-cua.com");
        assert_eq!(
            domain_to_ascii("xn--exmple-cua.com").unwrap(),
            "xn--exmple-cua.com"
        );
        assert_eq!(domain_to_ascii("localhost").unwrap(), "localhost");
    }

    #[test]
    fn bad_domains_are_refused() {
        for bad in [
            "",
            "a..b",
            ".a",
            "a.",
            "-a.com",
            "a-.com",
            "a_b.com",
            "1.2.3.4",
            "a.123",
            "[1.2.3.4]",
            "a b.com",
            "xn--zz.com",
        ] {
            assert!(domain_to_ascii(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(domain_to_ascii(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn local_parts() {
        assert_eq!(local_part("Alice.Smith+x").unwrap(), "alice.smith+x");
        assert_eq!(local_part("jörg").unwrap(), "jörg");
        for bad in [
            "", ".a", "a.", "a..b", "a b", "a\"b", "\"a\"", "a@b", "a(b", "a,b", "a\\b",
        ] {
            assert!(local_part(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(local_part(&"a".repeat(65)).is_err());
    }

    #[test]
    fn addresses() {
        let a = address("Bob@Example.com", None).unwrap();
        assert_eq!(a.to_string(), "bob@example.com");
        assert_eq!(address("bob", Some("x.org")).unwrap().to_string(), "bob@x.org");
        assert!(address("bob", None).is_err());
        assert!(address("a@b@c.com", None).is_err());
        assert!(address("@c.com", None).is_err());
        assert!(address("a@", None).is_err());
        assert_eq!(address("mailto:r@x.org", None).unwrap().to_string(), "r@x.org");
    }
}
