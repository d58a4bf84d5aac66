//! The message body of DATA and BDAT: dot-unstuffing, end-of-data detection, line-ending
//! normalisation and the size limit, fed in arbitrary chunks (no I/O here).
//!
//! SMTP smuggling defence: the only end of DATA is `<CR><LF>.<CR><LF>` (RFC 5321 §4.1.1.4).
//! A bare LF ends a line for storage (it is stored as CRLF, as legacy clients need) but never
//! takes part in an end-of-data sequence: `<LF>.<LF>`, `<LF>.<CR><LF>` and `<CR><LF>.<LF>` are
//! message content. A bare CR anywhere makes the message invalid (550 5.6.11), so no
//! ambiguous sequence is ever stored and relayed onward.

/// What the reader saw when a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Octets of the message as stored (after unstuffing and normalisation).
    pub size: u64,
    /// The message grew past the limit; its content was dropped.
    pub too_big: bool,
    /// A CR not followed by LF was seen.
    pub bare_cr: bool,
    /// A bare LF was seen (and stored as CRLF).
    pub bare_lf: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line that follows a CRLF (or the start of the data).
    LineStart,
    /// At the start of a line that follows a bare LF: dots here are content.
    LineStartAfterBareLf,
    /// Inside a line.
    InLine,
    /// Saw CR inside a line; waiting for LF.
    Cr,
    /// Saw `.` at a CRLF line start.
    Dot,
    /// Saw `.` CR at a CRLF line start.
    DotCr,
}

/// Reads a DATA body.
#[derive(Debug)]
pub struct DataReader {
    state: State,
    limit: u64,
    out: Outcome,
}

impl DataReader {
    /// A reader that keeps at most `limit` octets.
    pub fn new(limit: u64) -> Self {
        DataReader {
            state: State::LineStart,
            limit,
            out: Outcome {
                size: 0,
                too_big: false,
                bare_cr: false,
                bare_lf: false,
            },
        }
    }

    fn push(&mut self, buf: &mut Vec<u8>, bytes: &[u8]) {
        if self.out.too_big {
            return;
        }
        self.out.size += bytes.len() as u64;
        if self.out.size > self.limit {
            self.out.too_big = true;
            buf.clear();
            buf.shrink_to(64 * 1024);
            return;
        }
        buf.extend_from_slice(bytes);
    }

    /// Consumes `input`, appending message bytes to `buf`. Returns `Some((consumed, outcome))`
    /// when the end of data was found after `consumed` bytes (the rest is the next command),
    /// or `None` when all of `input` was consumed and more is needed.
    pub fn feed(&mut self, input: &[u8], buf: &mut Vec<u8>) -> Option<(usize, Outcome)> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::LineStart | State::LineStartAfterBareLf | State::InLine => {
                    let at_crlf_start = self.state == State::LineStart;
                    if self.state != State::InLine && input[i] == b'.' && at_crlf_start {
                        self.state = State::Dot;
                        i += 1;
                        continue;
                    }
                    // Copy the run of ordinary bytes up to the next CR or LF in one go.
                    let run_end = input[i..]
                        .iter()
                        .position(|b| *b == b'\r' || *b == b'\n')
                        .map_or(input.len(), |p| i + p);
                    if run_end > i {
                        self.push(buf, &input[i..run_end]);
                        self.state = State::InLine;
                        i = run_end;
                        continue;
                    }
                    match input[i] {
                        b'\r' => self.state = State::Cr,
                        _ => {
                            // Bare LF: store CRLF; the next line's dot is content.
                            self.out.bare_lf = true;
                            self.push(buf, b"\r\n");
                            self.state = State::LineStartAfterBareLf;
                        }
                    }
                    i += 1;
                }
                State::Cr => {
                    if input[i] == b'\n' {
                        self.push(buf, b"\r\n");
                        self.state = State::LineStart;
                        i += 1;
                    } else {
                        self.out.bare_cr = true;
                        self.push(buf, b"\r");
                        self.state = State::InLine;
                    }
                }
                State::Dot => match input[i] {
                    b'\r' => {
                        self.state = State::DotCr;
                        i += 1;
                    }
                    b'\n' => {
                        // `<CRLF>.<LF>`: not an end of data; keep the dot as content.
                        self.out.bare_lf = true;
                        self.push(buf, b".\r\n");
                        self.state = State::LineStartAfterBareLf;
                        i += 1;
                    }
                    _ => {
                        // Dot-stuffed line: the leading dot is dropped (RFC 5321 §4.5.2).
                        self.state = State::InLine;
                    }
                },
                State::DotCr => {
                    if input[i] == b'\n' {
                        return Some((i + 1, self.out));
                    }
                    // `.<CR>x`: a dot-stuffed line holding a bare CR.
                    self.out.bare_cr = true;
                    self.push(buf, b"\r");
                    self.state = State::InLine;
                }
            }
        }
        None
    }
}

/// Reads BDAT chunks: exact octet counts, no dot handling, same normalisation and limit.
#[derive(Debug)]
pub struct ChunkReader {
    limit: u64,
    pending_cr: bool,
    out: Outcome,
}

impl ChunkReader {
    /// A reader that keeps at most `limit` octets over all chunks.
    pub fn new(limit: u64) -> Self {
        ChunkReader {
            limit,
            pending_cr: false,
            out: Outcome {
                size: 0,
                too_big: false,
                bare_cr: false,
                bare_lf: false,
            },
        }
    }

    fn push(&mut self, buf: &mut Vec<u8>, bytes: &[u8]) {
        if self.out.too_big {
            return;
        }
        self.out.size += bytes.len() as u64;
        if self.out.size > self.limit {
            self.out.too_big = true;
            buf.clear();
            buf.shrink_to(64 * 1024);
            return;
        }
        buf.extend_from_slice(bytes);
    }

    /// Appends chunk bytes (a CR at the end of one chunk may pair with an LF in the next).
    pub fn feed(&mut self, input: &[u8], buf: &mut Vec<u8>) {
        let mut i = 0;
        if self.pending_cr && !input.is_empty() {
            self.pending_cr = false;
            if input[0] == b'\n' {
                self.push(buf, b"\r\n");
                i = 1;
            } else {
                self.out.bare_cr = true;
                self.push(buf, b"\r");
            }
        }
        while i < input.len() {
            let run_end = input[i..]
                .iter()
                .position(|b| *b == b'\r' || *b == b'\n')
                .map_or(input.len(), |p| i + p);
            if run_end > i {
                self.push(buf, &input[i..run_end]);
                i = run_end;
                continue;
            }
            if input[i] == b'\n' {
                self.out.bare_lf = true;
                self.push(buf, b"\r\n");
                i += 1;
            } else if i + 1 < input.len() {
                if input[i + 1] == b'\n' {
                    self.push(buf, b"\r\n");
                    i += 2;
                } else {
                    self.out.bare_cr = true;
                    self.push(buf, b"\r");
                    i += 1;
                }
            } else {
                self.pending_cr = true;
                i += 1;
            }
        }
    }

    /// Ends the message (after `BDAT n LAST`).
    pub fn finish(&mut self, buf: &mut Vec<u8>) -> Outcome {
        if self.pending_cr {
            self.pending_cr = false;
            self.out.bare_cr = true;
            self.push(buf, b"\r");
        }
        self.out
    }

    /// Octets stored so far.
    pub fn size(&self) -> u64 {
        self.out.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(chunks: &[&[u8]]) -> (Vec<u8>, Option<(usize, Outcome)>) {
        let mut r = DataReader::new(1 << 20);
        let mut buf = Vec::new();
        for c in chunks {
            if let Some(done) = r.feed(c, &mut buf) {
                return (buf, Some(done));
            }
        }
        (buf, None)
    }

    #[test]
    fn unstuffs_and_ends_at_crlf_dot_crlf() {
        let (buf, done) = read_all(&[b"a\r\n..b\r\n.\r\nNEXT"]);
        assert_eq!(buf, b"a\r\n.b\r\n");
        assert_eq!(done.unwrap().0, 11);
    }

    #[test]
    fn empty_message_ends_immediately() {
        let (buf, done) = read_all(&[b".\r\n"]);
        assert!(buf.is_empty());
        assert_eq!(done.unwrap().0, 3);
    }

    #[test]
    fn end_sequence_split_across_chunks() {
        let msg: &[u8] = b"Subject: x\r\n\r\nbody\r\n.\r\n";
        for split in 0..msg.len() {
            let (buf, done) = read_all(&[&msg[..split], &msg[split..]]);
            assert_eq!(buf, b"Subject: x\r\n\r\nbody\r\n", "split at {split}");
            assert!(done.is_some(), "split at {split}");
        }
    }

    #[test]
    fn smuggling_sequences_are_content() {
        for evil in [
            &b"a\n.\nMAIL FROM:<x@y>\r\n"[..],
            b"a\n.\r\nMAIL FROM:<x@y>\r\n",
            b"a\r\n.\nMAIL FROM:<x@y>\r\n",
        ] {
            let (buf, done) = read_all(&[evil]);
            assert!(done.is_none(), "{evil:?} must not end the data");
            assert!(buf.windows(4).any(|w| w == b"MAIL"), "{evil:?}");
        }
        let (_, done) = read_all(&[b"a\r.\rMAIL\r\n.\r\n"]);
        assert!(done.unwrap().1.bare_cr);
    }

    #[test]
    fn bare_lf_is_normalised() {
        let (buf, done) = read_all(&[b"a\nb\r\n.\r\n"]);
        assert_eq!(buf, b"a\r\nb\r\n");
        assert!(done.unwrap().1.bare_lf);
    }

    #[test]
    fn size_limit_drops_content_but_finds_the_end() {
        let mut r = DataReader::new(10);
        let mut buf = Vec::new();
        let done = r.feed(b"0123456789abcdef\r\n.\r\n", &mut buf).unwrap();
        assert!(done.1.too_big);
        assert!(buf.is_empty());
    }

    #[test]
    fn chunks_normalise_across_boundaries() {
        let mut r = ChunkReader::new(1 << 20);
        let mut buf = Vec::new();
        r.feed(b"a\r", &mut buf);
        r.feed(b"\nb\nc\r", &mut buf);
        r.feed(b"x", &mut buf);
        let out = r.finish(&mut buf);
        assert_eq!(buf, b"a\r\nb\r\nc\rx");
        assert!(out.bare_lf && out.bare_cr);
    }
}
