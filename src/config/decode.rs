//! KDL document → [`Config`]: one function per node, each reading its node against the spec and
//! reporting every problem it finds. Decoding never stops at the first error: it keeps what is
//! valid so the cross-checks can still run and report more.

use std::net::{IpAddr, SocketAddr};

use kdl::{KdlDocument, KdlNode};
use miette::SourceSpan;

use super::diag::Code;
use super::model::*;
use super::names;
use super::reader::{self, Cx, Reader, Spanned, Val};
use super::spec;
use super::values;

/// Decodes the whole document. The result is complete only when no error was reported.
pub fn decode(cx: &mut Cx, doc: &KdlDocument) -> Config {
    let mut r = Reader::root(doc);

    let hostname = match r.child(cx, "hostname") {
        Some(node) => hostname(cx, node),
        // A misspelt `hostname` is already reported as an unknown node with a suggestion.
        None if doc
            .nodes()
            .iter()
            .any(|n| reader::suggest(n.name().value(), ["hostname"].into_iter()).is_some()) =>
        {
            None
        }
        None => {
            cx.diags
                .error(
                    Code::MissingValue,
                    SourceSpan::from(0..0),
                    "mail.kdl needs a `hostname`",
                )
                .label("no hostname in this file")
                .help("add the server's name at the top, e.g. hostname \"mail.example.com\"");
            None
        }
    };
    let hostname =
        hostname.unwrap_or_else(|| Spanned::new("invalid.invalid".to_owned(), SourceSpan::from(0..0)));

    let listen_node = r.child(cx, "listen");
    let listeners = match listen_node {
        Some(node) => listen(cx, node),
        None => default_listeners(),
    };
    let tls = r.child(cx, "tls").map_or(
        Tls {
            source: TlsSource::SelfSigned,
            min_version: "1.2",
        },
        |n| tls(cx, n),
    );
    let storage = match r.child(cx, "storage") {
        Some(n) => storage(cx, n),
        None => default_storage(cx),
    };
    let domains = r
        .children("domain")
        .into_iter()
        .filter_map(|n| domain(cx, n))
        .collect();
    let relay = r.child(cx, "relay").and_then(|n| relay(cx, n));
    let resolvers = r.child(cx, "dns").map(|n| dns(cx, n)).unwrap_or_default();
    let trusted_networks = r
        .children("trusted-networks")
        .into_iter()
        .flat_map(|n| trusted_networks(cx, n))
        .collect();
    let allowed_sender_domains = r
        .children("allowed-sender-domains")
        .into_iter()
        .flat_map(|n| domain_list(cx, n, &spec::ALLOWED_SENDER_DOMAINS))
        .collect();
    let limits = r
        .child(cx, "limits")
        .map_or_else(Limits::default, |n| limits(cx, n));
    let antivirus = r.child(cx, "antivirus").and_then(|n| antivirus(cx, n));
    let antispam = r.child(cx, "antispam").and_then(|n| antispam(cx, n));
    let inbound_webhook = r.child(cx, "inbound-webhook").map(|n| inbound_webhook(cx, n));
    let backup = r.child(cx, "backup").and_then(|n| backup(cx, n));
    let recipient_delimiter = match r.child(cx, "recipient-delimiter") {
        Some(n) => recipient_delimiter(cx, n),
        None => Some('+'),
    };
    r.finish(cx);

    Config {
        hostname,
        listeners,
        listen_declared: listen_node.is_some(),
        tls,
        storage,
        domains,
        relay,
        resolvers,
        trusted_networks,
        allowed_sender_domains,
        limits,
        antivirus,
        antispam,
        inbound_webhook,
        backup,
        recipient_delimiter,
    }
}

fn hostname(cx: &mut Cx, node: &KdlNode) -> Option<Spanned<String>> {
    let mut r = Reader::new(cx, node, &spec::HOSTNAME);
    let v = r.required_arg(cx, "a host name", "hostname \"mail.example.com\"");
    r.finish(cx);
    let name = reader::parsed(cx, v?, Code::InvalidHostname, |s| {
        names::domain_to_ascii(s).map_err(|e| format!("`{s}` is not a valid host name: {e}"))
    })?;
    if !names::is_qualified(&name.value) {
        cx.diags
            .warning(
                Code::UnqualifiedHostname,
                name.span,
                format!("`{}` is not a fully qualified name", name.value),
            )
            .label("no domain part")
            .help("other servers expect the EHLO name to resolve; use e.g. \"mail.example.com\"");
    }
    Some(name)
}

fn default_listeners() -> Vec<Listener> {
    ListenerKind::ALL
        .iter()
        .filter_map(|kind| {
            let addr: SocketAddr = kind.default_address()?.parse().ok()?;
            Some(Listener {
                kind: *kind,
                address: Spanned::new(addr, SourceSpan::from(0..0)),
            })
        })
        .collect()
}

fn listen(cx: &mut Cx, node: &KdlNode) -> Vec<Listener> {
    let mut r = Reader::new(cx, node, &spec::LISTEN);
    let mut out = Vec::new();
    for kind in ListenerKind::ALL {
        for v in r.prop_many(cx, kind.name()) {
            if let Some(addr) = reader::parsed(cx, v, Code::InvalidSocketAddress, values::socket_addr) {
                out.push(Listener { kind, address: addr });
            }
        }
    }
    r.finish(cx);
    out
}

fn tls(cx: &mut Cx, node: &KdlNode) -> Tls {
    let mut r = Reader::new(cx, node, &spec::TLS);
    let min_version = r
        .prop(cx, "min-version")
        .and_then(|v| reader::choice(cx, v, spec::TLS_VERSIONS))
        .map_or("1.2", |c| c.value);
    let mut sources: Vec<(SourceSpan, TlsSource)> = Vec::new();
    for n in r.children("acme") {
        if let Some(s) = acme(cx, n) {
            sources.push((n.name().span(), s));
        }
    }
    for n in r.children("certificate") {
        if let Some(s) = certificate(cx, n) {
            sources.push((n.name().span(), s));
        }
    }
    for n in r.children("self-signed") {
        let sr = Reader::new(cx, n, &spec::TLS_SELF_SIGNED);
        sr.finish(cx);
        sources.push((n.name().span(), TlsSource::SelfSigned));
    }
    r.finish(cx);
    sources.sort_by_key(|(span, _)| span.offset());
    if let Some((first, _)) = sources.first() {
        for (span, _) in &sources[1..] {
            cx.diags
                .error(
                    Code::TlsSourceConflict,
                    *span,
                    "`tls` has more than one certificate source",
                )
                .label("second source")
                .related(*first, "first source")
                .help("keep exactly one of `acme`, `certificate` and `self-signed`");
        }
    }
    let source = sources
        .into_iter()
        .next()
        .map_or(TlsSource::SelfSigned, |(_, s)| s);
    Tls { source, min_version }
}

fn acme(cx: &mut Cx, node: &KdlNode) -> Option<TlsSource> {
    let mut r = Reader::new(cx, node, &spec::TLS_ACME);
    let email = r
        .required_prop(cx, "email", "acme email=\"hostmaster@example.com\"")
        .and_then(|v| address(cx, v, None));
    let directory = match r.prop(cx, "directory") {
        Some(v) => {
            reader::parsed(cx, v, Code::InvalidUrl, values::url).map(|u| u.value.to_string_normalised())
        }
        None => Some("https://acme-v02.api.letsencrypt.org/directory".to_owned()),
    };
    let ca_file = r
        .prop(cx, "ca-file")
        .and_then(|v| reader::path(cx, v))
        .map(|p| p.value);
    let http_challenge = match r.prop(cx, "http-challenge") {
        Some(v) => reader::parsed(cx, v, Code::InvalidSocketAddress, values::socket_addr)?.value,
        None => SocketAddr::from(([0, 0, 0, 0], 80)),
    };
    r.finish(cx);
    Some(TlsSource::Acme {
        email: email?.value.to_string(),
        directory: directory?,
        ca_file,
        http_challenge,
    })
}

fn certificate(cx: &mut Cx, node: &KdlNode) -> Option<TlsSource> {
    let mut r = Reader::new(cx, node, &spec::TLS_CERTIFICATE);
    let chain = r
        .required_arg(
            cx,
            "the certificate chain file",
            "certificate \"fullchain.pem\" key=\"privkey.pem\"",
        )
        .and_then(|v| reader::path(cx, v));
    let key = r
        .required_prop(cx, "key", "certificate \"fullchain.pem\" key=\"privkey.pem\"")
        .and_then(|v| reader::path(cx, v));
    r.finish(cx);
    Some(TlsSource::Files {
        chain: chain?.value,
        key: key?.value,
    })
}

fn default_storage(cx: &Cx) -> Storage {
    let data = reader::resolve_path(&cx.base_dir, "/var/lib/yubin");
    Storage {
        database: Database::Sqlite(data.join("yubin.db")),
        data,
        database_password: None,
    }
}

/// Whether a relative path climbs out of the folder it is relative to (`../var`, `a/../../b`).
fn leaves_folder(path: &str) -> bool {
    if std::path::Path::new(path).is_absolute() {
        return false;
    }
    let mut depth = 0i32;
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn storage(cx: &mut Cx, node: &KdlNode) -> Storage {
    let mut r = Reader::new(cx, node, &spec::STORAGE);
    let data_value = r.prop(cx, "data");
    if let Some(v) = &data_value
        && let kdl::KdlValue::String(raw) = v.value
        && leaves_folder(raw)
    {
        cx.diags
            .warning(
                Code::DataOutsideConfigFolder,
                v.span,
                format!("the data folder `{raw}` is outside this file's folder, and moves with wherever the file is"),
            )
            .label("relative, leaving the folder")
            .help("give an absolute path, e.g. data \"/var/lib/yubin\", or one inside this file's folder");
    }
    let data = data_value.and_then(|v| reader::path(cx, v)).map_or_else(
        || reader::resolve_path(&cx.base_dir, "/var/lib/yubin"),
        |p| p.value,
    );
    let database = match r.prop(cx, "database") {
        Some(v) => database(cx, v),
        None => Some(Database::Sqlite(data.join("yubin.db"))),
    };
    let password_node = r.child(cx, "database-password");
    let database_password = password_node.and_then(|n| secret(cx, n, &spec::DATABASE_PASSWORD));
    r.finish(cx);
    if let (Some(Database::Sqlite(_)), Some(n)) = (&database, password_node) {
        cx.diags
            .error(
                Code::Conflict,
                n.name().span(),
                "`database-password` is only used with PostgreSQL",
            )
            .label("the database is SQLite")
            .help("remove it, or set `database \"postgres://user@host/db\"`");
    }
    Storage {
        database: database.unwrap_or_else(|| Database::Sqlite(data.join("yubin.db"))),
        data,
        database_password,
    }
}

fn database(cx: &mut Cx, v: Val<'_>) -> Option<Database> {
    let s = reader::string(cx, v)?;
    match values::database(&s.value) {
        Ok(values::Database::Sqlite(p)) => Some(Database::Sqlite(reader::resolve_path(&cx.base_dir, &p))),
        Ok(values::Database::Postgres(url)) => Some(Database::Postgres(url)),
        Err(msg) if msg == "inline-password" => {
            cx.diags
                .error(Code::InlineSecret, s.span, "the database URL contains a password")
                .label("password inline")
                .help("remove it from the URL and add `database-password env=\"VARIABLE\"` (or file=) to `storage`");
            None
        }
        Err(msg) => {
            cx.diags
                .error(Code::InvalidUrl, s.span, msg)
                .label("invalid `database`");
            None
        }
    }
}

/// A node that holds a secret reference: `env="NAME"` or `file="/path"`, nothing inline.
fn secret(cx: &mut Cx, node: &KdlNode, spec: &'static spec::NodeSpec) -> Option<Spanned<SecretRef>> {
    let name = node.name().value();
    let mut r = Reader::new(cx, node, spec);
    if let Some(inline) = r.arg() {
        cx.diags
            .error(
                Code::InlineSecret,
                inline.span,
                format!("`{name}` must not be written inline"),
            )
            .label("secret in the config file")
            .help(format!(
                "write `{name} env=\"VARIABLE\"` or `{name} file=\"/run/secrets/...\"`"
            ));
        r.rest_args();
        r.finish(cx);
        return None;
    }
    let env = r.prop(cx, "env");
    let file = r.prop(cx, "file");
    r.finish(cx);
    let span = node.span();
    match (env, file) {
        (Some(e), Some(_)) => {
            cx.diags
                .error(
                    Code::InvalidSecretRef,
                    e.span,
                    format!("`{name}` has both `env=` and `file=`"),
                )
                .label("one too many")
                .help("keep one of them");
            None
        }
        (None, None) => {
            cx.diags
                .error(
                    Code::InvalidSecretRef,
                    node.name().span(),
                    format!("`{name}` needs `env=` or `file=`"),
                )
                .label("no reference")
                .help(format!(
                    "write `{name} env=\"VARIABLE\"` or `{name} file=\"/run/secrets/...\"`"
                ));
            None
        }
        (Some(e), None) => {
            let var = reader::parsed(cx, e, Code::InvalidSecretRef, |s| {
                values::env_name(s).map(|()| s.to_owned())
            })?;
            Some(Spanned::new(SecretRef::Env(var.value), span))
        }
        (None, Some(f)) => {
            let path = reader::path(cx, f)?;
            Some(Spanned::new(SecretRef::File(path.value), span))
        }
    }
}

fn address(cx: &mut Cx, v: Val<'_>, default_domain: Option<&str>) -> Option<Spanned<names::Address>> {
    reader::parsed(cx, v, Code::InvalidAddress, |s| {
        names::address(s, default_domain).map_err(|e| format!("`{s}` is not a valid address: {e}"))
    })
}

fn domain_name(cx: &mut Cx, v: Val<'_>) -> Option<Spanned<String>> {
    reader::parsed(cx, v, Code::InvalidHostname, |s| {
        names::domain_to_ascii(s).map_err(|e| format!("`{s}` is not a valid domain: {e}"))
    })
}

fn local_part(cx: &mut Cx, v: Val<'_>) -> Option<Spanned<String>> {
    reader::parsed(cx, v, Code::InvalidAddress, |s| {
        if s.contains('@') {
            return Err(format!(
                "`{s}` should be only the part before `@` (the domain is the enclosing `domain`)"
            ));
        }
        names::local_part(s).map_err(|e| format!("`{s}` is not a valid local part: {e}"))
    })
}

fn domain(cx: &mut Cx, node: &KdlNode) -> Option<Domain> {
    let mut r = Reader::new(cx, node, &spec::DOMAIN);
    let name = r
        .required_arg(cx, "a domain name", "domain \"example.com\" { ... }")
        .and_then(|v| domain_name(cx, v));
    let alias_of = r.prop(cx, "alias-of").and_then(|v| domain_name(cx, v));
    let default_domain = name.as_ref().map(|n| n.value.clone());
    let dkim = r
        .children("dkim")
        .into_iter()
        .filter_map(|n| dkim(cx, n))
        .collect();
    let dmarc = r.child(cx, "dmarc").and_then(|n| dmarc(cx, n));
    let users = r
        .children("user")
        .into_iter()
        .filter_map(|n| user(cx, n))
        .collect();
    let aliases = r
        .children("alias")
        .into_iter()
        .filter_map(|n| alias(cx, n, default_domain.as_deref()))
        .collect();
    let catch_all = r
        .child(cx, "catch-all")
        .and_then(|n| catch_all(cx, n, default_domain.as_deref()));
    r.finish(cx);
    Some(Domain {
        name: name?,
        alias_of,
        dkim,
        dmarc,
        users,
        aliases,
        catch_all,
    })
}

fn dkim(cx: &mut Cx, node: &KdlNode) -> Option<Dkim> {
    let mut r = Reader::new(cx, node, &spec::DKIM);
    let selector = r
        .required_prop(cx, "selector", "dkim selector=\"2026a\"")
        .and_then(|v| {
            reader::parsed(cx, v, Code::InvalidHostname, |s| {
                let ok = !s.is_empty()
                    && s.split('.').all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && l.chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    });
                if ok {
                    Ok(s.to_ascii_lowercase())
                } else {
                    Err(format!(
                        "`{s}` is not a valid selector (letters, digits, `-`, `_`, dots between labels)"
                    ))
                }
            })
        });
    let algorithm = r
        .prop(cx, "algorithm")
        .and_then(|v| reader::choice(cx, v, spec::DKIM_ALGORITHMS))
        .map_or("ed25519", |c| c.value);
    let key_file = r
        .prop(cx, "key-file")
        .and_then(|v| reader::path(cx, v))
        .map(|p| p.value);
    r.finish(cx);
    Some(Dkim {
        selector: selector?,
        algorithm,
        key_file,
    })
}

fn dmarc(cx: &mut Cx, node: &KdlNode) -> Option<Dmarc> {
    let mut r = Reader::new(cx, node, &spec::DMARC);
    let policy = r
        .required_prop(cx, "policy", "dmarc policy=\"quarantine\"")
        .and_then(|v| reader::choice(cx, v, spec::DMARC_POLICIES));
    let subdomain_policy = r
        .prop(cx, "subdomain-policy")
        .and_then(|v| reader::choice(cx, v, spec::DMARC_POLICIES))
        .map(|c| c.value);
    let rua = r
        .prop(cx, "rua")
        .and_then(|v| address(cx, v, None))
        .map(|a| a.value);
    r.finish(cx);
    let policy = policy?;
    if policy.value == "none" {
        cx.diags
            .warning(
                Code::DmarcPolicyNone,
                policy.span,
                "DMARC policy \"none\" only monitors",
            )
            .label("spoofed mail is still delivered")
            .help("move to \"quarantine\" or \"reject\" once reports show your mail passes");
    }
    Some(Dmarc {
        policy,
        subdomain_policy,
        rua,
    })
}

fn user(cx: &mut Cx, node: &KdlNode) -> Option<User> {
    let mut r = Reader::new(cx, node, &spec::USER);
    let name = r
        .required_arg(cx, "a name", "user \"alice\" password-hash=\"...\"")
        .and_then(|v| local_part(cx, v));
    let hash = r
        .required_prop(
            cx,
            "password-hash",
            "password-hash \"$argon2id$...\" (from `yubin hash-password`)",
        )
        .and_then(|v| password_hash(cx, v));
    let quota = r.prop(cx, "quota").and_then(|v| size(cx, v, 1));
    let aliases = r
        .prop_many(cx, "alias")
        .into_iter()
        .filter_map(|v| local_part(cx, v))
        .collect();
    let disabled = r
        .prop(cx, "disabled")
        .and_then(|v| reader::boolean(cx, v))
        .is_some_and(|b| b.value);
    r.finish(cx);
    // Keep the user even when a field is invalid, so checks that refer to it don't cascade.
    Some(User {
        name: name?,
        password_hash: hash.unwrap_or_default(),
        quota: quota.map(|q| q.value),
        aliases,
        disabled,
    })
}

fn password_hash(cx: &mut Cx, v: Val<'_>) -> Option<String> {
    use argon2::password_hash::phc::PasswordHash;
    let s = reader::string(cx, v)?;
    let bad = |cx: &mut Cx, msg: String| {
        cx.diags
            .error(Code::InvalidPasswordHash, s.span, msg)
            .label("not an argon2 hash")
            .help("generate one with `yubin hash-password` and paste the whole `$argon2id$...` string");
    };
    if !s.value.starts_with('$') {
        bad(cx, "the password hash is not a PHC string (it must start with `$argon2id$`); is this a plain password?".into());
        return None;
    }
    let parsed = match PasswordHash::new(&s.value) {
        Ok(p) => p,
        Err(e) => {
            bad(cx, format!("the password hash is not a valid PHC string: {e}"));
            return None;
        }
    };
    let algorithm = parsed.algorithm.as_str().to_owned();
    if !matches!(algorithm.as_str(), "argon2id" | "argon2i" | "argon2d") {
        bad(
            cx,
            format!("the password hash uses `{algorithm}`; yubin accepts argon2 only"),
        );
        return None;
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        bad(cx, "the password hash has no salt or no hash part".into());
        return None;
    }
    let params = match argon2::Params::try_from(&parsed) {
        Ok(p) => p,
        Err(e) => {
            bad(cx, format!("the argon2 parameters are invalid: {e}"));
            return None;
        }
    };
    if let Some(password) = example_password(&s.value) {
        cx.diags
            .warning(
                Code::ExamplePasswordHash,
                s.span,
                format!("this is the hash of `{password}`, a password published in yubin's documentation"),
            )
            .label("anyone can log in with it")
            .help("set a password of your own: `yubin hash-password` prints its hash");
    }
    if algorithm != "argon2id" {
        cx.diags
            .warning(
                Code::WeakPasswordHash,
                s.span,
                format!("`{algorithm}` is weaker than argon2id against side channels and GPUs"),
            )
            .label("not argon2id")
            .help("re-hash with `yubin hash-password` (argon2id)");
    } else if params.m_cost() < 7168 {
        cx.diags
            .warning(
                Code::WeakPasswordHash,
                s.span,
                format!(
                    "argon2 memory cost m={} KiB is below the recommended minimum",
                    params.m_cost()
                ),
            )
            .label("cheap to brute-force")
            .help("re-hash with `yubin hash-password` (m=19456, t=2, p=1)");
    }
    Some(s.value)
}

/// The hashes in the README's quickstart and the appliance's sample configuration, whose
/// passwords the README prints.
const EXAMPLE_HASHES: &[(&str, &str)] = &[
    (
        "$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE",
        "alice-password",
    ),
    (
        "$argon2id$v=19$m=19456,t=2,p=1$cP0B+Y6uuzPn8sgIOxG3NQ$2dJc8PPdn5bHEBZUY1apQmfMoWeRhHMs9IjSINshKxE",
        "bob-password",
    ),
];

fn example_password(hash: &str) -> Option<&'static str> {
    EXAMPLE_HASHES.iter().find(|(h, _)| *h == hash).map(|(_, p)| *p)
}

fn size(cx: &mut Cx, v: Val<'_>, min: u64) -> Option<Spanned<u64>> {
    let s = reader::parsed(cx, v, Code::InvalidSize, values::size)?;
    if s.value < min {
        cx.diags
            .error(
                Code::OutOfRange,
                s.span,
                format!("`{}` must be at least {min} bytes", v.name),
            )
            .label("too small");
        return None;
    }
    Some(s)
}

fn duration(cx: &mut Cx, v: Val<'_>, min: u64, max: u64) -> Option<Spanned<u64>> {
    let d = reader::parsed(cx, v, Code::InvalidDuration, values::duration)?;
    if d.value < min || d.value > max {
        cx.diags
            .error(
                Code::OutOfRange,
                d.span,
                format!(
                    "`{}` must be between {} and {}",
                    v.name,
                    human_seconds(min),
                    human_seconds(max)
                ),
            )
            .label("out of range");
        return None;
    }
    Some(d)
}

fn human_seconds(s: u64) -> String {
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn alias(cx: &mut Cx, node: &KdlNode, domain: Option<&str>) -> Option<Alias> {
    let mut r = Reader::new(cx, node, &spec::ALIAS);
    let name = r
        .required_arg(cx, "a name", "alias \"postmaster\" to=\"alice@example.com\"")
        .and_then(|v| local_part(cx, v));
    let targets = targets(
        cx,
        &mut r,
        domain,
        "alias \"postmaster\" to=\"alice@example.com\"",
    );
    r.finish(cx);
    Some(Alias { name: name?, targets })
}

fn catch_all(cx: &mut Cx, node: &KdlNode, domain: Option<&str>) -> Option<CatchAll> {
    let mut r = Reader::new(cx, node, &spec::CATCH_ALL);
    let targets = targets(cx, &mut r, domain, "catch-all to=\"alice@example.com\"");
    r.finish(cx);
    Some(CatchAll {
        span: node.name().span(),
        targets,
    })
}

fn targets(
    cx: &mut Cx,
    r: &mut Reader<'_>,
    domain: Option<&str>,
    example: &str,
) -> Vec<Spanned<names::Address>> {
    let values = r.prop_many(cx, "to");
    if values.is_empty() {
        r.missing(cx, "to", example);
    }
    values
        .into_iter()
        .filter_map(|v| address(cx, v, domain))
        .collect()
}

fn relay(cx: &mut Cx, node: &KdlNode) -> Option<Relay> {
    let mut r = Reader::new(cx, node, &spec::RELAY);
    let host = r
        .required_arg(cx, "a host", "relay \"smtp.example.net:587\"")
        .and_then(|v| reader::parsed(cx, v, Code::InvalidHostname, values::host_port));
    let username = r.prop(cx, "username").and_then(|v| reader::string(cx, v));
    let tls = r
        .prop(cx, "tls")
        .and_then(|v| reader::choice(cx, v, spec::RELAY_TLS));
    let ca_file = r
        .prop(cx, "ca-file")
        .and_then(|v| reader::path(cx, v))
        .map(|p| p.value);
    let tls_fingerprints: Vec<String> = r
        .prop_many(cx, "tls-fingerprint")
        .into_iter()
        .filter_map(|v| reader::parsed(cx, v, Code::InvalidFingerprint, values::sha256_fingerprint))
        .map(|f| f.value.1)
        .collect();
    let spf_include = r
        .prop(cx, "spf-include")
        .and_then(|v| domain_name(cx, v))
        .map(|d| d.value);
    let password_node = r.child(cx, "password");
    let password = password_node.and_then(|n| secret(cx, n, &spec::RELAY_PASSWORD));
    r.finish(cx);

    let tls_mode = tls.as_ref().map_or("required", |t| t.value);
    let tls_span = tls.as_ref().map_or(node.name().span(), |t| t.span);
    match tls_mode {
        "none" => {
            cx.diags
                .warning(
                    Code::RelayWithoutTls,
                    tls_span,
                    "mail to the relay travels in plain text",
                )
                .label("no TLS")
                .help("use tls \"required\" or \"implicit\" unless the relay is on this machine");
        }
        "starttls" => {
            cx.diags
                .warning(
                    Code::RelayWithoutTls,
                    tls_span,
                    "opportunistic STARTTLS can be stripped by an attacker",
                )
                .label("TLS optional")
                .help("use tls \"required\" (STARTTLS with a verified certificate) or \"implicit\"");
        }
        _ => {}
    }
    let inline_password = node.entry("password").is_some();
    if let (Some(u), None, false) = (&username, password_node, inline_password) {
        cx.diags
            .error(
                Code::MissingValue,
                u.span,
                "`relay` has a username but no `password`",
            )
            .label("username without password")
            .help("add `password env=\"VARIABLE\"` (or file=) inside `relay`");
    }
    if let (None, Some(p)) = (&username, password_node) {
        cx.diags
            .error(
                Code::MissingValue,
                p.name().span(),
                "`relay` has a password but no `username`",
            )
            .label("password without username")
            .help("add `username \"...\"` inside `relay`");
    }
    let host = host?;
    let port = host
        .value
        .port
        .unwrap_or(if tls_mode == "implicit" { 465 } else { 587 });
    Some(Relay {
        host: Spanned::new(host.value.host, host.span),
        port,
        username: username.map(|u| u.value),
        password,
        tls: tls_mode,
        ca_file,
        tls_fingerprints,
        spf_include,
    })
}

fn dns(cx: &mut Cx, node: &KdlNode) -> Vec<Spanned<SocketAddr>> {
    let mut r = Reader::new(cx, node, &spec::DNS);
    let out = r
        .prop_many(cx, "resolver")
        .into_iter()
        .filter_map(|v| {
            reader::parsed(cx, v, Code::InvalidSocketAddress, |s| {
                match s.trim().parse::<IpAddr>() {
                    Ok(ip) => Ok(SocketAddr::new(ip, 53)),
                    Err(_) => values::socket_addr(s),
                }
            })
        })
        .collect();
    r.finish(cx);
    out
}

fn is_private(net: &ipnet::IpNet) -> bool {
    const PRIVATE: &[&str] = &[
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    ];
    PRIVATE
        .iter()
        .filter_map(|p| p.parse::<ipnet::IpNet>().ok())
        .any(|p| p.contains(net))
}

fn trusted_networks(cx: &mut Cx, node: &KdlNode) -> Vec<Spanned<ipnet::IpNet>> {
    let mut r = Reader::new(cx, node, &spec::TRUSTED_NETWORKS);
    let args = r.rest_args();
    if args.is_empty() {
        r.missing(cx, "network", "trusted-networks \"127.0.0.0/8\" \"::1/128\"");
    }
    r.finish(cx);
    let mut out = Vec::new();
    for v in args {
        let Some(net) = reader::parsed(cx, v, Code::InvalidCidr, values::cidr) else {
            continue;
        };
        if net.value.prefix_len() == 0 {
            cx.diags
                .error(
                    Code::OpenRelay,
                    net.span,
                    format!("trusting `{}` makes this server an open relay", net.value),
                )
                .label("every address on the internet")
                .help("list only the networks of your own applications, e.g. \"10.0.0.0/8\"");
            continue;
        }
        if !is_private(&net.value) {
            cx.diags
                .warning(
                    Code::PublicTrustedNetwork,
                    net.span,
                    format!(
                        "`{}` contains public addresses that may send mail without a password",
                        net.value
                    ),
                )
                .label("public network")
                .help("make sure only your own hosts use these addresses");
        }
        out.push(net);
    }
    out
}

fn domain_list(cx: &mut Cx, node: &KdlNode, spec: &'static spec::NodeSpec) -> Vec<Spanned<String>> {
    let mut r = Reader::new(cx, node, spec);
    let args = r.rest_args();
    if args.is_empty() {
        r.missing(cx, "domain", "allowed-sender-domains \"example.com\"");
    }
    r.finish(cx);
    args.into_iter().filter_map(|v| domain_name(cx, v)).collect()
}

fn limits(cx: &mut Cx, node: &KdlNode) -> Limits {
    let mut l = Limits::default();
    let mut r = Reader::new(cx, node, &spec::LIMITS);
    if let Some(s) = r.prop(cx, "message-size").and_then(|v| size(cx, v, 1024)) {
        if s.value > 4 << 30 {
            cx.diags
                .error(Code::OutOfRange, s.span, "`message-size` must be at most 4GiB")
                .label("too large");
        } else {
            l.message_size = s.value;
        }
    }
    if let Some(n) = r
        .prop(cx, "recipients-per-message")
        .and_then(|v| reader::integer(cx, v, 1, 100_000))
    {
        l.recipients_per_message = n.value as u32;
    }
    if let Some(d) = r
        .prop(cx, "queue-lifetime")
        .and_then(|v| duration(cx, v, 60, 30 * 86_400))
    {
        l.queue_lifetime = d.value;
    }
    let retry_min = r.prop(cx, "retry-min").and_then(|v| duration(cx, v, 1, 86_400));
    let retry_max = r
        .prop(cx, "retry-max")
        .and_then(|v| duration(cx, v, 1, 7 * 86_400));
    if let Some(d) = &retry_min {
        l.retry_min = d.value;
    }
    if let Some(d) = &retry_max {
        l.retry_max = d.value;
    }
    if let Some(d) = r
        .prop(cx, "delay-warning")
        .and_then(|v| duration(cx, v, 0, 30 * 86_400))
    {
        l.delay_warning = d.value;
    }
    if let Some(d) = r
        .prop(cx, "queue-history")
        .and_then(|v| duration(cx, v, 0, 366 * 86_400))
    {
        l.queue_history = d.value;
    }
    if l.retry_min > l.retry_max {
        let span = retry_min
            .as_ref()
            .or(retry_max.as_ref())
            .map_or(node.name().span(), |d| d.span);
        cx.diags
            .error(Code::Conflict, span, "`retry-min` is longer than `retry-max`")
            .label("first retry after the longest delay")
            .help("make retry-min the shorter one, e.g. retry-min \"5m\" retry-max \"4h\"");
    }
    if let Some(n) = r.child(cx, "outbound-connections") {
        let mut c = Reader::new(cx, n, &spec::OUTBOUND_CONNECTIONS);
        if let Some(t) = c.arg().and_then(|v| reader::integer(cx, v, 1, 10_000)) {
            l.outbound_connections = t.value as u32;
        }
        if let Some(p) = c
            .prop(cx, "per-destination")
            .and_then(|v| reader::integer(cx, v, 1, 10_000))
        {
            l.outbound_per_destination = p.value as u32;
        }
        c.finish(cx);
    }
    if let Some(n) = r.child(cx, "connections") {
        let mut c = Reader::new(cx, n, &spec::CONNECTIONS);
        if let Some(t) = c.arg().and_then(|v| reader::integer(cx, v, 1, 1_000_000)) {
            l.connections = t.value as u32;
        }
        if let Some(p) = c
            .prop(cx, "per-ip")
            .and_then(|v| reader::integer(cx, v, 1, 1_000_000))
        {
            if p.value as u32 > l.connections {
                cx.diags
                    .error(
                        Code::Conflict,
                        p.span,
                        format!("`per-ip` ({}) is above the total ({})", p.value, l.connections),
                    )
                    .label("larger than the total")
                    .help("the per-IP limit must not exceed the total");
            }
            l.connections_per_ip = p.value as u32;
        }
        c.finish(cx);
    }
    if let Some(n) = r.child(cx, "send-rate") {
        let mut c = Reader::new(cx, n, &spec::SEND_RATE);
        if let Some(rate) = c
            .arg()
            .and_then(|v| reader::parsed(cx, v, Code::InvalidRate, values::rate))
        {
            l.send_rate = rate.value;
        }
        if let Some(p) = c
            .prop(cx, "per")
            .and_then(|v| reader::choice(cx, v, spec::RATE_SCOPES))
        {
            l.send_rate_per = p.value;
        }
        c.finish(cx);
    }
    if let Some(n) = r.child(cx, "auth-failures") {
        let mut c = Reader::new(cx, n, &spec::AUTH_FAILURES);
        if let Some(t) = c.arg().and_then(|v| reader::integer(cx, v, 1, 1000)) {
            l.auth_failures = t.value as u32;
        }
        if let Some(d) = c.prop(cx, "within").and_then(|v| duration(cx, v, 1, 7 * 86_400)) {
            l.auth_failures_within = d.value;
        }
        if let Some(d) = c.prop(cx, "ban").and_then(|v| duration(cx, v, 1, 30 * 86_400)) {
            l.auth_ban = d.value;
        }
        c.finish(cx);
    }
    r.finish(cx);
    l
}

fn antivirus(cx: &mut Cx, node: &KdlNode) -> Option<Antivirus> {
    let mut r = Reader::new(cx, node, &spec::ANTIVIRUS);
    let clamd = r
        .required_prop(cx, "clamd", "antivirus clamd=\"unix:/run/clamd.scan/clamd.sock\"")
        .and_then(|v| reader::parsed(cx, v, Code::InvalidUrl, values::endpoint));
    let action = r
        .prop(cx, "action")
        .and_then(|v| reader::choice(cx, v, spec::AV_ACTIONS))
        .map_or("reject", |c| c.value);
    let on_failure = r
        .prop(cx, "on-failure")
        .and_then(|v| reader::choice(cx, v, spec::ON_FAILURE))
        .map_or("defer", |c| c.value);
    r.finish(cx);
    let clamd = match clamd?.value {
        values::Endpoint::Unix(p) => {
            values::Endpoint::Unix(reader::resolve_path(&cx.base_dir, &p).display().to_string())
        }
        tcp => tcp,
    };
    Some(Antivirus {
        clamd,
        action,
        on_failure,
    })
}

fn antispam(cx: &mut Cx, node: &KdlNode) -> Option<Antispam> {
    let mut r = Reader::new(cx, node, &spec::ANTISPAM);
    let url = r
        .required_prop(cx, "rspamd", "antispam rspamd=\"http://127.0.0.1:11333\"")
        .and_then(|v| {
            reader::parsed(cx, v, Code::InvalidUrl, |s| {
                let u = values::url(s)?;
                if !s.starts_with("http://") {
                    return Err(format!(
                        "`{s}`: rspamd is reached over plain http:// on the same host or a private network"
                    ));
                }
                Ok(u)
            })
        });
    let reject = r
        .prop(cx, "reject-score")
        .and_then(|v| reader::float(cx, v, -1000.0, 1000.0));
    let junk = r
        .prop(cx, "junk-score")
        .and_then(|v| reader::float(cx, v, -1000.0, 1000.0));
    let on_failure = r
        .prop(cx, "on-failure")
        .and_then(|v| reader::choice(cx, v, spec::ON_FAILURE))
        .map_or("accept", |c| c.value);
    r.finish(cx);
    let reject_score = reject.as_ref().map_or(15.0, |s| s.value);
    let junk_score = junk.as_ref().map_or(6.0, |s| s.value);
    if junk_score >= reject_score {
        let span = junk
            .as_ref()
            .or(reject.as_ref())
            .map_or(node.name().span(), |s| s.span);
        cx.diags
            .error(
                Code::Conflict,
                span,
                format!("`junk-score` ({junk_score}) must be below `reject-score` ({reject_score})"),
            )
            .label("nothing would ever be filed as junk")
            .help("lower junk-score or raise reject-score");
    }
    Some(Antispam {
        rspamd: url?.value.to_string_normalised(),
        reject_score,
        junk_score,
        on_failure,
    })
}

fn inbound_webhook(cx: &mut Cx, node: &KdlNode) -> InboundWebhook {
    let mut r = Reader::new(cx, node, &spec::INBOUND_WEBHOOK);
    let path = r
        .prop(cx, "path")
        .and_then(|v| {
            reader::parsed(cx, v, Code::InvalidUrl, |s| {
                if !s.starts_with('/') || s.contains(['?', '#', ' ']) {
                    Err(format!("`{s}` is not a URL path like \"/inbound\""))
                } else if s == "/healthz" || s == "/metrics" {
                    Err(format!("`{s}` is taken by the health check and metrics"))
                } else {
                    Ok(s.to_owned())
                }
            })
        })
        .map_or_else(|| "/inbound".to_owned(), |p| p.value);
    let token_node = r.child(cx, "token");
    let token = token_node.and_then(|n| secret(cx, n, &spec::WEBHOOK_TOKEN));
    if token_node.is_none() {
        r.missing(cx, "token", "token env=\"INBOUND_TOKEN\"");
    }
    r.finish(cx);
    InboundWebhook {
        path,
        token,
        span: node.name().span(),
    }
}

fn backup(cx: &mut Cx, node: &KdlNode) -> Option<Backup> {
    let mut r = Reader::new(cx, node, &spec::BACKUP);
    let mut b = Backup {
        daily_at: 180,
        weekly_on: None,
        keep_daily: 7,
        keep_weekly: 4,
        components: spec::BACKUP_COMPONENTS.to_vec(),
        local: Vec::new(),
        s3: Vec::new(),
    };
    if let Some(n) = r.child(cx, "schedule") {
        let mut c = Reader::new(cx, n, &spec::BACKUP_SCHEDULE);
        if let Some(t) = c
            .prop(cx, "daily")
            .and_then(|v| reader::parsed(cx, v, Code::InvalidSchedule, values::time_of_day))
        {
            b.daily_at = t.value;
        }
        b.weekly_on = c
            .prop(cx, "weekly")
            .and_then(|v| reader::parsed(cx, v, Code::InvalidSchedule, values::weekday))
            .map(|d| d.value);
        c.finish(cx);
    }
    if let Some(n) = r.child(cx, "keep") {
        let mut c = Reader::new(cx, n, &spec::BACKUP_KEEP);
        if let Some(d) = c.prop(cx, "daily").and_then(|v| reader::integer(cx, v, 1, 3650)) {
            b.keep_daily = d.value as u32;
        }
        if let Some(w) = c.prop(cx, "weekly").and_then(|v| reader::integer(cx, v, 0, 520)) {
            b.keep_weekly = w.value as u32;
        }
        c.finish(cx);
    }
    if let Some(n) = r.child(cx, "components") {
        let mut c = Reader::new(cx, n, &spec::BACKUP_COMPONENTS_NODE);
        let args = c.rest_args();
        if args.is_empty() {
            c.missing(cx, "component", "components \"mailboxes\" \"database\"");
        }
        c.finish(cx);
        let mut list: Vec<&'static str> = Vec::new();
        for v in args {
            let Some(s) = reader::string(cx, v) else { continue };
            match spec::BACKUP_COMPONENTS.iter().find(|c| **c == s.value) {
                Some(known) if !list.contains(known) => list.push(known),
                Some(_) => {}
                None => {
                    let d = cx.diags.error(
                        Code::UnknownBackupComponent,
                        s.span,
                        format!("\"{}\" is not a backup component", s.value),
                    );
                    d.label("unknown component");
                    let all = spec::BACKUP_COMPONENTS.join(", ");
                    match reader::suggest(&s.value, spec::BACKUP_COMPONENTS.iter().copied()) {
                        Some(sug) => d.help(format!("did you mean \"{sug}\"? (components: {all})")),
                        None => d.help(format!("components: {all}")),
                    };
                }
            }
        }
        list.sort_by_key(|c| spec::BACKUP_COMPONENTS.iter().position(|k| k == c));
        b.components = list;
    }
    for n in r.children("local") {
        let mut c = Reader::new(cx, n, &spec::BACKUP_LOCAL);
        if let Some(p) = c
            .required_arg(cx, "a folder", "local \"/mnt/backup/yubin\"")
            .and_then(|v| reader::path(cx, v))
        {
            b.local.push(p.value);
        }
        c.finish(cx);
    }
    for n in r.children("s3") {
        if let Some(t) = s3(cx, n) {
            b.s3.push(t);
        }
    }
    r.finish(cx);
    if b.local.is_empty() && b.s3.is_empty() {
        cx.diags
            .error(
                Code::MissingValue,
                node.name().span(),
                "`backup` has nowhere to write to",
            )
            .label("no `local` or `s3` target")
            .help("add `local \"/mnt/backup/yubin\"` or an `s3 bucket=... region=...` block");
        return None;
    }
    Some(b)
}

fn s3(cx: &mut Cx, node: &KdlNode) -> Option<S3Target> {
    let example = "s3 bucket=\"mail-backups\" region=\"eu-central-1\"";
    let mut r = Reader::new(cx, node, &spec::BACKUP_S3);
    let bucket = r.required_prop(cx, "bucket", example).and_then(|v| {
        reader::parsed(cx, v, Code::InvalidUrl, |s| {
            let ok = (3..=63).contains(&s.len())
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                && s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric());
            if ok {
                Ok(s.to_owned())
            } else {
                Err(format!(
                    "`{s}` is not a valid bucket name (3-63 lower-case letters, digits, `-` and `.`)"
                ))
            }
        })
    });
    let region = r
        .required_prop(cx, "region", example)
        .and_then(|v| reader::string(cx, v));
    let endpoint = r
        .prop(cx, "endpoint")
        .and_then(|v| reader::parsed(cx, v, Code::InvalidUrl, values::url))
        .map(|u| u.value.to_string_normalised());
    let prefix = r
        .prop(cx, "prefix")
        .and_then(|v| reader::string(cx, v))
        .map_or_else(|| "yubin/".to_owned(), |p| p.value);
    let credentials = r.child(cx, "credentials").and_then(|n| {
        let mut c = Reader::new(cx, n, &spec::S3_CREDENTIALS);
        let prefix = c
            .required_prop(cx, "env-prefix", "credentials env-prefix=\"YUBIN_S3_\"")
            .and_then(|v| {
                reader::parsed(cx, v, Code::InvalidSecretRef, |s| {
                    values::env_name(s).map(|()| s.to_owned())
                })
            });
        c.finish(cx);
        prefix.map(|p| Spanned::new(SecretRef::EnvPrefix(p.value), n.span()))
    });
    let object_lock = r.child(cx, "object-lock").and_then(|n| {
        let mut c = Reader::new(cx, n, &spec::S3_OBJECT_LOCK);
        let mode = c
            .prop(cx, "mode")
            .and_then(|v| reader::choice(cx, v, spec::LOCK_MODES))
            .map_or("compliance", |m| m.value);
        let days = c
            .required_prop(cx, "days", "object-lock days=30")
            .and_then(|v| reader::integer(cx, v, 1, 36_500));
        c.finish(cx);
        days.map(|d| (mode, d.value as u32))
    });
    r.finish(cx);
    let region = region?;
    if region.value.trim().is_empty() {
        cx.diags
            .error(Code::MissingValue, region.span, "`region` is empty")
            .label("empty");
        return None;
    }
    Some(S3Target {
        bucket: bucket?.value,
        region: region.value,
        endpoint,
        prefix,
        credentials,
        object_lock,
    })
}

fn recipient_delimiter(cx: &mut Cx, node: &KdlNode) -> Option<char> {
    let mut r = Reader::new(cx, node, &spec::RECIPIENT_DELIMITER);
    let v = r.required_arg(cx, "a character", "recipient-delimiter \"+\"");
    r.finish(cx);
    let s = reader::string(cx, v?)?;
    let mut chars = s.value.chars();
    match (chars.next(), chars.next()) {
        (None, _) => None,
        (Some(c), None)
            if c.is_ascii_punctuation()
                && !matches!(
                    c,
                    '@' | '.' | '"' | '\\' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | ']'
                ) =>
        {
            Some(c)
        }
        _ => {
            cx.diags
                .error(
                    Code::InvalidChoice,
                    s.span,
                    format!("\"{}\" cannot be a recipient delimiter", s.value),
                )
                .label("one punctuation character expected")
                .help("use e.g. \"+\" or \"-\", or \"\" to turn sub-addressing off");
            Some('+')
        }
    }
}
