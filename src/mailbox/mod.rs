//! Mail storage: Maildir folders under the data directory.

pub mod maildir;
