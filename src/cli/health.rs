//! `yubin health`: exit 0 when the server of a configuration answers `GET /healthz` on its
//! `http` listener with 200 (the container HEALTHCHECK). Without an `http` listener, a plain
//! SMTP listener greeting with 220 counts as healthy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::plan::{ListenerTls, Plan, Protocol};

use super::{EXIT_INVALID, EXIT_OK};

/// Where to ask: a listener address with a wildcard host made loopback.
fn local(address: &str) -> Option<SocketAddr> {
    let mut a: SocketAddr = address.parse().ok()?;
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Some(a)
}

fn ask(addr: SocketAddr, request: Option<&[u8]>, timeout: Duration) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    if let Some(r) = request {
        s.write_all(r)?;
    }
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Checks the server of `plan`; returns the exit status and a one-line verdict.
pub fn check(plan: &Plan, timeout: Duration) -> (u8, String) {
    let http = plan
        .listeners
        .values()
        .find(|l| l.protocol == Protocol::Http && l.tls == ListenerTls::None);
    if let Some(addr) = http.and_then(|l| l.addresses.first()).and_then(|a| local(a)) {
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        return match ask(addr, Some(request.as_bytes()), timeout) {
            Ok(r) if r.starts_with("HTTP/1.1 200") => (EXIT_OK, format!("healthy ({addr})")),
            Ok(r) => (
                EXIT_INVALID,
                format!("unhealthy ({addr}): {}", r.lines().last().unwrap_or_default()),
            ),
            Err(e) => (EXIT_INVALID, format!("unhealthy: {addr}: {e}")),
        };
    }
    let smtp = plan
        .listeners
        .values()
        .find(|l| l.protocol == Protocol::Smtp && l.tls != ListenerTls::Implicit);
    match smtp.and_then(|l| l.addresses.first()).and_then(|a| local(a)) {
        Some(addr) => match ask(addr, None, timeout) {
            Ok(r) if r.starts_with("220") => (EXIT_OK, format!("healthy ({addr} greets)")),
            Ok(r) => (EXIT_INVALID, format!("unhealthy ({addr}): {}", r.trim_end())),
            Err(e) => (EXIT_INVALID, format!("unhealthy: {addr}: {e}")),
        },
        None => (EXIT_INVALID, "no http or plain smtp listener to check".into()),
    }
}

/// Runs `yubin health`.
pub fn run(file: &Path, timeout: Duration) -> u8 {
    let plan = match super::plan::compile_file(file) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (code, verdict) = check(&plan, timeout);
    println!("{verdict}");
    code
}
