//! The runtime plan: what `yubin serve` runs, compiled from a valid [`Config`]. Defaults are
//! applied, units normalised (bytes, seconds), every deliverable address listed with where it
//! goes, and secrets present only as references. Serialised as canonical JSON: keys sorted, no
//! timestamps, so two compilations of the same file are byte-identical and plans diff cleanly.
//!
//! [`Config`]: crate::config::Config

pub mod compile;
pub mod diff;

/// The plan's sections that a running server applies only after a restart (a reload applies
/// the others: users, aliases, domains, routes, DKIM keys).
pub const RESTART_SECTIONS: &[&str] = &[
    "hostname",
    "listeners",
    "tls",
    "storage",
    "outbound",
    "dns",
    "submission",
    "limits",
    "antivirus",
    "antispam",
    "inbound_webhook",
    "backup",
];

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::config::model::SecretRef;
pub use compile::compile;

/// The version of the plan format; bumped when a change is not backwards compatible.
pub const FORMAT: u32 = 1;

/// The compiled runtime plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Plan format version.
    pub format: u32,
    /// The server's host name (ASCII).
    pub hostname: String,
    /// Listeners by kind (`smtp`, `submission`, ...).
    pub listeners: BTreeMap<String, Listener>,
    /// Certificate source.
    pub tls: Tls,
    /// Data folder and database.
    pub storage: Storage,
    /// Local domains by ASCII name.
    pub domains: BTreeMap<String, Domain>,
    /// Mailboxes (users) by address.
    pub mailboxes: BTreeMap<String, Mailbox>,
    /// Every deliverable local address → where it goes. A key `@domain` is that domain's
    /// catch-all. Lookup order: exact address, address without `+tag`, `@domain`.
    pub routes: BTreeMap<String, Route>,
    /// The sub-address delimiter, or null when sub-addressing is off.
    pub recipient_delimiter: Option<String>,
    /// DKIM signers by `selector._domainkey.domain`.
    pub dkim: BTreeMap<String, DkimSigner>,
    /// How outbound mail leaves.
    pub outbound: Outbound,
    /// Resolvers; empty means the system's.
    pub dns: Dns,
    /// Who may submit mail, and as whom.
    pub submission: Submission,
    /// Limits in bytes, seconds and counts.
    pub limits: Limits,
    /// clamd scanning.
    pub antivirus: Option<Antivirus>,
    /// rspamd scoring.
    pub antispam: Option<Antispam>,
    /// Mail over HTTPS.
    pub inbound_webhook: Option<InboundWebhook>,
    /// Scheduled backups.
    pub backup: Option<Backup>,
}

/// The wire protocol of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// ESMTP.
    Smtp,
    /// IMAP4rev1/rev2.
    Imap,
    /// POP3.
    Pop3,
    /// HTTP.
    Http,
}

/// How TLS starts on a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListenerTls {
    /// STARTTLS/STLS offered after the greeting.
    Starttls,
    /// TLS from the first byte.
    Implicit,
    /// No TLS.
    None,
}

/// When a listener offers authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthPolicy {
    /// Never (MX).
    Never,
    /// Only once the connection is encrypted.
    AfterTls,
}

/// What an SMTP listener is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmtpRole {
    /// Receives mail for local recipients from anyone; relays only for trusted networks.
    Mx,
    /// Accepts mail only from authenticated users (or trusted networks), for any recipient.
    Submission,
}

/// One listener kind and its sockets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// Protocol.
    pub protocol: Protocol,
    /// `IP:port` sockets.
    pub addresses: Vec<String>,
    /// How TLS starts.
    pub tls: ListenerTls,
    /// When AUTH/LOGIN is offered.
    pub auth: AuthPolicy,
    /// For SMTP: MX or submission.
    pub role: Option<SmtpRole>,
}

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CertificateSource {
    /// Generated at first start (and kept) for the host name.
    SelfSigned {
        /// Where the generated chain is stored.
        chain: String,
        /// Where the generated key is stored.
        key: String,
    },
    /// ACME.
    Acme {
        /// Account contact.
        email: String,
        /// Directory URL.
        directory: String,
        /// Extra CA to trust for the ACME server.
        ca_file: Option<String>,
        /// Account key and issued certificates.
        cache_dir: String,
        /// Where HTTP-01 challenges are answered (`IP:port`).
        http_challenge: String,
    },
    /// PEM files.
    Files {
        /// Chain.
        chain: String,
        /// Key.
        key: String,
    },
}

/// TLS settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Certificate source.
    pub source: CertificateSource,
    /// `1.2` or `1.3`.
    pub min_version: String,
}

/// The database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Database {
    /// An SQLite file.
    Sqlite {
        /// Path.
        path: String,
    },
    /// PostgreSQL.
    Postgres {
        /// URL without password.
        url: String,
        /// Password reference.
        password: Option<SecretRef>,
    },
}

/// Where state lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Data folder (absolute).
    pub data_dir: String,
    /// Database.
    pub database: Database,
}

/// A local domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    /// The domain whose mailboxes this one shares, for alias domains.
    pub alias_of: Option<String>,
    /// The Unicode form, when it differs from the ASCII one.
    pub unicode: Option<String>,
    /// DKIM selectors signing for this domain.
    pub dkim_selectors: Vec<String>,
    /// DMARC record settings.
    pub dmarc: Option<Dmarc>,
}

/// DMARC record settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dmarc {
    /// `p=`.
    pub policy: String,
    /// `sp=`.
    pub subdomain_policy: Option<String>,
    /// `rua=mailto:`.
    pub rua: Option<String>,
}

/// A mailbox and login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mailbox {
    /// Its domain.
    pub domain: String,
    /// Its local part.
    pub local_part: String,
    /// argon2 PHC string (a verifier, not the password).
    pub password_hash: String,
    /// Quota in bytes; null for none.
    pub quota_bytes: Option<u64>,
    /// Logins and new mail refused.
    pub disabled: bool,
    /// The Maildir, relative to the data folder.
    pub maildir: String,
}

/// Where a local address goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Local mailboxes (by address), each receiving one copy.
    pub mailboxes: Vec<String>,
    /// Remote addresses the message is forwarded to.
    pub forward: Vec<String>,
}

/// A DKIM signing key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DkimSigner {
    /// Signing domain (`d=`).
    pub domain: String,
    /// Selector (`s=`).
    pub selector: String,
    /// `ed25519`, `rsa-2048`, ...
    pub algorithm: String,
    /// The private key (PKCS#8 PEM).
    pub key_file: String,
    /// Whether yubin generates the key at first start when the file does not exist.
    pub generate: bool,
}

/// How outbound mail leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outbound {
    /// `relay` or `direct` (MX lookup).
    pub mode: String,
    /// The smarthost, in relay mode.
    pub relay: Option<Relay>,
}

/// The smarthost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Relay {
    /// Host name or IP.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `required`, `implicit`, `starttls` or `none`.
    pub tls: String,
    /// AUTH user name.
    pub username: Option<String>,
    /// AUTH password reference.
    pub password: Option<SecretRef>,
    /// Extra CA to trust, or the relay's own certificate.
    pub ca_file: Option<String>,
    /// Pinned certificate fingerprints (`sha256:AB:CD:…`); only these are trusted when given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_fingerprints: Vec<String>,
    /// The provider's SPF domain, for `yubin dns`.
    pub spf_include: Option<String>,
}

/// Name resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// `IP:port` resolvers; empty means `/etc/resolv.conf`.
    pub resolvers: Vec<String>,
}

/// Who may submit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// Networks that may submit without AUTH.
    pub trusted_networks: Vec<String>,
    /// Domains submitted mail may come from.
    pub allowed_sender_domains: Vec<String>,
}

/// A rate: `messages` per `per_seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRate {
    /// Messages.
    pub messages: u64,
    /// Period in seconds.
    pub per_seconds: u64,
    /// `user` or `ip`.
    pub scope: String,
}

/// The auth-failure ban.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthFailures {
    /// Failures that trigger a ban.
    pub max_failures: u32,
    /// Counting window in seconds.
    pub within_seconds: u64,
    /// Ban length in seconds.
    pub ban_seconds: u64,
}

/// Limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest message in bytes.
    pub message_size_bytes: u64,
    /// RCPTs per transaction.
    pub recipients_per_message: u32,
    /// Concurrent connections in total.
    pub connections_total: u32,
    /// Concurrent connections per client IP.
    pub connections_per_ip: u32,
    /// Submission rate.
    pub send_rate: SendRate,
    /// Login failure ban.
    pub auth_failures: AuthFailures,
    /// Outbound retry lifetime in seconds.
    pub queue_lifetime_seconds: u64,
    /// First retry delay in seconds (doubling per attempt).
    pub retry_min_seconds: u64,
    /// Longest retry delay in seconds.
    pub retry_max_seconds: u64,
    /// Seconds after which a sender who asked for NOTIFY=DELAY gets one delay report; 0: never.
    #[serde(default)]
    pub delay_warning_seconds: u64,
    /// Seconds the delivery history of a message is kept after it left the queue.
    #[serde(default)]
    pub queue_history_seconds: u64,
    /// Outbound connections in total.
    pub outbound_connections: u32,
    /// Outbound connections per destination.
    pub outbound_per_destination: u32,
}

/// A daemon endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Endpoint {
    /// Unix socket path.
    Unix(String),
    /// `host:port`.
    Tcp(String),
}

/// clamd scanning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Antivirus {
    /// clamd.
    pub clamd: Endpoint,
    /// `reject`, `quarantine` or `tag`.
    pub action: String,
    /// `defer` or `accept`.
    pub on_failure: String,
}

/// rspamd scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Antispam {
    /// rspamd base URL.
    pub rspamd_url: String,
    /// Reject at or above.
    pub reject_score: f64,
    /// Junk at or above.
    pub junk_score: f64,
    /// `defer` or `accept`.
    pub on_failure: String,
}

/// Mail over HTTPS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundWebhook {
    /// URL path on the `http` listener.
    pub path: String,
    /// Bearer token reference.
    pub token: SecretRef,
}

/// A backup destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BackupTarget {
    /// A local folder.
    Local {
        /// Path.
        path: String,
    },
    /// An S3 bucket.
    S3 {
        /// Bucket.
        bucket: String,
        /// Region.
        region: String,
        /// Endpoint URL; null for AWS.
        endpoint: Option<String>,
        /// Key prefix.
        prefix: String,
        /// Credentials reference; null for the SDK's default chain.
        credentials: Option<SecretRef>,
        /// Object Lock mode (`compliance`, `governance`).
        object_lock_mode: Option<String>,
        /// Object Lock retention in days.
        object_lock_days: Option<u32>,
    },
}

/// A recurring backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupJob {
    /// `daily` or `weekly`.
    pub name: String,
    /// `HH:MM`, UTC.
    pub at: String,
    /// For weekly jobs, the weekday (`mon` … `sun`).
    pub weekday: Option<String>,
    /// Snapshots of this kind kept.
    pub keep: u32,
}

/// Scheduled backups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Components in each snapshot.
    pub components: Vec<String>,
    /// Destinations; each snapshot goes to all.
    pub targets: Vec<BackupTarget>,
    /// Schedules.
    pub jobs: Vec<BackupJob>,
}

impl Plan {
    /// The canonical JSON form: keys sorted at every level, two-space indent, final newline.
    pub fn to_canonical_json(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The plan's JSON Schema, pretty-printed.
    pub fn json_schema() -> String {
        let schema = schemars::schema_for!(Plan);
        let value = serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null);
        let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
        s.push('\n');
        s
    }
}
