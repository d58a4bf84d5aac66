//! Content scanning before a message is acknowledged: viruses with clamd ([`clamd`]) and spam
//! scores with rspamd ([`rspamd`]). The plan's `antivirus` and `antispam` nodes say what to do
//! with a finding (reject, quarantine, tag, file into Junk) and what to do when a scanner is
//! down (defer with 451, or accept unscanned with a header saying so).

pub mod clamd;
pub mod rspamd;

use std::path::PathBuf;
use std::time::Duration;

use tracing::warn;

use crate::plan::{Antispam, Antivirus, Plan};

pub use self::rspamd::Envelope;

/// How long clamd may take for one message.
const CLAMD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long rspamd may take for one message.
const RSPAMD_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a message is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// clamd found this signature and the action is `reject`.
    Virus(String),
    /// rspamd scored it at or above `reject-score`.
    Spam(f64),
}

/// What to do with a scanned message.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Deliver it, with these header fields prepended (`X-Spam-Status`, ...), into Junk when
    /// `junk`.
    Deliver {
        /// Header fields to add, each ending in CRLF.
        headers: String,
        /// File into Junk.
        junk: bool,
        /// For the log: `virus=clean spam=2.1`.
        summary: String,
    },
    /// Refuse it.
    Reject(Rejection),
    /// Accept it but keep it out of every mailbox: it is in the quarantine folder.
    Quarantine {
        /// The signature found.
        virus: String,
        /// Where the message is kept.
        path: PathBuf,
    },
    /// A scanner is down and `on-failure` is `defer`: answer 4xx.
    Defer(String),
}

/// The scanners of a plan.
#[derive(Debug, Clone)]
pub struct Scanner {
    antivirus: Option<Antivirus>,
    antispam: Option<Antispam>,
    quarantine: PathBuf,
}

impl Scanner {
    /// The scanners the plan configures, or `None` when it configures none.
    pub fn from_plan(plan: &Plan) -> Option<Scanner> {
        if plan.antivirus.is_none() && plan.antispam.is_none() {
            return None;
        }
        Some(Scanner {
            antivirus: plan.antivirus.clone(),
            antispam: plan.antispam.clone(),
            quarantine: PathBuf::from(&plan.storage.data_dir).join("quarantine"),
        })
    }

    /// The folder quarantined messages go to.
    pub fn quarantine_dir(&self) -> &std::path::Path {
        &self.quarantine
    }

    /// Scans `message`. `spam` says whether to ask rspamd too (mail from outside; not mail
    /// that our own users submit).
    pub async fn scan(&self, env: &Envelope<'_>, message: &[u8], spam: bool) -> Verdict {
        let mut headers = String::new();
        let mut summary = Vec::new();
        let mut junk = false;
        if let Some(av) = &self.antivirus {
            match clamd::scan(&av.clamd, message, CLAMD_TIMEOUT).await {
                Ok(clamd::Finding::Clean) => summary.push("virus=clean".to_owned()),
                Ok(clamd::Finding::Infected(name)) => match av.action.as_str() {
                    "quarantine" => {
                        return match self.keep(env.id, message).await {
                            Ok(path) => Verdict::Quarantine { virus: name, path },
                            Err(e) => {
                                warn!(id = env.id, error = %e, "cannot write to the quarantine");
                                Verdict::Defer("the quarantine is not writable".to_owned())
                            }
                        };
                    }
                    "tag" => {
                        headers.push_str(&format!("X-Virus: {name}\r\n"));
                        summary.push(format!("virus={name}"));
                    }
                    _ => return Verdict::Reject(Rejection::Virus(name)),
                },
                Err(e) => {
                    warn!(id = env.id, error = %e, "virus scan failed");
                    if av.on_failure == "defer" {
                        return Verdict::Defer("virus scanner unavailable".to_owned());
                    }
                    headers.push_str("X-Virus-Scan: failed (accepted unscanned)\r\n");
                    summary.push("virus=unscanned".to_owned());
                }
            }
        }
        if spam && let Some(sp) = &self.antispam {
            match rspamd::check(&sp.rspamd_url, env, message, RSPAMD_TIMEOUT).await {
                Ok(s) if s.score >= sp.reject_score => return Verdict::Reject(Rejection::Spam(s.score)),
                Ok(s) => {
                    junk = s.score >= sp.junk_score;
                    headers.push_str(&format!(
                        "X-Spam-Status: {}, score={:.2} junk={:.2} reject={:.2}\r\n\ttests={}\r\n",
                        if junk { "Yes" } else { "No" },
                        s.score,
                        sp.junk_score,
                        sp.reject_score,
                        if s.symbols.is_empty() {
                            "none".to_owned()
                        } else {
                            s.symbols.join(",")
                        }
                    ));
                    if junk {
                        headers.push_str("X-Spam: Yes\r\n");
                    }
                    summary.push(format!("spam={:.2}", s.score));
                }
                Err(e) => {
                    warn!(id = env.id, error = %e, "spam check failed");
                    if sp.on_failure == "defer" {
                        return Verdict::Defer("spam filter unavailable".to_owned());
                    }
                    headers.push_str("X-Spam-Status: Unknown (spam filter unavailable)\r\n");
                    summary.push("spam=unscored".to_owned());
                }
            }
        }
        Verdict::Deliver {
            headers,
            junk,
            summary: summary.join(" "),
        }
    }

    /// Writes a message into the quarantine folder durably.
    async fn keep(&self, id: &str, message: &[u8]) -> std::io::Result<PathBuf> {
        let dir = self.quarantine.clone();
        let path = dir.join(format!("{id}.eml"));
        let message = message.to_vec();
        let target = path.clone();
        tokio::task::spawn_blocking(move || {
            crate::mailbox::maildir::create_dir_durable(&dir)?;
            let tmp = target.with_extension("tmp");
            crate::mailbox::maildir::write_durable(&tmp, &message)?;
            std::fs::rename(&tmp, &target)?;
            crate::mailbox::maildir::fsync_dir(&dir)
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(path)
    }
}
