//! Checks across nodes: duplicates, shadowing, alias targets and loops, alias domains,
//! listener conflicts, settings that need each other, and the warnings about unwise choices.

use std::collections::HashMap;
use std::net::SocketAddr;

use miette::SourceSpan;

use super::diag::{Code, Diagnostics};
use super::model::{Config, ListenerKind, TlsSource};
use super::routing::{AddressBook, NodeRef, Resolved};

/// Runs every cross-node check.
pub fn check(config: &Config, diags: &mut Diagnostics) {
    domains(config, diags);
    addresses(config, diags);
    listeners(config, diags);
    dependencies(config, diags);
}

fn domains(config: &Config, diags: &mut Diagnostics) {
    let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
    for d in &config.domains {
        if let Some(first) = seen.get(d.name.value.as_str()) {
            diags
                .error(
                    Code::DuplicateDomain,
                    d.name.span,
                    format!("domain `{}` is declared twice", d.name.value),
                )
                .label("declared again")
                .related(*first, "first declared here")
                .help("merge the two `domain` blocks");
        } else {
            seen.insert(&d.name.value, d.name.span);
        }
    }
    let kinds: HashMap<&str, bool> = config
        .domains
        .iter()
        .map(|d| (d.name.value.as_str(), d.alias_of.is_some()))
        .collect();
    for d in &config.domains {
        if let Some(of) = &d.alias_of {
            match kinds.get(of.value.as_str()) {
                None => {
                    let d = diags.error(
                        Code::UnknownDomain,
                        of.span,
                        format!("`alias-of` names `{}`, which is not declared", of.value),
                    );
                    d.label("no such domain");
                    let names = config.domains.iter().map(|d| d.name.value.as_str());
                    match super::reader::suggest(&of.value, names) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help(format!("add `domain \"{}\" {{ ... }}` with its users", of.value)),
                    };
                }
                Some(_) if of.value == d.name.value => {
                    diags
                        .error(
                            Code::AliasOfAlias,
                            of.span,
                            format!("`{}` is declared an alias of itself", d.name.value),
                        )
                        .label("points at itself")
                        .help("name the domain whose mailboxes this one shares");
                }
                Some(true) => {
                    diags
                        .error(
                            Code::AliasOfAlias,
                            of.span,
                            format!("`{}` is itself an alias domain", of.value),
                        )
                        .label("alias of an alias")
                        .help("point `alias-of` at the domain that has the users");
                }
                Some(false) => {}
            }
            let has_mailboxes = d
                .users
                .first()
                .map(|u| (u.name.span, "user"))
                .or_else(|| d.aliases.first().map(|a| (a.name.span, "alias")));
            if let Some((span, what)) = has_mailboxes {
                diags
                    .error(
                        Code::AliasDomainHasMailboxes,
                        span,
                        format!(
                            "`{}` is an alias of `{}` and cannot have a {what} of its own",
                            d.name.value, of.value
                        ),
                    )
                    .label(format!("{what} in an alias domain"))
                    .related(of.span, "alias domain declared here")
                    .help(format!(
                        "declare it in `{}`; it then reaches both domains",
                        of.value
                    ));
            }
            if let Some(c) = &d.catch_all {
                diags
                    .error(
                        Code::CatchAllShadowsUser,
                        c.span,
                        format!(
                            "a catch-all on alias domain `{}` would take mail meant for the users of `{}`",
                            d.name.value, of.value
                        ),
                    )
                    .label("catch-all in an alias domain")
                    .related(of.span, "alias domain declared here")
                    .help(format!(
                        "put the catch-all in `{}`; it then covers both domains",
                        of.value
                    ));
            }
        }
        let mut selectors: HashMap<&str, SourceSpan> = HashMap::new();
        for k in &d.dkim {
            if let Some(first) = selectors.get(k.selector.value.as_str()) {
                diags
                    .error(
                        Code::DuplicateSelector,
                        k.selector.span,
                        format!("DKIM selector `{}` is declared twice", k.selector.value),
                    )
                    .label("declared again")
                    .related(*first, "first declared here")
                    .help("each key needs its own selector");
            } else {
                selectors.insert(&k.selector.value, k.selector.span);
            }
        }
        if d.alias_of.is_none() && d.dkim.is_empty() {
            diags
                .warning(Code::DomainWithoutDkim, d.name.span, format!("mail from `{}` will not be DKIM-signed", d.name.value))
                .label("no `dkim` key")
                .help("add `dkim selector=\"<year>a\"` to the domain; many receivers file unsigned mail as spam");
        }
    }
}

fn addresses(config: &Config, diags: &mut Diagnostics) {
    for d in config.domains.iter().filter(|d| d.alias_of.is_none()) {
        let mut users: HashMap<&str, SourceSpan> = HashMap::new();
        for u in &d.users {
            if let Some(first) = users.get(u.name.value.as_str()) {
                diags
                    .error(
                        Code::DuplicateUser,
                        u.name.span,
                        format!("user `{}@{}` is declared twice", u.name.value, d.name.value),
                    )
                    .label("declared again")
                    .related(*first, "first declared here")
                    .help("merge the two `user` nodes");
            } else {
                users.insert(&u.name.value, u.name.span);
            }
        }
        // Every other local part: user aliases and domain aliases.
        let mut others: HashMap<&str, SourceSpan> = HashMap::new();
        let all_aliases = d
            .users
            .iter()
            .flat_map(|u| u.aliases.iter().map(|a| (&a.value, a.span)))
            .chain(d.aliases.iter().map(|a| (&a.name.value, a.name.span)));
        let mut sorted: Vec<_> = all_aliases.collect();
        sorted.sort_by_key(|(_, span)| span.offset());
        for (name, span) in sorted {
            if let Some(user_span) = users.get(name.as_str()) {
                diags
                    .error(
                        Code::AliasShadowsUser,
                        span,
                        format!("alias `{name}@{}` has the same address as a user", d.name.value),
                    )
                    .label("this alias")
                    .related(*user_span, "the user")
                    .help("rename the alias, or remove it: the user already receives this address");
            } else if let Some(first) = others.get(name.as_str()) {
                diags
                    .error(
                        Code::DuplicateAlias,
                        span,
                        format!("alias `{name}@{}` is declared twice", d.name.value),
                    )
                    .label("declared again")
                    .related(*first, "first declared here")
                    .help("keep one of them; to reach several people list them all in one alias's `to`");
            } else {
                others.insert(name, span);
            }
        }
        // postmaster@ must reach someone: a disabled user does not count (nor an alias whose
        // every target is a disabled user of this domain).
        let disabled = |name: &str| d.users.iter().any(|u| u.name.value == name && u.disabled);
        let alias_reaches = |name: &str| {
            d.aliases.iter().filter(|a| a.name.value == name).any(|a| {
                a.targets.iter().any(|t| {
                    !(t.value.domain.eq_ignore_ascii_case(&d.name.value) && disabled(&t.value.local))
                })
            })
        };
        let postmaster_user = users.contains_key("postmaster");
        if postmaster_user
            && disabled("postmaster")
            && let Some(u) = d.users.iter().find(|u| u.name.value == "postmaster")
        {
            {
                diags
                    .warning(
                        Code::NoPostmaster,
                        u.name.span,
                        format!("postmaster@{} is a disabled mailbox: its mail is refused", d.name.value),
                    )
                    .label("disabled")
                    .help("RFC 5321 requires a working postmaster: enable it, or make it an alias to someone who reads mail");
            }
        }
        let postmaster = (postmaster_user && !disabled("postmaster"))
            || (others.contains_key("postmaster")
                && (alias_reaches("postmaster") || !d.aliases.iter().any(|a| a.name.value == "postmaster")))
            || d.catch_all.is_some();
        if !postmaster && !d.users.is_empty() && !postmaster_user {
            diags
                .warning(
                    Code::NoPostmaster,
                    d.name.span,
                    format!("postmaster@{} is not deliverable", d.name.value),
                )
                .label("no postmaster")
                .help("RFC 5321 requires it: add `alias \"postmaster\" to=\"<you>@<domain>\"`");
        }
    }

    let book = AddressBook::new(config);
    for id in 0..book.nodes.len() {
        for t in book.targets(id) {
            if book.resolve(&t.value) == Resolved::Unknown {
                let what = match book.nodes[id] {
                    NodeRef::Alias { .. } => "alias",
                    NodeRef::CatchAll { .. } => "catch-all",
                };
                diags
                    .error(
                        Code::UnknownAliasTarget,
                        t.span,
                        format!(
                            "{what} target `{}` is a local address that nobody receives",
                            t.value
                        ),
                    )
                    .label("no such user or alias")
                    .help(format!(
                        "add `user \"{}\"` (or an alias) to `{}`, or fix the address",
                        t.value.local, t.value.domain
                    ));
            }
        }
    }
    let lengths = book.chain_lengths();
    if let Some((id, &length)) = lengths
        .iter()
        .enumerate()
        .filter(|(_, l)| **l > super::routing::MAX_CHAIN)
        .max_by_key(|(id, l)| (**l, std::cmp::Reverse(*id)))
    {
        diags
            .error(
                Code::AliasChainTooLong,
                node_span(config, &book.nodes[id]),
                format!(
                    "mail to {} passes through {length} aliases; yubin follows at most {}",
                    book.node_name(id),
                    super::routing::MAX_CHAIN
                ),
            )
            .label("the chain starts here")
            .help("point the aliases at the users directly");
    }
    for cycle in book.loops() {
        let chain: Vec<String> = cycle
            .iter()
            .chain(cycle.first())
            .map(|n| book.node_name(*n))
            .collect();
        let span = node_span(config, &book.nodes[cycle[0]]);
        let d = diags.error(
            Code::AliasLoop,
            span,
            format!("aliases form a loop: {}", chain.join(" → ")),
        );
        d.label("loop starts here")
            .help("one of the aliases must point at a user or a remote address");
        for n in &cycle[1..] {
            d.related(node_span(config, &book.nodes[*n]), "part of the loop");
        }
    }
}

fn node_span(config: &Config, node: &NodeRef) -> SourceSpan {
    match *node {
        NodeRef::Alias { domain, alias } => config.domains[domain].aliases[alias].name.span,
        NodeRef::CatchAll { domain } => config.domains[domain]
            .catch_all
            .as_ref()
            .map_or(SourceSpan::from(0..0), |c| c.span),
    }
}

fn overlaps(a: &SocketAddr, b: &SocketAddr) -> bool {
    a.port() == b.port()
        && a.is_ipv4() == b.is_ipv4()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

fn listeners(config: &Config, diags: &mut Diagnostics) {
    let list = &config.listeners;
    for (i, l) in list.iter().enumerate() {
        if let Some(first) = list[..i]
            .iter()
            .find(|f| overlaps(&f.address.value, &l.address.value))
        {
            let msg = if first.address.value == l.address.value {
                format!(
                    "`{}` and `{}` both listen on {}",
                    first.kind.name(),
                    l.kind.name(),
                    l.address.value
                )
            } else {
                format!(
                    "{} ({}) overlaps {} ({})",
                    l.address.value,
                    l.kind.name(),
                    first.address.value,
                    first.kind.name()
                )
            };
            diags
                .error(Code::ListenerConflict, l.address.span, msg)
                .label("already taken")
                .related(first.address.span, "first listener")
                .help("give each listener its own port");
        }
    }
    for l in list.iter().filter(|l| l.kind == ListenerKind::Http) {
        if !l.address.value.ip().is_loopback() && config.listen_declared {
            diags
                .warning(
                    Code::PublicHttpListener,
                    l.address.span,
                    format!(
                        "the admin API and webhook listen on {} without TLS",
                        l.address.value
                    ),
                )
                .label("reachable from the network")
                .help("keep `http` on 127.0.0.1; use `https` for a webhook reachable from the network");
        }
    }
}

fn dependencies(config: &Config, diags: &mut Diagnostics) {
    if let Some(w) = &config.inbound_webhook
        && !config
            .listeners
            .iter()
            .any(|l| matches!(l.kind, ListenerKind::Http | ListenerKind::Https))
    {
        diags
            .error(
                Code::MissingDependency,
                w.span,
                "`inbound-webhook` needs an `http` or `https` listener",
            )
            .label("nothing serves it")
            .help("add `http \"127.0.0.1:8080\"` to `listen`");
    }
    let has_submission = config.listeners.iter().any(|l| {
        matches!(
            l.kind,
            ListenerKind::Submission | ListenerKind::Submissions | ListenerKind::Smtp
        )
    });
    if let (Some(first), false) = (config.trusted_networks.first(), has_submission) {
        diags
            .error(
                Code::MissingDependency,
                first.span,
                "`trusted-networks` needs an `smtp` or `submission` listener",
            )
            .label("nothing accepts their mail")
            .help("add `submission \"0.0.0.0:587\"` (or `smtp`) to `listen`");
    }
    if matches!(config.tls.source, TlsSource::Acme { .. })
        && !super::names::is_qualified(&config.hostname.value)
    {
        diags
            .error(
                Code::Conflict,
                config.hostname.span,
                "ACME needs a fully qualified `hostname`",
            )
            .label("no public CA issues a certificate for this name")
            .help("use the server's public name, or `self-signed` for local tests");
    }
}
