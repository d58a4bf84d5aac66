"""QRESYNC (RFC 7162 section 3.2): a client that was away resynchronises in one SELECT: what
vanished since its MODSEQ, which flags changed; while selected it gets VANISHED instead of
EXPUNGE; UID FETCH (CHANGEDSINCE n VANISHED) catches up; [CLOSED] on reselect.
Args: smtp imaps cafile."""

import re
import smtplib
import sys

from imapclient import Raw, check

SMTP, IMAPS, CA = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
USER, PASS = "alice@example.test", "alice-password"


def deliver(subject):
    with smtplib.SMTP("127.0.0.1", SMTP) as s:
        s.sendmail("x@example.com", [USER], "Subject: %s\r\n\r\nbody\r\n" % subject)


def session(qresync=True):
    r = Raw(IMAPS, CA, tls=True)
    r.ok("LOGIN %s %s" % (USER, PASS))
    if qresync:
        u, t = r.ok("ENABLE QRESYNC")
        check(u == [b"* ENABLED QRESYNC"], u)
    return r


def code(lines, name):
    for l in lines:
        m = re.search(rb"\[" + name + rb" (\d+)\]", l)
        if m:
            return int(m.group(1))
    check(False, "no %s in %r" % (name, lines))


for i in range(5):
    deliver("m%d" % (i + 1))

# The client's last view: UIDs 1..5 at some MODSEQ.
a = session()
u, t = a.ok("SELECT INBOX")
uidvalidity, ms0 = code(u, b"UIDVALIDITY"), code(u, b"HIGHESTMODSEQ")
a.ok("LOGOUT")

# Meanwhile: flags change on 2 and 4, 3 is expunged, a new message arrives.
b = session(qresync=False)
b.ok("SELECT INBOX")
b.ok("STORE 2 +FLAGS (\\Seen)")
b.ok("STORE 4 +FLAGS (\\Flagged)")
b.ok("STORE 3 +FLAGS (\\Deleted)")
b.ok("EXPUNGE")
deliver("m6")

# Resync in one SELECT, knowing UIDs 1:5.
a = session()
u, t = a.ok("SELECT INBOX (QRESYNC (%d %d 1:5))" % (uidvalidity, ms0))
check(b"* 5 EXISTS" in u, u)
check(b"* VANISHED (EARLIER) 3" in u, u)
fetches = sorted(l for l in u if b" FETCH " in l)
check(len(fetches) == 2, u)
check(re.match(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)", fetches[0]), fetches)
check(re.match(rb"\* 3 FETCH \(UID 4 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)", fetches[1]), fetches)
ms1 = code(u, b"HIGHESTMODSEQ")

# Without known UIDs the new message counts as changed too.
c = session()
u, t = c.ok("EXAMINE INBOX (QRESYNC (%d %d))" % (uidvalidity, ms0))
check(any(re.match(rb"\* 5 FETCH \(UID 6 FLAGS \(\) MODSEQ", l) for l in u), u)
# A wrong UIDVALIDITY: a plain SELECT, nothing to resync.
u, t = c.ok("EXAMINE INBOX (QRESYNC (%d %d))" % (uidvalidity + 1, ms0))
check(u[0] == b"* OK [CLOSED] Previous mailbox closed", u)
check(not any(b"VANISHED" in l or b"FETCH" in l for l in u), u)
c.ok("LOGOUT")

# While selected, an expunge elsewhere arrives as VANISHED, not EXPUNGE.
b.ok("STORE 1 +FLAGS (\\Deleted)")
b.ok("EXPUNGE")
u, t = a.ok("NOOP")
check(u == [b"* VANISHED 1"], u)

# UID FETCH (CHANGEDSINCE n VANISHED): everything since the first view, by UID.
u, t = a.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % ms0)
check(u[0] == b"* VANISHED (EARLIER) 1,3", u)
check(len(u) == 4, u)

# QRESYNC parameters and VANISHED need ENABLE QRESYNC first.
d = session(qresync=False)
u, t = d.cmd("SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, ms0))
check(t.startswith(b"BAD"), t)
d.ok("SELECT INBOX")
u, t = d.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
check(t.startswith(b"BAD"), t)
d.ok("LOGOUT")

a.ok("LOGOUT")
b.ok("LOGOUT")
print("qresync: all checks passed")
