"""CONTEXT=SEARCH (RFC 5267): PARTIAL windows of SEARCH and SORT results, and searches kept up
to date (RETURN (UPDATE)) across deliveries, other sessions' flag changes and expunges, with
REMOVEFROM sent before the EXPUNGE responses, CANCELUPDATE, the NOUPDATE limit, contexts that
end with the folder, and RETURN (SAVE) refused (SEARCHRES is not offered).
Args: smtp imaps cafile."""

import smtplib
import sys

from imapclient import Raw, check, find

SMTP, IMAPS, CA = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
USER, PASS = "alice@example.test", "alice-password"


def deliver(subject, body="body"):
    with smtplib.SMTP("127.0.0.1", SMTP) as s:
        s.sendmail("x@example.com", [USER], "Subject: %s\r\n\r\n%s\r\n" % (subject, body))


def session():
    r = Raw(IMAPS, CA, tls=True)
    r.ok("LOGIN %s %s" % (USER, PASS))
    return r


for i in range(5):
    deliver("alpha %d" % (i + 1), "needle" if i % 2 == 0 else "hay")

a = session()
u, _ = a.ok("CAPABILITY")
check(b" CONTEXT=SEARCH" in u[0], u)
a.ok("SELECT INBOX")
tag = lambda: '"t%d"' % a.n  # the tag of the command just run

# PARTIAL: positions in the result, either order, NIL past the end.
u, _ = a.ok("SEARCH RETURN (PARTIAL 2:4) ALL")
check(u == [b'* ESEARCH (TAG %s) PARTIAL (2:4 2:4)' % tag().encode()], u)
u, _ = a.ok("SEARCH RETURN (PARTIAL 4:2) ALL")
check(u == [b'* ESEARCH (TAG %s) PARTIAL (2:4 2:4)' % tag().encode()], u)
u, _ = a.ok("SEARCH RETURN (PARTIAL 2:3 COUNT) BODY needle")
check(u == [b'* ESEARCH (TAG %s) COUNT 3 PARTIAL (2:3 3,5)' % tag().encode()], u)
u, _ = a.ok("UID SEARCH RETURN (PARTIAL 6:9) ALL")
check(u == [b'* ESEARCH (TAG %s) UID PARTIAL (6:9 NIL)' % tag().encode()], u)
# SORT keeps its order inside the window.
u, _ = a.ok("SORT RETURN (PARTIAL 1:3) (REVERSE SUBJECT) UTF-8 ALL")
check(u == [b'* ESEARCH (TAG %s) PARTIAL (1:3 5,4,3)' % tag().encode()], u)
for bad in ["PARTIAL 1", "PARTIAL 1:*", "PARTIAL 0:2", "SAVE"]:
    _, t = a.cmd("SEARCH RETURN (%s) ALL" % bad)
    check(t.startswith(b"BAD"), (bad, t))

# UPDATE alone answers nothing now; a content key and a flag key are kept up to date.
u, _ = a.ok("SEARCH RETURN (UPDATE) BODY needle UNSEEN")
needle = tag().encode()
check(u == [b"* ESEARCH (TAG %s)" % needle], u)
u, _ = a.ok("UID SEARCH RETURN (UPDATE ALL) FLAGGED")
flagged = tag().encode()
check(u == [b"* ESEARCH (TAG %s) UID" % flagged], u)

# A delivery: EXISTS, then ADDTO for the search whose body matches.
deliver("alpha 6", "needle")
u, _ = a.ok("NOOP")
check(b"* 6 EXISTS" in u, u)
check(b"* ESEARCH (TAG %s) ADDTO (0 6)" % needle in u, u)
check(not any(flagged in l for l in u), u)

# Another session changes flags: the contexts follow.
b = session()
b.ok("SELECT INBOX")
b.ok("STORE 1,3 +FLAGS (\\Seen \\Flagged)")
u, _ = a.ok("NOOP")
check(b"* ESEARCH (TAG %s) REMOVEFROM (0 1,3)" % needle in u, u)
uid = {}
fu, _ = a.ok("FETCH 1:6 (UID)")
for l in fu:
    seq, rest = l.split(b" ", 2)[1], l.split(b"(UID ")[1]
    uid[int(seq)] = int(rest.rstrip(b")"))
check(b"* ESEARCH (TAG %s) UID ADDTO (0 %d,%d)" % (flagged, uid[1], uid[3]) in u, u)

# Our own STORE reports before its tagged OK.
u, _ = a.ok("STORE 5 +FLAGS (\\Seen)")
check(b"* ESEARCH (TAG %s) REMOVEFROM (0 5)" % needle in u, u)

# An expunge elsewhere: REMOVEFROM with the numbers the client still knows, before EXPUNGE.
b.ok("STORE 1 +FLAGS (\\Deleted)")
b.ok("EXPUNGE")
u, _ = a.ok("NOOP")
removal = b"* ESEARCH (TAG %s) UID REMOVEFROM (0 %d)" % (flagged, uid[1])
check(removal in u and b"* 1 EXPUNGE" in u, u)
check(u.index(removal) < u.index(b"* 1 EXPUNGE"), u)

# CANCELUPDATE: unknown tags are refused, known ones stop.
_, t = a.cmd('CANCELUPDATE "nosuchtag"')
check(t.startswith(b"NO"), t)
a.ok("CANCELUPDATE %s" % flagged.decode())
b.ok("STORE 1 +FLAGS (\\Flagged)")
u, _ = a.ok("NOOP")
check(not any(flagged in l for l in u), u)

# At most 16 contexts; the 17th search still answers, with NOUPDATE.
tags = []
for i in range(15):
    a.ok("SEARCH RETURN (UPDATE) SUBJECT alpha")
    tags.append(tag())
u, t = a.ok("SEARCH RETURN (UPDATE COUNT) SUBJECT alpha")
check(t.startswith(b"OK [NOUPDATE %s]" % tag().encode()), t)
check(u == [b"* ESEARCH (TAG %s) COUNT 5" % tag().encode()], u)

# Contexts end with the folder.
a.ok("SELECT INBOX")
deliver("alpha 7", "needle")
u, _ = a.ok("NOOP")
check(b"* 6 EXISTS" in u, u)
check(not find(u, "ESEARCH"), u)
_, t = a.cmd("CANCELUPDATE %s" % needle.decode())
check(t.startswith(b"NO"), t)

a.ok("LOGOUT")
b.ok("LOGOUT")
print("context: all checks passed")
