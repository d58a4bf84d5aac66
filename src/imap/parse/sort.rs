//! SORT and THREAD (RFC 5256 §5 ABNF; RFC 5957 DISPLAYFROM/DISPLAYTO; RFC 5267 §3 ESORT's
//! `RETURN` options; `UID SORT` and `UID THREAD` through RFC 3501's `UID` command).
//!
//! ```text
//! sort            = ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP
//!                   search-criteria
//! sort-criteria   = "(" sort-criterion *(SP sort-criterion) ")"
//! sort-criterion  = ["REVERSE" SP] sort-key
//! sort-key        = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" / "TO" /
//!                   "DISPLAYFROM" / "DISPLAYTO"
//! thread          = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
//! thread-alg      = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext
//! search-criteria = charset 1*(SP search-key)
//! ```
//!
//! A key named twice is used once (the second could never decide an order).

use super::{Command, Parser, R, err};
use crate::imap::sort::{Criterion, SortKey};
use crate::imap::thread::Algorithm;

impl Parser<'_> {
    /// The arguments of SORT, after the command name.
    pub(super) fn sort(&mut self, uid: bool) -> R<Command> {
        self.sp()?;
        let ret = self.search_return()?;
        let criteria = self.sort_criteria()?;
        self.sp()?;
        self.charset()?;
        self.sp()?;
        let key = self.search_keys()?;
        Ok(Command::Sort {
            uid,
            ret,
            criteria,
            key,
        })
    }

    fn sort_criteria(&mut self) -> R<Vec<Criterion>> {
        self.expect(b'(')?;
        let mut out: Vec<Criterion> = Vec::new();
        loop {
            let mut word = self.word();
            let reverse = word == "REVERSE";
            if reverse {
                self.sp()?;
                word = self.word();
            }
            let Some(key) = SortKey::named(&word) else {
                return match word.as_str() {
                    "" => err("expected a sort key"),
                    other => err(format!("unknown sort key {other}")),
                };
            };
            if !out.iter().any(|c| c.key == key) {
                out.push(Criterion { key, reverse });
            }
            if self.maybe(b')') {
                return Ok(out);
            }
            self.sp()?;
        }
    }

    /// The arguments of THREAD, after the command name.
    pub(super) fn thread(&mut self, uid: bool) -> R<Command> {
        self.sp()?;
        let name = self.word();
        let Some(algorithm) = Algorithm::named(&name) else {
            return err(format!("unknown thread algorithm {name}"));
        };
        self.sp()?;
        self.charset()?;
        self.sp()?;
        let key = self.search_keys()?;
        Ok(Command::Thread { uid, algorithm, key })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SearchReturn, parse};
    use super::*;
    use crate::imap::search::SearchKey;

    fn cmd(s: &str) -> Command {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e:?}")).1
    }

    fn bad(s: &str) -> String {
        match parse(s.as_bytes()) {
            Err((_, e)) => e.0,
            Ok(c) => panic!("{s} parsed as {c:?}"),
        }
    }

    #[test]
    fn sort_commands() {
        let Command::Sort {
            uid,
            ret,
            criteria,
            key,
        } = cmd("a UID SORT (REVERSE DATE subject) UTF-8 ALL")
        else {
            panic!()
        };
        assert!(uid && ret.is_none());
        assert_eq!(
            criteria,
            [
                Criterion {
                    key: SortKey::Date,
                    reverse: true
                },
                Criterion {
                    key: SortKey::Subject,
                    reverse: false
                }
            ]
        );
        assert_eq!(key, SearchKey::All);
        let Command::Sort { ret, key, .. } = cmd("a sort return (min max) (displayfrom) us-ascii 1:5 UNSEEN")
        else {
            panic!()
        };
        assert_eq!(
            ret,
            Some(SearchReturn {
                min: true,
                max: true,
                ..SearchReturn::default()
            })
        );
        assert!(matches!(key, SearchKey::And(k) if k.len() == 2));
        let Command::Sort { ret, criteria, .. } = cmd("a SORT RETURN () (DATE DATE) UTF-8 ALL") else {
            panic!()
        };
        assert!(ret.is_some_and(|r| r.all));
        assert_eq!(criteria.len(), 1);
    }

    #[test]
    fn bad_sorts() {
        assert!(bad("a SORT () UTF-8 ALL").contains("sort key"));
        assert!(bad("a SORT (REVERSE) UTF-8 ALL").contains("expected"));
        assert!(bad("a SORT (REVERSE REVERSE DATE) UTF-8 ALL").contains("REVERSE"));
        assert!(bad("a SORT (X-SCORE) UTF-8 ALL").contains("unknown sort key"));
        assert!(bad("a SORT (DATE) ALL").starts_with("[BADCHARSET"));
        assert!(bad("a SORT (DATE) UTF-8").contains("expected"));
        assert!(bad("a SORT DATE UTF-8 ALL").contains("expected '('"));
        assert!(bad("a SORT (DATE) KOI8-R ALL").starts_with("[BADCHARSET"));
    }

    #[test]
    fn thread_commands() {
        assert_eq!(
            cmd("a THREAD REFERENCES UTF-8 ALL"),
            Command::Thread {
                uid: false,
                algorithm: Algorithm::References,
                key: SearchKey::All
            }
        );
        assert!(matches!(
            cmd("a uid thread orderedsubject us-ascii unseen"),
            Command::Thread {
                uid: true,
                algorithm: Algorithm::OrderedSubject,
                ..
            }
        ));
        assert!(bad("a THREAD REFS UTF-8 ALL").contains("unknown thread algorithm"));
        assert!(bad("a THREAD REFERENCES ALL").starts_with("[BADCHARSET"));
    }
}
