//! Diagnostics: every problem the compiler finds, each with a stable code, a labelled span and,
//! where one helps, a hint. Errors and warnings are the same type with a different severity, so
//! they sort and print together, in source order.

use std::fmt;

use miette::{Diagnostic, LabeledSpan, Severity, SourceSpan};

use super::source::Source;

macro_rules! codes {
    ($( $(#[doc = $doc:literal])+ $variant:ident => $name:literal, )*) => {
        /// A stable diagnostic code; the string form is `yubin::config::<name>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $( $(#[doc = $doc])+ $variant, )* }

        impl Code {
            /// Every code, in declaration order (for the generated reference).
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The full code, e.g. `yubin::config::unknown_node`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => concat!("yubin::config::", $name)),* }
            }

            /// What the code means, from its doc comment.
            pub fn description(self) -> &'static str {
                match self { $(Code::$variant => concat!($($doc),+)),* }
            }
        }
    };
}

codes! {
    /// The file is not valid KDL 2.0.
    Syntax => "syntax",
    /// The file is larger than yubin reads (8 MiB).
    TooLarge => "too_large",
    /// Blocks nested more than 64 deep.
    TooDeep => "too_deep",
    /// A node that yubin does not know at this place.
    UnknownNode => "unknown_node",
    /// A property that this node does not take.
    UnknownProperty => "unknown_property",
    /// More arguments than the node takes.
    UnexpectedArgument => "unexpected_argument",
    /// A required argument, property or node is missing.
    MissingValue => "missing_value",
    /// A value of the wrong KDL type (a number where a string belongs, ...).
    WrongType => "wrong_type",
    /// A value that is not one of the allowed words.
    InvalidChoice => "invalid_choice",
    /// A node that may appear only once appears again.
    DuplicateNode => "duplicate_node",
    /// A property given twice, or both as a property and as a child node.
    DuplicateProperty => "duplicate_property",
    /// KDL type annotations such as `(u8)5` carry no meaning here.
    UnexpectedAnnotation => "unexpected_annotation",
    /// A number outside the range this setting accepts.
    OutOfRange => "out_of_range",
    /// A size that is not a number with a unit, such as `25MiB`.
    InvalidSize => "invalid_size",
    /// A duration that is not like `90s`, `10m`, `1h30m`, `5d`.
    InvalidDuration => "invalid_duration",
    /// A rate that is not like `200/hour` or `10/m`.
    InvalidRate => "invalid_rate",
    /// A schedule time or weekday that is not like `03:00` or `sun`.
    InvalidSchedule => "invalid_schedule",
    /// A host name or domain that is not a valid (IDNA) DNS name.
    InvalidHostname => "invalid_hostname",
    /// A malformed e-mail address or local part.
    InvalidAddress => "invalid_address",
    /// A network that is not an IP address or CIDR block.
    InvalidCidr => "invalid_cidr",
    /// A listen or resolver address that is not `IP:port`.
    InvalidSocketAddress => "invalid_socket_address",
    /// A URL that yubin cannot use here.
    InvalidUrl => "invalid_url",
    /// A certificate fingerprint that is not `sha256:` and 64 hex digits.
    InvalidFingerprint => "invalid_fingerprint",
    /// A password hash that is not an argon2 PHC string.
    InvalidPasswordHash => "invalid_password_hash",
    /// A secret written inline where only `env=` or `file=` references are allowed.
    InlineSecret => "inline_secret",
    /// A secret reference that is malformed (bad variable name, empty path, both or neither of `env=`/`file=`).
    InvalidSecretRef => "invalid_secret_ref",
    /// A secret reference that cannot be resolved now (`--check-secrets`, `serve`).
    SecretUnavailable => "secret_unavailable",
    /// Two listeners on the same address and port.
    ListenerConflict => "listener_conflict",
    /// More than one TLS certificate source in `tls`.
    TlsSourceConflict => "tls_source_conflict",
    /// A domain declared twice.
    DuplicateDomain => "duplicate_domain",
    /// A user declared twice in one domain.
    DuplicateUser => "duplicate_user",
    /// An alias address declared twice in one domain.
    DuplicateAlias => "duplicate_alias",
    /// An alias whose address is also a user's address: the user would never receive it.
    AliasShadowsUser => "alias_shadows_user",
    /// A catch-all that would take mail meant for users (one on an alias domain).
    CatchAllShadowsUser => "catch_all_shadows_user",
    /// An alias or catch-all target in a local domain that no user, alias or catch-all receives.
    UnknownAliasTarget => "unknown_alias_target",
    /// Aliases that point at each other in a circle.
    AliasLoop => "alias_loop",
    /// A chain of aliases longer than 100 (`a` → `b` → `c` → ...).
    AliasChainTooLong => "alias_chain_too_long",
    /// `alias-of` names a domain that is not declared.
    UnknownDomain => "unknown_domain",
    /// `alias-of` names a domain that is itself an alias domain (or itself).
    AliasOfAlias => "alias_of_alias",
    /// An alias domain that also declares users, aliases or a catch-all.
    AliasDomainHasMailboxes => "alias_domain_has_mailboxes",
    /// A DKIM selector declared twice for one domain.
    DuplicateSelector => "duplicate_selector",
    /// A backup component that does not exist.
    UnknownBackupComponent => "unknown_backup_component",
    /// A setting that needs another one which is missing (a webhook without an `http` listener, ...).
    MissingDependency => "missing_dependency",
    /// A trusted network that makes the server an open relay.
    OpenRelay => "open_relay",
    /// Settings that contradict each other (junk score above reject score, ...).
    Conflict => "conflict",
    /// Warning: a relay that can be reached without TLS.
    RelayWithoutTls => "relay_without_tls",
    /// Warning: DMARC policy `none` only monitors.
    DmarcPolicyNone => "dmarc_policy_none",
    /// Warning: a domain that sends mail without a DKIM key.
    DomainWithoutDkim => "domain_without_dkim",
    /// Warning: a domain where `postmaster@` is not deliverable (RFC 5321 §4.5.1).
    NoPostmaster => "no_postmaster",
    /// Warning: a trusted network with public addresses.
    PublicTrustedNetwork => "public_trusted_network",
    /// Warning: the HTTP listener (admin API, webhook) listens on a non-loopback address without TLS.
    PublicHttpListener => "public_http_listener",
    /// Warning: a host name that is not fully qualified.
    UnqualifiedHostname => "unqualified_hostname",
    /// Warning: a password hash with an argon2 variant or parameters weaker than recommended.
    WeakPasswordHash => "weak_password_hash",
    /// Warning: a password hash from yubin's own documentation, whose password is published.
    ExamplePasswordHash => "example_password_hash",
    /// Warning: a relative data folder outside the configuration file's folder (copying the
    /// file elsewhere would silently move it).
    DataOutsideConfigFolder => "data_outside_config_folder",
    /// Warning: backups that are kept on the same machine only.
    BackupLocalOnly => "backup_local_only",
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The file is invalid; nothing is compiled.
    Error,
    /// The file works, but something is unwise.
    Warning,
}

impl Level {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    /// The stable code.
    pub code: Code,
    /// Error or warning.
    pub level: Level,
    /// One sentence saying what is wrong.
    pub message: String,
    /// Where: the primary span.
    pub span: SourceSpan,
    /// The label shown under the primary span.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Secondary spans, such as the first declaration of a duplicate.
    pub related: Vec<(SourceSpan, String)>,
}

impl Diag {
    /// Sets the label under the primary span.
    pub fn label(&mut self, label: impl Into<String>) -> &mut Self {
        self.label = label.into();
        self
    }

    /// Sets the help line.
    pub fn help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary labelled span.
    pub fn related(&mut self, span: SourceSpan, label: impl Into<String>) -> &mut Self {
        self.related.push((span, label.into()));
        self
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A set of diagnostics, collected while decoding and checking.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    list: Vec<Diag>,
}

impl Diagnostics {
    /// Records an error and returns it for labelling.
    pub fn error(&mut self, code: Code, span: SourceSpan, message: impl Into<String>) -> &mut Diag {
        self.push(Level::Error, code, span, message.into())
    }

    /// Records a warning and returns it for labelling.
    pub fn warning(&mut self, code: Code, span: SourceSpan, message: impl Into<String>) -> &mut Diag {
        self.push(Level::Warning, code, span, message.into())
    }

    fn push(&mut self, level: Level, code: Code, span: SourceSpan, message: String) -> &mut Diag {
        self.list.push(Diag {
            code,
            level,
            message,
            span,
            label: "here".to_owned(),
            help: None,
            related: Vec::new(),
        });
        let last = self.list.len() - 1;
        &mut self.list[last]
    }

    /// True when at least one error (not a warning) was recorded.
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.level == Level::Error)
    }

    /// Number of errors and warnings.
    pub fn counts(&self) -> (usize, usize) {
        let errors = self.list.iter().filter(|d| d.level == Level::Error).count();
        (errors, self.list.len() - errors)
    }

    /// Adds every diagnostic of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.list.extend(other.list);
    }

    /// The diagnostics sorted by position (then code), duplicates removed.
    pub fn into_sorted(mut self) -> Vec<Diag> {
        self.list.sort_by(|a, b| {
            (a.span.offset(), a.span.len(), a.code, &a.message).cmp(&(
                b.span.offset(),
                b.span.len(),
                b.code,
                &b.message,
            ))
        });
        self.list.dedup();
        self.list
    }

    /// The diagnostics in the order they were recorded.
    pub fn iter(&self) -> impl Iterator<Item = &Diag> {
        self.list.iter()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// A diagnostic together with its source file, ready for miette's renderers.
pub struct WithSource<'a> {
    /// The diagnostic.
    pub diag: &'a Diag,
    /// The file it points into.
    pub source: &'a Source,
}

impl fmt::Debug for WithSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diag, f)
    }
}

impl fmt::Display for WithSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.diag, f)
    }
}

impl std::error::Error for WithSource<'_> {}

impl Diagnostic for WithSource<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diag.code.as_str()))
    }

    fn severity(&self) -> Option<Severity> {
        Some(match self.diag.level {
            Level::Error => Severity::Error,
            Level::Warning => Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(self.source.named())
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(Some(self.diag.label.clone()), self.diag.span);
        let related = self
            .diag
            .related
            .iter()
            .map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), *span));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}
