"""IMAP behaviours imaptest found wrong, checked by the project's own exact client (issue 11):
\\Recent for IMAP4rev1 sessions, keywords announced in FLAGS before use, CONDSTORE enabled by
FETCH MODSEQ, ESEARCH MODSEQ of MIN/MAX, 4294967295 as a number, `~` as an atom character,
LSUB parents and subscriptions that outlive DELETE, RECURSIVEMATCH and CHILDINFO.
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


def session():
    r = Raw(IMAPS, CA, tls=True)
    r.ok("LOGIN %s %s" % (USER, PASS))
    return r


for i in range(3):
    deliver("m%d" % i)

# \Recent (RFC 3501 section 2.3.2): EXAMINE looks, STATUS counts, the first read-write SELECT
# takes them, a second session sees none.
a = session()
u, t = a.ok("EXAMINE INBOX")
check(b"* 3 RECENT" in u, u)
u, t = a.ok("STATUS INBOX (RECENT MESSAGES)")
check(u == [b"* STATUS INBOX (RECENT 3 MESSAGES 3)"], u)
u, t = a.ok("SELECT INBOX")
check(b"* 3 RECENT" in u, u)
u, t = a.ok("FETCH 1 FLAGS")
check(u == [b"* 1 FETCH (FLAGS (\\Recent))"], u)
u, t = a.ok("SEARCH RECENT")
check(u == [b"* SEARCH 1 2 3"], u)
u, t = a.ok("SEARCH NEW")
check(u == [b"* SEARCH 1 2 3"], u)
b = session()
u, t = b.ok("SELECT INBOX")
check(b"* 0 RECENT" in u, u)
u, t = b.ok("SEARCH OLD")
check(u == [b"* SEARCH 1 2 3"], u)
u, t = b.ok("STATUS INBOX (RECENT)")
check(u == [b"* STATUS INBOX (RECENT 0)"], u)
# A delivery while both are selected: the first to look takes it.
deliver("m3")
u, t = a.ok("NOOP")
check(u == [b"* 4 EXISTS", b"* 4 RECENT"], u)
u, t = b.ok("NOOP")
check(u == [b"* 4 EXISTS", b"* 0 RECENT"], u)
# An IMAP4rev2 session has no \Recent at all.
c = session()
c.ok("ENABLE IMAP4rev2")
u, t = c.ok("SELECT INBOX")
check(not any(b"RECENT" in l for l in u), u)
c.ok("LOGOUT")

# Keywords: b sets one a has never heard of; a learns it from FLAGS before a FETCH shows it.
u, t = b.ok("STORE 2 +FLAGS ($Project)")
check(u[0] == b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Project)", u)
check(u[1].startswith(b"* OK [PERMANENTFLAGS (") and b"$Project \\*)]" in u[1], u)
check(u[2] == b"* 2 FETCH (FLAGS ($Project))", u)
u, t = a.ok("NOOP")
check(u[0] == b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Project)", u)
check(u[2] == b"* 2 FETCH (FLAGS (\\Recent $Project))", u)

# CONDSTORE is enabled by a command that uses it (RFC 7162 section 3.1).
u, t = b.ok("FETCH 1 MODSEQ")
check(re.match(rb"\* OK \[HIGHESTMODSEQ \d+\]", u[0]), u)
check(re.match(rb"\* 1 FETCH \(MODSEQ \(\d+\)\)", u[1]), u)
u, t = b.ok("STORE 1 +FLAGS (\\Seen)")
check(re.match(rb"\* 1 FETCH \(FLAGS \(\\Seen\) MODSEQ \(\d+\)\)", u[0]), u)
ms1 = int(re.search(rb"MODSEQ \((\d+)\)", u[0]).group(1))
u, t = b.ok("STORE 3 +FLAGS (\\Seen)")
ms3 = int(re.search(rb"MODSEQ \((\d+)\)", u[0]).group(1))
# ESEARCH: MIN and MAX alone report the MODSEQ of the message they return.
u, t = b.ok('SEARCH RETURN (MIN) 1:3 MODSEQ "/flags/\\\\seen" all 1')
check(u[0].endswith(b"MIN 1 MODSEQ %d" % ms1), u)
u, t = b.ok('SEARCH RETURN (MAX) 1:3 MODSEQ "/flags/\\\\seen" all 1')
check(u[0].endswith(b"MAX 3 MODSEQ %d" % ms3), u)

# 4294967295 is a number, not `*`.
u, t = b.ok("UID SEARCH UID 1:4294967295")
check(u == [b"* SEARCH 1 2 3 4"], u)
u, t = b.ok("UID SEARCH UID 4294967295")
check(u == [b"* SEARCH"], u)
u, t = b.ok("UID SEARCH UID 5:4294967295")
check(u == [b"* SEARCH"], u)
u, t = b.ok("UID SEARCH UID 5:*")
check(u == [b"* SEARCH 4"], u)

# `~` is an atom character.
u, t = b.ok('LIST "" ~foo')
check(u == [], u)

# Subscriptions are names: LSUB shows an unsubscribed parent \Noselect, a subscription
# outlives DELETE, RECURSIVEMATCH needs another selection option, CHILDINFO.
for name in ("t", "t.a", "t.b.x", "t.gone"):
    b.ok("CREATE " + name)
b.ok("SUBSCRIBE t.a")
b.ok("SUBSCRIBE t.b.x")
b.ok("SUBSCRIBE t.gone")
b.ok("DELETE t.gone")
u, t = b.ok('LSUB "" t.%')
check(u == [b'* LSUB () "." t.a', b'* LSUB (\\Noselect) "." t.b', b'* LSUB (\\Noselect) "." t.gone'], u)
u, t = b.ok('LIST (SUBSCRIBED) "" t.*')
check(b'* LIST (\\NonExistent \\Subscribed) "." t.gone' in u, u)
u, t = b.cmd('LIST (RECURSIVEMATCH) "" %')
check(t.startswith(b"BAD"), t)
u, t = b.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" t.%')
check(b'* LIST (\\HasChildren) "." t.b (CHILDINFO ("SUBSCRIBED"))' in u, u)
u, t = b.ok('LIST "" t.% RETURN (SUBSCRIBED)')
check(u == [b'* LIST (\\HasNoChildren \\Subscribed) "." t.a', b'* LIST (\\HasChildren) "." t.b'], u)

# MULTIAPPEND (RFC 3502): several messages, one APPENDUID set; all or nothing.
b.ok("CREATE Multi")
m1, m2 = b"Subject: one\r\n\r\nfirst\r\n", b"Subject: two\r\n\r\nsecond\r\n"
u, t = b.ok(b"APPEND Multi {%d+}\r\n%s (\\Seen) {%d+}\r\n%s" % (len(m1), m1, len(m2), m2))
check(re.match(rb"OK \[APPENDUID \d+ 1:2\]", t), t)
u, t = b.cmd(b'APPEND Multi {%d+}\r\n%s CATENATE (URL "/Multi/;UID=99")' % (len(m1), m1))
check(t.startswith(b"NO [BADURL /Multi/;UID=99]"), t)
u, t = b.ok("STATUS Multi (MESSAGES)")
check(u == [b"* STATUS Multi (MESSAGES 2)"], u)
u, t = b.cmd(b'APPEND Nowhere CATENATE (URL "/Multi/;UID=99")')
check(t.startswith(b"NO [TRYCREATE]"), t)
# CATENATE (RFC 4469): a header from one message, a body of our own, a part of another.
u, t = b.ok(b'APPEND Multi CATENATE (URL "/Multi/;UID=1/;SECTION=HEADER" TEXT {6+}\r\nmine\r\n URL "/Multi/;UID=2/;SECTION=TEXT")')
check(re.match(rb"OK \[APPENDUID \d+ 3\]", t), t)
b.ok("SELECT Multi")
u, t = b.ok("FETCH 3 BODY.PEEK[]")
check(u[0].endswith(b"\r\nSubject: one\r\n\r\nmine\r\nsecond\r\n)"), u)
u, t = b.ok(b'APPEND Multi CATENATE (URL ";UID=2/;PARTIAL=0.7")')
b.ok("NOOP")
u, t = b.ok("FETCH 4 BODY.PEEK[]")
check(u[0].endswith(b"{7}\r\nSubject)"), u)

a.ok("LOGOUT")
b.ok("LOGOUT")
print("conformance: all checks passed")
