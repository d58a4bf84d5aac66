"""IDLE: a session idling on INBOX is told at once about an SMTP delivery (EXISTS), about
another session's flag change (FETCH FLAGS) and expunge (EXPUNGE). Args: smtp imaps cafile."""

import select
import smtplib
import sys
import time

from imapclient import Raw, check

SMTP, IMAPS, CA = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def deliver(subject):
    with smtplib.SMTP("127.0.0.1", SMTP) as s:
        s.sendmail("x@example.com", ["alice@example.test"], "Subject: %s\r\n\r\nbody\r\n" % subject)


def wait_for(r, want, seconds=10):
    """Reads untagged responses during IDLE until one equals `want`."""
    deadline = time.time() + seconds
    seen = []
    while time.time() < deadline:
        if not r.buf:
            ready, _, _ = select.select([r.s], [], [], max(0.0, deadline - time.time()))
            if not ready and not r.s.pending():
                break
        line = r.line()
        seen.append(line)
        if line == want:
            return seen
    check(False, "expected %r during IDLE, got %r" % (want, seen))


deliver("before")
a = Raw(IMAPS, CA, tls=True)
a.login_plain("alice@example.test", "alice-password")
u, t = a.ok("SELECT INBOX")
check(b"* 1 EXISTS" in u, u)

a.n += 1
a.send("i%d IDLE\r\n" % a.n)
check(a.line().startswith(b"+"), "no continuation")

t0 = time.time()
deliver("while idling")
seen = wait_for(a, b"* 2 EXISTS")
check(a.line() == b"* 2 RECENT", "no RECENT after EXISTS")
print("EXISTS after delivery: %.0f ms" % ((time.time() - t0) * 1000))

b = Raw(IMAPS, CA, tls=True)
b.login_plain("alice@example.test", "alice-password")
b.ok("SELECT INBOX")
b.ok("STORE 1 +FLAGS (\\Flagged)")
# The idling session (IMAP4rev1, read-write) holds both messages as \\Recent.
wait_for(a, b"* 1 FETCH (FLAGS (\\Recent \\Flagged))")
b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
b.ok("EXPUNGE")
wait_for(a, b"* 1 EXPUNGE")

a.send("DONE\r\n")
line = a.line()
check(line.startswith(b"i%d OK" % a.n), line)
u, t = a.ok("FETCH 1:* (UID)")
check(u == [b"* 1 FETCH (UID 2)"], u)
a.ok("LOGOUT")
b.ok("LOGOUT")
print("idle: all checks passed")
