"""Compares yubin's SORT and THREAD answers with Dovecot's on the same messages, exactly: every
sort key alone and reversed, programs of several keys, search programs, THREAD ORDEREDSUBJECT
and REFERENCES, before and after an EXPUNGE. Both servers get the same bytes and INTERNALDATEs
by APPEND. The corpus is generated (fixed seed): threads with References and In-Reply-To,
missing parents, loops, duplicate and self-referencing Message-IDs, Re:/Fwd:/[list] subjects,
encoded words (UTF-8, ISO-2022-JP), groups, comments, bare local parts, missing and unreadable
Date headers. Left out on purpose, where the two differ: accented names (yubin compares with
i;ascii-casemap as RFC 5256 says, Dovecot with i;unicode-casemap) and addresses without a
mailbox (`From: Foo Bar`, `From: <>`), which yubin sorts as empty (RFC 5256: a missing field is
empty) and Dovecot as its ENVELOPE placeholder MISSING_MAILBOX.
Args: yubin_imaps cafile dovecot_imap."""

import base64
import random
import sys

from imapclient import Raw, check

YUBIN, CA, DOVECOT = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])


def jp(text):
    return "=?ISO-2022-JP?B?%s?=" % base64.b64encode(text.encode("iso2022_jp")).decode()


SUBJECTS = ["a", "C", "b", "_", "[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b (a)", "Re: [FWD: c]",
            "[xyz]", "=?iso-8859-1?q?_?=", "Re: =?utf-8?q?b?=", "=?iso-8859-1?q?RE:_C?=",
            "=?us-ascii?b?UmU6IGM=?=", "Ad: Re: Ad: Re: Ad: x", "re: [fwd: [fwd: re: [fwd: babylon]]]",
            "Project plan", "Re: Project plan", "RE: project PLAN", "Fwd: Project plan", "[team] Re: Project plan",
            jp("会議の議事録"), "Re: " + jp("会議の議事録"), jp("Re: 見積書の送付"), jp("見積書の送付"),
            "Budget\r\n  review", "Re:Budget review", "Re: Re: Budget review", "  spaces   inside  ", ""]
FROMS = ["foo bar <a@b.c>", "b@c.d", "d", "=?iso-8859-1?q?foo_aar?= <e@f.g>", "=?utf-8?q?Foo_Car?= <f@g.h>",
         "a: xx@xx.org, yy@yy.org;", "undisclosed-recipients:;", "user2@domain2.org (Comment Name)",
         '"Smith, John" <john@example.com>', "<bare@example.com>", "%s <yamada@example.jp>" % jp("山田太郎"),
         "ALICE@example.com", "alice@Example.COM", "Bob <bob@example.org>, carol@example.com",
         '"" <q@example.com>', "<@route:r@example.com>", "=?utf-8?q?=E5=B1=B1=E7=94=B0?= <y@x>",
         "a@b.c (Comment), other@x", '"quoted local"@example.com', None]
DATES = ["Fri, 22 Feb 2008 00:00:00 +0200", "Fri, 22 Feb 2008 02:00:00 +0200", "Thu, 21 Feb 2008 23:30:00 -0500",
         "Sat, 23 Feb 2008 12:00:00 +0000", "Sat, 23 Feb 2008 12:00:00 GMT", "23 Feb 2008 12:00:01 +0000",
         "Sun, 24 Feb 2008 09:15:00 +0530", "garbage", None, None, "Fri, 22 Feb 2008 01:00 +0000",
         "22 Feb 2008 01:10 GMT", "Fri, 22 Feb 08 01:20:00 EST", "Fri, 22 Feb 2008 01:30:00"]


def corpus(seed=11, count=240):
    rnd = random.Random(seed)
    msgs = []
    ids = []
    for i in range(count):
        head = []
        mid = None
        r = rnd.random()
        if r < 0.85:
            mid = "<m%d@x>" % i
        elif r < 0.92 and ids:
            mid = rnd.choice(ids)  # a duplicate
        if mid:
            head.append("Message-ID: " + mid)
        r = rnd.random()
        if ids and r < 0.45:
            parent = rnd.choice(ids[-30:])
            chain = [rnd.choice(ids) for _ in range(rnd.randint(0, 3))] + [parent]
            head.append("References: " + " ".join(chain))
        elif ids and r < 0.6:
            head.append("In-Reply-To: %s (from someone)" % rnd.choice(ids[-30:]))
        elif r < 0.65:
            head.append("References: <missing%d@x>" % rnd.randint(0, 5))
        elif r < 0.67 and mid:
            head.append("References: " + mid)  # itself
        elif r < 0.7:
            # A forward reference: to a message that comes later.
            head.append("References: <m%d@x>" % (i + rnd.randint(1, 5)))
        s = rnd.choice(SUBJECTS)
        if s or rnd.random() < 0.5:
            head.append("Subject: " + s)
        if rnd.random() < 0.05:
            head.append("Subject: " + rnd.choice(SUBJECTS))  # a second one
        if rnd.random() < 0.05:
            head.append("From: " + rnd.choice(FROMS[:-1]))  # a second one
        f = rnd.choice(FROMS)
        if f is not None:
            head.append("From: " + f)
        head.append("To: " + rnd.choice(FROMS[:-1]))
        if rnd.random() < 0.4:
            head.append("Cc: " + rnd.choice(FROMS[:-1]))
        dt = rnd.choice(DATES)
        if dt is not None:
            head.append("Date: " + dt)
        rnd.shuffle(head)
        body = "x" * rnd.randint(0, 400)
        raw = ("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode()
        internal = "%02d-Feb-2008 %02d:%02d:00 +0000" % (20 + rnd.randint(0, 5), rnd.randint(0, 23), rnd.choice((0, 0, 30)))
        msgs.append((raw, internal))
        if mid:
            ids.append(mid)
    return msgs


KEYS = ["ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"]
PROGRAMS = ([k for k in KEYS] + ["REVERSE " + k for k in KEYS] +
            ["SUBJECT DATE", "SUBJECT REVERSE DATE", "FROM REVERSE SIZE", "DISPLAYFROM ARRIVAL",
             "TO CC DATE", "REVERSE SUBJECT REVERSE ARRIVAL", "CC REVERSE DISPLAYTO SIZE", "DATE DATE"])
SEARCHES = ["ALL", "SUBJECT plan", "NOT FROM example", "1:100", "UNSEEN"]


def collect(r):
    out = {}
    for program in PROGRAMS:
        for search in SEARCHES:
            for uid in ("", "UID "):
                u, t = r.ok("%sSORT (%s) UTF-8 %s" % (uid, program, search))
                out[(uid, program, search)] = [l for l in u if l.startswith(b"* SORT")]
    for alg in ("ORDEREDSUBJECT", "REFERENCES"):
        for search in SEARCHES:
            for uid in ("", "UID "):
                u, t = r.ok("%sTHREAD %s UTF-8 %s" % (uid, alg, search))
                # Dovecot writes "* THREAD " for no threads.
                out[(uid, alg, search)] = [l.rstrip() for l in u if l.startswith(b"* THREAD")]
    u, t = r.ok("SORT RETURN (MIN MAX COUNT ALL) (SUBJECT DATE) UTF-8 ALL")
    out["esort"] = [l.split(b")", 1)[1] for l in u if l.startswith(b"* ESEARCH")]
    return out


def run(r, msgs):
    r.ok("CREATE SortCmp")
    for raw, internal in msgs:
        r.ok(b'APPEND SortCmp "%s" {%d+}\r\n' % (internal.encode(), len(raw)) + raw)
    r.ok("SELECT SortCmp")
    r.ok("STORE 1:60 +FLAGS.SILENT (\\Seen)")
    before = collect(r)
    # Expunge every seventh message and a run at the start: numbers and threads change.
    gone = "1:5," + ",".join(str(n) for n in range(7, len(msgs) + 1, 7))
    r.ok("STORE %s +FLAGS.SILENT (\\Deleted)" % gone)
    r.ok("EXPUNGE")
    after = collect(r)
    return before, after


msgs = corpus()
y = Raw(YUBIN, CA, tls=True)
u, t = y.login_plain("alice@example.test", "alice-password")
check(t.startswith(b"OK"), t)
d = Raw(DOVECOT, CA)
d.ok("LOGIN alice alice-pass")
ours = run(y, msgs)
theirs = run(d, msgs)
# The comparison is not vacuous: every message sorted, real threads.
check(ours[0][("", "DATE", "ALL")][0].count(b" ") == len(msgs) + 1, ours[0][("", "DATE", "ALL")])
check(ours[0][("", "REFERENCES", "ALL")][0].count(b"(") > 50, ours[0][("", "REFERENCES", "ALL")])
print("REFERENCES, before expunge:", ours[0][("", "REFERENCES", "ALL")][0][:300].decode())
print("SORT (SUBJECT), after:", ours[1][("", "SUBJECT", "ALL")][0][:200].decode())
problems = []
for phase, a, b in (("before expunge", ours[0], theirs[0]), ("after expunge", ours[1], theirs[1])):
    for key in a:
        if a[key] != b[key]:
            problems.append("%s %r:\n  yubin   %r\n  dovecot %r" % (phase, key, a[key][:1], b[key][:1]))
for p in problems[:20]:
    print("DIFF", p)
print("compared %d commands on %d messages: %d differences" % (2 * len(ours[0]), len(msgs), len(problems)))
