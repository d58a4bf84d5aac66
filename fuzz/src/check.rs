//! Oracles on what a session wrote: whatever the client sent, the server answers in its
//! protocol's grammar. Each check panics (a crash for libFuzzer) with the offending line.

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.chars().take(200).collect()
}

/// SMTP (RFC 5321 §4.2): every reply line is `ddd` then ` ` or `-`, text without CR, CRLF.
/// After `220 2.0.0 Ready to start TLS` the bytes are TLS and are not checked.
pub fn smtp_replies(out: &[u8]) {
    const TLS: &[u8] = b"220 2.0.0 Ready to start TLS\r\n";
    let text = match find(out, TLS) {
        Some(p) => &out[..p + TLS.len()],
        None => out,
    };
    for line in text.split_inclusive(|b| *b == b'\n') {
        let body = line
            .strip_suffix(b"\r\n")
            .unwrap_or_else(|| panic!("SMTP reply line without CRLF: {:?}", show(line)));
        let ok = body.len() >= 4
            && body[..3].iter().all(u8::is_ascii_digit)
            && matches!(body[3], b' ' | b'-')
            && !body.contains(&b'\r');
        assert!(ok, "malformed SMTP reply line: {:?}", show(line));
    }
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    std::str::from_utf8(&inner[open + 1..]).ok()?.parse().ok()
}

/// IMAP (RFC 9051 §7): every response starts with `*`, `+` or a tag, ends with CRLF and has
/// no other CR or LF, and a literal announced as `{n}` is followed by n bytes. After `OK Begin TLS negotiation now` the
/// bytes are TLS and are not checked.
pub fn imap_responses(out: &[u8]) {
    const TLS: &[u8] = b"OK Begin TLS negotiation now\r\n";
    let end = find(out, TLS).map_or(out.len(), |p| p + TLS.len());
    let mut i = 0;
    while i < end {
        let rest = &out[i..end];
        let line_end =
            i + find(rest, b"\r\n").unwrap_or_else(|| panic!("IMAP response without CRLF: {:?}", show(rest)));
        let line = &out[i..line_end];
        assert!(
            !line.contains(&b'\r') && !line.contains(&b'\n'),
            "bare CR or LF in an IMAP response: {:?}",
            show(line)
        );
        let first = line.split(|b| *b == b' ').next().unwrap_or(b"");
        assert!(
            first == b"*" || first == b"+" || (!first.is_empty() && first.iter().all(u8::is_ascii_graphic)),
            "IMAP response starts badly: {:?}",
            show(line)
        );
        i = line_end + 2;
        let mut l = line;
        while let Some(n) = literal_len(l) {
            assert!(
                i + n <= out.len(),
                "truncated IMAP literal after {:?}",
                show(line)
            );
            i += n;
            let next = i + find(&out[i..], b"\r\n")
                .unwrap_or_else(|| panic!("no line end after a literal in {:?}", show(line)));
            l = &out[i..next];
            i = next + 2;
        }
    }
}

/// POP3 (RFC 1939 §3): the greeting is `+OK`, and the output ends with a whole CRLF line.
/// (Status lines cannot be told from the lines of a multi-line answer without replaying the
/// commands.) After `+OK Begin TLS negotiation` the bytes are TLS and are not checked.
pub fn pop3_responses(out: &[u8]) {
    if out.is_empty() {
        return;
    }
    assert!(out.starts_with(b"+OK"), "POP3 greeting: {:?}", show(out));
    if find(out, b"+OK Begin TLS negotiation").is_none() {
        assert!(
            out.ends_with(b"\r\n"),
            "POP3 output does not end with CRLF: {:?}",
            show(&out[out.len().saturating_sub(80)..])
        );
    }
}

/// HTTP/1.1 (RFC 9112): empty (the connection was dropped), or one status line `HTTP/1.1 ddd`
/// and a header block ended by an empty line.
pub fn http_response(out: &[u8]) {
    if out.is_empty() {
        return;
    }
    let ok = out.starts_with(b"HTTP/1.1 ")
        && out.len() >= 12
        && out[9..12].iter().all(u8::is_ascii_digit)
        && find(out, b"\r\n\r\n").is_some();
    assert!(ok, "malformed HTTP response: {:?}", show(out));
}
