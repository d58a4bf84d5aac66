#!/usr/bin/env python3
"""SMTP receive throughput: yubin vs Postfix, both delivering into a Maildir on this disk.

Runs `smtp-source` (Postfix's load generator) with N sessions and M messages of S bytes
against each server in turn, interleaved over several rounds (the disk's fsync rate drifts
2-7x within minutes here, so only same-run, interleaved figures are comparable). A message
counts when it is in the Maildir: for yubin that is before its 250; for Postfix it is after
queueing and virtual(8) delivery, so the clock runs until the last file appears.

Also reports yubin's resident memory when idle and after the load.

Usage: benches/smtp_throughput.py [--sessions 20] [--messages 20000] [--size 4096] [--rounds 3]
                                  [--reconnect]
Needs: a release build (cargo build --release), postfix, smtp-source (Debian's postfix package).
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/yubin-target"))
HASH = "$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE"


_next_port = 20000 + (os.getpid() % 600) * 20


def free_port():
    """A port below the ephemeral range, so no outgoing connection can take it meanwhile."""
    global _next_port
    while True:
        _next_port = 20000 + (_next_port - 20000 + 1) % 12000
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", _next_port))
                return _next_port
            except OSError:
                continue


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def count_files(d):
    try:
        with os.scandir(d) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_yubin(work, binary, checks):
    port = free_port()
    d = os.path.join(work, "yubin-checks" if checks else "yubin")
    os.makedirs(d, exist_ok=True)
    dns = ""
    trusted = '"10.99.0.0/16"' if checks else '"127.0.0.0/8"'
    dns_proc = None
    if checks:
        dns_port = free_port()
        dns_proc = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", f"--port={dns_port}", "--listen-address=127.0.0.1",
             "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
             "--user=root", "--address=/#/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dns = f'dns {{\n    resolver "127.0.0.1:{dns_port}"\n}}\n'
    config = f"""hostname "mx.bench.test"
listen {{
    smtp "127.0.0.1:{port}"
}}
storage {{
    data "data"
}}
{dns}domain "bench.test" {{
    dkim selector="b1"
    user "bench" password-hash="{HASH}"
    alias "postmaster" to="bench"
}}
trusted-networks {trusted}
limits {{
    connections 1000 per-ip=200
    message-size "50MiB"
    send-rate "100000000/hour"    // the load comes from a trusted network: no sending limit
}}
"""
    with open(os.path.join(d, "mail.kdl"), "w") as f:
        f.write(config)
    log = open(os.path.join(d, "yubin.log"), "w")
    env = dict(os.environ, YUBIN_LOG="warn")
    p = subprocess.Popen([binary, "serve", os.path.join(d, "mail.kdl")], stdout=subprocess.DEVNULL, stderr=log, env=env)
    wait_port(port)
    maildir = os.path.join(d, "data/mail/bench.test/bench/Maildir")
    return {"name": "yubin (SPF/DKIM/DMARC on)" if checks else "yubin", "port": port, "proc": p, "dns": dns_proc,
            "new": os.path.join(maildir, "new")}


def start_postfix(work):
    d = os.path.join(work, "postfix")
    port = free_port()
    for sub in ("etc", "queue", "data", "vmail"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    main = f"""compatibility_level = 3.6
config_directory = {d}/etc
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
myhostname = mx.bench.test
mydomain = bench.test
mydestination =
local_transport = error:no local delivery
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
smtp_dns_support_level = disabled
virtual_mailbox_domains = bench.test
virtual_mailbox_base = {d}/vmail
virtual_mailbox_maps = texthash:{d}/etc/vmailbox
virtual_minimum_uid = 100
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
"""
    master = f"""127.0.0.1:{port} inet n - n - 200 smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
    with open(os.path.join(d, "etc/main.cf"), "w") as f:
        f.write(main)
    with open(os.path.join(d, "etc/master.cf"), "w") as f:
        f.write(master)
    with open(os.path.join(d, "etc/vmailbox"), "w") as f:
        f.write("bench@bench.test bench/Maildir/\n")
    shutil.chown(os.path.join(d, "vmail"), 65534, 65534)
    shutil.chown(os.path.join(d, "data"), "postfix", "postfix")
    subprocess.run(["postfix", "-c", f"{d}/etc", "check"], capture_output=True)
    subprocess.run(["postfix", "-c", f"{d}/etc", "start"], capture_output=True, check=True)
    wait_port(port)
    return {"name": "postfix", "port": port, "etc": f"{d}/etc", "new": os.path.join(d, "vmail/bench/Maildir/new"),
            "pidfile": os.path.join(d, "queue/pid/master.pid")}


def run_load(server, args):
    before = count_files(server["new"])
    start = time.monotonic()
    reuse = [] if args.reconnect else ["-d"]
    src = subprocess.run(
        ["smtp-source", *reuse, "-s", str(args.sessions), "-m", str(args.messages), "-l", str(args.size),
         "-f", "sender@remote.example", "-t", "bench@bench.test", f"127.0.0.1:{server['port']}"],
        capture_output=True, text=True)
    if src.returncode != 0 or src.stderr.strip():
        raise SystemExit(f"smtp-source against {server['name']} failed: {src.stderr[:2000]}")
    last, last_change = -1, time.monotonic()
    while (n := count_files(server["new"])) < before + args.messages:
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > 60:
            raise SystemExit(f"{server['name']}: only {n - before} of {args.messages} delivered (stalled)")
        time.sleep(0.02)
    elapsed = time.monotonic() - start
    # Free the disk for the next round.
    for sub in ("new",):
        d = server["new"]
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))
    return args.messages / elapsed


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reconnect", action="store_true",
                    help="one connection per message (default: each session reuses its connection, smtp-source -d)")
    ap.add_argument("--no-checks-variant", action="store_true", help="skip the yubin run with SPF/DKIM/DMARC on")
    args = ap.parse_args()

    binary = os.path.join(TARGET, "release", "yubin")
    if not os.path.exists(binary):
        raise SystemExit(f"build first: cargo build --release (looked for {binary})")
    for tool in ("smtp-source", "postfix", "dnsmasq"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is required (.ci/install-packages installs it)")

    work = tempfile.mkdtemp(prefix="yubin-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    os.chmod(work, 0o755)  # Postfix daemons run as the postfix user
    servers = []
    try:
        y = start_yubin(work, binary, checks=False)
        servers.append(y)
        time.sleep(1)
        idle_rss = rss_kib(y["proc"].pid)
        if not args.no_checks_variant:
            servers.append(start_yubin(work, binary, checks=True))
        servers.append(start_postfix(work))

        how = "a new connection per message" if args.reconnect else "connections reused"
        print(f"# {args.sessions} sessions, {args.messages} messages of {args.size} bytes ({how}),"
              f" {args.rounds} rounds, interleaved; data under {work}")
        rates = {s["name"]: [] for s in servers}
        cpu = {}
        for r in range(args.rounds):
            for s in servers:
                c0 = cpu_seconds(s["proc"].pid) if "proc" in s else None
                rate = run_load(s, args)
                if c0 is not None:
                    cpu.setdefault(s["name"], []).append((cpu_seconds(s["proc"].pid) - c0) / args.messages * 1000)
                rates[s["name"]].append(rate)
                print(f"round {r + 1}: {s['name']:<28} {rate:8.0f} msgs/s", flush=True)
        loaded_rss = rss_kib(y["proc"].pid)

        print()
        print(f"{'server':<28} {'median msgs/s':>14} {'min':>8} {'max':>8}")
        for name, rs in rates.items():
            print(f"{name:<28} {statistics.median(rs):14.0f} {min(rs):8.0f} {max(rs):8.0f}")
        pf = statistics.median(rates["postfix"])
        for name, rs in rates.items():
            if name != "postfix":
                print(f"ratio {name} / postfix: {statistics.median(rs) / pf:.2f}x")
        for name, ms in cpu.items():
            print(f"{name}: {statistics.median(ms):.3f} ms CPU per message")
        print(f"yubin RSS: idle {idle_rss / 1024:.1f} MiB, after load {loaded_rss / 1024:.1f} MiB")
    finally:
        for s in servers:
            if "proc" in s:
                s["proc"].send_signal(signal.SIGTERM)
                try:
                    s["proc"].wait(timeout=30)
                except subprocess.TimeoutExpired:
                    s["proc"].kill()
                if s.get("dns"):
                    s["dns"].kill()
                    s["dns"].wait()
            else:
                subprocess.run(["postfix", "-c", s["etc"], "stop"], capture_output=True)
                time.sleep(1)
                try:
                    with open(s["pidfile"]) as f:
                        os.kill(int(f.read().strip()), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
