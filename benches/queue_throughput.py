#!/usr/bin/env python3
"""Outbound queue throughput: yubin vs Postfix relaying the same load to the same smtp-sink.

smtp-source sends N messages of S bytes in 20 sessions to each server (as a trusted client),
each server queues them durably and relays them to one smtp-sink; a message counts when the
sink has it. yubin also DKIM-signs every message (ed25519); Postfix does not sign (it would
need OpenDKIM). Rounds are interleaved: the disk's fsync rate drifts here.

Usage: benches/queue_throughput.py [--messages 20000] [--sessions 20] [--size 4096] [--rounds 2]
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_throughput import HASH, TARGET, count_files, cpu_seconds, free_port, wait_port  # noqa: E402


def start_sink(work, port):
    dump = os.path.join(work, "sink")
    os.makedirs(dump, exist_ok=True)
    shutil.chown(dump, "postfix")
    p = subprocess.Popen(["smtp-sink", "-u", "postfix", "-d", f"{dump}/%M.", f"127.0.0.1:{port}", "512"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p, dump


def start_yubin(work, binary, sink_port):
    d = os.path.join(work, "yubin")
    os.makedirs(d, exist_ok=True)
    port = free_port()
    with open(os.path.join(d, "mail.kdl"), "w") as f:
        f.write(f"""hostname "mx.bench.test"
listen {{
    smtp "127.0.0.1:{port}"
}}
storage {{
    data "data"
}}
domain "bench.test" {{
    dkim selector="b1"
    user "bench" password-hash="{HASH}"
    alias "postmaster" to="bench"
}}
trusted-networks "127.0.0.0/8"
relay "127.0.0.1:{sink_port}" {{
    tls "none"
}}
limits {{
    connections 1000 per-ip=500
    send-rate "100000000/hour" per="ip"
    outbound-connections 100 per-destination=20
}}
""")
    log = open(os.path.join(d, "yubin.log"), "w")
    p = subprocess.Popen([binary, "serve", os.path.join(d, "mail.kdl")], stdout=subprocess.DEVNULL, stderr=log,
                         env=dict(os.environ, YUBIN_LOG="warn"))
    wait_port(port)
    return {"name": "yubin", "port": port, "proc": p}


def start_postfix(work, sink_port):
    d = os.path.join(work, "postfix")
    port = free_port()
    for sub in ("etc", "queue", "data"):
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
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
relayhost = [127.0.0.1]:{sink_port}
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_destination_concurrency_limit = 20
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
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
    with open(os.path.join(d, "etc/main.cf"), "w") as f:
        f.write(main)
    with open(os.path.join(d, "etc/master.cf"), "w") as f:
        f.write(master)
    shutil.chown(os.path.join(d, "data"), "postfix", "postfix")
    subprocess.run(["postfix", "-c", f"{d}/etc", "check"], capture_output=True)
    subprocess.run(["postfix", "-c", f"{d}/etc", "start"], capture_output=True, check=True)
    wait_port(port)
    return {"name": "postfix", "port": port, "etc": f"{d}/etc", "pidfile": os.path.join(d, "queue/pid/master.pid")}


def run_load(server, dump, args):
    before = count_files(dump)
    start = time.monotonic()
    src = subprocess.run(
        ["smtp-source", "-d", "-s", str(args.sessions), "-m", str(args.messages), "-l", str(args.size),
         "-f", "sender@bench.test", "-t", "rcpt@remote.example", f"127.0.0.1:{server['port']}"],
        capture_output=True, text=True)
    if src.returncode != 0 or src.stderr.strip():
        raise SystemExit(f"smtp-source against {server['name']} failed: {src.stderr[:2000]}")
    last, last_change = -1, time.monotonic()
    while (n := count_files(dump)) < before + args.messages:
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > 60:
            raise SystemExit(f"{server['name']}: only {n - before} of {args.messages} relayed (stalled)")
        time.sleep(0.02)
    elapsed = time.monotonic() - start
    for name in os.listdir(dump):
        os.unlink(os.path.join(dump, name))
    return args.messages / elapsed


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    binary = os.path.join(TARGET, "release", "yubin")
    if not os.path.exists(binary):
        raise SystemExit(f"build first: cargo build --release (looked for {binary})")
    work = tempfile.mkdtemp(prefix="yubin-qbench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    os.chmod(work, 0o755)
    sink_port = free_port()
    sink = y = pf = None
    try:
        sink, dump = start_sink(work, sink_port)
        y = start_yubin(work, binary, sink_port)
        pf = start_postfix(work, sink_port)
        print(f"# {args.sessions} sessions, {args.messages} messages of {args.size} bytes relayed to smtp-sink,"
              f" {args.rounds} rounds, interleaved")
        rates = {"yubin": [], "postfix": []}
        cpu = []
        for r in range(args.rounds):
            for s in (y, pf):
                c0 = cpu_seconds(y["proc"].pid) if s is y else None
                rate = run_load(s, dump, args)
                if c0 is not None:
                    cpu.append((cpu_seconds(y["proc"].pid) - c0) / args.messages * 1000)
                rates[s["name"]].append(rate)
                print(f"round {r + 1}: {s['name']:<8} {rate:8.0f} msgs/s relayed", flush=True)
        print()
        for name, rs in rates.items():
            print(f"{name:<8} median {statistics.median(rs):8.0f} msgs/s (min {min(rs):.0f}, max {max(rs):.0f})")
        print(f"ratio yubin / postfix: {statistics.median(rates['yubin']) / statistics.median(rates['postfix']):.2f}x")
        print(f"yubin: {statistics.median(cpu):.3f} ms CPU per message (receive, sign, queue, relay)")
    finally:
        if y:
            y["proc"].send_signal(signal.SIGTERM)
            try:
                y["proc"].wait(timeout=30)
            except subprocess.TimeoutExpired:
                y["proc"].kill()
        if pf:
            subprocess.run(["postfix", "-c", pf["etc"], "stop"], capture_output=True)
            time.sleep(1)
            try:
                with open(pf["pidfile"]) as f:
                    os.kill(int(f.read().strip()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        if sink:
            sink.kill()
            sink.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
