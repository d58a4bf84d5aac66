//! `yubin backup run|list|verify|restore`: snapshots by hand, what the targets hold, checksum
//! verification, and restoring components or single mailboxes.

use std::path::Path;

use super::{EXIT_INVALID, EXIT_OK};
use crate::backup::{Backups, RestoreOptions};

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Take a snapshot now and store it on every target.
    Run,
    /// The snapshots on a target.
    List {
        /// The target (its path or bucket, or its position from 1); the first by default.
        #[arg(long)]
        target: Option<String>,
    },
    /// Check the components of snapshots against their SHA-256 checksums (exit 1 on damage).
    Verify {
        /// The snapshot; every snapshot on the target when omitted.
        id: Option<String>,
        /// The target; the first by default.
        #[arg(long)]
        target: Option<String>,
    },
    /// Restore components of a snapshot. Everything is verified before anything is written.
    /// Existing files are kept unless --overwrite, which moves them aside (never deletes
    /// them); the configuration is written beside the live file; the database and the queue
    /// need the server stopped.
    Restore {
        /// The snapshot.
        id: String,
        /// A component to restore (repeatable): mailboxes, database, config, dkim, tls, queue.
        /// Every component of the snapshot by default; only mailboxes with --mailbox.
        #[arg(long = "component")]
        components: Vec<String>,
        /// Only this mailbox of the mailboxes component (repeatable).
        #[arg(long = "mailbox")]
        mailboxes: Vec<String>,
        /// Replace files that exist; the replaced ones are moved to
        /// <data>/restore-replaced/<time>-<snapshot>/ (or beside themselves, outside the data
        /// folder).
        #[arg(long)]
        overwrite: bool,
        /// The target; the first by default.
        #[arg(long)]
        target: Option<String>,
    },
}

async fn run_async(config: &Path, action: Action) -> Result<u8, String> {
    let plan = super::plan::compile_file(config).map_err(|_| String::new())?;
    let backups = Backups::from_plan(&plan, Some(config)).map_err(|e| e.to_string())?;
    match action {
        Action::Run => {
            let (m, failed) = backups.run("manual").await.map_err(|e| e.to_string())?;
            for (name, c) in &m.components {
                println!(
                    "{name:<10} {:>12} bytes  {:>7} files  sha256 {}",
                    c.size, c.files, c.sha256
                );
            }
            for t in backups.targets() {
                match failed.iter().find(|(n, _)| *n == t.to_string()) {
                    Some((_, e)) => println!("FAILED  {t}: {e}"),
                    None => println!("stored  {t}/{}", m.id),
                }
            }
            println!("{}", m.id);
            Ok(if failed.is_empty() { EXIT_OK } else { EXIT_INVALID })
        }
        Action::List { target } => {
            let t = backups.target(target.as_deref()).map_err(|e| e.to_string())?;
            let list = t.list().await.map_err(|e| e.to_string())?;
            for m in list {
                let size: u64 = m.components.values().map(|c| c.size).sum();
                let names: Vec<&str> = m.components.keys().map(String::as_str).collect();
                println!("{}  {:<7} {:>12} bytes  {}", m.id, m.job, size, names.join(","));
            }
            Ok(EXIT_OK)
        }
        Action::Verify { id, target } => {
            let t = backups.target(target.as_deref()).map_err(|e| e.to_string())?;
            let ids: Vec<String> = match id {
                Some(id) => vec![id],
                None => t
                    .list()
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .map(|m| m.id)
                    .collect(),
            };
            let mut bad = 0;
            for id in ids {
                match backups.verify(t, &id).await {
                    Ok(problems) if problems.is_empty() => println!("ok       {id}"),
                    Ok(problems) => {
                        bad += 1;
                        for p in problems {
                            println!("DAMAGED  {id}: {p}");
                        }
                    }
                    Err(e) => {
                        bad += 1;
                        println!("DAMAGED  {id}: {e}");
                    }
                }
            }
            Ok(if bad == 0 { EXIT_OK } else { EXIT_INVALID })
        }
        Action::Restore {
            id,
            components,
            mailboxes,
            overwrite,
            target,
        } => {
            let t = backups.target(target.as_deref()).map_err(|e| e.to_string())?;
            let opts = RestoreOptions {
                components,
                mailboxes,
                overwrite,
            };
            let report = backups.restore(t, &id, &opts).await.map_err(|e| e.to_string())?;
            for (c, n) in &report.components {
                let mut line = format!("{c:<10} {} files restored", n.written + n.replaced);
                if n.replaced > 0 {
                    line.push_str(&format!(", {} existing files replaced", n.replaced));
                }
                if n.kept > 0 {
                    line.push_str(&format!(
                        ", {} existing files kept (--overwrite replaces them)",
                        n.kept
                    ));
                }
                println!("{line}");
            }
            if let Some(p) = &report.replaced_into {
                println!("the replaced files were moved to {}", p.display());
            }
            if let Some(p) = report.config_written {
                println!(
                    "configuration written to {} (compare it with the live file)",
                    p.display()
                );
            }
            Ok(EXIT_OK)
        }
    }
}

/// Runs `yubin backup`. Like `serve`, with a umask of 0o077: snapshots, work files and
/// restored files are for their owner alone.
pub fn run(config: &Path, action: Action) -> u8 {
    crate::store::private::restrict_umask();
    super::block_on(run_async(config, action))
}
