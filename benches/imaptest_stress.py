#!/usr/bin/env python3
"""imaptest stress throughput: yubin vs Dovecot on the same machine, same mailbox, same load.

Dovecot's imaptest runs its random command mix (LOGIN, LIST, STATUS, SELECT, FETCH, STORE,
EXPUNGE, APPEND, LOGOUT ...) from 10 clients on one account for N seconds, against each server
in turn (A B A B A B), and counts the commands of each type it completed. The rates (commands
per second) are compared by median over the rounds, with the range; the protocol errors
imaptest saw are counted too (they must be 0).

Usage: benches/imaptest_stress.py [--rounds 3] [--secs 30] [--clients 10]
Needs: a release build (cargo build --release), dovecot-imapd, openssl, and imaptest
(built by tests/tools/imaptest/build.sh into ~/.cache/yubin-imaptest; the test suite does it).
Writes benches/results/imaptest-stress.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imap_throughput import PASSWORD, Dovecot, Yubin  # noqa: E402
from smtp_throughput import TARGET  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAPTEST_DIR = os.path.expanduser("~/.cache/yubin-imaptest")


def imaptest():
    script = os.path.join(ROOT, "tests/tools/imaptest/build.sh")
    out = subprocess.run(["bash", script, IMAPTEST_DIR], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def stress_mbox(path):
    """The suite's sample messages, each with a Message-ID of its own (imaptest tracks them
    by Message-ID)."""
    tests = os.path.join(IMAPTEST_DIR, "tests")
    n = 0
    with open(path, "wb") as out:
        for name in sorted(os.listdir(tests)):
            if not name.endswith(".mbox"):
                continue
            header = False
            with open(os.path.join(tests, name), "rb") as f:
                for line in f:
                    if line.startswith(b"From "):
                        n += 1
                        out.write(line)
                        out.write(b"Message-ID: <stress-%d@imaptest.example>\n" % n)
                        header = True
                        continue
                    if header and line in (b"\n", b"\r\n"):
                        header = False
                    if header and line[:11].lower() == b"message-id:":
                        continue
                    out.write(line)
            out.write(b"\n")
    return n


def run(binary, port, login, mbox, secs, clients):
    args = [binary, "host=127.0.0.1", f"port={port}", f"user={login}", f"pass={PASSWORD}", "ssl=any-cert",
            f"mbox={mbox}", f"clients={clients}", f"secs={secs}", "seed=1"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=secs + 120)
    text = out.stdout + out.stderr
    errors = sum(1 for line in text.splitlines() if "Error:" in line)
    totals = text.rsplit("Totals:", 1)[-1].strip().splitlines()
    names = totals[0].split()
    counts = [int(x) for x in totals[-1].split()]
    rates = {n: c / secs for n, c in zip(names, counts)}
    rates["all"] = sum(counts) / secs
    return rates, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=30)
    ap.add_argument("--clients", type=int, default=10)
    a = ap.parse_args()
    binary = os.path.join(TARGET, "release", "yubin")
    if not os.path.exists(binary):
        sys.exit(f"no release build at {binary}: cargo build --release")
    it = imaptest()
    work = tempfile.mkdtemp(prefix="yubin-imaptest-bench-")
    mbox = os.path.join(work, "stress.mbox")
    count = stress_mbox(mbox)
    servers = [Yubin(work, binary, 1), Dovecot(work, 1)]
    results = {s.name: [] for s in servers}
    errors = {s.name: 0 for s in servers}
    try:
        for r in range(a.rounds):
            for s in servers:
                login, _ = s.login(0)
                rates, errs = run(it, s.imaps, login, mbox, a.secs, a.clients)
                results[s.name].append(rates)
                errors[s.name] += errs
                print(f"round {r + 1} {s.name}: {rates['all']:.0f} commands/s, {errs} errors", flush=True)
                time.sleep(1)
    finally:
        for s in servers:
            s.stop()
    kinds = [k for k in results["yubin"][0] if all(k in x for x in results["dovecot"])]
    summary = {}
    for k in kinds:
        row = {}
        for name, rounds in results.items():
            v = [x[k] for x in rounds]
            row[name] = {"median": statistics.median(v), "min": min(v), "max": max(v)}
        d = row["dovecot"]["median"]
        row["ratio"] = row["yubin"]["median"] / d if d else None
        summary[k] = row
    out = {
        "benchmark": "imaptest stress",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip(),
        "machine": f"{os.cpu_count()} cores, {os.uname().release}",
        "rounds": a.rounds, "secs": a.secs, "clients": a.clients, "messages": count,
        "errors": errors, "rates": summary,
    }
    os.makedirs(os.path.join(ROOT, "benches", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benches", "results", "imaptest-stress.json"), "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
    print("\n| command | yubin/s (range) | Dovecot/s (range) | ratio |\n|---|---|---|---|")
    for k, row in summary.items():
        y, d = row["yubin"], row["dovecot"]
        ratio = f"{row['ratio']:.2f}×" if row["ratio"] else "–"
        print(f"| {k} | {y['median']:.0f} ({y['min']:.0f}–{y['max']:.0f}) | "
              f"{d['median']:.0f} ({d['min']:.0f}–{d['max']:.0f}) | {ratio} |")
    print(f"\nprotocol errors: yubin {errors['yubin']}, Dovecot {errors['dovecot']}")


if __name__ == "__main__":
    main()
