//! SORT (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO): the sort keys and the ordering.
//!
//! Every key compares what [`Summary`] holds (text already case-mapped with i;ascii-casemap,
//! a missing field as the empty string), the message's INTERNALDATE (ARRIVAL) and size.
//! DATE is the sent date: the Date header, or the INTERNALDATE when the message has none or
//! an unreadable one (RFC 5256 §2.2). Messages that compare equal on every key keep their
//! mailbox order (§3: "sorted according to the order in which they appear in the mailbox"),
//! whatever REVERSE says.

use std::cmp::Ordering;

use crate::mailbox::summary::Summary;

/// A sort key (`sort-key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// INTERNALDATE.
    Arrival,
    /// The local part of the first Cc address.
    Cc,
    /// The sent date.
    Date,
    /// The local part of the first From address.
    From,
    /// RFC822.SIZE.
    Size,
    /// The base subject.
    Subject,
    /// The local part of the first To address.
    To,
    /// The display name of the first From address, else the address (RFC 5957).
    DisplayFrom,
    /// The display name of the first To address, else the address (RFC 5957).
    DisplayTo,
}

impl SortKey {
    /// The key named `word` (upper case).
    pub fn named(word: &str) -> Option<SortKey> {
        Some(match word {
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            "DISPLAYFROM" => SortKey::DisplayFrom,
            "DISPLAYTO" => SortKey::DisplayTo,
            _ => return None,
        })
    }
}

/// One `sort-criterion`: a key, possibly reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Criterion {
    /// The key.
    pub key: SortKey,
    /// `REVERSE`.
    pub reverse: bool,
}

/// A message as SORT and THREAD see it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Its number in the response (sequence number or UID).
    pub number: u32,
    /// INTERNALDATE (unix seconds).
    pub arrival: i64,
    /// RFC822.SIZE.
    pub size: u64,
    /// What its header says.
    pub summary: &'a Summary,
}

impl Entry<'_> {
    /// The sent date: the Date header, else the INTERNALDATE.
    pub fn sent(&self) -> i64 {
        self.summary.sent.unwrap_or(self.arrival)
    }
}

fn compare_key(a: &Entry<'_>, b: &Entry<'_>, key: SortKey) -> Ordering {
    let (x, y) = (a.summary, b.summary);
    match key {
        SortKey::Arrival => a.arrival.cmp(&b.arrival),
        SortKey::Date => a.sent().cmp(&b.sent()),
        SortKey::Size => a.size.cmp(&b.size),
        SortKey::Cc => x.cc.cmp(&y.cc),
        SortKey::From => x.from.cmp(&y.from),
        SortKey::To => x.to.cmp(&y.to),
        SortKey::Subject => x.subject.cmp(&y.subject),
        SortKey::DisplayFrom => x.display_from.cmp(&y.display_from),
        SortKey::DisplayTo => x.display_to.cmp(&y.display_to),
    }
}

/// Compares two messages by `criteria` (equal when every key is).
pub fn compare(a: &Entry<'_>, b: &Entry<'_>, criteria: &[Criterion]) -> Ordering {
    for c in criteria {
        let o = compare_key(a, b, c.key);
        if o != Ordering::Equal {
            return if c.reverse { o.reverse() } else { o };
        }
    }
    Ordering::Equal
}

/// Sorts `entries`, given in mailbox order, by `criteria` (a stable sort: ties keep mailbox
/// order).
pub fn sort(entries: &mut [Entry<'_>], criteria: &[Criterion]) {
    entries.sort_by(|a, b| compare(a, b, criteria));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crit(spec: &[(SortKey, bool)]) -> Vec<Criterion> {
        spec.iter()
            .map(|&(key, reverse)| Criterion { key, reverse })
            .collect()
    }

    fn order(summaries: &[Summary], arrivals: &[i64], sizes: &[u64], c: &[Criterion]) -> Vec<u32> {
        let mut e: Vec<Entry<'_>> = summaries
            .iter()
            .enumerate()
            .map(|(i, s)| Entry {
                number: i as u32 + 1,
                arrival: arrivals.get(i).copied().unwrap_or(0),
                size: sizes.get(i).copied().unwrap_or(0),
                summary: s,
            })
            .collect();
        sort(&mut e, c);
        e.iter().map(|x| x.number).collect()
    }

    #[test]
    fn arrival_ties_keep_mailbox_order_even_reversed() {
        // imaptest sort-arrival: 00:00, 02:00, 01:00, 02:00, 02:00.
        let s = vec![Summary::default(); 5];
        let arr = [0, 7200, 3600, 7200, 7200];
        let sizes = [1, 2, 3, 4, 5];
        use SortKey::*;
        assert_eq!(
            order(&s, &arr, &sizes, &crit(&[(Arrival, false)])),
            [1, 3, 2, 4, 5]
        );
        assert_eq!(
            order(&s, &arr, &sizes, &crit(&[(Arrival, true)])),
            [2, 4, 5, 3, 1]
        );
        assert_eq!(
            order(&s, &arr, &sizes, &crit(&[(Arrival, false), (Size, true)])),
            [1, 3, 5, 4, 2]
        );
    }

    #[test]
    fn date_falls_back_to_internaldate() {
        // imaptest sort-date: messages 5 and 7 have no Date header.
        let h = 3600;
        let dated = |t: i64| Summary {
            sent: Some(t),
            ..Summary::default()
        };
        let day = 1_203_638_400; // 22 Feb 2008 00:00 UTC
        let s = vec![
            dated(day - 2 * h),
            dated(day),
            dated(day - h),
            dated(day),
            Summary::default(),
            dated(day),
            Summary::default(),
        ];
        // INTERNALDATEs: 23:30:23 and 23:00 UTC the day before.
        let arr = [0, 0, 0, 0, day - 30 * 60 + 23, 0, day - h];
        use SortKey::*;
        assert_eq!(
            order(&s, &arr, &[], &crit(&[(Date, false)])),
            [1, 3, 7, 5, 2, 4, 6]
        );
        assert_eq!(
            order(&s, &arr, &[], &crit(&[(Date, true)])),
            [2, 4, 6, 5, 3, 7, 1]
        );
    }

    #[test]
    fn text_keys_compare_case_mapped_and_missing_as_empty() {
        let subj = |t: &str| Summary {
            subject: t.into(),
            ..Summary::default()
        };
        let s = vec![
            subj("B"),
            subj(""),
            subj("A"),
            subj("B (A)"),
            subj("[XYZ]"),
            subj("_"),
        ];
        use SortKey::*;
        assert_eq!(
            order(&s, &[], &[], &crit(&[(Subject, false)])),
            [2, 3, 1, 4, 5, 6]
        );
        assert_eq!(order(&s, &[], &[], &crit(&[(Subject, true)])), [6, 5, 4, 1, 3, 2]);
    }

    #[test]
    fn keys_are_named() {
        assert_eq!(SortKey::named("DISPLAYFROM"), Some(SortKey::DisplayFrom));
        assert_eq!(SortKey::named("REVERSE"), None);
        assert_eq!(SortKey::named("date"), None);
    }
}
