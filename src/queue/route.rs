//! Where a message goes next: the relay, or the recipient domain's MX hosts (RFC 5321 §5.1:
//! MX records by preference, the domain's own A/AAAA when there is no MX; RFC 7505 null MX
//! means the domain accepts no mail).

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;

/// One host to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The host name (TLS server name, logs, DSNs).
    pub name: String,
    /// The address.
    pub addr: SocketAddr,
}

/// The hosts for a destination, or why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hops {
    /// Try these in order.
    Hosts(Vec<Hop>),
    /// Permanent: the domain does not exist or publishes a null MX.
    Permanent(String),
    /// Temporary: DNS failed.
    Temporary(String),
}

async fn addresses(resolver: &TokioResolver, host: &str, port: u16) -> Result<Vec<Hop>, (bool, String)> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![Hop {
            name: host.to_owned(),
            addr: SocketAddr::new(ip, port),
        }]);
    }
    match resolver.lookup_ip(format!("{host}.")).await {
        Ok(ips) => {
            let mut v: Vec<IpAddr> = ips.iter().collect();
            // Prefer IPv4 on hosts without IPv6 routes; keep both.
            v.sort_by_key(|ip| ip.is_ipv6());
            Ok(v.into_iter()
                .map(|ip| Hop {
                    name: host.to_owned(),
                    addr: SocketAddr::new(ip, port),
                })
                .collect())
        }
        Err(e) if e.is_nx_domain() => Err((true, format!("host {host} does not exist"))),
        Err(e) if e.is_no_records_found() => Err((true, format!("host {host} has no address"))),
        Err(e) => Err((false, format!("DNS lookup of {host} failed: {e}"))),
    }
}

/// The hosts of a fixed relay.
pub async fn relay_hops(resolver: &TokioResolver, host: &str, port: u16) -> Hops {
    match addresses(resolver, host, port).await {
        Ok(h) if !h.is_empty() => Hops::Hosts(h),
        Ok(_) => Hops::Temporary(format!("relay {host} has no address")),
        // A relay that does not resolve is a configuration or DNS problem: keep retrying.
        Err((_, e)) => Hops::Temporary(e),
    }
}

/// The MX hosts of `domain`, in preference order, on `port`.
pub async fn mx_hops(resolver: &TokioResolver, domain: &str, port: u16) -> Hops {
    let mut exchanges: Vec<(u16, String)> = match resolver.mx_lookup(format!("{domain}.")).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((
                    mx.preference,
                    mx.exchange.to_ascii().trim_end_matches('.').to_lowercase(),
                )),
                _ => None,
            })
            .collect(),
        Err(e) if e.is_nx_domain() => return Hops::Permanent(format!("domain {domain} does not exist")),
        Err(e) if e.is_no_records_found() => Vec::new(),
        Err(e) => return Hops::Temporary(format!("MX lookup for {domain} failed: {e}")),
    };
    if exchanges.len() == 1 && exchanges[0].1.is_empty() {
        return Hops::Permanent(format!("domain {domain} accepts no mail (null MX, RFC 7505)"));
    }
    exchanges.retain(|(_, host)| !host.is_empty());
    if exchanges.is_empty() {
        // Implicit MX: the domain itself (RFC 5321 §5.1).
        exchanges.push((0, domain.to_owned()));
    }
    exchanges.sort();
    let mut hops = Vec::new();
    let mut last_error = None;
    let mut all_permanent = true;
    for (_, host) in &exchanges {
        match addresses(resolver, host, port).await {
            Ok(h) => hops.extend(h),
            Err((permanent, e)) => {
                all_permanent &= permanent;
                last_error = Some(e);
            }
        }
    }
    if !hops.is_empty() {
        return Hops::Hosts(hops);
    }
    let e = last_error.unwrap_or_else(|| format!("no address for the MX hosts of {domain}"));
    if all_permanent {
        Hops::Permanent(e)
    } else {
        Hops::Temporary(e)
    }
}
