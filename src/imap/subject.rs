//! The base subject of RFC 5256 §2.1, which SORT (SUBJECT) and THREAD compare.
//!
//! ```text
//! subj-trailer    = "(fwd)" / WSP
//! subj-fwd-hdr    = "[fwd:"
//! subj-fwd-trl    = "]"
//! subj-leader     = (*subj-blob subj-refwd) / WSP
//! subj-blob       = "[" *BLOBCHAR "]" *WSP
//! subj-refwd      = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
//! BLOBCHAR        = %x01-5a / %x5c / %x5e-7f   ; any CHAR except '[' and ']'
//! ```
//!
//! The subject arrives with its encoded words already decoded (step 1). Comparisons use the
//! i;ascii-casemap collation (RFC 5256 §2.1, RFC 4790 §9.2), so the base subject is returned
//! with ASCII letters in upper case: two base subjects are equal, or ordered, as byte strings.
//! A blob may hold 8-bit text (`[日本語ML:0123]`), as mailing lists write it.

/// The base subject of a decoded subject (case-mapped with i;ascii-casemap), and whether the
/// subject marked the message as a reply or forward (`Re:`, `Fwd:`, `(fwd)`, `[fwd: ...]`).
pub fn base_subject(subject: &str) -> (String, bool) {
    // (1) Tabs and line breaks become spaces, runs of white space one space; case mapping.
    let mut packed: Vec<u8> = Vec::with_capacity(subject.len());
    let mut in_space = false;
    for b in subject.bytes() {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            if !in_space {
                packed.push(b' ');
            }
            in_space = true;
        } else {
            packed.push(b.to_ascii_uppercase());
            in_space = false;
        }
    }
    let mut reply = false;
    let mut s: &[u8] = &packed;
    loop {
        // (2) Trailers, repeatedly.
        s = strip_trailers(s, &mut reply);
        // (3), (4) and (5): leaders and blobs until none is left.
        loop {
            let mut found = false;
            if let Some(rest) = strip_leader(s, &mut reply) {
                s = rest;
                found = true;
            }
            if let Some(rest) = blob(s).filter(|rest| !rest.is_empty()) {
                s = rest;
                found = true;
            }
            if !found {
                break;
            }
        }
        // (6) `[fwd: subject]`: unwrap it and start again from (2).
        match s.strip_prefix(b"[FWD:").and_then(|r| r.strip_suffix(b"]")) {
            Some(inner) => {
                s = inner;
                reply = true;
            }
            None => break,
        }
    }
    // (7) What is left is the base subject. Every cut was next to an ASCII byte, so the
    // text is still UTF-8.
    (String::from_utf8_lossy(s).into_owned(), reply)
}

/// Step (2): `*subj-trailer` at the end.
fn strip_trailers<'a>(mut s: &'a [u8], reply: &mut bool) -> &'a [u8] {
    loop {
        if let Some(rest) = s.strip_suffix(b" ") {
            s = rest;
        } else if let Some(rest) = s.strip_suffix(b"(FWD)") {
            s = rest;
            *reply = true;
        } else {
            return s;
        }
    }
}

/// `subj-blob` at the start: what follows it (and the one space white space packs to).
fn blob(s: &[u8]) -> Option<&[u8]> {
    let inner = s.strip_prefix(b"[")?;
    let end = inner.iter().position(|b| *b == b'[' || *b == b']')?;
    let rest = inner.get(end..)?.strip_prefix(b"]")?;
    Some(rest.strip_prefix(b" ").unwrap_or(rest))
}

/// Step (3): one `subj-leader` at the start; `None` when there is none.
fn strip_leader<'a>(s: &'a [u8], reply: &mut bool) -> Option<&'a [u8]> {
    // A leading space goes whatever follows it.
    let (mut t, space) = match s.strip_prefix(b" ") {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let only_space = space.then_some(t);
    while t.first() == Some(&b'[') {
        match blob(t) {
            Some(rest) => t = rest,
            None => return only_space,
        }
    }
    let Some(after) = [b"RE".as_slice(), b"FWD", b"FW"]
        .iter()
        .find_map(|word| t.strip_prefix(*word))
    else {
        return only_space;
    };
    let mut t = after.strip_prefix(b" ").unwrap_or(after);
    if t.first() == Some(&b'[') {
        match blob(t) {
            Some(rest) => t = rest,
            None => return only_space,
        }
    }
    match t.strip_prefix(b":") {
        Some(rest) => {
            *reply = true;
            Some(rest)
        }
        None => only_space,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> String {
        base_subject(s).0
    }

    #[test]
    fn rfc_5256_leaders_and_trailers() {
        // RFC 5256 §2.1 steps (2) to (6), one at a time.
        assert_eq!(base_subject("Re: foo"), ("FOO".into(), true));
        assert_eq!(base_subject("fw: foo"), ("FOO".into(), true));
        assert_eq!(base_subject("FWD: foo"), ("FOO".into(), true));
        assert_eq!(base_subject("re [1]: foo"), ("FOO".into(), true));
        assert_eq!(base_subject("foo (fwd)"), ("FOO".into(), true));
        assert_eq!(base_subject("foo (fwd) (FWD)  "), ("FOO".into(), true));
        assert_eq!(base_subject("[fwd: foo]"), ("FOO".into(), true));
        assert_eq!(base_subject("[list] foo"), ("FOO".into(), false));
        assert_eq!(base_subject("[list] [tag] Re: Re: foo"), ("FOO".into(), true));
        assert_eq!(base_subject("foo"), ("FOO".into(), false));
        assert_eq!(base_subject("  foo\t\r\n  bar  "), ("FOO BAR".into(), false));
    }

    #[test]
    fn a_blob_alone_stays() {
        // (4): the blob goes only when something is left after it.
        assert_eq!(base("[xyz]"), "[XYZ]");
        assert_eq!(base("Fwd: [xyz]"), "[XYZ]");
        assert_eq!(base("[a] [b]"), "[B]");
        assert_eq!(base(""), "");
        assert_eq!(base(" "), "");
        assert_eq!(base("Re: "), "");
    }

    #[test]
    fn imaptest_sort_subject_cases() {
        // The subjects of imaptest's sort-subject.mbox (encoded words decoded).
        assert_eq!(
            base_subject("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)"),
            ("B".into(), true)
        );
        assert_eq!(base("b (a)"), "B (A)");
        assert_eq!(base_subject("Re: [FWD: c]"), ("C".into(), true));
        assert_eq!(base("RE: C"), "C");
        assert_eq!(base("Ad: Re: Ad: Re: Ad: x"), "AD: RE: AD: RE: AD: X");
        assert_eq!(
            base_subject("re: [fwd: [fwd: re: [fwd: babylon]]]"),
            ("BABYLON".into(), true)
        );
        assert_eq!(base("_"), "_");
    }

    #[test]
    fn not_leaders() {
        assert_eq!(base("Reply: foo"), "REPLY: FOO");
        assert_eq!(base("Re foo"), "RE FOO");
        assert_eq!(base("[unclosed Re: foo"), "[UNCLOSED RE: FOO");
        assert_eq!(base("Re[2 : foo"), "RE[2 : FOO");
        assert_eq!(base("[fwd: foo"), "[FWD: FOO");
    }

    #[test]
    fn eight_bit_text_is_kept_and_not_case_mapped() {
        assert_eq!(base("Re: [日本語ML:0123] テスト"), "テスト");
        assert_eq!(base("AW: Grüße"), "AW: GRüßE");
        assert_eq!(base("Fwd: été"), "éTé");
    }
}
