//! The typed configuration: what `mail.kdl` says, every value checked and normalised, defaults
//! applied, and spans kept where later checks need to point back at the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use miette::SourceSpan;

use super::names::Address;
use super::reader::Spanned;
use super::values::Endpoint;

/// The whole configuration file, decoded.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server's host name (ASCII, lower case).
    pub hostname: Spanned<String>,
    /// The listeners; the defaults when the file has no `listen` node.
    pub listeners: Vec<Listener>,
    /// Whether `listen` was written (otherwise `listeners` holds the defaults).
    pub listen_declared: bool,
    /// Certificate source and TLS versions.
    pub tls: Tls,
    /// Data folder and database.
    pub storage: Storage,
    /// The mail domains, in file order.
    pub domains: Vec<Domain>,
    /// The smarthost, when outbound mail goes through one.
    pub relay: Option<Relay>,
    /// Resolvers to use; empty means the system's.
    pub resolvers: Vec<Spanned<SocketAddr>>,
    /// Networks that may submit without AUTH.
    pub trusted_networks: Vec<Spanned<IpNet>>,
    /// Domains submitted mail may come from; empty means the local domains.
    pub allowed_sender_domains: Vec<Spanned<String>>,
    /// Limits, defaults applied.
    pub limits: Limits,
    /// clamd scanning.
    pub antivirus: Option<Antivirus>,
    /// rspamd scoring.
    pub antispam: Option<Antispam>,
    /// Mail over HTTPS.
    pub inbound_webhook: Option<InboundWebhook>,
    /// Scheduled backups.
    pub backup: Option<Backup>,
    /// The sub-address delimiter; `None` turns sub-addressing off.
    pub recipient_delimiter: Option<char>,
}

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListenerKind {
    /// MX on port 25.
    Smtp,
    /// Submission with STARTTLS (587).
    Submission,
    /// Submission over implicit TLS (465).
    Submissions,
    /// IMAP with STARTTLS (143).
    Imap,
    /// IMAP over TLS (993).
    Imaps,
    /// POP3 with STLS (110).
    Pop3,
    /// POP3 over TLS (995).
    Pop3s,
    /// Health, metrics, webhook, admin API.
    Http,
    /// Health and webhook over TLS, for a webhook reachable from the network.
    Https,
}

impl ListenerKind {
    /// Every kind, in the order of the reference.
    pub const ALL: [ListenerKind; 9] = [
        ListenerKind::Smtp,
        ListenerKind::Submission,
        ListenerKind::Submissions,
        ListenerKind::Imap,
        ListenerKind::Imaps,
        ListenerKind::Pop3,
        ListenerKind::Pop3s,
        ListenerKind::Http,
        ListenerKind::Https,
    ];

    /// The property name in `listen`.
    pub fn name(self) -> &'static str {
        match self {
            ListenerKind::Smtp => "smtp",
            ListenerKind::Submission => "submission",
            ListenerKind::Submissions => "submissions",
            ListenerKind::Imap => "imap",
            ListenerKind::Imaps => "imaps",
            ListenerKind::Pop3 => "pop3",
            ListenerKind::Pop3s => "pop3s",
            ListenerKind::Http => "http",
            ListenerKind::Https => "https",
        }
    }

    /// The listener used when `listen` is absent, if this kind has one.
    pub fn default_address(self) -> Option<&'static str> {
        match self {
            ListenerKind::Smtp => Some("0.0.0.0:25"),
            ListenerKind::Submission => Some("0.0.0.0:587"),
            ListenerKind::Submissions => Some("0.0.0.0:465"),
            ListenerKind::Imaps => Some("0.0.0.0:993"),
            ListenerKind::Pop3s => Some("0.0.0.0:995"),
            ListenerKind::Http => Some("127.0.0.1:8080"),
            ListenerKind::Imap | ListenerKind::Pop3 | ListenerKind::Https => None,
        }
    }
}

/// One listening socket.
#[derive(Debug, Clone)]
pub struct Listener {
    /// What it serves.
    pub kind: ListenerKind,
    /// Where.
    pub address: Spanned<SocketAddr>,
}

/// TLS settings.
#[derive(Debug, Clone)]
pub struct Tls {
    /// Where the certificate comes from.
    pub source: TlsSource,
    /// `1.2` or `1.3`.
    pub min_version: &'static str,
}

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsSource {
    /// Generated for `hostname` in the data folder.
    SelfSigned,
    /// Issued by an ACME CA.
    Acme {
        /// Account contact.
        email: String,
        /// Directory URL.
        directory: String,
        /// Extra CA to trust for the ACME server.
        ca_file: Option<PathBuf>,
        /// Where HTTP-01 challenges are answered.
        http_challenge: std::net::SocketAddr,
    },
    /// PEM files.
    Files {
        /// Certificate chain.
        chain: PathBuf,
        /// Private key.
        key: PathBuf,
    },
}

/// A secret, by reference only. The plan carries these references, never the values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file.
    File(PathBuf),
    /// Environment variables `<prefix>ACCESS_KEY_ID` and `<prefix>SECRET_ACCESS_KEY`.
    EnvPrefix(String),
}

/// Where state lives.
#[derive(Debug, Clone)]
pub struct Storage {
    /// The data folder.
    pub data: PathBuf,
    /// The database.
    pub database: Database,
    /// The PostgreSQL password.
    pub database_password: Option<Spanned<SecretRef>>,
}

/// The database location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL without password.
    Postgres(String),
}

/// A mail domain.
#[derive(Debug, Clone)]
pub struct Domain {
    /// ASCII, lower case; span of the name argument.
    pub name: Spanned<String>,
    /// The domain this one is an alias of.
    pub alias_of: Option<Spanned<String>>,
    /// DKIM keys.
    pub dkim: Vec<Dkim>,
    /// DMARC record settings.
    pub dmarc: Option<Dmarc>,
    /// Users.
    pub users: Vec<User>,
    /// Aliases.
    pub aliases: Vec<Alias>,
    /// Catch-all.
    pub catch_all: Option<CatchAll>,
}

/// A DKIM key.
#[derive(Debug, Clone)]
pub struct Dkim {
    /// The selector.
    pub selector: Spanned<String>,
    /// `ed25519`, `rsa-2048`, ...
    pub algorithm: &'static str,
    /// An existing key file.
    pub key_file: Option<PathBuf>,
}

/// The DMARC record.
#[derive(Debug, Clone)]
pub struct Dmarc {
    /// `none`, `quarantine` or `reject`.
    pub policy: Spanned<&'static str>,
    /// `sp=`.
    pub subdomain_policy: Option<&'static str>,
    /// Aggregate report address.
    pub rua: Option<Address>,
}

/// A user (mailbox and login).
#[derive(Debug, Clone)]
pub struct User {
    /// Local part, lower case.
    pub name: Spanned<String>,
    /// argon2 PHC string.
    pub password_hash: String,
    /// Quota in bytes.
    pub quota: Option<u64>,
    /// Extra local parts.
    pub aliases: Vec<Spanned<String>>,
    /// Logins and new mail refused.
    pub disabled: bool,
}

/// An alias address.
#[derive(Debug, Clone)]
pub struct Alias {
    /// Local part, lower case.
    pub name: Spanned<String>,
    /// Targets.
    pub targets: Vec<Spanned<Address>>,
}

/// A catch-all.
#[derive(Debug, Clone)]
pub struct CatchAll {
    /// The node's span.
    pub span: SourceSpan,
    /// Targets.
    pub targets: Vec<Spanned<Address>>,
}

/// The smarthost.
#[derive(Debug, Clone)]
pub struct Relay {
    /// Host name or IP.
    pub host: Spanned<String>,
    /// Port (defaulted from the TLS mode).
    pub port: u16,
    /// AUTH user.
    pub username: Option<String>,
    /// AUTH password.
    pub password: Option<Spanned<SecretRef>>,
    /// `required`, `implicit`, `starttls` or `none`.
    pub tls: &'static str,
    /// Extra CA to trust.
    pub ca_file: Option<PathBuf>,
    /// Pinned certificate fingerprints, `sha256:AB:…`.
    pub tls_fingerprints: Vec<String>,
    /// The provider's SPF domain.
    pub spf_include: Option<String>,
}

/// Limits with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest message in bytes.
    pub message_size: u64,
    /// RCPTs per transaction.
    pub recipients_per_message: u32,
    /// Concurrent connections.
    pub connections: u32,
    /// Concurrent connections per IP.
    pub connections_per_ip: u32,
    /// Messages per period.
    pub send_rate: (u64, u64),
    /// `user` or `ip`.
    pub send_rate_per: &'static str,
    /// Failures before a ban.
    pub auth_failures: u32,
    /// Window for counting failures, seconds.
    pub auth_failures_within: u64,
    /// Ban length, seconds.
    pub auth_ban: u64,
    /// Outbound retry lifetime, seconds.
    pub queue_lifetime: u64,
    /// First retry delay, seconds.
    pub retry_min: u64,
    /// Longest retry delay, seconds.
    pub retry_max: u64,
    /// A sender who asked for NOTIFY=DELAY hears once after this many seconds, 0: never.
    pub delay_warning: u64,
    /// How long `yubin queue show` remembers a message after it left the queue, seconds.
    pub queue_history: u64,
    /// Outbound connections in total.
    pub outbound_connections: u32,
    /// Outbound connections per destination.
    pub outbound_per_destination: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            message_size: 25 << 20,
            recipients_per_message: 100,
            connections: 500,
            connections_per_ip: 50,
            send_rate: (1000, 3600),
            send_rate_per: "user",
            auth_failures: 5,
            auth_failures_within: 600,
            auth_ban: 3600,
            queue_lifetime: 5 * 86_400,
            retry_min: 300,
            retry_max: 4 * 3600,
            delay_warning: 4 * 3600,
            queue_history: 7 * 86_400,
            outbound_connections: 100,
            outbound_per_destination: 20,
        }
    }
}

/// clamd scanning.
#[derive(Debug, Clone)]
pub struct Antivirus {
    /// clamd's socket.
    pub clamd: Endpoint,
    /// `reject`, `quarantine` or `tag`.
    pub action: &'static str,
    /// `defer` or `accept`.
    pub on_failure: &'static str,
}

/// rspamd scoring.
#[derive(Debug, Clone)]
pub struct Antispam {
    /// rspamd URL.
    pub rspamd: String,
    /// Reject threshold.
    pub reject_score: f64,
    /// Junk threshold.
    pub junk_score: f64,
    /// `defer` or `accept`.
    pub on_failure: &'static str,
}

/// Mail over HTTPS.
#[derive(Debug, Clone)]
pub struct InboundWebhook {
    /// URL path.
    pub path: String,
    /// Bearer token.
    pub token: Option<Spanned<SecretRef>>,
    /// The node's span.
    pub span: SourceSpan,
}

/// Scheduled backups.
#[derive(Debug, Clone)]
pub struct Backup {
    /// Minutes after midnight.
    pub daily_at: u32,
    /// The weekday kept as weekly.
    pub weekly_on: Option<&'static str>,
    /// Daily backups kept.
    pub keep_daily: u32,
    /// Weekly backups kept.
    pub keep_weekly: u32,
    /// Components backed up.
    pub components: Vec<&'static str>,
    /// Local folders.
    pub local: Vec<PathBuf>,
    /// S3 buckets.
    pub s3: Vec<S3Target>,
}

/// An S3 backup target.
#[derive(Debug, Clone)]
pub struct S3Target {
    /// Bucket.
    pub bucket: String,
    /// Region.
    pub region: String,
    /// Endpoint URL.
    pub endpoint: Option<String>,
    /// Key prefix.
    pub prefix: String,
    /// Credentials.
    pub credentials: Option<Spanned<SecretRef>>,
    /// Object Lock mode and days.
    pub object_lock: Option<(&'static str, u32)>,
}

impl Config {
    /// Every secret reference in the file, with where it is written.
    pub fn secret_refs(&self) -> Vec<&Spanned<SecretRef>> {
        let mut out = Vec::new();
        out.extend(self.storage.database_password.as_ref());
        if let Some(r) = &self.relay {
            out.extend(r.password.as_ref());
        }
        if let Some(w) = &self.inbound_webhook {
            out.extend(w.token.as_ref());
        }
        if let Some(b) = &self.backup {
            out.extend(b.s3.iter().filter_map(|s| s.credentials.as_ref()));
        }
        out
    }
}
