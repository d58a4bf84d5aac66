//! A client on the other end of an in-memory pipe: it writes the fuzz input in chunks, closes
//! its side, and reads everything the session writes until the session closes.
//!
//! Session targets take their first input byte as a mode byte ([`Mode`]): its low three bits
//! are the target's own switches (role, pre-authenticated, trusted peer), the rest choose how
//! the input is cut into writes ([`chunks`]). Corpus files therefore start with one byte that
//! is not part of the protocol: `@` (no switches, written whole), `A` `B` `C` (switches 1, 2,
//! 3, written whole), `H` (cut in writes of 1–3 bytes), `P` (1–32), `X` (1–512).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio_rustls::rustls::pki_types::ServerName;

/// How long a session may take before it counts as hung (libFuzzer's `-timeout` is 10 s).
pub const HUNG: Duration = Duration::from_secs(8);

/// A session input: switches from the mode byte, and the bytes the client sends.
#[derive(Debug, Clone, Copy)]
pub struct Mode<'a> {
    /// The low three bits of the first byte.
    pub switches: u8,
    /// The rest of the first byte: how to cut [`Mode::data`] ([`chunks`]).
    pub cut: u8,
    /// What the client sends.
    pub data: &'a [u8],
}

impl<'a> Mode<'a> {
    /// Splits a fuzz input; none when it is empty.
    pub fn of(input: &'a [u8]) -> Option<Mode<'a>> {
        let (&first, data) = input.split_first()?;
        Some(Mode {
            switches: first & 7,
            cut: first >> 3,
            data,
        })
    }

    /// Whether switch `n` (0, 1 or 2) is on.
    pub fn on(&self, n: u8) -> bool {
        self.switches & (1 << n) != 0
    }

    /// The data cut into writes.
    pub fn chunks(&self) -> Vec<Vec<u8>> {
        chunks(self.data, self.cut)
    }
}

/// The input cut into writes. When `cut % 4` is 0 the input is written whole; otherwise a
/// xorshift sequence seeded by `cut` picks write sizes between 1 and 3, 32 or 512 bytes, so a
/// line, a literal or a body can end anywhere in a read.
pub fn chunks(data: &[u8], cut: u8) -> Vec<Vec<u8>> {
    let max = match cut % 4 {
        0 => return vec![data.to_vec()],
        1 => 3,
        2 => 32,
        _ => 512,
    };
    let mut x = 0x9E37_79B9u32 ^ u32::from(cut);
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let n = (1 + x % max) as usize;
        let (now, later) = rest.split_at(n.min(rest.len()));
        out.push(now.to_vec());
        rest = later;
    }
    out
}

/// A fresh client address for each session (so bans and per-address limits from one input do
/// not carry over to the next): `2001:db8::n`, or `10.99.x.y` inside the fixture's trusted
/// network when `trusted`.
pub fn peer(trusted: bool) -> SocketAddr {
    static N: AtomicU32 = AtomicU32::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let ip = if trusted {
        IpAddr::V4(Ipv4Addr::new(10, 99, (n >> 8) as u8, n as u8))
    } else {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            0,
            0,
            0,
            (n >> 16) as u16,
            n as u16,
        ))
    };
    SocketAddr::new(ip, 40_000 + (n % 20_000) as u16)
}

/// Feeds `chunks` to the session `serve` runs on one end of a pipe of `buffer` bytes and
/// returns everything it wrote. With `tls`, the client first does a TLS handshake (for an
/// implicit-TLS listener; any certificate is accepted) and the chunks go through it. Panics (a
/// crash for libFuzzer) when the session panics or hangs.
pub async fn drive<F>(
    chunks: Vec<Vec<u8>>,
    buffer: usize,
    tls: bool,
    serve: impl FnOnce(DuplexStream) -> F,
) -> Vec<u8>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (near, far) = tokio::io::duplex(buffer);
    let session = tokio::spawn(serve(far));
    let client = async move {
        if !tls {
            return talk(near, chunks).await;
        }
        let name = ServerName::try_from("mx.example.test").expect("server name");
        match yubin::queue::tls::opportunistic_connector()
            .connect(name, near)
            .await
        {
            Ok(stream) => talk(stream, chunks).await,
            Err(_) => Vec::new(),
        }
    };
    let out = match tokio::time::timeout(HUNG, client).await {
        Ok(out) => out,
        Err(_) => panic!("the session hung: it neither read its input to the end nor closed"),
    };
    match tokio::time::timeout(HUNG, session).await {
        Ok(Ok(())) => out,
        Ok(Err(e)) => panic!("the session panicked: {e}"),
        Err(_) => panic!("the session did not end after closing its output"),
    }
}

/// Writes the chunks then closes the writing side, while reading everything until EOF.
async fn talk<S: AsyncRead + AsyncWrite>(io: S, chunks: Vec<Vec<u8>>) -> Vec<u8> {
    let (mut rd, mut wr) = tokio::io::split(io);
    let writer = async move {
        for c in chunks {
            if wr.write_all(&c).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    };
    let reader = async move {
        let mut out = Vec::new();
        let _ = rd.read_to_end(&mut out).await;
        out
    };
    tokio::join!(writer, reader).1
}
