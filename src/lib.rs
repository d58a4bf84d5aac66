//! yubin (郵便): a mail server appliance configured by one KDL file.
//!
//! The pipeline: `mail.kdl` → [`config`] (parse, decode, check) → [`plan`] (the canonical
//! runtime plan) → runtime. See `docs/architecture.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod dns;
pub mod http;
pub mod imap;
pub mod listen;
pub mod live;
pub mod mailbox;
pub mod metrics;
pub mod msgauth;
pub mod plan;
pub mod pop3;
pub mod queue;
pub mod runtime;
pub mod scan;
pub mod smtp;
pub mod store;
pub mod time;
pub mod tls;
