//! Recipient resolution at runtime, from the plan's routing table: exact address, then the
//! address without its `+tag`, then the domain's catch-all (`@domain`). Also answers which
//! addresses an authenticated user may send as.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::plan::{Plan, Route};

pub mod srs;

/// A mailbox as delivery needs it.
#[derive(Debug, Clone)]
pub struct MailboxInfo {
    /// The Maildir (absolute).
    pub maildir: PathBuf,
    /// Quota in bytes.
    pub quota: Option<u64>,
    /// New mail refused.
    pub disabled: bool,
}

/// Where a recipient address goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution<'a> {
    /// A local address and its route.
    Local(&'a Route),
    /// A local domain, but nobody receives this address.
    Unknown,
    /// Not a local domain.
    Remote,
}

/// The routing table of a plan.
#[derive(Debug, Default)]
pub struct Routing {
    routes: HashMap<String, Route>,
    domains: HashSet<String>,
    mailboxes: HashMap<String, MailboxInfo>,
    delimiter: Option<char>,
    postmaster: Option<String>,
}

impl Routing {
    /// Builds the table; Maildirs are placed under `data_dir`.
    pub fn from_plan(plan: &Plan) -> Self {
        let data_dir = Path::new(&plan.storage.data_dir);
        let mailboxes = plan
            .mailboxes
            .iter()
            .map(|(addr, m)| {
                (
                    addr.clone(),
                    MailboxInfo {
                        maildir: data_dir.join(&m.maildir),
                        quota: m.quota_bytes,
                        disabled: m.disabled,
                    },
                )
            })
            .collect();
        // `RCPT TO:<postmaster>` goes to postmaster at the host's own domain when it is local,
        // otherwise to the first local domain that has one.
        let host_domain = plan
            .hostname
            .split_once('.')
            .map(|(_, d)| d.to_owned())
            .unwrap_or_default();
        let postmaster = std::iter::once(host_domain)
            .chain(plan.domains.keys().cloned())
            .map(|d| format!("postmaster@{d}"))
            .find(|a| plan.routes.contains_key(a));
        Routing {
            routes: plan.routes.clone().into_iter().collect(),
            domains: plan.domains.keys().cloned().collect(),
            mailboxes,
            delimiter: plan.recipient_delimiter.as_ref().and_then(|d| d.chars().next()),
            postmaster,
        }
    }

    /// True when `domain` (lower-case ASCII) is local.
    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.domains.contains(domain)
    }

    /// The mailbox called `address`.
    pub fn mailbox(&self, address: &str) -> Option<&MailboxInfo> {
        self.mailboxes.get(address)
    }

    /// Every mailbox.
    pub fn mailboxes(&self) -> impl Iterator<Item = (&String, &MailboxInfo)> {
        self.mailboxes.iter()
    }

    /// The address `<postmaster>` (no domain) stands for.
    pub fn postmaster(&self) -> Option<&str> {
        self.postmaster.as_deref()
    }

    fn exact_or_tagged(&self, local: &str, domain: &str) -> Option<&Route> {
        if let Some(r) = self.routes.get(&format!("{local}@{domain}")) {
            return Some(r);
        }
        let delim = self.delimiter?;
        let (base, _) = local.split_once(delim)?;
        if base.is_empty() {
            return None;
        }
        self.routes.get(&format!("{base}@{domain}"))
    }

    /// Resolves `local@domain` (domain lower-case ASCII; the local part is compared in lower
    /// case).
    pub fn resolve(&self, local: &str, domain: &str) -> Resolution<'_> {
        if !self.is_local_domain(domain) {
            return Resolution::Remote;
        }
        let local = local.to_lowercase();
        if let Some(r) = self.exact_or_tagged(&local, domain) {
            return Resolution::Local(r);
        }
        match self.routes.get(&format!("@{domain}")) {
            Some(r) => Resolution::Local(r),
            None => Resolution::Unknown,
        }
    }

    /// Whether the user owning `mailbox` may send as `local@domain`: the address (or its
    /// untagged form) must route to that mailbox. Catch-alls do not count.
    pub fn may_send_as(&self, mailbox: &str, local: &str, domain: &str) -> bool {
        let local = local.to_lowercase();
        self.exact_or_tagged(&local, domain)
            .is_some_and(|r| r.mailboxes.iter().any(|m| m == mailbox))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path as StdPath;

    fn routing() -> Routing {
        let text = r#"
hostname "mail.example.com"
domain "example.com" {
    dkim selector="s"
    user "alice" password-hash="$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE" alias="info"
    user "bob" password-hash="$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE"
    alias "postmaster" to="alice"
    alias "team" {
        to "alice" "bob"
    }
}
domain "example.org" {
    alias-of "example.com"
}
domain "catch.example" {
    dkim selector="s"
    user "carol" password-hash="$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE"
    alias "postmaster" to="carol"
    catch-all to="carol"
}
"#;
        let o = crate::config::parse(StdPath::new("t.kdl"), text, StdPath::new("/tmp"));
        let plan = crate::plan::compile(o.config.as_ref().expect("valid"));
        Routing::from_plan(&plan)
    }

    #[test]
    fn resolution_order() {
        let r = routing();
        let mb = |res: Resolution<'_>| match res {
            Resolution::Local(route) => route.mailboxes.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(mb(r.resolve("Alice", "example.com")), ["alice@example.com"]);
        assert_eq!(mb(r.resolve("alice+lists", "example.com")), ["alice@example.com"]);
        assert_eq!(mb(r.resolve("info", "example.org")), ["alice@example.com"]);
        assert_eq!(
            mb(r.resolve("team", "example.com")),
            ["alice@example.com", "bob@example.com"]
        );
        assert_eq!(r.resolve("nobody", "example.com"), Resolution::Unknown);
        assert_eq!(r.resolve("alice", "elsewhere.example"), Resolution::Remote);
        assert_eq!(
            mb(r.resolve("anything", "catch.example")),
            ["carol@catch.example"]
        );
        assert_eq!(r.postmaster(), Some("postmaster@example.com"));
    }

    #[test]
    fn senders() {
        let r = routing();
        assert!(r.may_send_as("alice@example.com", "alice", "example.com"));
        assert!(r.may_send_as("alice@example.com", "info", "example.org"));
        assert!(r.may_send_as("alice@example.com", "alice+x", "example.com"));
        assert!(r.may_send_as("alice@example.com", "team", "example.com"));
        assert!(!r.may_send_as("alice@example.com", "bob", "example.com"));
        assert!(
            !r.may_send_as("carol@catch.example", "random", "catch.example"),
            "not through a catch-all"
        );
    }
}
