//! Configuration reload: on SIGHUP (`systemctl reload yubin`) the configuration is read and
//! checked again. If it is invalid, the server keeps serving the previous one and says why.
//! Users, passwords, aliases, domains, routes and DKIM keys take effect at once (new sessions
//! and transactions see them; the ones running finish with what they started with). Changes
//! to sections bound at start-up (listeners, TLS, storage, relay, limits, ...) are reported as
//! waiting for a restart.

use std::collections::HashMap;
use std::path::PathBuf;

use tracing::{error, info, warn};

use crate::auth::Directory;
use crate::delivery::Routing;
use crate::msgauth::dkim::Signer;
use crate::plan::{self, Plan};
use crate::smtp::Services;

/// Where the running configuration came from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A `mail.kdl`.
    Config(PathBuf),
    /// A compiled plan (`yubin plan -o`).
    Plan(PathBuf),
}

/// The accounts of a routing table: mailbox address → Maildir root.
pub fn mailbox_roots(routing: &Routing) -> HashMap<String, PathBuf> {
    routing
        .mailboxes()
        .map(|(address, m)| (address.to_owned(), m.maildir.clone()))
        .collect()
}

/// Reads and checks the configuration again; the error says why it cannot be used.
pub fn load(source: &Source) -> Result<Plan, String> {
    match source {
        Source::Config(path) => {
            let outcome = crate::config::load(path).map_err(|e| e.to_string())?;
            match &outcome.config {
                Some(cfg) => Ok(plan::compile(cfg)),
                None => {
                    let first: Vec<String> = outcome
                        .diagnostics
                        .iter()
                        .filter(|d| d.level == crate::config::diag::Level::Error)
                        .take(3)
                        .map(|d| format!("{}: {}", d.code.as_str(), d.message))
                        .collect();
                    Err(format!("{} is invalid: {}", path.display(), first.join("; ")))
                }
            }
        }
        Source::Plan(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let plan: Plan = serde_json::from_slice(&bytes)
                .map_err(|e| format!("{} is not a plan: {e}", path.display()))?;
            if plan.format != plan::FORMAT {
                return Err(format!("plan format {} is not supported", plan.format));
            }
            Ok(plan)
        }
    }
}

/// The sections that only a restart applies, by their plan names, that differ.
pub fn needs_restart(running: &Plan, new: &Plan) -> Vec<&'static str> {
    fn differs<T: serde::Serialize>(a: &T, b: &T) -> bool {
        serde_json::to_value(a).ok() != serde_json::to_value(b).ok()
    }
    let mut out = Vec::new();
    macro_rules! check {
        ($($field:ident),*) => {
            $(if differs(&running.$field, &new.$field) {
                out.push(stringify!($field));
            })*
        };
    }
    check!(
        hostname,
        listeners,
        tls,
        storage,
        outbound,
        dns,
        submission,
        limits,
        antivirus,
        antispam,
        inbound_webhook,
        backup
    );
    debug_assert!(out.iter().all(|s| crate::plan::RESTART_SECTIONS.contains(s)));
    out
}

/// Applies what can change while running: the directory (database and logins), mailboxes
/// (Maildirs made for new users), routes, DKIM signers. `started` is the plan the server
/// started with (for what needs a restart), `current` the one last applied.
pub async fn apply(source: &Source, started: &Plan, current: &mut Plan, svc: &Services) {
    let new = match tokio::task::spawn_blocking({
        let source = source.clone();
        move || load(&source)
    })
    .await
    {
        Ok(Ok(p)) => p,
        Ok(Err(why)) => {
            error!("reload refused, still serving the previous configuration: {why}");
            return;
        }
        Err(e) => {
            error!("reload failed: {e}");
            return;
        }
    };
    let changes = plan::diff::diff(current, &new);
    if changes.is_empty() {
        info!("reload: the configuration is unchanged");
        return;
    }
    // Everything that can fail first; swap only when all of it worked.
    let signer = match Signer::load(&new) {
        Ok(s) => s,
        Err(e) => {
            error!(error = %e, "reload refused: DKIM keys");
            return;
        }
    };
    let routing = Routing::from_plan(&new);
    let dirs: Vec<PathBuf> = routing.mailboxes().map(|(_, m)| m.maildir.clone()).collect();
    let store = svc.store.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        for d in &dirs {
            store.prepare(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        Ok::<(), String>(())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    if let Err(why) = prepared {
        error!("reload refused: cannot prepare a Maildir: {why}");
        return;
    }
    if let Err(e) = crate::store::sync_directory(&svc.db, &new).await {
        error!(error = %e, "reload refused: the database");
        return;
    }
    svc.index.set_roots(mailbox_roots(&routing));
    svc.routing.set(routing);
    svc.directory.set(Directory::from_plan(&new));
    svc.signer.set(signer);
    let restart = needs_restart(started, &new);
    for c in &changes {
        info!(change = %c, "reload");
    }
    if restart.is_empty() {
        info!(changes = changes.len(), "configuration reloaded");
    } else {
        warn!(
            sections = %restart.join(", "),
            "configuration reloaded; changes to these sections take effect after a restart"
        );
    }
    *current = new;
}
