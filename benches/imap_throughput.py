#!/usr/bin/env python3
"""IMAP: yubin vs Dovecot on the same machine, same messages, same client.

1. SELECT INBOX + FETCH 1:* (FLAGS ENVELOPE) of a 10,000-message Maildir:
   - cold: the first access after the messages were dropped into the Maildir (each server
     builds its index and parses every message);
   - warm: the same again on a new connection;
   - restarted: after a server restart (the index comes from disk).
   Each round uses a fresh account, servers interleaved.
2. Resident memory with 1,000 idle IMAP sessions (TLS, logged in, INBOX selected, in IDLE).
   yubin is one process (VmRSS). Dovecot runs a process per session: the sum of RSS and the
   sum of PSS (shared pages split) over its processes are both shown.

Usage: benches/imap_throughput.py [--messages 10000] [--sessions 1000] [--rounds 2]
Needs: a release build (cargo build --release), dovecot-imapd, openssl.
"""

import argparse
import os
import random
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_throughput import HASH, TARGET, free_port, wait_port  # noqa: E402

PASSWORD = "alice-password"


def kib(pid, field):
    try:
        with open(f"/proc/{pid}/{'smaps_rollup' if field == 'Pss:' else 'status'}") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def tree(pid):
    """pid and all its descendants."""
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(p))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory(pid):
    procs = tree(pid)
    return sum(kib(p, "VmRSS:") for p in procs), sum(kib(p, "Pss:") for p in procs), len(procs)


# --- messages ---------------------------------------------------------------------------

WORDS = ("meeting report invoice travel budget lunch release review deadline update question "
         "photos contract server backup holiday team notes draft plan").split()


def message(i, rnd):
    subject = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 7)))
    frm = rnd.choice(['"Alice Example" <alice@example.com>', "bob@example.org", '"Zoë Z." <zoe@example.net>',
                      "=?utf-8?q?J=C3=B6rg?= <joerg@example.de>"])
    to = ", ".join(f"user{rnd.randint(1, 50)}@example.test" for _ in range(rnd.randint(1, 3)))
    day = 1 + i % 28
    head = (f"Return-Path: <sender@example.com>\r\nReceived: from mx.example.com (mx.example.com [192.0.2.1])\r\n"
            f"\tby mail.bench.test with ESMTPS id {i:08X}\r\n\tfor <alice@bench.test>; {day:02d} Oct 2026 10:00:00 +0000\r\n"
            f"From: {frm}\r\nTo: {to}\r\nSubject: {subject} #{i}\r\nDate: Mon, {day:02d} Oct 2026 10:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <{i}.{rnd.randint(0, 1 << 30)}@example.com>\r\nMIME-Version: 1.0\r\n")
    text = "".join(" ".join(rnd.choice(WORDS) for _ in range(12)) + "\r\n" for _ in range(rnd.randint(10, 60)))
    if i % 4 == 0:
        body = ("Content-Type: multipart/mixed; boundary=\"b{0}\"\r\n\r\n--b{0}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                "{1}--b{0}\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURlY29kZT4+CnN0cmVhbQp4\r\n"
                "--b{0}--\r\n").format(i, text)
    else:
        body = "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text
    return (head + body).encode()


def populate(maildir, messages, owner=None):
    rnd = random.Random(42)
    new = os.path.join(maildir, "new")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    base = 1790000000
    for i in range(messages):
        data = message(i, rnd)
        name = f"{base + i}.M{i}P1.bench,S={len(data)}"
        with open(os.path.join(new, name), "wb") as f:
            f.write(data)
    if owner is not None:
        for dirpath, dirnames, filenames in os.walk(os.path.dirname(maildir)):
            os.chown(dirpath, owner, owner)
            for n in filenames:
                os.chown(os.path.join(dirpath, n), owner, owner)


# --- servers ----------------------------------------------------------------------------

class Yubin:
    name = "yubin"

    def __init__(self, work, binary, users):
        self.dir = os.path.join(work, "yubin")
        os.makedirs(self.dir, exist_ok=True)
        self.binary = binary
        self.imap, self.imaps, self.smtp = free_port(), free_port(), free_port()
        users_kdl = "\n".join(f'    user "u{n}" password-hash="{HASH}"' for n in range(users))
        with open(os.path.join(self.dir, "mail.kdl"), "w") as f:
            f.write(f"""hostname "mail.bench.test"
listen {{
    smtp "127.0.0.1:{self.smtp}"
    imap "127.0.0.1:{self.imap}"
    imaps "127.0.0.1:{self.imaps}"
}}
storage {{
    data "data"
}}
domain "bench.test" {{
{users_kdl}
}}
limits {{
    connections 5000 per-ip=5000
}}
""")
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "yubin.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "serve", os.path.join(self.dir, "mail.kdl")],
                                     stdout=subprocess.DEVNULL, stderr=self.log,
                                     env=dict(os.environ, YUBIN_LOG="warn"))
        wait_port(self.imaps)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()

    def login(self, user):
        return f"u{user}@bench.test", PASSWORD

    def maildir(self, user):
        return os.path.join(self.dir, "data", "mail", "bench.test", f"u{user}", "Maildir")

    def populate(self, user, messages):
        populate(self.maildir(user), messages)

    def pid(self):
        return self.proc.pid


class Dovecot:
    name = "dovecot"

    def __init__(self, work, users):
        self.dir = os.path.join(work, "dovecot")
        d = self.dir
        for sub in ("run", "state", "mail"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(work, 0o755)
        os.chmod(d, 0o755)
        os.chown(os.path.join(d, "mail"), 65534, 65534)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "30", "-subj", "/CN=localhost", "-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem"],
                       check=True, capture_output=True)
        with open(f"{d}/users", "w") as f:
            for n in range(users):
                f.write(f"u{n}:{{PLAIN}}{PASSWORD}:65534:65534::{d}/mail/u{n}::\n")
        self.imap, self.imaps = free_port(), free_port()
        with open(f"{d}/dovecot.conf", "w") as f:
            f.write(f"""base_dir = {d}/run
state_dir = {d}/state
instance_name = dovecot-bench-{self.imap}
protocols = imap
listen = 127.0.0.1
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_max_userip_connections = 5000
default_process_limit = 5000
default_client_limit = 5000
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {d}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps}
  }}
}}
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
""")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["dovecot", "-c", f"{self.dir}/dovecot.conf", "-F"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.imaps)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        time.sleep(0.5)

    def login(self, user):
        return f"u{user}", PASSWORD

    def populate(self, user, messages):
        populate(os.path.join(self.dir, "mail", f"u{user}", "Maildir"), messages, owner=65534)

    def pid(self):
        return self.proc.pid


# --- client -----------------------------------------------------------------------------

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


class Client:
    def __init__(self, port):
        self.s = CTX.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=300))
        self.n = 0
        self.read_until(b"\r\n")

    def read_until(self, end):
        buf = bytearray()
        while not buf.endswith(end):
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise SystemExit("connection closed")
            buf += chunk
        return buf

    def cmd(self, text):
        """Sends a command, returns (bytes of the response, its tagged line). The tagged OK
        is recognised at the end of a read (the responses before it end in CRLF)."""
        self.n += 1
        tag = b"b%d " % self.n
        self.s.sendall(tag + text.encode() + b"\r\n")
        buf = bytearray()
        while True:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise SystemExit("connection closed")
            buf += chunk
            if buf.endswith(b"\r\n"):
                prev = buf.rfind(b"\r\n", 0, len(buf) - 2)
                start = 0 if prev < 0 else prev + 2
                if buf[start:].startswith(tag):
                    line = bytes(buf[start:])
                    if not line[len(tag):].startswith(b"OK"):
                        raise SystemExit(f"{text}: {line!r}")
                    return buf, line

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def select_fetch(server, user):
    c = Client(server.imaps)
    login, password = server.login(user)
    c.cmd(f'LOGIN "{login}" "{password}"')
    t0 = time.perf_counter()
    _, _ = c.cmd("SELECT INBOX")
    buf, _ = c.cmd("FETCH 1:* (FLAGS ENVELOPE)")
    elapsed = time.perf_counter() - t0
    count = buf.count(b" FETCH (")
    c.close()
    return elapsed, count


def idle_sessions(server, sessions, user):
    clients = []
    login, password = server.login(user)
    for i in range(sessions):
        c = Client(server.imaps)
        c.cmd(f'LOGIN "{login}" "{password}"')
        c.cmd("SELECT INBOX")
        c.n += 1
        c.s.sendall(b"i IDLE\r\n")
        c.read_until(b"\r\n")
        clients.append(c)
    return clients


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    binary = os.path.join(TARGET, "release", "yubin")
    if not os.path.exists(binary):
        raise SystemExit(f"{binary} not found: run cargo build --release")
    if not shutil.which("dovecot"):
        raise SystemExit("dovecot is not installed (apt-get install dovecot-imapd)")
    work = tempfile.mkdtemp(prefix="yubin-imap-bench-")
    users = args.rounds + 1
    y = Yubin(work, binary, users)
    d = Dovecot(work, users)
    results = {"yubin": {"cold": [], "warm": [], "restarted": []}, "dovecot": {"cold": [], "warm": [], "restarted": []}}
    try:
        print(f"SELECT + FETCH 1:* (FLAGS ENVELOPE), {args.messages} messages, {args.rounds} rounds")
        for r in range(args.rounds):
            for s in (y, d) if r % 2 == 0 else (d, y):
                s.populate(r, args.messages)
            for s in (y, d) if r % 2 == 0 else (d, y):
                cold, n = select_fetch(s, r)
                assert n == args.messages, (s.name, n)
                warm = min(select_fetch(s, r)[0] for _ in range(3))
                s.stop()
                s.start()
                restarted, n = select_fetch(s, r)
                assert n == args.messages, (s.name, n)
                results[s.name]["cold"].append(cold)
                results[s.name]["warm"].append(warm)
                results[s.name]["restarted"].append(restarted)
                print(f"  round {r + 1} {s.name:8} cold {cold * 1000:8.1f} ms   warm {warm * 1000:8.1f} ms   "
                      f"after restart {restarted * 1000:8.1f} ms")
        print()
        print(f"{'':10}{'cold':>12}{'warm':>12}{'restarted':>12}   (median ms)")
        med = {s: {k: statistics.median(v) * 1000 for k, v in results[s].items()} for s in results}
        for s in ("yubin", "dovecot"):
            print(f"{s:10}{med[s]['cold']:12.1f}{med[s]['warm']:12.1f}{med[s]['restarted']:12.1f}")
        print(f"{'ratio':10}" + "".join(f"{med['dovecot'][k] / med['yubin'][k]:11.2f}x" for k in ("cold", "warm", "restarted"))
              + "   (Dovecot time / yubin time; above 1 means yubin is faster)")

        print()
        print(f"Memory with {args.sessions} idle IMAP sessions (freshly started servers; TLS, logged in, a 1,000-message INBOX selected, IDLE)")
        mem = {}
        idle_user = args.rounds
        for s in (y, d):
            s.populate(idle_user, 1000)
            # A fresh process: this measures the sessions, not what the FETCH runs above left.
            s.stop()
            s.start()
        for s in (y, d):
            base_rss, base_pss, base_n = memory(s.pid())
            clients = idle_sessions(s, args.sessions, idle_user)
            time.sleep(2)
            rss, pss, n = memory(s.pid())
            for c in clients:
                c.close()
            mem[s.name] = (base_rss, rss, pss, n)
            print(f"  {s.name:8} before {base_rss / 1024:7.1f} MiB   with sessions: RSS {rss / 1024:7.1f} MiB, "
                  f"PSS {pss / 1024:7.1f} MiB in {n} processes   ({(rss - base_rss) / args.sessions:.1f} KiB RSS per session)")
            time.sleep(2)
        yr, dr = mem["yubin"][1], mem["dovecot"][1]
        print(f"  yubin {yr / 1024:.1f} MiB vs Dovecot {dr / 1024:.1f} MiB RSS ({dr / yr:.1f}x), "
              f"{mem['dovecot'][2] / 1024:.1f} MiB PSS ({mem['dovecot'][2] / mem['yubin'][2]:.1f}x)")
        ok = yr < 50 * 1024
        print(f"  target: yubin under 50 MB with {args.sessions} idle sessions: {'met' if ok else 'NOT met'}")
    finally:
        for s in (y, d):
            try:
                s.stop()
            except Exception:
                pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
