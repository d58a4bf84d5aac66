"""NOTIFY (RFC 5465): a session hears of changes it asked for without polling: STATUS for
other mailboxes, EXISTS and FETCH for the selected one, LIST for created and subscribed
folders; while waiting for a command and during IDLE; nothing after NOTIFY NONE.
Args: smtp imaps cafile."""

import select
import smtplib
import sys
import time

from imapclient import Raw, check

SMTP, IMAPS, CA = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
USER, PASS = "alice@example.test", "alice-password"
MSG = b"From: x@example.com\r\nSubject: hi\r\n\r\nbody\r\n"


def deliver(subject):
    with smtplib.SMTP("127.0.0.1", SMTP) as s:
        s.sendmail("x@example.com", [USER], "Subject: %s\r\n\r\nbody\r\n" % subject)


def session():
    r = Raw(IMAPS, CA, tls=True)
    r.ok("LOGIN %s %s" % (USER, PASS))
    return r


def unsolicited(r, want, seconds=5):
    """Reads untagged lines without sending anything until `want` (a prefix) shows up."""
    deadline = time.time() + seconds
    seen = []
    while time.time() < deadline:
        if not r.buf:
            ready, _, _ = select.select([r.s], [], [], max(0.0, deadline - time.time()))
            if not ready and not r.s.pending():
                break
        line = r.line()
        seen.append(line)
        if line.startswith(want):
            return seen
    check(False, "expected %r without asking, got %r" % (want, seen))


def quiet(r, seconds=1.0):
    ready, _, _ = select.select([r.s], [], [], seconds)
    check(not ready and not r.s.pending() and not r.buf, "unexpected: %r" % r.buf)


a, b = session(), session()
a.ok("CREATE Other")
a.ok("SELECT INBOX")

# Bad event sets are refused.
u, t = a.cmd("NOTIFY SET (SELECTED (MessageNew))")
check(t.startswith(b"BAD"), t)
u, t = a.cmd("NOTIFY SET (PERSONAL (AnnotationChange))")
check(t.startswith(b"NO [BADEVENT"), t)

u, t = a.ok(
    "NOTIFY SET STATUS (SELECTED (MessageNew (UID FLAGS) MessageExpunge)) "
    "(MAILBOXES Other (MessageNew MessageExpunge FlagChange)) (PERSONAL (MailboxName SubscriptionChange))"
)
check(len(u) == 1 and u[0].startswith(b"* STATUS Other (MESSAGES 0 UIDNEXT 1 UIDVALIDITY "), u)

# Another session appends to Other: STATUS arrives unasked.
b.ok(b"APPEND Other {%d+}\r\n" % len(MSG) + MSG)
seen = unsolicited(a, b"* STATUS Other (MESSAGES 1 UIDNEXT 2 ")
check(b" HIGHESTMODSEQ " in seen[-1], seen)

# A delivery to the selected INBOX: EXISTS, then the FETCH items asked for.
deliver("hello")
unsolicited(a, b"* 1 EXISTS")
seen = unsolicited(a, b"* 1 FETCH (UID 1 FLAGS (")

# Folder list changes.
b.ok("CREATE NewBox")
unsolicited(a, b'* LIST () "." NewBox')
b.ok("SUBSCRIBE NewBox")
unsolicited(a, b'* LIST (\\Subscribed) "." NewBox')

# During IDLE too.
a.n += 1
a.send("i%d IDLE\r\n" % a.n)
check(a.line().startswith(b"+"), "no continuation")
b.ok(b"APPEND Other {%d+}\r\n" % len(MSG) + MSG)
unsolicited(a, b"* STATUS Other (MESSAGES 2 ")
a.send("DONE\r\n")
line = a.line()
check(line.startswith(b"i%d OK" % a.n), line)

# NOTIFY NONE: silence.
a.ok("NOTIFY NONE")
b.ok(b"APPEND Other {%d+}\r\n" % len(MSG) + MSG)
quiet(a)

a.ok("LOGOUT")
b.ok("LOGOUT")
print("notify: all checks passed")
