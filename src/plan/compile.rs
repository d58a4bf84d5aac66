//! [`Config`] → [`Plan`]. Infallible: everything that can be wrong was checked by the config
//! module, so this only derives, normalises and expands.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::config::model::{self as cfg, Config, ListenerKind};
use crate::config::routing::{AddressBook, Resolved};
use crate::config::values;

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// The Maildir of a user, relative to the data folder: `mail/<domain>/<local>/Maildir`. `/` and `%` in local parts
/// (legal in a dot-atom) are percent-encoded so a local part is always one path component.
pub fn maildir_for(domain: &str, local: &str) -> String {
    let safe: String = local
        .chars()
        .map(|c| match c {
            '/' => "%2F".to_owned(),
            '%' => "%25".to_owned(),
            c => c.to_string(),
        })
        .collect();
    format!("mail/{domain}/{safe}/Maildir")
}

/// Compiles a valid configuration into the runtime plan.
pub fn compile(config: &Config) -> Plan {
    let data = &config.storage.data;
    Plan {
        format: FORMAT,
        hostname: config.hostname.value.clone(),
        listeners: listeners(config),
        tls: tls(config),
        storage: Storage {
            data_dir: path_str(data),
            database: match &config.storage.database {
                cfg::Database::Sqlite(p) => Database::Sqlite { path: path_str(p) },
                cfg::Database::Postgres(url) => Database::Postgres {
                    url: url.clone(),
                    password: config.storage.database_password.as_ref().map(|s| s.value.clone()),
                },
            },
        },
        domains: domains(config),
        mailboxes: mailboxes(config),
        routes: routes(config),
        recipient_delimiter: config.recipient_delimiter.map(String::from),
        dkim: dkim(config),
        outbound: Outbound {
            mode: if config.relay.is_some() { "relay" } else { "direct" }.to_owned(),
            relay: config.relay.as_ref().map(|r| Relay {
                host: r.host.value.clone(),
                port: r.port,
                tls: r.tls.to_owned(),
                username: r.username.clone(),
                password: r.password.as_ref().map(|p| p.value.clone()),
                ca_file: r.ca_file.as_deref().map(path_str),
                tls_fingerprints: r.tls_fingerprints.clone(),
                spf_include: r.spf_include.clone(),
            }),
        },
        dns: Dns {
            resolvers: config.resolvers.iter().map(|r| r.value.to_string()).collect(),
        },
        submission: submission(config),
        limits: limits(&config.limits),
        antivirus: config.antivirus.as_ref().map(|a| Antivirus {
            clamd: match &a.clamd {
                values::Endpoint::Unix(p) => Endpoint::Unix(p.clone()),
                values::Endpoint::Tcp(h, port) => {
                    let host = if h.contains(':') {
                        format!("[{h}]")
                    } else {
                        h.clone()
                    };
                    Endpoint::Tcp(format!("{host}:{port}"))
                }
            },
            action: a.action.to_owned(),
            on_failure: a.on_failure.to_owned(),
        }),
        antispam: config.antispam.as_ref().map(|a| Antispam {
            rspamd_url: a.rspamd.clone(),
            reject_score: a.reject_score,
            junk_score: a.junk_score,
            on_failure: a.on_failure.to_owned(),
        }),
        inbound_webhook: config.inbound_webhook.as_ref().and_then(|w| {
            Some(InboundWebhook {
                path: w.path.clone(),
                token: w.token.as_ref()?.value.clone(),
            })
        }),
        backup: config.backup.as_ref().map(backup),
    }
}

fn listeners(config: &Config) -> BTreeMap<String, Listener> {
    let mut out: BTreeMap<String, Listener> = BTreeMap::new();
    for l in &config.listeners {
        let (protocol, tls, auth, role) = match l.kind {
            ListenerKind::Smtp => (
                Protocol::Smtp,
                ListenerTls::Starttls,
                AuthPolicy::Never,
                Some(SmtpRole::Mx),
            ),
            ListenerKind::Submission => (
                Protocol::Smtp,
                ListenerTls::Starttls,
                AuthPolicy::AfterTls,
                Some(SmtpRole::Submission),
            ),
            ListenerKind::Submissions => (
                Protocol::Smtp,
                ListenerTls::Implicit,
                AuthPolicy::AfterTls,
                Some(SmtpRole::Submission),
            ),
            ListenerKind::Imap => (Protocol::Imap, ListenerTls::Starttls, AuthPolicy::AfterTls, None),
            ListenerKind::Imaps => (Protocol::Imap, ListenerTls::Implicit, AuthPolicy::AfterTls, None),
            ListenerKind::Pop3 => (Protocol::Pop3, ListenerTls::Starttls, AuthPolicy::AfterTls, None),
            ListenerKind::Pop3s => (Protocol::Pop3, ListenerTls::Implicit, AuthPolicy::AfterTls, None),
            ListenerKind::Http => (Protocol::Http, ListenerTls::None, AuthPolicy::Never, None),
            ListenerKind::Https => (Protocol::Http, ListenerTls::Implicit, AuthPolicy::Never, None),
        };
        out.entry(l.kind.name().to_owned())
            .or_insert_with(|| Listener {
                protocol,
                addresses: Vec::new(),
                tls,
                auth,
                role,
            })
            .addresses
            .push(l.address.value.to_string());
    }
    out
}

fn tls(config: &Config) -> Tls {
    let data = &config.storage.data;
    let source = match &config.tls.source {
        cfg::TlsSource::SelfSigned => CertificateSource::SelfSigned {
            chain: path_str(&data.join("tls/self-signed.pem")),
            key: path_str(&data.join("tls/self-signed.key")),
        },
        cfg::TlsSource::Acme {
            email,
            directory,
            ca_file,
            http_challenge,
        } => CertificateSource::Acme {
            email: email.clone(),
            directory: directory.clone(),
            ca_file: ca_file.as_deref().map(path_str),
            cache_dir: path_str(&data.join("tls/acme")),
            http_challenge: http_challenge.to_string(),
        },
        cfg::TlsSource::Files { chain, key } => CertificateSource::Files {
            chain: path_str(chain),
            key: path_str(key),
        },
    };
    Tls {
        source,
        min_version: config.tls.min_version.to_owned(),
    }
}

fn domains(config: &Config) -> BTreeMap<String, Domain> {
    config
        .domains
        .iter()
        .map(|d| {
            let (unicode, _) = idna::domain_to_unicode(&d.name.value);
            let domain = Domain {
                alias_of: d.alias_of.as_ref().map(|a| a.value.clone()),
                unicode: (unicode != d.name.value).then_some(unicode),
                dkim_selectors: d.dkim.iter().map(|k| k.selector.value.clone()).collect(),
                dmarc: d.dmarc.as_ref().map(|m| Dmarc {
                    policy: m.policy.value.to_owned(),
                    subdomain_policy: m.subdomain_policy.map(str::to_owned),
                    rua: m.rua.as_ref().map(|a| a.to_string()),
                }),
            };
            (d.name.value.clone(), domain)
        })
        .collect()
}

fn mailboxes(config: &Config) -> BTreeMap<String, Mailbox> {
    let mut out = BTreeMap::new();
    for d in config.domains.iter().filter(|d| d.alias_of.is_none()) {
        for u in &d.users {
            out.insert(
                format!("{}@{}", u.name.value, d.name.value),
                Mailbox {
                    domain: d.name.value.clone(),
                    local_part: u.name.value.clone(),
                    password_hash: u.password_hash.clone(),
                    quota_bytes: u.quota,
                    disabled: u.disabled,
                    maildir: maildir_for(&d.name.value, &u.name.value),
                },
            );
        }
    }
    out
}

fn routes(config: &Config) -> BTreeMap<String, Route> {
    let book = AddressBook::new(config);
    let expansions = book.expand_all();
    let mailbox_address = |domain: usize, user: usize| {
        let d = &config.domains[domain];
        format!("{}@{}", d.users[user].name.value, d.name.value)
    };
    let route_of = |r: Resolved| -> Option<Route> {
        match r {
            Resolved::Mailbox { domain, user } => Some(Route {
                mailboxes: vec![mailbox_address(domain, user)],
                forward: Vec::new(),
            }),
            Resolved::Node(id) => {
                let e = &expansions[id];
                Some(Route {
                    mailboxes: e.mailboxes.iter().map(|(d, u)| mailbox_address(*d, *u)).collect(),
                    forward: e.forwards.iter().cloned().collect(),
                })
            }
            Resolved::Remote | Resolved::Unknown => None,
        }
    };

    // Routes of each primary domain, keyed by local part ("" = catch-all).
    let mut by_domain: BTreeMap<usize, BTreeMap<String, Route>> = BTreeMap::new();
    for (di, d) in config
        .domains
        .iter()
        .enumerate()
        .filter(|(_, d)| d.alias_of.is_none())
    {
        let mut locals: Vec<&str> = Vec::new();
        for u in &d.users {
            locals.push(&u.name.value);
            locals.extend(u.aliases.iter().map(|a| a.value.as_str()));
        }
        locals.extend(d.aliases.iter().map(|a| a.name.value.as_str()));
        let table = by_domain.entry(di).or_default();
        for local in locals {
            let addr = crate::config::names::Address {
                local: local.to_owned(),
                domain: d.name.value.clone(),
            };
            if let Some(route) = route_of(book.resolve(&addr)) {
                table.insert(local.to_owned(), route);
            }
        }
        if let Some(id) = book.catch_all_of(di)
            && let Some(route) = route_of(Resolved::Node(id))
        {
            table.insert(String::new(), route);
        }
    }

    let mut out = BTreeMap::new();
    for d in &config.domains {
        let primary = match book.local_domain(&d.name.value) {
            Some(Some(p)) => p,
            _ => continue,
        };
        let Some(table) = by_domain.get(&primary) else {
            continue;
        };
        for (local, route) in table {
            out.insert(format!("{local}@{}", d.name.value), route.clone());
        }
    }
    out
}

fn dkim(config: &Config) -> BTreeMap<String, DkimSigner> {
    let data = &config.storage.data;
    let mut out = BTreeMap::new();
    for d in &config.domains {
        for k in &d.dkim {
            let key_file = match &k.key_file {
                Some(p) => path_str(p),
                None => path_str(&data.join(format!("dkim/{}/{}.key", d.name.value, k.selector.value))),
            };
            out.insert(
                format!("{}._domainkey.{}", k.selector.value, d.name.value),
                DkimSigner {
                    domain: d.name.value.clone(),
                    selector: k.selector.value.clone(),
                    algorithm: k.algorithm.to_owned(),
                    key_file,
                    generate: k.key_file.is_none(),
                },
            );
        }
    }
    out
}

fn submission(config: &Config) -> Submission {
    let mut trusted: Vec<String> = config
        .trusted_networks
        .iter()
        .map(|n| n.value.to_string())
        .collect();
    trusted.sort();
    trusted.dedup();
    let mut senders: Vec<String> = if config.allowed_sender_domains.is_empty() {
        config.domains.iter().map(|d| d.name.value.clone()).collect()
    } else {
        config
            .allowed_sender_domains
            .iter()
            .map(|d| d.value.clone())
            .collect()
    };
    senders.sort();
    senders.dedup();
    Submission {
        trusted_networks: trusted,
        allowed_sender_domains: senders,
    }
}

fn limits(l: &cfg::Limits) -> Limits {
    Limits {
        message_size_bytes: l.message_size,
        recipients_per_message: l.recipients_per_message,
        connections_total: l.connections,
        connections_per_ip: l.connections_per_ip,
        send_rate: SendRate {
            messages: l.send_rate.0,
            per_seconds: l.send_rate.1,
            scope: l.send_rate_per.to_owned(),
        },
        auth_failures: AuthFailures {
            max_failures: l.auth_failures,
            within_seconds: l.auth_failures_within,
            ban_seconds: l.auth_ban,
        },
        queue_lifetime_seconds: l.queue_lifetime,
        retry_min_seconds: l.retry_min,
        retry_max_seconds: l.retry_max,
        delay_warning_seconds: l.delay_warning,
        queue_history_seconds: l.queue_history,
        outbound_connections: l.outbound_connections,
        outbound_per_destination: l.outbound_per_destination,
    }
}

fn backup(b: &cfg::Backup) -> Backup {
    let at = format!("{:02}:{:02}", b.daily_at / 60, b.daily_at % 60);
    let mut jobs = vec![BackupJob {
        name: "daily".into(),
        at: at.clone(),
        weekday: None,
        keep: b.keep_daily,
    }];
    if let Some(day) = b.weekly_on
        && b.keep_weekly > 0
    {
        jobs.push(BackupJob {
            name: "weekly".into(),
            at,
            weekday: Some(day.to_owned()),
            keep: b.keep_weekly,
        });
    }
    let mut targets: Vec<BackupTarget> = b
        .local
        .iter()
        .map(|p| BackupTarget::Local { path: path_str(p) })
        .collect();
    targets.extend(b.s3.iter().map(|s| BackupTarget::S3 {
        bucket: s.bucket.clone(),
        region: s.region.clone(),
        endpoint: s.endpoint.clone(),
        prefix: s.prefix.clone(),
        credentials: s.credentials.as_ref().map(|c| c.value.clone()),
        object_lock_mode: s.object_lock.map(|(m, _)| m.to_owned()),
        object_lock_days: s.object_lock.map(|(_, d)| d),
    }));
    Backup {
        components: b.components.iter().map(|c| (*c).to_owned()).collect(),
        targets,
        jobs,
    }
}
