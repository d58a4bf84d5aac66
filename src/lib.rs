//! yubin (郵便): a mail server appliance configured by one KDL file.
//!
//! The pipeline: `mail.kdl` → [`config`] (parse, decode, check) → [`plan`] (the canonical
//! runtime plan) → runtime. See `docs/architecture.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod plan;
