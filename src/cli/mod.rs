//! The command line: `validate`, `plan`, `serve`, `queue`, `backup`, `dns`, `hash-password`,
//! `health`.

mod backup;
mod dns;
mod hash_password;
mod health;
mod init;
mod plan;
mod queue;
mod report;
mod serve;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit status: the configuration is valid / the command succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit status: the configuration has errors (or warnings with `--deny-warnings`).
pub const EXIT_INVALID: u8 = 1;
/// Exit status: the file cannot be read or is not KDL; or a usage/runtime failure.
pub const EXIT_UNREADABLE: u8 = 2;

/// The version line: version, git revision and build profile.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (rev ",
    env!("YUBIN_GIT_REV"),
    ", ",
    env!("YUBIN_PROFILE"),
    ")"
);

#[derive(Debug, Parser)]
#[command(name = "yubin", version = VERSION, about = "A mail server appliance configured by one KDL file")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Source excerpts with labels and hints (stderr).
    Human,
    /// One `file:line:col: severity[code]: message` line each (stderr), for editors and grep.
    Short,
    /// One JSON object per line (stdout): code, severity, message, file, line, column, help.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a configuration file and report every problem at once.
    Validate {
        /// The configuration file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Treat warnings as errors (exit 1).
        #[arg(long)]
        deny_warnings: bool,
        /// Also resolve every env=/file= secret reference.
        #[arg(long)]
        check_secrets: bool,
    },
    /// Print the compiled runtime plan as canonical JSON, or what a change does (--diff).
    Plan {
        /// The configuration file.
        #[arg(required_unless_present = "diff")]
        file: Option<PathBuf>,
        /// Compare two configuration files and print what changes.
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], conflicts_with = "file")]
        diff: Option<Vec<PathBuf>>,
        /// Write the plan to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Run the mail server.
    Serve {
        /// The configuration file.
        #[arg(required_unless_present = "plan")]
        file: Option<PathBuf>,
        /// Run a compiled plan (`yubin plan -o`) instead of a configuration file.
        #[arg(long, conflicts_with = "file")]
        plan: Option<PathBuf>,
        /// Log line format.
        #[arg(long, value_enum, default_value = "text")]
        log_format: serve::LogFormat,
    },
    /// Inspect and steer the outbound queue.
    Queue {
        /// The configuration file of the server.
        #[arg(short, long, default_value = "/etc/yubin/mail.kdl")]
        config: PathBuf,
        #[command(subcommand)]
        action: queue::Action,
    },
    /// Take, list, verify and restore backups (the `backup` node of the configuration).
    Backup {
        /// The configuration file of the server.
        #[arg(short, long, default_value = "/etc/yubin/mail.kdl")]
        config: PathBuf,
        #[command(subcommand)]
        action: backup::Action,
    },
    /// Print the DNS records to publish (MX, SPF, DKIM, DMARC, TLS-RPT); --check compares them
    /// with what the resolver answers.
    Dns {
        /// The configuration file.
        file: PathBuf,
        /// Query the configured resolver and report missing or different records (exit 1).
        #[arg(long)]
        check: bool,
    },
    /// Write a commented production mail.kdl for a domain and its first account (a password
    /// printed once), generate the DKIM key, and print the DNS records and the next steps.
    Init(init::Init),
    /// Read a password (no echo on a terminal; one line from stdin otherwise) and print its
    /// argon2id hash for `password-hash`.
    HashPassword {
        /// The fewest characters accepted: shorter passwords fall to guessing soon after a
        /// hash leaks (NIST SP 800-63B asks for 8 at least; yubin asks for 12).
        #[arg(long, default_value_t = 12)]
        min_length: usize,
    },
    /// Exit 0 when the server of a configuration is healthy (`GET /healthz` on its http
    /// listener, else an SMTP greeting): for container and systemd health checks.
    Health {
        /// The configuration file.
        #[arg(default_value = "/etc/yubin/mail.kdl")]
        file: PathBuf,
        /// Seconds to wait for an answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
}

/// Runs an async subcommand on a one-thread runtime. An error is printed (an empty one was
/// printed already) and exits 1.
fn block_on(work: impl std::future::Future<Output = Result<u8, String>>) -> u8 {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_UNREADABLE;
        }
    };
    match rt.block_on(work) {
        Ok(code) => code,
        Err(e) if e.is_empty() => EXIT_INVALID,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_INVALID
        }
    }
}

/// Runs the command line and returns the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Validate {
            file,
            format,
            deny_warnings,
            check_secrets,
        } => validate::run(&file, format, deny_warnings, check_secrets),
        Command::Plan { file, diff, output } => match (diff, file) {
            (Some(files), _) => plan::diff(&files[0], &files[1]),
            (None, Some(file)) => plan::run(&file, output.as_deref()),
            (None, None) => EXIT_UNREADABLE,
        },
        Command::Serve {
            file,
            plan,
            log_format,
        } => serve::run(file.as_deref(), plan.as_deref(), log_format),
        Command::Queue { config, action } => queue::run(&config, action),
        Command::Backup { config, action } => backup::run(&config, action),
        Command::Dns { file, check } => dns::run(&file, check),
        Command::HashPassword { min_length } => hash_password::run(min_length),
        Command::Init(i) => init::run(i),
        Command::Health { file, timeout } => health::run(&file, std::time::Duration::from_secs(timeout)),
    };
    ExitCode::from(code)
}
