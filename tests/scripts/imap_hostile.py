"""Hostile IMAP input (issue 10, cases 1, 2, 3, 5 and 6): every command gets a clear answer,
the session (and the server) keeps serving, and nothing takes long.
Args: imap_port imaps_port cafile."""

import socket
import sys
import threading
import time

from imapclient import Raw, check

IMAP, IMAPS, CA = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def alive(r, what):
    u, t = r.cmd("NOOP")
    check(t.startswith(b"OK"), "%s: session gone: %r" % (what, t))


def deep_searches():
    """Case 1: deeply nested search keys (5,000 parentheses, 15,000 NOT, 8,000 OR)."""
    return [
        "SEARCH " + "(" * 5000 + "ALL" + ")" * 5000,
        "SEARCH " + "NOT " * 15000 + "ALL",
        "SEARCH " + "OR " * 8000 + "ALL " * 8000 + "ALL",
        "UID SEARCH " + "(" * 5000 + "ALL" + ")" * 5000,
        "UID SEARCH " + "NOT " * 15000 + "ALL",
    ]


# Case 1, before login, on the plain port: the state is checked before the arguments are read.
r = Raw(IMAP, CA)
for cmd in deep_searches():
    u, t = r.cmd(cmd)
    check(t.startswith(b"BAD"), "pre-auth %s... -> %r" % (cmd[:20], t))
# Short enough to fit a pre-auth line: still refused by state, not parsed.
u, t = r.cmd("SEARCH " + "(" * 3000 + "ALL" + ")" * 3000)
check(t.startswith(b"BAD") and b"Log in first" in t, t)
alive(r, "pre-auth deep SEARCH")
r.close()

# Case 6: a pre-auth literal of 24 MiB is refused at once and the connection closed.
r = Raw(IMAP, CA)
r.send(b"a LOGIN {25166824+}\r\n")
start = time.time()
try:
    line = r.line()
    check(line.startswith(b"a BAD") or line.startswith(b"* BYE"), line)
    while True:
        line = r.line()
except (EOFError, ConnectionResetError, BrokenPipeError):
    pass
check(time.time() - start < 5, "the server did not close the connection at once")
r.close()
r = Raw(IMAP, CA)
u, t = r.cmd(b"LOGIN {9000}")
check(t.startswith(b"NO [TOOBIG]") or t.startswith(b"BAD"), t)
alive(r, "pre-auth literal")
r.close()

# After login (over TLS).
r = Raw(IMAPS, CA, tls=True)
r.ok("LOGIN alice@example.test alice-password")
r.ok("SELECT INBOX")
for cmd in deep_searches():
    u, t = r.cmd(cmd)
    check(t.startswith(b"BAD") and b"nested" in t, "%s... -> %r" % (cmd[:20], t))
alive(r, "deep SEARCH")
u, t = r.cmd("SEARCH " + "(" * 60 + "ALL" + ")" * 60)
check(t.startswith(b"OK"), "60 levels are fine: %r" % t)

# Case 2: huge wildcard patterns and a pattern that is not valid UTF-8 once decoded.
for pattern in ["*" * 60000, "%" * 60000]:
    u, t = r.cmd('LIST "" ' + pattern)
    check(t.startswith(b"OK"), "LIST %s... -> %r" % (pattern[:5], t))
u, t = r.cmd(b'LIST "" {1048576}\r\n' + b"*" * 1048576)
check(t.startswith(b"OK"), "LIST with a 1 MB literal pattern -> %r" % t)
u, t = r.cmd('LIST "" "abcd&AOk-"')
check(t.startswith(b"OK"), t)
u, t = r.cmd('LIST "" "INBOX&AOk-*"')
check(t.startswith(b"OK"), t)
alive(r, "LIST patterns")

# Case 3: exponential matching against a long folder name, while other clients connect.
r.ok("CREATE " + "a" * 200)
handshakes = []


def handshake():
    start = time.time()
    try:
        c = Raw(IMAPS, CA, tls=True)
        c.close()
        handshakes.append(time.time() - start)
    except Exception as e:  # noqa: BLE001 (the test reports any failure)
        handshakes.append("failed: %r" % e)


threads = [threading.Thread(target=handshake) for _ in range(5)]
start = time.time()
for t in threads:
    t.start()
u, t = r.cmd('LIST "" "*a*a*a*a*a*ab"')
elapsed = time.time() - start
for th in threads:
    th.join()
check(t.startswith(b"OK") and not u, (t, u))
check(elapsed < 5, "LIST *a*a*a*a*a*ab took %.1f s" % elapsed)
check(all(isinstance(h, float) and h < 5 for h in handshakes), handshakes)
u, t = r.cmd('LIST "" "' + "*a" * 120 + 'b"')
check(t.startswith(b"OK"), t)

# Case 5: names that are legal but do not fit on disk get NO [LIMIT], not [SERVERBUG].
u, t = r.cmd("CREATE " + "b" * 255)
check(t.startswith(b"NO [LIMIT]"), t)
r.ok("ENABLE UTF8=ACCEPT")
u, t = r.cmd('CREATE "' + "\u00e9" * 127 + '"')
check(t.startswith(b"NO [LIMIT]"), t)
r.ok('CREATE "' + "\u00e9" * 40 + '"')
u, t = r.cmd('RENAME "' + "a" * 200 + '" "' + "\u00e9" * 100 + '"')
check(t.startswith(b"NO [LIMIT]"), t)
alive(r, "long names")
r.ok("LOGOUT")
r.close()

# The server still accepts new sessions.
r = Raw(IMAP, CA)
check(r.greeting.startswith(b"* OK"), r.greeting)
r.close()
s = socket.create_connection(("127.0.0.1", IMAP), timeout=5)
s.close()
print("hostile IMAP: all checks passed")
