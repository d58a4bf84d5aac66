//! `yubin dns FILE [--check]`: the records to publish, as zone-file lines; `--check` asks the
//! configured resolver and lists what is missing or different.

use std::path::Path;

use super::{EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE};
use crate::dns::{self, Check};
use crate::msgauth::dkim::Signer;

/// Runs `yubin dns`.
pub fn run(config: &Path, check: bool) -> u8 {
    let plan = match super::plan::compile_file(config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // Keys are generated here if the server has not run yet, so the records are final.
    let signer = match Signer::load(&plan) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    let records = dns::records(&plan, &signer);
    if !check {
        println!(
            "; DNS records for {} (yubin dns {})",
            plan.hostname,
            config.display()
        );
        println!(
            "; also publish: {}. A/AAAA <this server's addresses>, and PTR records back to it",
            plan.hostname
        );
        for r in &records {
            println!("{}", r.zone_line());
        }
        println!(";");
        println!("; MTA-STS (RFC 8461), optional: yubin does not serve the policy yet. Publish these");
        println!("; records only once https://mta-sts.<domain>/.well-known/mta-sts.txt serves this policy:");
        for line in dns::mta_sts_policy(&plan.hostname).lines() {
            println!(";   {line}");
        }
        for domain in plan.domains.keys() {
            println!("; {}", dns::mta_sts_record(domain, &plan.hostname));
        }
        return EXIT_OK;
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_UNREADABLE;
        }
    };
    let resolver = match crate::msgauth::resolver(&plan.dns.resolvers) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    let results = rt.block_on(dns::check(&resolver, &records));
    let mut bad = 0;
    for (r, c) in &results {
        let what = format!("{} {} {}", r.name, r.kind, r.value);
        match c {
            Check::Ok => println!("ok        {what}"),
            Check::Missing => {
                bad += 1;
                println!("missing   {what}");
            }
            Check::Different(found) => {
                bad += 1;
                println!("different {what}\n          found: {}", found.join(" | "));
            }
            Check::Error(e) => {
                bad += 1;
                println!("error     {what}: {e}");
            }
        }
    }
    println!("{} of {} records as expected", results.len() - bad, results.len());
    if bad == 0 { EXIT_OK } else { EXIT_INVALID }
}
