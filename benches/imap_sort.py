#!/usr/bin/env python3
"""IMAP SORT and THREAD: yubin vs Dovecot on the same machine, same messages, same client.

A folder of 10,000 generated messages (threads with References and In-Reply-To, replies that
arrive before their parents or whose parents are missing, Re:/Fwd:/[list] subjects, encoded
words, Japanese ISO-2022-JP subjects, about 8% without a Date header and 1% with an unreadable
one) is dropped into a fresh account's Maildir `new/` on each server. One client (Python, TLS)
then times, per round and server:

- `UID SORT (REVERSE DATE) UTF-8 ALL`: cold (the first SORT after the delivery, on an account
  that was only SELECTed: each server reads every message header), warm (again on a new
  connection, best of 3), and after a server restart;
- `UID THREAD REFERENCES UTF-8 ALL`: the same, on a second fresh account.

Rounds interleave the servers (yubin first in even rounds, Dovecot first in odd ones). The
answers of the two servers are compared (same UIDs: both number new/ files in name order).
Figures: medians and ranges over the rounds. A JSON results file is written (--results).

Usage: benches/imap_sort.py [--messages 10000] [--rounds 3] [--results FILE] [--binary PATH]
Needs: a release build (cargo build --release), dovecot-imapd, openssl.
"""

import argparse
import base64
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imap_throughput import Client, Dovecot, Yubin  # noqa: E402
from smtp_throughput import TARGET  # noqa: E402

SORT = "UID SORT (REVERSE DATE) UTF-8 ALL"
THREAD = "UID THREAD REFERENCES UTF-8 ALL"

# --- messages ---------------------------------------------------------------------------

TOPICS = ("quarterly budget review", "server migration plan", "holiday schedule", "release 2.4 notes",
          "contract renewal", "team offsite", "backup failures", "new office layout", "printer on floor 3",
          "customer escalation", "security audit findings", "lunch on friday", "onboarding checklist",
          "invoice 2026-114", "database upgrade", "travel approval")
JAPANESE = ("会議の議事録", "来週の予定について", "見積書の送付", "サーバー移行計画", "請求書のご確認",
            "新年会のお知らせ", "資料の共有", "契約更新について")
NAMES = (("Alice Example", "alice@example.com"), ("Bob Builder", "bob@example.org"),
         ("Zoë Zed", "zoe@example.net"), ("Jörg Müller", "joerg@example.de"),
         ("山田太郎", "yamada@example.jp"), ("", "carol@example.com"), ("Dave", "dave@example.com"),
         ("Élodie Durand", "elodie@example.fr"), ("", "support@example.com"), ("佐藤花子", "sato@example.jp"))
WORDS = "the a meeting report invoice travel budget lunch release review deadline update question notes".split()


def encoded(text, charset="utf-8"):
    """An RFC 2047 encoded word (B encoding) when the text is not ASCII."""
    if text.isascii():
        return text
    if charset == "iso-2022-jp":
        return "=?ISO-2022-JP?B?%s?=" % base64.b64encode(text.encode("iso2022_jp")).decode()
    if random.random() < 0.5:
        return "=?utf-8?B?%s?=" % base64.b64encode(text.encode()).decode()
    q = "".join(c if c.isalnum() and c.isascii() else "_" if c == " " else
                "".join("=%02X" % b for b in c.encode()) for c in text)
    return "=?utf-8?q?%s?=" % q


def mailbox(rnd):
    name, addr = rnd.choice(NAMES)
    if not name:
        return addr
    charset = "iso-2022-jp" if any(ord(c) > 0x3000 for c in name) else "utf-8"
    return "%s <%s>" % (encoded(name, charset), addr)


def generate(count, seed=7):
    """The messages (bytes) in delivery order, and the Maildir names' timestamps."""
    rnd = random.Random(seed)
    random.seed(seed)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    msgs = []
    threads = []  # (base subject as written, japanese, [message ids in thread order])
    n = 0
    while len(msgs) < count:
        n += 1
        if not threads or rnd.random() < 0.3:
            japanese = rnd.random() < 0.2
            subject = rnd.choice(JAPANESE) if japanese else "%s #%d" % (rnd.choice(TOPICS), n)
            threads.append((subject, japanese, []))
            thread = threads[-1]
        else:
            thread = rnd.choice(threads[-400:])
        subject, japanese, ids = thread
        mid = "<%d.%d@bench.example>" % (n, rnd.randint(0, 1 << 30))
        head = []
        sent = start + datetime.timedelta(seconds=rnd.randint(0, 300 * 86400))
        if ids:
            prefix = rnd.choice(("Re: ", "Re: ", "RE: ", "Re: Re: ", "Fwd: ", "[team] Re: ", "AW: "))
            parent = rnd.choice(ids)
            chain = ids[:ids.index(parent) + 1]
            r = rnd.random()
            if r < 0.6:
                head.append("References: " + "\r\n ".join(chain[-12:]))
                head.append("In-Reply-To: " + parent)
            elif r < 0.85:
                head.append("In-Reply-To: %s (message from someone)" % parent)
            else:
                # A reply to a message that is not in the mailbox.
                head.append("References: <gone.%d@elsewhere.example> %s" % (n, parent))
        else:
            prefix = ""
        text = prefix + subject
        subj = encoded(text, "iso-2022-jp") if japanese and rnd.random() < 0.8 else encoded(text)
        head.append("Subject: " + subj)
        head.append("From: " + mailbox(rnd))
        head.append("To: " + ", ".join(mailbox(rnd) for _ in range(rnd.randint(1, 3))))
        if rnd.random() < 0.3:
            head.append("Cc: " + mailbox(rnd))
        r = rnd.random()
        if r < 0.91:
            zone = rnd.choice((0, 60, -300, 540, 330))
            local = sent + datetime.timedelta(minutes=zone)
            sign = "+" if zone >= 0 else "-"
            head.append("Date: %s %s%02d%02d" % (local.strftime("%a, %d %b %Y %H:%M:%S"), sign,
                                                  abs(zone) // 60, abs(zone) % 60))
        elif r < 0.92:
            head.append("Date: sometime last week")
        # else: no Date header at all.
        head.append("Message-ID: " + mid)
        head.append("MIME-Version: 1.0")
        head.append("Content-Type: text/plain; charset=utf-8")
        rnd.shuffle(head)
        received = ("Received: from mx.example.com (mx.example.com [192.0.2.1])\r\n\tby mail.bench.test; %s"
                    % sent.strftime("%a, %d %b %Y %H:%M:%S +0000"))
        body = "".join(" ".join(rnd.choice(WORDS) for _ in range(12)) + "\r\n" for _ in range(rnd.randint(5, 80)))
        data = ("Return-Path: <x@example.com>\r\n" + received + "\r\n" + "\r\n".join(head) + "\r\n\r\n" + body).encode()
        ids.append(mid)
        msgs.append(data)
    # Deliveries do not follow the threads: shuffle within windows of 50.
    for i in range(0, len(msgs), 50):
        window = msgs[i:i + 50]
        rnd.shuffle(window)
        msgs[i:i + 50] = window
    return msgs


def populate(maildir, msgs, owner=None):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    base = 1790000000
    for i, data in enumerate(msgs):
        path = os.path.join(maildir, "new", f"{base + i}.M{i}P1.bench,S={len(data)}")
        with open(path, "wb") as f:
            f.write(data)
        # Both servers take the INTERNALDATE of a new Maildir file from its name or mtime.
        os.utime(path, (base + i, base + i))
    if owner is not None:
        for dirpath, dirnames, filenames in os.walk(os.path.dirname(maildir)):
            os.chown(dirpath, owner, owner)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), owner, owner)


def maildir_of(server, user):
    if server.name == "yubin":
        return server.maildir(user)
    return os.path.join(server.dir, "mail", f"u{user}", "Maildir")


# --- measurements -----------------------------------------------------------------------

def timed(server, user, command, select=True):
    """A new connection: LOGIN, SELECT, then `command` timed. Returns (seconds, answer line)."""
    c = Client(server.imaps)
    login, password = server.login(user)
    c.cmd(f'LOGIN "{login}" "{password}"')
    if select:
        c.cmd("SELECT INBOX")
    t0 = time.perf_counter()
    buf, _ = c.cmd(command)
    elapsed = time.perf_counter() - t0
    c.close()
    answer = next((l for l in bytes(buf).split(b"\r\n") if l.startswith((b"* SORT", b"* THREAD"))), b"")
    return elapsed, answer


def measure(server, user, command):
    cold, answer = timed(server, user, command)
    warm = min(timed(server, user, command)[0] for _ in range(3))
    return cold, warm, answer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--binary", default=os.path.join(TARGET, "release", "yubin"))
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       "results", "imap_sort.json"))
    args = ap.parse_args()
    binary = args.binary
    if not os.path.exists(binary):
        raise SystemExit(f"{binary} not found: run cargo build --release")
    if not shutil.which("dovecot"):
        raise SystemExit("dovecot is not installed (apt-get install dovecot-imapd)")
    msgs = generate(args.messages)
    print(f"{len(msgs)} messages, {sum(map(len, msgs)) / len(msgs) / 1024:.1f} KiB on average; "
          f"{args.rounds} rounds, servers interleaved")
    work = tempfile.mkdtemp(prefix="yubin-sort-bench-")
    users = 2 * args.rounds
    y = Yubin(work, binary, users)
    d = Dovecot(work, users)
    kinds = ("sort_cold", "sort_warm", "sort_restarted", "thread_cold", "thread_warm", "thread_restarted")
    results = {s: {k: [] for k in kinds} for s in ("yubin", "dovecot")}
    answers = {}
    try:
        for r in range(args.rounds):
            order = (y, d) if r % 2 == 0 else (d, y)
            sort_user, thread_user = 2 * r, 2 * r + 1
            for s in order:
                for u in (sort_user, thread_user):
                    populate(maildir_of(s, u), msgs, owner=None if s is y else 65534)
            for s in order:
                # The index is built at the first SELECT (not timed here; see imap_throughput.py).
                for u in (sort_user, thread_user):
                    timed(s, u, "NOOP")
                sc, sw, sa = measure(s, sort_user, SORT)
                tc, tw, ta = measure(s, thread_user, THREAD)
                s.stop()
                s.start()
                sr, sa2 = timed(s, sort_user, SORT)
                tr, ta2 = timed(s, thread_user, THREAD)
                assert sa == sa2 and ta == ta2, f"{s.name}: answers changed across the restart"
                assert sa.count(b" ") == args.messages + 1, (s.name, sa[:80])
                answers[(s.name, r)] = (sa, ta)
                for k, v in zip(kinds, (sc, sw, sr, tc, tw, tr)):
                    results[s.name][k].append(v)
                print(f"  round {r + 1} {s.name:8} SORT cold {sc * 1000:7.1f} warm {sw * 1000:6.1f} "
                      f"restarted {sr * 1000:7.1f} ms | THREAD cold {tc * 1000:7.1f} warm {tw * 1000:6.1f} "
                      f"restarted {tr * 1000:7.1f} ms")
        same_sort = all(answers[("yubin", r)][0] == answers[("dovecot", r)][0] for r in range(args.rounds))
        same_thread = all(answers[("yubin", r)][1] == answers[("dovecot", r)][1] for r in range(args.rounds))
        print()
        print(f"{'':10}" + "".join(f"{k:>22}" for k in kinds) + "   (median ms [min-max])")
        summary = {}
        for s in ("yubin", "dovecot"):
            row = {}
            for k in kinds:
                v = [x * 1000 for x in results[s][k]]
                row[k] = {"median": statistics.median(v), "min": min(v), "max": max(v), "all": v}
            summary[s] = row
            print(f"{s:10}" + "".join(f"{row[k]['median']:8.1f} [{row[k]['min']:.1f}-{row[k]['max']:.1f}]".rjust(22)
                                      for k in kinds))
        ratios = {k: summary["dovecot"][k]["median"] / summary["yubin"][k]["median"] for k in kinds}
        print(f"{'ratio':10}" + "".join(f"{ratios[k]:21.2f}x" for k in kinds)
              + "   (Dovecot time / yubin time; above 1 means yubin is faster)")
        print(f"answers identical to Dovecot's: SORT {'yes' if same_sort else 'NO'}, "
              f"THREAD {'yes' if same_thread else 'NO'}")
        if not same_thread:
            ya, da = answers[("yubin", 0)][1], answers[("dovecot", 0)][1]
            i = next((i for i in range(min(len(ya), len(da))) if ya[i] != da[i]), min(len(ya), len(da)))
            print(f"  first difference at byte {i}: yubin {ya[max(0, i - 60):i + 60]!r}\n"
                  f"                             dovecot {da[max(0, i - 60):i + 60]!r}")
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
        with open(args.results, "w") as f:
            json.dump({
                "benchmark": "benches/imap_sort.py",
                "date": datetime.date.today().isoformat(),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "messages": args.messages,
                "rounds": args.rounds,
                "commands": {"sort": SORT, "thread": THREAD},
                "ms": summary,
                "ratio_dovecot_over_yubin": ratios,
                "answers_identical": {"sort": same_sort, "thread": same_thread},
            }, f, indent=2)
            f.write("\n")
        print(f"results: {args.results}")
    finally:
        for s in (y, d):
            try:
                s.stop()
            except Exception:
                pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
