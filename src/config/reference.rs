//! The configuration reference (`schema/config-reference.md`), generated from [`spec`] and the
//! diagnostic codes. A test fails when the checked-in file differs from what this produces.

use std::fmt::Write;

use super::diag::Code;
use super::spec::{self, Field, NodeSpec, Ty};

const TYPES: &[(Ty, &str, &str)] = &[
    (
        Ty::String,
        "text in quotes (bare words also work in KDL 2.0)",
        "\"apikey\"",
    ),
    (
        Ty::Hostname,
        "DNS name; IDNA (Unicode) names allowed, stored in ASCII",
        "\"mail.example.com\"",
    ),
    (Ty::Domain, "mail domain; IDNA allowed", "\"example.com\""),
    (
        Ty::LocalPart,
        "the part before `@`: a dot-atom, UTF-8 allowed, compared in lower case",
        "\"alice\"",
    ),
    (Ty::Address, "`local@domain`", "\"alice@example.com\""),
    (
        Ty::SocketAddr,
        "IP address and port; IPv6 in brackets",
        "\"[::]:25\"",
    ),
    (
        Ty::HostPort,
        "host name or IP, optional port",
        "\"smtp.example.net:587\"",
    ),
    (
        Ty::Path,
        "file or folder; relative paths start at the config file's folder",
        "\"/var/lib/yubin\"",
    ),
    (
        Ty::Size,
        "number and unit: B, kB, MB, GB, TB (×1000) or KiB, MiB, GiB, TiB (×1024); a bare `G` or `m` is refused as ambiguous",
        "\"25MiB\"",
    ),
    (
        Ty::Duration,
        "numbers with units s, m, h, d, w; may be combined",
        "\"1h30m\"",
    ),
    (
        Ty::Rate,
        "count per period: second, minute, hour, day, week, or a duration",
        "\"200/hour\"",
    ),
    (Ty::Time, "24-hour clock, server local time", "\"03:00\""),
    (Ty::Weekday, "`mon` … `sun`, or the full name", "\"sun\""),
    (
        Ty::Cidr,
        "IP address or CIDR block with zero host bits",
        "\"10.0.0.0/8\"",
    ),
    (Ty::Integer, "whole number, unquoted", "100"),
    (Ty::Float, "number, unquoted", "15.0"),
    (Ty::Bool, "KDL 2.0 boolean", "#true"),
    (
        Ty::Url,
        "`http://` or `https://` URL without credentials",
        "\"http://127.0.0.1:11333\"",
    ),
    (
        Ty::DatabaseUrl,
        "`sqlite://PATH` (`sqlite:///abs/path`) or `postgres://user@host/db`, no password",
        "\"sqlite:///var/lib/yubin/yubin.db\"",
    ),
    (
        Ty::PasswordHash,
        "argon2 PHC string from `yubin hash-password`",
        "\"$argon2id$v=19$m=19456,t=2,p=1$...\"",
    ),
    (
        Ty::Endpoint,
        "`unix:/path`, `tcp:host:port` or `host:port`",
        "\"unix:/run/clamd.scan/clamd.sock\"",
    ),
    (Ty::EnvName, "environment variable name", "\"SENDGRID_API_KEY\""),
];

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn field_rows(out: &mut String, fields: &[Field], with_many: bool) {
    out.push_str("| name | type | default | meaning |\n| --- | --- | --- | --- |\n");
    for f in fields {
        let default = match (f.required, f.default) {
            (true, _) => "**required**".to_owned(),
            (false, Some(d)) => format!("`{d}`"),
            (false, None) => "—".to_owned(),
        };
        let ty = if f.many && with_many {
            format!("{} …", f.ty.name())
        } else {
            f.ty.name()
        };
        let _ = writeln!(out, "| `{}` | {} | {} | {} |", f.name, ty, default, cell(f.doc));
    }
    out.push('\n');
}

fn node(out: &mut String, path: &str, n: &NodeSpec) {
    let _ = writeln!(out, "### `{path}`\n");
    let _ = writeln!(
        out,
        "{}\n",
        n.doc.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    let mut facts = Vec::new();
    if n.repeat {
        facts.push("may appear more than once");
    } else {
        facts.push("at most once");
    }
    if n.secret {
        facts.push("a secret reference: `env=` or `file=` only, never the value inline");
    }
    let _ = writeln!(out, "*{}.*\n", facts.join("; "));
    if !n.args.is_empty() {
        out.push_str("Arguments:\n\n");
        field_rows(out, n.args, true);
    }
    if !n.props.is_empty() {
        out.push_str("Properties (`name=value`, or a child node `name value`):\n\n");
        field_rows(out, n.props, true);
    }
    if !n.children.is_empty() {
        let names: Vec<String> = n.children.iter().map(|c| format!("`{}`", c.name)).collect();
        let _ = writeln!(out, "Child nodes: {}.\n", names.join(", "));
    }
    if !n.example.is_empty() {
        let _ = writeln!(out, "```kdl\n{}\n```\n", n.example);
    }
    for c in n.children {
        node(out, &format!("{path} > {}", c.name), c);
    }
}

/// Renders the whole reference as Markdown.
pub fn render() -> String {
    let mut out = String::new();
    out.push_str(
        "# mail.kdl reference\n\n\
         <!-- Generated from src/config/spec.rs and src/config/diag.rs; do not edit by hand.\n     \
         Regenerate with: YUBIN_BLESS=1 cargo test --test schema -->\n\n\
         One KDL 2.0 file describes the whole appliance. Rules that hold everywhere:\n\n\
         - A property and a child node of the same name are the same setting:\n  \
         `user \"bob\" quota=\"10GiB\"` ≡ `user \"bob\" { quota \"10GiB\"; }`. Properties marked `…` take\n  \
         several values in the child form (`to \"a@example.com\" \"b@example.com\"`).\n\
         - Relative paths start at the folder of the config file.\n\
         - Secrets are never written inline: `password env=\"VARIABLE\"` or `password file=\"/run/secrets/x\"`.\n  \
         `yubin validate` checks that references are well formed; `--check-secrets` and `serve` resolve them.\n\
         - Every problem is reported at once with a stable code (see the end of this page).\n",
    );
    let _ = write!(
        out,
        "- Limits, checked before the file is parsed: at most {} MiB (`too_large`; a 10,000-user\n  \
         configuration is about 1.3 MB) and blocks nested at most {} deep (`too_deep`; mail.kdl\n  \
         needs 4). The server refuses such a file on reload and keeps serving.\n\
         - Printed source snippets show secret values (inline passwords, tokens, passwords in URLs)\n  \
         as `*`.\n\n",
        super::limits::MAX_FILE_BYTES >> 20,
        super::limits::MAX_DEPTH
    );
    out.push_str("## Value types\n\n| type | syntax | example |\n| --- | --- | --- |\n");
    for (ty, syntax, example) in TYPES {
        let _ = writeln!(out, "| {} | {} | `{}` |", ty.name(), cell(syntax), example);
    }
    out.push_str("\n## Nodes\n\n");
    for n in spec::ROOT.children {
        node(&mut out, n.name, n);
    }
    out.push_str("## Diagnostic codes\n\n`yubin validate` exits 0 when there are only warnings (1 with `--deny-warnings`), 1 on errors, 2 when the file cannot be read, is not KDL, or is over a limit.\n\n| code | severity | meaning |\n| --- | --- | --- |\n");
    for code in Code::ALL {
        let desc = code.description().trim();
        let (severity, desc) = match desc.strip_prefix("Warning:") {
            Some(rest) => ("warning", rest.trim()),
            None => ("error", desc),
        };
        let _ = writeln!(out, "| `{}` | {} | {} |", code.as_str(), severity, cell(desc));
    }
    out
}
