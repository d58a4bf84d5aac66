//! Search keys (RFC 9051 §6.4.4 `search-key`, RFC 7162 `MODSEQ`) and dates (`date`,
//! `date-time`), with the nesting budget of [`super::MAX_SEARCH_DEPTH`].

use super::{Command, MAX_SEARCH_DEPTH, MONTHS, ParseError, Parser, R, SearchReturn, err};
use crate::imap::search::SearchKey;
use crate::time::days_from_civil;

impl Parser<'_> {
    /// `date = date-text / DQUOTE date-text DQUOTE`, `date-text = date-day "-" date-month "-" date-year`.
    /// Returns days since 1970-01-01.
    pub fn date(&mut self) -> R<i64> {
        let quoted = self.maybe(b'"');
        let d = self.number()? as u32;
        self.expect(b'-')?;
        let m = self.month()?;
        self.expect(b'-')?;
        let y = self.number()? as i64;
        if quoted {
            self.expect(b'"')?;
        }
        if !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
            return err("bad date");
        }
        Ok(days_from_civil(y, m, d))
    }

    pub(super) fn month(&mut self) -> R<u32> {
        let s = self
            .buf
            .get(self.pos..self.pos + 3)
            .map(|b| String::from_utf8_lossy(b).to_ascii_lowercase());
        let m = s
            .and_then(|s| MONTHS.iter().position(|m| *m == s))
            .ok_or(ParseError("bad month".into()))?;
        self.pos += 3;
        Ok(m as u32 + 1)
    }

    /// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`.
    pub(super) fn date_time(&mut self) -> R<i64> {
        self.expect(b'"')?;
        self.maybe(b' ');
        let d = self.number()? as u32;
        self.expect(b'-')?;
        let m = self.month()?;
        self.expect(b'-')?;
        let y = self.number()? as i64;
        self.sp()?;
        let h = self.number()?;
        self.expect(b':')?;
        let mi = self.number()?;
        self.expect(b':')?;
        let s = self.number()?;
        self.sp()?;
        let sign = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return err("bad zone"),
        };
        self.pos += 1;
        let z = self.number()? as i64;
        self.expect(b'"')?;
        if !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return err("bad date-time");
        }
        let offset = sign * ((z / 100) * 3600 + (z % 100) * 60);
        Ok(days_from_civil(y, m, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64 - offset)
    }

    /// `search-key` (RFC 9051 §9), at most [`MAX_SEARCH_DEPTH`] levels deep.
    pub(super) fn search_key(&mut self) -> R<SearchKey> {
        if self.depth >= MAX_SEARCH_DEPTH {
            return err(format!(
                "search keys nested more than {MAX_SEARCH_DEPTH} levels deep"
            ));
        }
        self.depth += 1;
        let key = self.search_key_at_depth();
        self.depth -= 1;
        key
    }

    pub(super) fn search_key_at_depth(&mut self) -> R<SearchKey> {
        use SearchKey as K;
        if self.maybe(b'(') {
            let mut keys = Vec::new();
            loop {
                keys.push(self.search_key()?);
                if self.maybe(b')') {
                    break;
                }
                self.sp()?;
            }
            return Ok(K::And(keys));
        }
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || c == b'*' || c == b'$')
        {
            if self.maybe(b'$') {
                return err("saved search results are not supported");
            }
            return Ok(K::Seq(self.seq_set()?));
        }
        let w = self.word();
        macro_rules! arg {
            () => {{
                self.sp()?;
                self.astring()?
            }};
        }
        Ok(match w.as_str() {
            "ALL" => K::All,
            "ANSWERED" => K::Flag(crate::mailbox::index::ANSWERED, true),
            "DELETED" => K::Flag(crate::mailbox::index::DELETED, true),
            "DRAFT" => K::Flag(crate::mailbox::index::DRAFT, true),
            "FLAGGED" => K::Flag(crate::mailbox::index::FLAGGED, true),
            "SEEN" => K::Flag(crate::mailbox::index::SEEN, true),
            "UNANSWERED" => K::Flag(crate::mailbox::index::ANSWERED, false),
            "UNDELETED" => K::Flag(crate::mailbox::index::DELETED, false),
            "UNDRAFT" => K::Flag(crate::mailbox::index::DRAFT, false),
            "UNFLAGGED" => K::Flag(crate::mailbox::index::FLAGGED, false),
            "UNSEEN" => K::Flag(crate::mailbox::index::SEEN, false),
            "NEW" => K::And(vec![K::Recent, K::Flag(crate::mailbox::index::SEEN, false)]),
            "OLD" => K::Not(Box::new(K::Recent)),
            "RECENT" => K::Recent,
            "KEYWORD" => {
                self.sp()?;
                K::Keyword(self.flag()?, true)
            }
            "UNKEYWORD" => {
                self.sp()?;
                K::Keyword(self.flag()?, false)
            }
            "BCC" => K::Address("bcc".into(), arg!()),
            "CC" => K::Address("cc".into(), arg!()),
            "FROM" => K::Address("from".into(), arg!()),
            "TO" => K::Address("to".into(), arg!()),
            "SUBJECT" => K::Header("subject".into(), arg!()),
            "HEADER" => {
                let name = arg!();
                let value = arg!();
                K::Header(name.to_ascii_lowercase(), value)
            }
            "BODY" => K::Body(arg!()),
            "TEXT" => K::Text(arg!()),
            "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" => {
                self.sp()?;
                let day = self.date()?;
                match w.as_str() {
                    "BEFORE" => K::Before(day, false),
                    "ON" => K::On(day, false),
                    "SINCE" => K::Since(day, false),
                    "SENTBEFORE" => K::Before(day, true),
                    "SENTON" => K::On(day, true),
                    _ => K::Since(day, true),
                }
            }
            "LARGER" => {
                self.sp()?;
                K::Larger(self.number()?)
            }
            "SMALLER" => {
                self.sp()?;
                K::Smaller(self.number()?)
            }
            "UID" => {
                self.sp()?;
                K::Uid(self.seq_set()?)
            }
            "NOT" => {
                self.sp()?;
                K::Not(Box::new(self.search_key()?))
            }
            "OR" => {
                self.sp()?;
                let a = self.search_key()?;
                self.sp()?;
                let b = self.search_key()?;
                K::Or(Box::new(a), Box::new(b))
            }
            "MODSEQ" => {
                self.sp()?;
                // Optional entry name and type (RFC 7162): ignored, all flags count.
                if self.peek() == Some(b'"') {
                    self.quoted()?;
                    self.sp()?;
                    self.word();
                    self.sp()?;
                }
                K::ModSeq(self.number()?)
            }
            "" => return err("expected a search key"),
            other => return err(format!("unknown search key {other}")),
        })
    }

    /// `search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"`
    /// (RFC 4731, and RFC 5267 for SORT), with its trailing space; `None` when absent.
    /// `search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"`
    /// (RFC 4731 MIN MAX ALL COUNT; RFC 5267 `"UPDATE" / "CONTEXT" / "PARTIAL" SP
    /// partial-range` with `partial-range = nz-number ":" nz-number`). `RETURN ()` means ALL;
    /// UPDATE alone returns nothing now, only the updates. SAVE (RFC 5182) is refused: SEARCHRES
    /// is not advertised and `$` is not accepted.
    pub(super) fn search_return(&mut self) -> R<Option<SearchReturn>> {
        if !self.keyword("RETURN") {
            return Ok(None);
        }
        self.sp()?;
        self.expect(b'(')?;
        let mut r = SearchReturn::default();
        while !self.maybe(b')') {
            self.maybe(b' ');
            match self.word().as_str() {
                "MIN" => r.min = true,
                "MAX" => r.max = true,
                "ALL" => r.all = true,
                "COUNT" => r.count = true,
                "UPDATE" => r.update = true,
                // A hint that the client may ask for more later; every result can be.
                "CONTEXT" => {}
                "PARTIAL" => {
                    self.sp()?;
                    let a = self.nz_number()?;
                    self.expect(b':')?;
                    let b = self.nz_number()?;
                    r.partial = Some((a.min(b), a.max(b)));
                }
                "" => return err("bad RETURN option"),
                other => return err(format!("unsupported RETURN option {other}")),
            }
        }
        if !(r.min || r.max || r.count || r.update || r.partial.is_some()) {
            r.all = true;
        }
        self.sp()?;
        Ok(Some(r))
    }

    /// A charset name: UTF-8 and US-ASCII are supported (`[BADCHARSET]` otherwise).
    pub(super) fn charset(&mut self) -> R<()> {
        let cs = self.astring()?;
        if !cs.eq_ignore_ascii_case("UTF-8") && !cs.eq_ignore_ascii_case("US-ASCII") {
            // The name is the client's: shown without its control characters (a literal
            // may carry CR LF, which must not reach the response line).
            let shown: String = cs
                .chars()
                .take(64)
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            return err(format!(
                "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset {shown}"
            ));
        }
        Ok(())
    }

    /// `1*(SP search-key)` after its first space: the keys, all of which must match.
    pub(super) fn search_keys(&mut self) -> R<SearchKey> {
        let mut keys = vec![self.search_key()?];
        while self.maybe(b' ') {
            keys.push(self.search_key()?);
        }
        Ok(if keys.len() == 1 {
            keys.remove(0)
        } else {
            SearchKey::And(keys)
        })
    }

    pub(super) fn search(&mut self, uid: bool) -> R<Command> {
        self.sp()?;
        let ret = self.search_return()?;
        if self.keyword("CHARSET") {
            self.sp()?;
            self.charset()?;
            self.sp()?;
        }
        let key = self.search_keys()?;
        Ok(Command::Search { uid, ret, key })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Command, SearchReturn, parse};

    fn ret(line: &str) -> Option<SearchReturn> {
        match parse(line.as_bytes())
            .unwrap_or_else(|e| panic!("{line}: {e:?}"))
            .1
        {
            Command::Search { ret, .. } => ret,
            other => panic!("{other:?}"),
        }
    }

    /// RFC 5267 §4: UPDATE, CONTEXT and PARTIAL; the range is kept low:high.
    #[test]
    fn context_return_options() {
        let r = ret("a SEARCH RETURN (PARTIAL 9:3 UPDATE CONTEXT) ALL").expect("options");
        assert_eq!(r.partial, Some((3, 9)));
        assert!(r.update && !r.all && !r.count);
        // UPDATE alone asks for nothing now; `RETURN ()` means ALL.
        assert!(!ret("a SEARCH RETURN (UPDATE) SEEN").expect("options").all);
        assert!(ret("a SEARCH RETURN () SEEN").expect("options").all);
        for bad in ["PARTIAL 1", "PARTIAL 1:*", "PARTIAL *:1", "PARTIAL 0:3", "SAVE"] {
            let line = format!("a SEARCH RETURN ({bad}) ALL");
            assert!(parse(line.as_bytes()).is_err(), "{line}");
        }
    }

    /// Found by the imap_parse fuzz target: a charset given as a literal with CR LF in it was
    /// echoed into the BADCHARSET text, splitting the response line.
    #[test]
    fn an_unknown_charset_is_shown_without_line_breaks() {
        let (_, e) = parse(b"a SEARCH CHARSET {5+}\r\n+}\r\nt ALL").expect_err("refused");
        assert!(
            e.0.contains("BADCHARSET") && !e.0.contains(['\r', '\n']),
            "{:?}",
            e.0
        );
    }

    #[test]
    fn cancelupdate_takes_one_or_more_tags() {
        assert_eq!(
            parse(b"a CANCELUPDATE \"t1\" \"t 2\"").expect("parses").1,
            Command::CancelUpdate(vec!["t1".into(), "t 2".into()])
        );
        assert!(parse(b"a CANCELUPDATE").is_err());
    }
}
