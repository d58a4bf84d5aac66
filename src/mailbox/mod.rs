//! Mail storage: Maildir folders under the data directory, and the index that gives their
//! messages IMAP UIDs, flags and MODSEQs.

pub mod events;
pub mod index;
pub mod maildir;
pub mod mutf7;
mod subscriptions;
pub mod summary;
mod vanished;
