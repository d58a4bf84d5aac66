"""Twenty logged-in clients each half-way through a 12 MiB APPEND literal (LITERAL+, sent
without waiting): the daemon's memory must stay bounded by its literal budget, not grow by
20 x 12 MiB; once they finish, every message is appended.
Args: imaps cafile pid."""

import socket
import ssl
import sys
import threading
import time

from imapclient import check, context

IMAPS, CA, PID = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
USER, PASS = "bob@example.test", "bob-password"  # no quota
SIZE = 12 * 1024 * 1024
HALF = 11 * 1024 * 1024
N = 20


def rss_mib():
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no VmRSS")


def read_tagged(s, tag):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
        for line in data.split(b"\r\n"):
            if line.startswith(tag + b" "):
                return line


message_line = b"x" * 998 + b"\r\n"
header = b"Subject: big\r\n\r\n"
body = header + message_line * ((SIZE - len(header)) // len(message_line))
body += b"y" * (SIZE - len(body))
assert len(body) == SIZE

sessions = []
for i in range(N):
    raw = socket.create_connection(("127.0.0.1", IMAPS), timeout=120)
    s = context(CA).wrap_socket(raw, server_hostname="localhost")
    s.recv(4096)
    s.sendall(b"l LOGIN %s %s\r\n" % (USER.encode(), PASS.encode()))
    check(read_tagged(s, b"l").startswith(b"l OK"), "login %d" % i)
    sessions.append(s)

baseline = rss_mib()
errors = []


def first_half(s):
    try:
        s.sendall(b"a APPEND INBOX {%d+}\r\n" % SIZE)
        s.sendall(body[:HALF])
    except OSError as e:
        errors.append(e)


# Senders block while the server holds their bytes back (no room in the budget): threads.
threads = [threading.Thread(target=first_half, args=(s,), daemon=True) for s in sessions]
for t in threads:
    t.start()
time.sleep(4)
mid = rss_mib()
print("rss: %d MiB before, %d MiB with %d appends half-way" % (baseline, mid, N))
check(mid - baseline < 90, "20 half-way 12 MiB APPENDs took the RSS from %d to %d MiB" % (baseline, mid))

results = [None] * N


def second_half(i, s):
    try:
        threads[i].join()
        s.sendall(body[HALF:] + b"\r\n")
        results[i] = read_tagged(s, b"a")
    except OSError as e:
        results[i] = repr(e).encode()


finishers = [threading.Thread(target=second_half, args=(i, s)) for i, s in enumerate(sessions)]
for t in finishers:
    t.start()
for t in finishers:
    t.join(180)
check(not errors, errors)
for i, r in enumerate(results):
    check(r is not None and r.startswith(b"a OK"), "append %d: %r" % (i, r))
print("append memory: all checks passed")
