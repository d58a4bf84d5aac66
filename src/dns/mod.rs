//! The DNS records a domain needs for mail to work and authenticate (`yubin dns`): MX, SPF,
//! DKIM (from the actual keys), DMARC, MTA-STS and TLS reporting; and a checker that compares
//! them with what the resolver answers.

use std::fmt::Write;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;

use crate::msgauth::dkim::Signer;
use crate::plan::Plan;

/// One record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Owner name, fully qualified without the final dot.
    pub name: String,
    /// `MX` or `TXT`.
    pub kind: &'static str,
    /// The value: `10 mail.example.com` for MX, the text for TXT.
    pub value: String,
    /// A note for the zone file.
    pub comment: Option<String>,
}

impl Record {
    /// The record as a zone-file line (long TXT values split into 255-byte strings).
    pub fn zone_line(&self) -> String {
        let mut line = match self.kind {
            "TXT" => {
                let parts: Vec<String> = self
                    .value
                    .as_bytes()
                    .chunks(255)
                    .map(|c| format!("\"{}\"", String::from_utf8_lossy(c).replace('"', "\\\"")))
                    .collect();
                format!("{}.\t3600\tIN\tTXT\t{}", self.name, parts.join(" "))
            }
            _ => format!("{}.\t3600\tIN\t{}\t{}.", self.name, self.kind, self.value),
        };
        if let Some(c) = &self.comment {
            let _ = write!(line, "\t; {c}");
        }
        line
    }
}

/// Every record the plan's domains need.
pub fn records(plan: &Plan, signer: &Signer) -> Vec<Record> {
    let dkim = signer.records();
    let mut out = Vec::new();
    for (domain, d) in &plan.domains {
        out.push(Record {
            name: domain.clone(),
            kind: "MX",
            value: format!("10 {}", plan.hostname),
            comment: None,
        });
        let (spf, comment) = match &plan.outbound.relay {
            None => ("v=spf1 mx -all".to_owned(), None),
            Some(r) => match &r.spf_include {
                Some(inc) => (
                    format!("v=spf1 mx include:{inc} -all"),
                    Some(format!("mail leaves through {}", r.host)),
                ),
                None => (
                    "v=spf1 mx -all".to_owned(),
                    Some(format!(
                        "mail leaves through {}: add its SPF include (relay spf-include=...)",
                        r.host
                    )),
                ),
            },
        };
        out.push(Record {
            name: domain.clone(),
            kind: "TXT",
            value: spf,
            comment,
        });
        for (name, value) in dkim
            .iter()
            .filter(|(n, _)| n.ends_with(&format!("._domainkey.{domain}")))
        {
            out.push(Record {
                name: name.clone(),
                kind: "TXT",
                value: value.clone(),
                comment: None,
            });
        }
        if let Some(m) = &d.dmarc {
            let mut v = format!("v=DMARC1; p={}", m.policy);
            if let Some(sp) = &m.subdomain_policy {
                let _ = write!(v, "; sp={sp}");
            }
            if let Some(rua) = &m.rua {
                let _ = write!(v, "; rua=mailto:{rua}");
            }
            out.push(Record {
                name: format!("_dmarc.{domain}"),
                kind: "TXT",
                value: v,
                comment: None,
            });
        }
        out.push(Record {
            name: format!("_smtp._tls.{domain}"),
            kind: "TXT",
            value: format!("v=TLSRPTv1; rua=mailto:postmaster@{domain}"),
            comment: Some("TLS reporting (RFC 8460)".into()),
        });
    }
    out
}

/// The MTA-STS policy file for a server (mode `testing`: reports only, until the policy is
/// served and verified; switch to `enforce` then).
pub fn mta_sts_policy(hostname: &str) -> String {
    format!("version: STSv1\r\nmode: testing\r\nmx: {hostname}\r\nmax_age: 604800\r\n")
}

/// The `_mta-sts` TXT record for `domain` (RFC 8461 §3.1), to publish only once the policy
/// is served: yubin does not serve it yet, so `yubin dns` prints it as a comment.
pub fn mta_sts_record(domain: &str, hostname: &str) -> String {
    format!(
        "_mta-sts.{domain}.\t3600\tIN\tTXT\t\"v=STSv1; id={}\"",
        policy_id(&mta_sts_policy(hostname))
    )
}

/// A stable id for a policy (changes exactly when the policy does): FNV-1a, hex.
fn policy_id(policy: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in policy.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The result of checking one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Published as expected.
    Ok,
    /// Nothing published.
    Missing,
    /// Something else is published.
    Different(Vec<String>),
    /// The lookup failed.
    Error(String),
}

fn normalise(kind: &str, v: &str) -> String {
    let v = v.trim().trim_end_matches('.').to_ascii_lowercase();
    if kind == "TXT" {
        v.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        v
    }
}

/// Asks the resolver for each record.
pub async fn check(resolver: &TokioResolver, records: &[Record]) -> Vec<(Record, Check)> {
    let mut out = Vec::new();
    for r in records {
        let name = format!("{}.", r.name);
        let found: Result<Vec<String>, String> = match r.kind {
            "MX" => match resolver.mx_lookup(name).await {
                Ok(l) => Ok(l
                    .answers()
                    .iter()
                    .filter_map(|rec| match &rec.data {
                        RData::MX(mx) => Some(format!("{} {}", mx.preference, mx.exchange.to_ascii())),
                        _ => None,
                    })
                    .collect()),
                Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
                Err(e) => Err(e.to_string()),
            },
            _ => match resolver.txt_lookup(name).await {
                Ok(l) => Ok(l
                    .answers()
                    .iter()
                    .filter_map(|rec| match &rec.data {
                        RData::TXT(t) => Some(
                            t.txt_data
                                .iter()
                                .map(|d| String::from_utf8_lossy(d).into_owned())
                                .collect::<String>(),
                        ),
                        _ => None,
                    })
                    .collect()),
                Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
                Err(e) => Err(e.to_string()),
            },
        };
        let result = match found {
            Err(e) => Check::Error(e),
            Ok(values) => {
                let want = normalise(r.kind, &r.value);
                // For TXT at the domain itself, only SPF records are comparable.
                let relevant: Vec<String> = values
                    .into_iter()
                    .filter(|v| {
                        r.kind != "TXT" || r.value.split_whitespace().next() == v.split_whitespace().next()
                    })
                    .collect();
                if relevant.iter().any(|v| normalise(r.kind, v) == want) {
                    Check::Ok
                } else if relevant.is_empty() {
                    Check::Missing
                } else {
                    Check::Different(relevant)
                }
            }
        };
        out.push((r.clone(), result));
    }
    out
}
