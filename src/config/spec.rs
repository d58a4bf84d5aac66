//! The shape of `mail.kdl`: every node, argument and property, its type, default and meaning.
//!
//! This table is the one source of truth for the documentation: `schema/config-reference.md` is
//! generated from it, "did you mean" suggestions come from it, and the decoder may only read
//! names declared here (checked in debug builds and by the tests).
//!
//! A *property* may be written either as `name=value` on the node or as a child node
//! `name value` (`user "bob" quota="10GiB"` ≡ `user "bob" { quota "10GiB"; }`); properties marked
//! `many` take several values in the child form (`to "a@x" "b@x"`).

/// The type of a value, as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Free text.
    String,
    /// A DNS host name, IDNA allowed.
    Hostname,
    /// A mail domain, IDNA allowed.
    Domain,
    /// The part of an address before the `@`.
    LocalPart,
    /// `local@domain`.
    Address,
    /// `IP:port`, IPv6 in brackets.
    SocketAddr,
    /// `host:port` or `host`.
    HostPort,
    /// A file or folder; relative paths start at the config file's folder.
    Path,
    /// A number with a unit: `25MiB`, `2GB`.
    Size,
    /// `90s`, `10m`, `1h30m`, `5d`, `2w`.
    Duration,
    /// `count/period`: `200/hour`, `10/m`, `1000/1d`.
    Rate,
    /// `HH:MM`, 24-hour clock, UTC.
    Time,
    /// `mon` … `sun` (or the full English name).
    Weekday,
    /// An IP address or CIDR block.
    Cidr,
    /// A whole number.
    Integer,
    /// A number.
    Float,
    /// `#true` or `#false`.
    Bool,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// `http://` or `https://` URL.
    Url,
    /// A database URL: `sqlite://PATH` or `postgres://user@host/db`.
    DatabaseUrl,
    /// An argon2 PHC string from `yubin hash-password`.
    PasswordHash,
    /// `unix:/path/to/socket`, `tcp:host:port` or `host:port`.
    Endpoint,
    /// An environment variable name.
    EnvName,
}

impl Ty {
    /// How the type is written in the reference.
    pub fn name(self) -> String {
        match self {
            Ty::String => "string".into(),
            Ty::Hostname => "hostname".into(),
            Ty::Domain => "domain".into(),
            Ty::LocalPart => "local-part".into(),
            Ty::Address => "address".into(),
            Ty::SocketAddr => "ip:port".into(),
            Ty::HostPort => "host[:port]".into(),
            Ty::Path => "path".into(),
            Ty::Size => "size".into(),
            Ty::Duration => "duration".into(),
            Ty::Rate => "rate".into(),
            Ty::Time => "HH:MM".into(),
            Ty::Weekday => "weekday".into(),
            Ty::Cidr => "cidr".into(),
            Ty::Integer => "integer".into(),
            Ty::Float => "number".into(),
            Ty::Bool => "bool".into(),
            Ty::Choice(words) => words
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(" \\| "),
            Ty::Url => "url".into(),
            Ty::DatabaseUrl => "database-url".into(),
            Ty::PasswordHash => "argon2-phc".into(),
            Ty::Endpoint => "endpoint".into(),
            Ty::EnvName => "env-name".into(),
        }
    }
}

/// An argument or property.
#[derive(Debug)]
pub struct Field {
    /// The property name (for arguments: a name for the docs only).
    pub name: &'static str,
    /// Its type.
    pub ty: Ty,
    /// Whether it must be given.
    pub required: bool,
    /// Whether several values are taken (variadic argument, or a property whose child form lists several).
    pub many: bool,
    /// The default, as written in the docs, when not required.
    pub default: Option<&'static str>,
    /// What it means.
    pub doc: &'static str,
}

/// A node: its arguments, properties and child nodes.
#[derive(Debug)]
pub struct NodeSpec {
    /// The node name.
    pub name: &'static str,
    /// What it is for.
    pub doc: &'static str,
    /// Positional arguments.
    pub args: &'static [Field],
    /// Properties (`name=value` or child `name value`).
    pub props: &'static [Field],
    /// Child nodes with structure of their own.
    pub children: &'static [&'static NodeSpec],
    /// Whether the node may appear more than once in its parent.
    pub repeat: bool,
    /// Whether the node holds a secret reference (`env=` or `file=` only).
    pub secret: bool,
    /// A short example.
    pub example: &'static str,
}

impl NodeSpec {
    /// The child node spec called `name`.
    pub fn child(&self, name: &str) -> Option<&'static NodeSpec> {
        self.children.iter().copied().find(|c| c.name == name)
    }

    /// The property called `name`.
    pub fn prop(&self, name: &str) -> Option<&'static Field> {
        self.props.iter().find(|p| p.name == name)
    }

    /// Every name that may appear as a child node here (structured children and properties).
    pub fn child_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.children
            .iter()
            .map(|c| c.name)
            .chain(self.props.iter().map(|p| p.name))
    }
}

const fn arg(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: true,
        many: false,
        default: None,
        doc,
    }
}

const fn args(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: true,
        many: true,
        default: None,
        doc,
    }
}

const fn req(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: true,
        many: false,
        default: None,
        doc,
    }
}

const fn opt(name: &'static str, ty: Ty, default: Option<&'static str>, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        many: false,
        default,
        doc,
    }
}

const fn many(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        many: true,
        default: None,
        doc,
    }
}

static SECRET_PROPS: [Field; 2] = [
    opt(
        "env",
        Ty::EnvName,
        None,
        "Read the secret from this environment variable.",
    ),
    opt(
        "file",
        Ty::Path,
        None,
        "Read the secret from this file (trailing newline removed).",
    ),
];

const fn secret(name: &'static str, doc: &'static str, example: &'static str) -> NodeSpec {
    NodeSpec {
        name,
        doc,
        args: &[],
        props: &SECRET_PROPS,
        children: &[],
        repeat: false,
        secret: true,
        example,
    }
}

/// The allowed TLS modes of the relay.
pub const RELAY_TLS: &[&str] = &["required", "implicit", "starttls", "none"];
/// DKIM key algorithms.
pub const DKIM_ALGORITHMS: &[&str] = &["ed25519", "rsa-2048", "rsa-3072", "rsa-4096"];
/// DMARC policies.
pub const DMARC_POLICIES: &[&str] = &["none", "quarantine", "reject"];
/// What to do with a message the virus scanner flags.
pub const AV_ACTIONS: &[&str] = &["reject", "quarantine", "tag"];
/// What to do when a scanner cannot be reached.
pub const ON_FAILURE: &[&str] = &["defer", "accept"];
/// The scopes of a send rate.
pub const RATE_SCOPES: &[&str] = &["user", "ip"];
/// The parts of the appliance a backup can hold.
pub const BACKUP_COMPONENTS: &[&str] = &["mailboxes", "database", "config", "dkim", "tls", "queue"];
/// S3 Object Lock modes.
pub const LOCK_MODES: &[&str] = &["compliance", "governance"];
/// TLS protocol versions.
pub const TLS_VERSIONS: &[&str] = &["1.2", "1.3"];

/// `hostname`.
pub static HOSTNAME: NodeSpec = NodeSpec {
    name: "hostname",
    doc: "The server's own name: EHLO greeting, `Received:` headers, the TLS certificate's name and \
          the MX target that `yubin dns` prints. Required.",
    args: &[arg("name", Ty::Hostname, "A fully qualified host name.")],
    props: &[],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"hostname "mail.example.com""#,
};

/// `listen`.
pub static LISTEN: NodeSpec = NodeSpec {
    name: "listen",
    doc: "The sockets yubin serves. Each property takes one or more `IP:port` addresses. Without a \
          `listen` node yubin listens on smtp 0.0.0.0:25, submission 0.0.0.0:587, submissions \
          0.0.0.0:465, imaps 0.0.0.0:993, pop3s 0.0.0.0:995 and http 127.0.0.1:8080; with one, \
          only on what it lists.",
    args: &[],
    props: &[
        many(
            "smtp",
            Ty::SocketAddr,
            "MX: receives mail for the local domains, STARTTLS offered, no AUTH.",
        ),
        many(
            "submission",
            Ty::SocketAddr,
            "Mail clients: STARTTLS, then AUTH, required (trusted networks may skip AUTH).",
        ),
        many(
            "submissions",
            Ty::SocketAddr,
            "Mail clients over implicit TLS; AUTH required.",
        ),
        many(
            "imap",
            Ty::SocketAddr,
            "IMAP with STARTTLS required before LOGIN/AUTHENTICATE.",
        ),
        many("imaps", Ty::SocketAddr, "IMAP over implicit TLS."),
        many(
            "pop3",
            Ty::SocketAddr,
            "POP3 with STLS required before USER/PASS.",
        ),
        many("pop3s", Ty::SocketAddr, "POP3 over implicit TLS."),
        many(
            "http",
            Ty::SocketAddr,
            "`/healthz`, `/metrics`, the inbound webhook and the admin API.",
        ),
        many(
            "https",
            Ty::SocketAddr,
            "`/healthz` and the inbound webhook over implicit TLS (the server's certificate), for an \
             edge router posting from the Internet. `/metrics` stays on `http`.",
        ),
    ],
    children: &[],
    repeat: false,
    secret: false,
    example: "listen {\n    smtp \"0.0.0.0:25\" \"[::]:25\"\n    submission \"0.0.0.0:587\"\n    http \"127.0.0.1:8080\"\n}",
};

/// `tls > acme`.
pub static TLS_ACME: NodeSpec = NodeSpec {
    name: "acme",
    doc: "Obtain and renew the certificate for `hostname` from an ACME CA.",
    args: &[],
    props: &[
        req("email", Ty::Address, "Account contact address."),
        opt(
            "directory",
            Ty::Url,
            Some("https://acme-v02.api.letsencrypt.org/directory"),
            "The CA's directory URL.",
        ),
        opt(
            "ca-file",
            Ty::Path,
            None,
            "Trust this CA (PEM) when talking to the ACME server (test CAs).",
        ),
        opt(
            "http-challenge",
            Ty::SocketAddr,
            Some("0.0.0.0:80"),
            "Where yubin answers the CA's HTTP-01 challenges (port 80 as the CA sees it; only \
             `/.well-known/acme-challenge/` is served there).",
        ),
    ],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"acme email="hostmaster@example.com""#,
};

/// `tls > certificate`.
pub static TLS_CERTIFICATE: NodeSpec = NodeSpec {
    name: "certificate",
    doc: "Use a certificate chain and key from PEM files (reloaded when they change).",
    args: &[arg("chain", Ty::Path, "The certificate chain, leaf first.")],
    props: &[req("key", Ty::Path, "The private key.")],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"certificate "/etc/yubin/tls/fullchain.pem" key="/etc/yubin/tls/privkey.pem""#,
};

/// `tls > self-signed`.
pub static TLS_SELF_SIGNED: NodeSpec = NodeSpec {
    name: "self-signed",
    doc: "Generate a self-signed certificate for `hostname` in the data folder (the default).",
    args: &[],
    props: &[],
    children: &[],
    repeat: false,
    secret: false,
    example: "self-signed",
};

/// `tls`.
pub static TLS: NodeSpec = NodeSpec {
    name: "tls",
    doc: "Where the TLS certificate comes from: exactly one of `acme`, `certificate`, `self-signed`. \
          Without a `tls` node yubin uses a self-signed certificate.",
    args: &[],
    props: &[opt(
        "min-version",
        Ty::Choice(TLS_VERSIONS),
        Some("1.2"),
        "The oldest TLS version accepted.",
    )],
    children: &[&TLS_ACME, &TLS_CERTIFICATE, &TLS_SELF_SIGNED],
    repeat: false,
    secret: false,
    example: "tls {\n    acme email=\"hostmaster@example.com\"\n}",
};

/// `storage > database-password`.
pub static DATABASE_PASSWORD: NodeSpec = secret(
    "database-password",
    "The PostgreSQL password, by reference.",
    r#"database-password env="YUBIN_DB_PASSWORD""#,
);

/// `storage`.
pub static STORAGE: NodeSpec = NodeSpec {
    name: "storage",
    doc: "Where state lives.",
    args: &[],
    props: &[
        opt(
            "data",
            Ty::Path,
            Some("/var/lib/yubin"),
            "Maildirs, queue, DKIM keys, certificates.",
        ),
        opt(
            "database",
            Ty::DatabaseUrl,
            Some("sqlite://<data>/yubin.db"),
            "The directory, mailbox index and queue database. No password inline: use `database-password`.",
        ),
    ],
    children: &[&DATABASE_PASSWORD],
    repeat: false,
    secret: false,
    example: "storage {\n    data \"/var/lib/yubin\"\n}",
};

/// `domain > dkim`.
pub static DKIM: NodeSpec = NodeSpec {
    name: "dkim",
    doc: "A DKIM key that signs mail from this domain. Several may sign at once (key rotation, \
          ed25519 next to RSA). The key is generated on first start unless `key-file` is given, \
          and never regenerated.",
    args: &[],
    props: &[
        req(
            "selector",
            Ty::String,
            "The DNS selector: the key is published at `<selector>._domainkey.<domain>`.",
        ),
        opt(
            "algorithm",
            Ty::Choice(DKIM_ALGORITHMS),
            Some("ed25519"),
            "The key type.",
        ),
        opt(
            "key-file",
            Ty::Path,
            Some("<data>/dkim/<domain>/<selector>.key"),
            "An existing private key (PKCS#8 PEM).",
        ),
    ],
    children: &[],
    repeat: true,
    secret: false,
    example: r#"dkim selector="2026a" algorithm="ed25519""#,
};

/// `domain > dmarc`.
pub static DMARC: NodeSpec = NodeSpec {
    name: "dmarc",
    doc: "The DMARC record `yubin dns` prints for this domain.",
    args: &[],
    props: &[
        req(
            "policy",
            Ty::Choice(DMARC_POLICIES),
            "What receivers do with mail that fails DMARC.",
        ),
        opt(
            "subdomain-policy",
            Ty::Choice(DMARC_POLICIES),
            None,
            "The policy for subdomains (`sp=`).",
        ),
        opt("rua", Ty::Address, None, "Where aggregate reports go."),
    ],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"dmarc policy="quarantine" rua="dmarc-reports@example.com""#,
};

/// `domain > user`.
pub static USER: NodeSpec = NodeSpec {
    name: "user",
    doc: "A mailbox and login. The login name is the full address (`alice@example.com`).",
    args: &[arg(
        "name",
        Ty::LocalPart,
        "The local part of the user's address.",
    )],
    props: &[
        req(
            "password-hash",
            Ty::PasswordHash,
            "From `yubin hash-password` (argon2id, PHC string).",
        ),
        opt(
            "quota",
            Ty::Size,
            None,
            "The mailbox size limit; unlimited when absent.",
        ),
        many(
            "alias",
            Ty::LocalPart,
            "More local parts in this domain that reach this user.",
        ),
        opt(
            "disabled",
            Ty::Bool,
            Some("#false"),
            "A disabled user keeps the mailbox; logins and new mail are refused.",
        ),
    ],
    children: &[],
    repeat: true,
    secret: false,
    example: "user \"alice\" {\n    password-hash \"$argon2id$v=19$m=19456,t=2,p=1$...\"\n    quota \"2GiB\"\n    alias \"info\" \"sales\"\n}",
};

/// `domain > alias`.
pub static ALIAS: NodeSpec = NodeSpec {
    name: "alias",
    doc: "An address that forwards to others: local users, other aliases or remote addresses.",
    args: &[arg("name", Ty::LocalPart, "The local part of the alias address.")],
    props: &[Field {
        name: "to",
        ty: Ty::Address,
        required: true,
        many: true,
        default: None,
        doc: "The targets; a bare local part means this domain.",
    }],
    children: &[],
    repeat: true,
    secret: false,
    example: "alias \"postmaster\" to=\"alice@example.com\"\nalias \"team\" {\n    to \"alice@example.com\" \"bob@example.com\"\n}",
};

/// `domain > catch-all`.
pub static CATCH_ALL: NodeSpec = NodeSpec {
    name: "catch-all",
    doc: "Where mail for unknown local parts of this domain goes (instead of a 550 reply).",
    args: &[],
    props: &[Field {
        name: "to",
        ty: Ty::Address,
        required: true,
        many: true,
        default: None,
        doc: "The targets.",
    }],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"catch-all to="alice@example.com""#,
};

/// `domain`.
pub static DOMAIN: NodeSpec = NodeSpec {
    name: "domain",
    doc: "A mail domain this server receives for.",
    args: &[arg(
        "name",
        Ty::Domain,
        "The domain; IDNA names are stored in ASCII form.",
    )],
    props: &[opt(
        "alias-of",
        Ty::Domain,
        None,
        "Every address of this domain is the same mailbox in that domain. An alias domain has no \
         users, aliases or catch-all of its own, but may sign with its own `dkim` keys.",
    )],
    children: &[&DKIM, &DMARC, &USER, &ALIAS, &CATCH_ALL],
    repeat: true,
    secret: false,
    example: "domain \"example.com\" {\n    dkim selector=\"2026a\"\n    user \"alice\" password-hash=\"...\"\n}",
};

/// `relay > password`.
pub static RELAY_PASSWORD: NodeSpec = secret(
    "password",
    "The relay password, by reference.",
    r#"password env="SENDGRID_API_KEY""#,
);

/// `relay`.
pub static RELAY: NodeSpec = NodeSpec {
    name: "relay",
    doc: "Send all outbound mail through this smarthost. Without `relay`, yubin delivers to the \
          recipients' MX hosts itself.",
    args: &[arg(
        "host",
        Ty::HostPort,
        "The smarthost; the port defaults to 465 for `tls \"implicit\"` and 587 otherwise.",
    )],
    props: &[
        opt(
            "username",
            Ty::String,
            None,
            "The AUTH user name (AUTH is used when a username is set).",
        ),
        opt(
            "tls",
            Ty::Choice(RELAY_TLS),
            Some("required"),
            "`required`: STARTTLS with a verified certificate; `implicit`: TLS from the first byte; \
             `starttls`: opportunistic; `none`: plain text (local test relays only).",
        ),
        opt(
            "ca-file",
            Ty::Path,
            None,
            "Trust the certificates in this PEM file for the relay: a private CA, or the relay's own \
             certificate (pinned: a self-signed `openssl req -x509` certificate works).",
        ),
        many(
            "tls-fingerprint",
            Ty::String,
            "Trust only a relay certificate with this SHA-256 fingerprint (`sha256:AB:CD:…`, as \
             `openssl x509 -noout -fingerprint -sha256` prints it); repeat it for a rollover.",
        ),
        opt(
            "spf-include",
            Ty::Domain,
            None,
            "The relay provider's SPF domain (e.g. `sendgrid.net`): `yubin dns` adds `include:` for it.",
        ),
    ],
    children: &[&RELAY_PASSWORD],
    repeat: false,
    secret: false,
    example: "relay \"smtp.sendgrid.net:587\" {\n    username \"apikey\"\n    password env=\"SENDGRID_API_KEY\"\n}",
};

/// `dns`.
pub static DNS: NodeSpec = NodeSpec {
    name: "dns",
    doc: "How yubin resolves names (MX lookups, SPF, DKIM, DMARC).",
    args: &[],
    props: &[many(
        "resolver",
        Ty::SocketAddr,
        "Recursive resolvers to ask; the system's (`/etc/resolv.conf`) when absent.",
    )],
    children: &[],
    repeat: false,
    secret: false,
    example: "dns {\n    resolver \"127.0.0.53:53\"\n}",
};

/// `trusted-networks`.
pub static TRUSTED_NETWORKS: NodeSpec = NodeSpec {
    name: "trusted-networks",
    doc: "Clients from these networks may submit mail without AUTH on `smtp` and `submission` (a \
          web app next to the server). Repeating the node adds to the list.",
    args: &[args("network", Ty::Cidr, "IP addresses or CIDR blocks.")],
    props: &[],
    children: &[],
    repeat: true,
    secret: false,
    example: r#"trusted-networks "127.0.0.0/8" "::1/128" "172.16.0.0/12""#,
};

/// `allowed-sender-domains`.
pub static ALLOWED_SENDER_DOMAINS: NodeSpec = NodeSpec {
    name: "allowed-sender-domains",
    doc: "The domains submitted mail may come from (MAIL FROM and From:). Defaults to the local \
          domains. Repeating the node adds to the list.",
    args: &[args("domain", Ty::Domain, "Sender domains.")],
    props: &[],
    children: &[],
    repeat: true,
    secret: false,
    example: r#"allowed-sender-domains "example.com" "example.org""#,
};

/// `limits > connections`.
pub static CONNECTIONS: NodeSpec = NodeSpec {
    name: "connections",
    doc: "Concurrent connections on each listener: every listener (smtp, submission, imaps, http, ...) \
          has a pool of this size of its own, so clients filling one never lock users out of another.",
    args: &[Field {
        name: "total",
        ty: Ty::Integer,
        required: false,
        many: false,
        default: Some("500"),
        doc: "All clients of one listener together.",
    }],
    props: &[opt(
        "per-ip",
        Ty::Integer,
        Some("50"),
        "From one IP address, on one listener.",
    )],
    children: &[],
    repeat: false,
    secret: false,
    example: "connections 500 per-ip=50",
};

/// `limits > send-rate`.
pub static SEND_RATE: NodeSpec = NodeSpec {
    name: "send-rate",
    doc: "How many messages one sender may submit (451 4.7.1 beyond it).",
    args: &[Field {
        name: "rate",
        ty: Ty::Rate,
        required: false,
        many: false,
        default: Some("1000/hour"),
        doc: "Messages per period.",
    }],
    props: &[opt(
        "per",
        Ty::Choice(RATE_SCOPES),
        Some("user"),
        "Count per authenticated user or per client IP.",
    )],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"send-rate "200/hour" per="user""#,
};

/// `limits > auth-failures`.
pub static AUTH_FAILURES: NodeSpec = NodeSpec {
    name: "auth-failures",
    doc: "Ban a client IP from all listeners after this many failed logins.",
    args: &[Field {
        name: "count",
        ty: Ty::Integer,
        required: false,
        many: false,
        default: Some("5"),
        doc: "Failures before the ban.",
    }],
    props: &[
        opt(
            "within",
            Ty::Duration,
            Some("10m"),
            "The window the failures are counted in.",
        ),
        opt("ban", Ty::Duration, Some("1h"), "How long the ban lasts."),
    ],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"auth-failures 5 within="10m" ban="1h""#,
};

/// `limits > outbound-connections`.
pub static OUTBOUND_CONNECTIONS: NodeSpec = NodeSpec {
    name: "outbound-connections",
    doc: "Concurrent outbound SMTP connections of the queue.",
    args: &[Field {
        name: "total",
        ty: Ty::Integer,
        required: false,
        many: false,
        default: Some("100"),
        doc: "All destinations together.",
    }],
    props: &[opt(
        "per-destination",
        Ty::Integer,
        Some("20"),
        "To one destination (the relay, or one recipient domain).",
    )],
    children: &[],
    repeat: false,
    secret: false,
    example: "outbound-connections 100 per-destination=20",
};

/// `limits`.
pub static LIMITS: NodeSpec = NodeSpec {
    name: "limits",
    doc: "Sizes, counts and rates. Every limit has a default, so `limits` may be left out.",
    args: &[],
    props: &[
        opt(
            "message-size",
            Ty::Size,
            Some("25MiB"),
            "The largest message accepted (announced in EHLO SIZE).",
        ),
        opt(
            "recipients-per-message",
            Ty::Integer,
            Some("100"),
            "RCPT commands per transaction.",
        ),
        opt(
            "queue-lifetime",
            Ty::Duration,
            Some("5d"),
            "How long outbound mail is retried before it bounces.",
        ),
        opt(
            "retry-min",
            Ty::Duration,
            Some("5m"),
            "The first retry of a deferred delivery; the delay doubles per attempt.",
        ),
        opt(
            "retry-max",
            Ty::Duration,
            Some("4h"),
            "The longest delay between two delivery attempts.",
        ),
        opt(
            "delay-warning",
            Ty::Duration,
            Some("4h"),
            "When a sender who asked for delay reports (RFC 3461 NOTIFY=DELAY) hears, once, that \
             a message is still being retried; `0s`: never.",
        ),
        opt(
            "queue-history",
            Ty::Duration,
            Some("7d"),
            "How long `yubin queue show` keeps a message's delivery attempts and reports after it \
             left the queue (delivered or bounced).",
        ),
    ],
    children: &[&CONNECTIONS, &SEND_RATE, &AUTH_FAILURES, &OUTBOUND_CONNECTIONS],
    repeat: false,
    secret: false,
    example: "limits {\n    message-size \"25MiB\"\n    connections 500 per-ip=50\n}",
};

/// `antivirus`.
pub static ANTIVIRUS: NodeSpec = NodeSpec {
    name: "antivirus",
    doc: "Scan every message with clamd.",
    args: &[],
    props: &[
        req("clamd", Ty::Endpoint, "clamd's socket."),
        opt(
            "action",
            Ty::Choice(AV_ACTIONS),
            Some("reject"),
            "`reject` (554 at DATA), `quarantine` (kept out of the inbox) or `tag` (header only).",
        ),
        opt(
            "on-failure",
            Ty::Choice(ON_FAILURE),
            Some("defer"),
            "When clamd is down: `defer` (451) or `accept` unscanned.",
        ),
    ],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"antivirus clamd="unix:/run/clamd.scan/clamd.sock" action="reject""#,
};

/// `antispam`.
pub static ANTISPAM: NodeSpec = NodeSpec {
    name: "antispam",
    doc: "Score every inbound message with rspamd.",
    args: &[],
    props: &[
        req("rspamd", Ty::Url, "rspamd's normal worker."),
        opt(
            "reject-score",
            Ty::Float,
            Some("15.0"),
            "Reject (554) at or above this score.",
        ),
        opt(
            "junk-score",
            Ty::Float,
            Some("6.0"),
            "File into Junk at or above this score.",
        ),
        opt(
            "on-failure",
            Ty::Choice(ON_FAILURE),
            Some("accept"),
            "When rspamd is down: `defer` (451) or `accept` unscored.",
        ),
    ],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"antispam rspamd="http://127.0.0.1:11333" reject-score=15.0 junk-score=6.0"#,
};

/// `inbound-webhook > token`.
pub static WEBHOOK_TOKEN: NodeSpec = secret(
    "token",
    "The bearer token the sender must present, by reference. Required.",
    r#"token env="INBOUND_TOKEN""#,
);

/// `inbound-webhook`.
pub static INBOUND_WEBHOOK: NodeSpec = NodeSpec {
    name: "inbound-webhook",
    doc: "Accept mail over HTTP(S) (an edge e-mail router posting raw RFC 5322 messages), for hosts \
          whose port 25 is closed. Served on the `https` listener and on `http` (behind a TLS \
          reverse proxy). `POST` the message as `message/rfc822` with `Authorization: Bearer \
          TOKEN`, `Mail-From` and one or more `Rcpt-To` headers; see docs/webhook.md.",
    args: &[],
    props: &[opt("path", Ty::String, Some("/inbound"), "The URL path.")],
    children: &[&WEBHOOK_TOKEN],
    repeat: false,
    secret: false,
    example: "inbound-webhook path=\"/inbound\" {\n    token env=\"INBOUND_TOKEN\"\n}",
};

/// `backup > schedule`.
pub static BACKUP_SCHEDULE: NodeSpec = NodeSpec {
    name: "schedule",
    doc: "When backups run, in UTC (an appliance's clock); on the weekly day the one snapshot taken counts as the weekly one.",
    args: &[],
    props: &[
        opt("daily", Ty::Time, Some("03:00"), "The time of the daily backup."),
        opt(
            "weekly",
            Ty::Weekday,
            None,
            "The day the daily backup is also kept as the weekly one.",
        ),
    ],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"schedule daily="03:00" weekly="sun""#,
};

/// `backup > keep`.
pub static BACKUP_KEEP: NodeSpec = NodeSpec {
    name: "keep",
    doc: "How many backups of each kind are kept.",
    args: &[],
    props: &[
        opt("daily", Ty::Integer, Some("7"), "Daily backups kept."),
        opt("weekly", Ty::Integer, Some("4"), "Weekly backups kept."),
    ],
    children: &[],
    repeat: false,
    secret: false,
    example: "keep daily=7 weekly=4",
};

/// `backup > components`.
pub static BACKUP_COMPONENTS_NODE: NodeSpec = NodeSpec {
    name: "components",
    doc: "What a backup holds; each component is checksummed and can be restored on its own.",
    args: &[args(
        "component",
        Ty::Choice(BACKUP_COMPONENTS),
        "Components; all of them when the node is absent.",
    )],
    props: &[],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"components "mailboxes" "database" "config" "dkim" "tls""#,
};

/// `backup > local`.
pub static BACKUP_LOCAL: NodeSpec = NodeSpec {
    name: "local",
    doc: "Write backups into a folder (another disk, ideally).",
    args: &[arg("path", Ty::Path, "The folder.")],
    props: &[],
    children: &[],
    repeat: true,
    secret: false,
    example: r#"local "/mnt/backup-hdd/yubin""#,
};

/// `backup > s3 > credentials`.
pub static S3_CREDENTIALS: NodeSpec = NodeSpec {
    name: "credentials",
    doc: "Where the S3 keys come from: `<prefix>ACCESS_KEY_ID` and `<prefix>SECRET_ACCESS_KEY`.",
    args: &[],
    props: &[req("env-prefix", Ty::EnvName, "The environment variable prefix.")],
    children: &[],
    repeat: false,
    secret: true,
    example: r#"credentials env-prefix="YUBIN_S3_""#,
};

/// `backup > s3 > object-lock`.
pub static S3_OBJECT_LOCK: NodeSpec = NodeSpec {
    name: "object-lock",
    doc: "Write every backup object with an Object Lock retention, so nobody (not even a stolen \
          key) can delete it before the days are over. The bucket must have Object Lock enabled.",
    args: &[],
    props: &[
        opt(
            "mode",
            Ty::Choice(LOCK_MODES),
            Some("compliance"),
            "`compliance` cannot be shortened by anyone; `governance` by privileged users.",
        ),
        req("days", Ty::Integer, "Retention in days (at least 1)."),
    ],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"object-lock mode="compliance" days=30"#,
};

/// `backup > s3`.
pub static BACKUP_S3: NodeSpec = NodeSpec {
    name: "s3",
    doc: "Upload backups to an S3-compatible bucket.",
    args: &[],
    props: &[
        req("bucket", Ty::String, "The bucket name."),
        req("region", Ty::String, "The region."),
        opt(
            "endpoint",
            Ty::Url,
            Some("AWS for the region"),
            "Any S3-compatible endpoint.",
        ),
        opt(
            "prefix",
            Ty::String,
            Some("yubin/"),
            "Key prefix inside the bucket.",
        ),
    ],
    children: &[&S3_CREDENTIALS, &S3_OBJECT_LOCK],
    repeat: true,
    secret: false,
    example: "s3 bucket=\"example-mail-backups\" region=\"ap-northeast-1\" {\n    credentials env-prefix=\"YUBIN_S3_\"\n    object-lock days=30\n}",
};

/// `backup`.
pub static BACKUP: NodeSpec = NodeSpec {
    name: "backup",
    doc: "Scheduled snapshots with a SHA-256 manifest, to a local folder and/or S3.",
    args: &[],
    props: &[],
    children: &[
        &BACKUP_SCHEDULE,
        &BACKUP_KEEP,
        &BACKUP_COMPONENTS_NODE,
        &BACKUP_LOCAL,
        &BACKUP_S3,
    ],
    repeat: false,
    secret: false,
    example: "backup {\n    schedule daily=\"03:00\" weekly=\"sun\"\n    local \"/mnt/backup-hdd/yubin\"\n}",
};

/// `recipient-delimiter`.
pub static RECIPIENT_DELIMITER: NodeSpec = NodeSpec {
    name: "recipient-delimiter",
    doc: "The character that starts a sub-address tag: `alice+lists@example.com` reaches \
          `alice`. An empty string turns sub-addressing off. (Extension of the contract.)",
    args: &[Field {
        name: "delimiter",
        ty: Ty::String,
        required: true,
        many: false,
        default: Some("+"),
        doc: "One character, or empty.",
    }],
    props: &[],
    children: &[],
    repeat: false,
    secret: false,
    example: r#"recipient-delimiter "+""#,
};

/// The top of the file.
pub static ROOT: NodeSpec = NodeSpec {
    name: "mail.kdl",
    doc: "The whole appliance in one KDL 2.0 file.",
    args: &[],
    props: &[],
    children: &[
        &HOSTNAME,
        &LISTEN,
        &TLS,
        &STORAGE,
        &DOMAIN,
        &RELAY,
        &DNS,
        &TRUSTED_NETWORKS,
        &ALLOWED_SENDER_DOMAINS,
        &LIMITS,
        &ANTIVIRUS,
        &ANTISPAM,
        &INBOUND_WEBHOOK,
        &BACKUP,
        &RECIPIENT_DELIMITER,
    ],
    repeat: false,
    secret: false,
    example: "",
};

/// The names of the settings that hold secrets (`password`, `token`, ...): their values are
/// hidden in printed snippets ([`super::redact`]). The spec is a fixed tree a few levels deep.
pub fn secret_names() -> impl Iterator<Item = &'static str> {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    fn walk(spec: &'static NodeSpec, out: &mut Vec<&'static str>) {
        for child in spec.children {
            if child.secret && !out.contains(&child.name) {
                out.push(child.name);
            }
            walk(child, out);
        }
    }
    NAMES
        .get_or_init(|| {
            let mut out = Vec::new();
            walk(&ROOT, &mut out);
            out
        })
        .iter()
        .copied()
}

/// Where a node called `name` is allowed (`"domain"`, `"the top level"`), for misplaced nodes.
pub fn where_allowed(name: &str) -> Option<String> {
    fn walk(spec: &NodeSpec, path: &str, name: &str) -> Option<String> {
        for child in spec.children {
            let here = if path.is_empty() {
                child.name.to_owned()
            } else {
                format!("{path} {{ {} }}", child.name)
            };
            if child.child_names().any(|n| n == name) {
                return Some(here);
            }
            if let Some(found) = walk(child, &here, name) {
                return Some(found);
            }
        }
        None
    }
    if ROOT.children.iter().any(|c| c.name == name) {
        return Some("the top level".to_owned());
    }
    walk(&ROOT, "", name)
}
