//! `yubin init`: writes a commented production `mail.kdl` for one domain and a first account,
//! with a password it prints once, then generates the DKIM key and prints the DNS records and
//! the next steps. What it writes validates without a warning (tests/cli.rs).

use std::path::{Path, PathBuf};

use super::{EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE};

/// What `init` is told.
#[derive(Debug, clap::Args)]
pub struct Init {
    /// This server's host name (the MX target, the TLS certificate's name).
    #[arg(long)]
    hostname: String,
    /// The mail domain.
    #[arg(long)]
    domain: String,
    /// The first account, an address at the domain; postmaster@ goes to it.
    #[arg(long)]
    admin: String,
    /// Where to write the configuration.
    #[arg(long, short, default_value = "mail.kdl")]
    output: PathBuf,
    /// The data folder (Maildirs, queue, database, keys).
    #[arg(long, default_value = "/var/lib/yubin")]
    data: PathBuf,
    /// The address every listener binds.
    #[arg(long, default_value = "0.0.0.0")]
    listen: String,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

/// A password from a CSPRNG: 20 characters of an alphabet without look-alikes (~115 bits).
fn password() -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "no randomness".to_owned())?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// The configuration text.
fn config_text(i: &Init, local: &str, hash: &str, selector: &str) -> String {
    let l = &i.listen;
    format!(
        r#"// {hostname}: the whole mail server. Written by `yubin init`; edit freely, then check with
//   yubin validate {file}
// Every node and property: config-reference.md (yubin's schema/ folder).

hostname "{hostname}"

listen {{
    smtp        "{l}:25"      // MX: mail from the internet
    submission  "{l}:587"     // STARTTLS, then AUTH: your mail programs
    submissions "{l}:465"     // the same with TLS from the first byte
    imaps       "{l}:993"     // reading mail
    pop3s       "{l}:995"
    http        "127.0.0.1:8080"  // /healthz and /metrics, for this host only
}}

tls {{
    // Once DNS points here and port 80 is open, a certificate from Let's Encrypt:
    //   acme email="{admin}"
    self-signed
}}

storage {{
    data "{data}"
}}

domain "{domain}" {{
    dkim selector="{selector}" algorithm="ed25519"   // `yubin dns` prints its record
    dmarc policy="quarantine" rua="{admin}"
    user "{local}" password-hash="{hash}"
    alias "postmaster" to="{local}"
    alias "abuse" to="{local}"
}}

limits {{
    message-size "25MiB"
}}
"#,
        hostname = i.hostname,
        file = i.output.display(),
        admin = i.admin,
        data = i.data.display(),
        domain = i.domain,
    )
}

/// Runs `yubin init`.
pub fn run(i: Init) -> u8 {
    let domain = i.domain.to_ascii_lowercase();
    let Some((local, admin_domain)) = i.admin.rsplit_once('@') else {
        eprintln!("error: --admin must be an address, e.g. you@{domain}");
        return EXIT_INVALID;
    };
    if !admin_domain.eq_ignore_ascii_case(&domain) {
        eprintln!("error: --admin must be an address at {domain} (the first account of that domain)");
        return EXIT_INVALID;
    }
    if i.output.exists() && !i.force {
        eprintln!(
            "error: {} exists; choose another --output, or --force to replace it",
            i.output.display()
        );
        return EXIT_INVALID;
    }
    let password = match password() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_UNREADABLE;
        }
    };
    let hash = match super::hash_password::hash(&password) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_UNREADABLE;
        }
    };
    let year = crate::time::civil_from_days(crate::time::now_secs() / 86_400).0;
    let selector = format!("{year}a");
    let text = config_text(&i, &local.to_lowercase(), &hash, &selector);
    // What is written must validate: check it first, with the output's folder as base.
    let base = i
        .output
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let outcome = crate::config::parse(&i.output, &text, &base);
    if outcome.config.is_none() {
        super::report::print(&outcome, super::Format::Human);
        eprintln!("error: these settings do not make a valid configuration");
        return EXIT_INVALID;
    }
    if let Err(e) = std::fs::write(&i.output, &text) {
        eprintln!("error: cannot write {}: {e}", i.output.display());
        return EXIT_UNREADABLE;
    }
    println!("wrote {}", i.output.display());
    println!();
    println!("account:  {}", i.admin.to_lowercase());
    println!("password: {password}");
    println!("          (shown once; `yubin hash-password` makes a new hash for password-hash)");
    println!();
    println!(
        "DNS records to publish (DKIM key generated under {}):",
        i.data.display()
    );
    let dns = super::dns::run(&i.output, false);
    if dns != EXIT_OK {
        println!(
            "(run `yubin dns {}` where the data folder is writable)",
            i.output.display()
        );
    }
    println!();
    println!("Next steps:");
    println!("  1. yubin validate {}", i.output.display());
    println!("  2. open the ports: 25, 465, 587, 993, 995 (firewalld: the `yubin` service)");
    println!("  3. start it: systemctl enable --now yubin (RPM), or the Quadlet file (container)");
    println!("  4. once DNS points here: switch `self-signed` to `acme` in `tls`, and check the");
    println!("     records: yubin dns --check {}", i.output.display());
    EXIT_OK
}
