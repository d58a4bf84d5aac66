//! yubin's IMAP answers compared with Dovecot's, the reference server, on the same machine with
//! the same messages: FETCH ENVELOPE, BODYSTRUCTURE, BODY and RFC822.SIZE field by field, and
//! SEARCH results, for a corpus of tricky MIME messages (tests/scripts/mime_corpus.py); SORT
//! and THREAD answers exactly, for a generated corpus of threads and tricky headers
//! (tests/scripts/imap_compare_sort.py).

mod common;

use common::dovecot::Dovecot;
use common::mail::{ca, mail_server, script};
use common::server::have;

#[test]
fn fetch_and_search_match_dovecot() {
    if !have("dovecot") {
        return;
    }
    let dovecot = Dovecot::start();
    let (y, tls) = mail_server("");
    let out = script(
        "imap_compare.py",
        &[y.ports.imaps.to_string(), ca(&tls), dovecot.imap.to_string()],
    );
    assert!(
        out.contains(": 0 differences"),
        "yubin and Dovecot differ:\n{out}"
    );
}

#[test]
fn sort_and_thread_match_dovecot() {
    if !have("dovecot") {
        return;
    }
    let dovecot = Dovecot::start();
    let (y, tls) = mail_server("");
    let out = script(
        "imap_compare_sort.py",
        &[y.ports.imaps.to_string(), ca(&tls), dovecot.imap.to_string()],
    );
    println!("{out}");
    assert!(
        out.contains(": 0 differences"),
        "yubin and Dovecot differ:\n{out}"
    );
}
