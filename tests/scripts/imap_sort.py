"""SORT, THREAD and ESORT (RFC 5256, RFC 5957, RFC 5267) checked byte for byte by the
project's exact client: every sort key, REVERSE, ties, missing fields, encoded words
(ISO-2022-JP and UTF-8), a missing Date header (the INTERNALDATE counts), a References loop, a
duplicate Message-ID, subject gathering, search programs, ESEARCH answers and errors.
Args: smtp imaps cafile phase. Phase 1 delivers and checks; phase 2 (after a restart, with
message 1's file changed on disk) checks that the summaries came from the index, not the files.
"""

import smtplib
import sys
import time

from imapclient import Raw, check

SMTP, IMAPS, CA, PHASE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
USER, PASS = "alice@example.test", "alice-password"
TEST_JA = "=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?="  # テスト

# (From, To, Cc, Subject, Date, Message-ID, In-Reply-To, References); None: no such field.
MESSAGES = [
    ("=?utf-8?q?Zo=C3=AB_Zed?= <zoe@example.net>", "bob@example.org", None, "Project plan",
     "Fri, 02 Nov 2001 10:00:00 +0000", "<p1@x>", None, None),
    ("alice@example.test", "Bob <bob@example.org>", "carol@example.com", "Re: Project plan",
     "Sat, 03 Nov 2001 09:00:00 +0100", "<p2@x>", "<p1@x>", "<p1@x>"),
    ("=?utf-8?q?J=C3=B6rg?= <joerg@example.de>", "alice@example.test", None, TEST_JA,
     "Thu, 01 Nov 2001 12:00:00 +0000", "<j1@x>", None, None),
    # No Date header: the INTERNALDATE (now) is its sent date.
    ("alice@example.test", "=?utf-8?q?J=C3=B6rg?= <joerg@example.de>", None, "Re: " + TEST_JA,
     None, "<j2@x>", "<j1@x> (Jörg's message)", None),
    ("Bob <bob@example.org>", "alice@example.test", None, "[list] Fwd: Project plan (fwd)",
     "Sat, 03 Nov 2001 07:00:00 -0500", "<p3@x>", None, "<p1@x>\r\n <p2@x>"),
    # Two messages that each claim the other as parent.
    ("carol@example.com", None, None, "Loop", "Wed, 31 Oct 2001 00:00:00 +0000", "<la@x>", None,
     "<lb@x>"),
    ("carol@example.com", None, None, "Re: Loop", "Wed, 31 Oct 2001 01:00:00 +0000", "<lb@x>",
     None, "<la@x>"),
    # A second <p1@x>: it counts as no Message-ID.
    ("zoe@example.net", None, None, "Project plan", "Fri, 02 Nov 2001 11:00:00 +0000", "<p1@x>",
     None, None),
]


def deliver():
    names = ("From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References")
    with smtplib.SMTP("127.0.0.1", SMTP) as s:
        for i, fields in enumerate(MESSAGES):
            head = "".join("%s: %s\r\n" % (n, v) for n, v in zip(names, fields) if v is not None)
            s.sendmail("x@example.com", [USER], (head + "\r\nmessage %d\r\n" % (i + 1)).encode())


def session():
    r = Raw(IMAPS, CA, tls=True)
    r.ok("LOGIN %s %s" % (USER, PASS))
    return r


def tag(r):
    """The tag of the last command."""
    return b"t%d" % r.n


def expect(r, command, *lines):
    u, t = r.ok(command)
    check(u == [l.encode() for l in lines], (command, u))


def sorts(r):
    """The answers that depend only on the messages' summaries."""
    expect(r, "SORT (SUBJECT) UTF-8 ALL", "* SORT 6 7 1 2 5 8 3 4")
    expect(r, "SORT (DATE) UTF-8 ALL", "* SORT 6 7 3 1 8 2 5 4")
    expect(r, "THREAD REFERENCES UTF-8 ALL", "* THREAD (7 6)(3 4)((1 2 5)(8))")


if PHASE == "1":
    deliver()
    r = Raw(IMAPS, CA, tls=True)
    u, t = r.ok("CAPABILITY")
    check(b"IMAP4rev1" in u[0] and b" SORT " not in u[0], u)  # before login: not yet
    r.ok("LOGIN %s %s" % (USER, PASS))
    u, t = r.ok("CAPABILITY")
    for cap in (b" SORT ", b" SORT=DISPLAY ", b" THREAD=ORDEREDSUBJECT ", b" THREAD=REFERENCES ",
                b" ESORT "):
        check(cap in u[0] + b" ", (cap, u))
    # Not in the authenticated state.
    u, t = r.cmd("SORT (DATE) UTF-8 ALL")
    check(t == b"BAD No mailbox selected", t)
    r.ok("SELECT INBOX")

    # Every key; REVERSE; ties in mailbox order; a missing field sorts as empty.
    sorts(r)
    expect(r, "UID SORT (REVERSE DATE) UTF-8 ALL", "* SORT 4 5 2 8 1 3 7 6")
    expect(r, "SORT (SUBJECT REVERSE DATE) UTF-8 ALL", "* SORT 7 6 5 2 8 1 4 3")
    expect(r, "SORT (REVERSE SUBJECT) UTF-8 ALL", "* SORT 3 4 1 2 5 8 6 7")
    expect(r, "SORT (FROM) UTF-8 ALL", "* SORT 2 4 5 6 7 3 1 8")
    expect(r, "SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 2 4 5 6 7 3 8 1")
    expect(r, "SORT (TO) UTF-8 ALL", "* SORT 6 7 8 3 5 1 2 4")
    expect(r, "SORT (DISPLAYTO) UTF-8 ALL", "* SORT 6 7 8 3 5 2 1 4")
    expect(r, "SORT (CC) UTF-8 ALL", "* SORT 1 3 4 5 6 7 8 2")
    expect(r, "SORT (ARRIVAL) UTF-8 ALL", "* SORT 1 2 3 4 5 6 7 8")
    expect(r, "sort (reverse cc) us-ascii all", "* SORT 2 1 3 4 5 6 7 8")

    # A search program: only the matching messages, sorted.
    expect(r, "SORT (DATE) UTF-8 SUBJECT plan", "* SORT 1 8 2 5")
    expect(r, "SORT (DATE) UTF-8 SUBJECT nothing-has-this", "* SORT")
    expect(r, "UID SORT (REVERSE DATE) UTF-8 UID 2:6 NOT FROM carol", "* SORT 4 5 2 3")

    # ESORT: MIN and MAX are the first and last in sort order; ALL keeps the order.
    u, t = r.ok("SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL")
    check(u == [b'* ESEARCH (TAG "%s") MIN 6 MAX 4 ALL 6:7,3,1,8,2,5,4 COUNT 8' % tag(r)], u)
    u, t = r.ok("UID SORT RETURN (COUNT) (DATE) UTF-8 SUBJECT plan")
    check(u == [b'* ESEARCH (TAG "%s") UID COUNT 4' % tag(r)], u)
    u, t = r.ok("SORT RETURN () (SUBJECT) UTF-8 ALL")
    check(u == [b'* ESEARCH (TAG "%s") ALL 6:7,1:2,5,8,3:4' % tag(r)], u)
    u, t = r.ok("SORT RETURN (MIN) (DATE) UTF-8 SUBJECT nothing-has-this")
    check(u == [b'* ESEARCH (TAG "%s")' % tag(r)], u)

    # THREAD: the loop is cut (7 is the root), the reply without References follows its
    # In-Reply-To, the duplicate <p1@x> joins by subject under a dummy.
    expect(r, "THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (6 7)(3 4)(1 (8)(2)(5))")
    expect(r, "UID THREAD REFERENCES UTF-8 SUBJECT plan", "* THREAD ((1 2 5)(8))")
    expect(r, "THREAD REFERENCES UTF-8 SUBJECT nothing-has-this", "* THREAD")

    # Errors: unknown keys and algorithms are BAD, an unknown charset is NO [BADCHARSET].
    for bad in ("SORT (BOGUS) UTF-8 ALL", "SORT () UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL",
                "SORT DATE UTF-8 ALL", "THREAD REFS UTF-8 ALL", "THREAD REFERENCES UTF-8",
                "UID SORT (DATE) UTF-8 BOGUS"):
        u, t = r.cmd(bad)
        check(t.startswith(b"BAD "), (bad, t))
    u, t = r.cmd("SORT (DATE) KOI8-R ALL")
    check(t.startswith(b"NO [BADCHARSET"), t)
    u, t = r.cmd("THREAD REFERENCES KOI8-R ALL")
    check(t.startswith(b"NO [BADCHARSET"), t)

    # Expunge a message: the others renumber, and the thread follows (2 is gone: 5 hangs
    # from 1 through the missing <p2@x>).
    r.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    u, t = r.ok("EXPUNGE")
    check(u == [b"* 2 EXPUNGE"], u)
    expect(r, "THREAD REFERENCES UTF-8 ALL", "* THREAD (6 5)(2 3)((1 4)(7))")
    expect(r, "UID SORT (DATE) UTF-8 ALL", "* SORT 6 7 3 1 8 5 4")
    # Let the summaries reach the database before the restart.
    time.sleep(1)
    r.ok("LOGOUT")
    print("sort phase 1: all checks passed")
else:
    r = session()
    r.ok("SELECT INBOX")
    # Message 1's file now says "Subject: AAAA project"; FETCH reads the file...
    u, t = r.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    check(b"Subject: AAAA project" in u[0], u)
    # ... SORT and THREAD use the summary stored when the message was first sorted.
    expect(r, "SORT (SUBJECT) UTF-8 ALL", "* SORT 5 6 1 4 7 2 3")
    expect(r, "THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (5 6)(2 3)(1 (7)(4))")
    r.ok("LOGOUT")
    print("sort phase 2: all checks passed")
