//! Checks on mail arriving at the MX: SPF (RFC 7208), DKIM (RFC 6376) and DMARC (RFC 7489),
//! with `mail-auth`, through the resolver the plan names. The verdict is recorded in an
//! `Authentication-Results` header (RFC 8601); a DMARC failure under `p=reject` is refused.
//! [`dkim`] signs outgoing mail.

pub mod dkim;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::dmarc::Policy;
use mail_auth::{AuthenticatedMessage, AuthenticationResults, DmarcResult, MessageAuthenticator, SpfResult};
use mail_auth::{SpfOutput, dmarc::verify::DmarcParameters, spf::verify::SpfParameters};

/// What the checks found.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The complete `Authentication-Results: ...\r\n` header.
    pub header: String,
    /// DMARC failed and the domain's policy is `reject`.
    pub reject: bool,
    /// DMARC failed and the domain's policy is `quarantine`.
    pub quarantine: bool,
    /// Short results for the log: `spf=pass dkim=pass dmarc=pass`.
    pub summary: String,
}

/// Runs the checks for one server.
pub struct Verifier {
    authenticator: MessageAuthenticator,
    hostname: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("hostname", &self.hostname)
            .finish()
    }
}

/// Why the resolver could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("DNS resolver: {0}")]
pub struct ResolverError(String);

/// The resolver configuration for `resolvers` (`IP:port`), or the system's when empty. Short
/// timeouts: a mail server must not hang on a dead resolver.
pub fn resolver_config(resolvers: &[String]) -> Result<(ResolverConfig, ResolverOpts), ResolverError> {
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_secs(3);
    opts.attempts = 1;
    if resolvers.is_empty() {
        let (config, sys_opts) =
            hickory_resolver::system_conf::read_system_conf().map_err(|e| ResolverError(e.to_string()))?;
        let mut o = sys_opts;
        o.timeout = opts.timeout;
        o.attempts = opts.attempts;
        return Ok((config, o));
    }
    let mut servers = Vec::new();
    for r in resolvers {
        let addr: SocketAddr = r
            .parse()
            .map_err(|_| ResolverError(format!("bad resolver address {r}")))?;
        let mut udp = ConnectionConfig::udp();
        udp.port = addr.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = addr.port();
        servers.push(NameServerConfig::new(addr.ip(), true, vec![udp, tcp]));
    }
    Ok((ResolverConfig::from_parts(None, vec![], servers), opts))
}

/// A resolver for MX and address lookups.
pub fn resolver(resolvers: &[String]) -> Result<hickory_resolver::TokioResolver, ResolverError> {
    let (config, opts) = resolver_config(resolvers)?;
    hickory_resolver::TokioResolver::builder_with_config(
        config,
        hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
    )
    .with_options(opts)
    .build()
    .map_err(|e| ResolverError(e.to_string()))
}

impl Verifier {
    /// A verifier using `resolvers` (`IP:port`), or the system's when empty.
    pub fn new(hostname: &str, resolvers: &[String]) -> Result<Self, ResolverError> {
        let (config, opts) = resolver_config(resolvers)?;
        let authenticator =
            MessageAuthenticator::new(config, opts).map_err(|e| ResolverError(e.to_string()))?;
        Ok(Verifier {
            authenticator,
            hostname: hostname.to_owned(),
        })
    }

    /// Checks a message received from `ip` that said `helo` and `MAIL FROM:<mail_from>`. Without
    /// an `ip` (mail handed over by an edge router that did not say where it came from) SPF is
    /// not evaluated and DMARC rests on DKIM alone.
    pub async fn check<'a>(
        &'a self,
        ip: Option<IpAddr>,
        helo: &str,
        mail_from: &str,
        message: &[u8],
    ) -> Verdict {
        let mail_from_domain = mail_from.rsplit_once('@').map_or(helo, |(_, d)| d);
        let spf = match ip {
            Some(ip) => {
                self.authenticator
                    .verify_spf(SpfParameters::verify_mail_from(
                        ip,
                        helo,
                        &self.hostname,
                        mail_from,
                    ))
                    .await
            }
            None => SpfOutput::new(mail_from_domain.to_ascii_lowercase()),
        };
        let with_spf = |results: AuthenticationResults<'a>| -> AuthenticationResults<'a> {
            match ip {
                Some(ip) => results.with_spf_mailfrom_result(&spf, ip, mail_from, helo),
                None => results,
            }
        };
        let Some(parsed) = AuthenticatedMessage::parse(message) else {
            let header = with_spf(AuthenticationResults::new(&self.hostname)).to_string();
            return Verdict {
                header: format!("Authentication-Results: {header}\r\n"),
                reject: false,
                quarantine: false,
                summary: format!("spf={} dkim=none dmarc=none (unparsable)", spf_word(spf.result())),
            };
        };
        let dkim = self.authenticator.verify_dkim(&parsed).await;
        let dmarc = self
            .authenticator
            .verify_dmarc(DmarcParameters::new(&parsed, &dkim, mail_from_domain, &spf))
            .await;
        let header_from = parsed.from().to_owned();
        let results =
            with_spf(AuthenticationResults::new(&self.hostname).with_dkim_results(&dkim, &header_from))
                .with_dmarc_result(&dmarc);
        // Fail only when no mechanism passed and none had a temporary error (RFC 7489 §6.6.2).
        let failed = matches!(dmarc.result(), DmarcResult::Fail(_));
        let dkim_word = if dkim.is_empty() {
            "none"
        } else if dkim.iter().any(|d| d.result() == &mail_auth::DkimResult::Pass) {
            "pass"
        } else {
            "fail"
        };
        let dmarc_word = match dmarc.result() {
            DmarcResult::Pass => "pass",
            DmarcResult::Fail(_) => "fail",
            DmarcResult::TempError(_) => "temperror",
            DmarcResult::PermError(_) => "permerror",
            DmarcResult::None => "none",
        };
        Verdict {
            header: format!("Authentication-Results: {results}\r\n"),
            reject: failed && dmarc.policy() == Policy::Reject,
            quarantine: failed && dmarc.policy() == Policy::Quarantine,
            summary: format!(
                "spf={} dkim={dkim_word} dmarc={dmarc_word}",
                spf_word(spf.result())
            ),
        }
    }
}

fn spf_word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}
