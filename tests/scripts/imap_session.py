"""Every IMAP command yubin announces, scripted with Python's imaplib (the real client) and an
exact client for the responses imaplib does not expose. Args: smtp imap imaps cafile."""

import imaplib
import re
import smtplib
import ssl
import sys
import time

from imapclient import Raw, check, find

SMTP, IMAP, IMAPS, CA = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
USER, PASS = "alice@example.test", "alice-password"

M1 = b"""From: Alice Sender <sender@example.com>\r
To: alice@example.test\r
Subject: Hello one\r
Date: Mon, 02 Nov 2026 10:00:00 +0000\r
Message-ID: <m1@example.com>\r
\r
First message.\r
"""

M2 = """From: =?utf-8?q?J=C3=B6rg?= <joerg@example.com>\r
To: alice@example.test\r
Cc: bob@example.test\r
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r
Date: Tue, 10 Nov 2026 10:00:00 +0100\r
Message-ID: <m2@example.com>\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary="XX"\r
\r
--XX\r
Content-Type: text/plain; charset=utf-8\r
Content-Transfer-Encoding: quoted-printable\r
\r
Gr=C3=BC=C3=9Fe aus K=C3=B6ln\r
--XX\r
Content-Type: application/octet-stream; name="data.bin"\r
Content-Disposition: attachment; filename="data.bin"\r
Content-Transfer-Encoding: base64\r
\r
AAECAwQ=\r
--XX--\r
""".encode()

M3 = (b"From: other@example.net\r\nTo: alice@example.test\r\nSubject: big one\r\n"
      b"Date: Fri, 20 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m3@example.net>\r\n\r\n"
      + b"filler line\r\n" * 400 + b"the needle is here\r\n")

with smtplib.SMTP("127.0.0.1", SMTP) as s:
    for m, frm in ((M1, "sender@example.com"), (M2, "joerg@example.com"), (M3, "other@example.net")):
        s.sendmail(frm, ["alice@example.test"], m)

ctx = ssl.create_default_context(cafile=CA)

# --- Not authenticated: STARTTLS, LOGINDISABLED, LOGIN refused in clear text.
r = Raw(IMAP, CA)
check(r.greeting.startswith(b"* OK [CAPABILITY "), r.greeting)
u, t = r.ok("CAPABILITY")
caps = u[0].split()
check(b"STARTTLS" in caps and b"LOGINDISABLED" in caps and b"AUTH=PLAIN" not in caps, u)
u, t = r.cmd("LOGIN alice@example.test alice-password")
check(t.startswith(b"NO [PRIVACYREQUIRED]"), t)
u, t = r.cmd("SELECT INBOX")
check(t.startswith(b"BAD"), t)
r.ok("STARTTLS")
r.starttls()
u, t = r.ok("CAPABILITY")
check(b"AUTH=PLAIN" in u[0] and b"STARTTLS" not in u[0] and b"LOGINDISABLED" not in u[0], u)
u, t = r.cmd("LOGIN alice@example.test wrong")
check(t.startswith(b"NO [AUTHENTICATIONFAILED]"), t)
u, t = r.ok('LOGIN "alice@example.test" {14+}\r\nalice-password')
for cap in (b"IMAP4rev2", b"IDLE", b"UIDPLUS", b"MOVE", b"NAMESPACE", b"SPECIAL-USE", b"LITERAL+",
            b"ENABLE", b"SASL-IR", b"ID", b"QUOTA", b"UNSELECT", b"CONDSTORE"):
    check(cap in t.split(b"]")[0].split(), (cap, t))

u, t = r.ok('ID ("name" "test")')
check(find(u, "ID (")[0].startswith(b'* ID ("name" "yubin"'), u)
u, t = r.ok("NAMESPACE")
check(u == [b'* NAMESPACE (("" ".")) NIL NIL'], u)

# LIST with special-use, RETURN options and STATUS.
u, t = r.ok('LIST "" "*"')
names = {l.split(b'"."')[1].strip(): l for l in u}
check(set(names) == {b"INBOX", b"Sent", b"Drafts", b"Trash", b"Junk", b"Archive"}, names)
for n, a in ((b"Sent", b"\\Sent"), (b"Drafts", b"\\Drafts"), (b"Trash", b"\\Trash"), (b"Junk", b"\\Junk"), (b"Archive", b"\\Archive")):
    check(a in names[n], names[n])
u, t = r.ok('LIST (SPECIAL-USE) "" "*"')
check(len(u) == 5 and not any(b"INBOX" in l for l in u), u)
u, t = r.ok('LIST "" "INBOX" RETURN (SUBSCRIBED STATUS (MESSAGES UNSEEN UIDNEXT))')
check(u[0].startswith(b"* LIST (") and b"\\Subscribed" in u[0], u)
check(u[1] == b"* STATUS INBOX (MESSAGES 3 UNSEEN 3 UIDNEXT 4)", u)
u, t = r.ok('LIST "" ""')
check(u == [b'* LIST (\\Noselect) "." ""'], u)
u, t = r.ok('LSUB "" "*"')
check(len(u) == 6, u)

# CREATE / RENAME / DELETE / SUBSCRIBE, hierarchy, international names (modified UTF-7).
r.ok("CREATE Projects.2026")
# CREATE does not subscribe (as Dovecot); RENAME carries subscriptions along.
u, t = r.ok('LIST (SUBSCRIBED) "" "Projects*"')
check(u == [], u)
r.ok("SUBSCRIBE Projects")
r.ok("SUBSCRIBE Projects.2026")
u, t = r.ok('LIST "" "Projects*"')
check(len(u) == 2 and b"\\HasChildren" in u[0] and u[1].endswith(b"Projects.2026"), u)
u, t = r.ok('LIST "" "Projects.%"')
check(len(u) == 1, u)
u, t = r.cmd("CREATE Projects")
check(t.startswith(b"NO [ALREADYEXISTS]"), t)
r.ok("RENAME Projects Work")
u, t = r.ok('LIST "" "*"')
check(any(l.endswith(b" Work.2026") for l in u) and not any(b"Projects" in l for l in u), u)
r.ok("UNSUBSCRIBE Work.2026")
u, t = r.ok('LIST (SUBSCRIBED) "" "Work*"')
check(len(u) == 1 and u[0].endswith(b" Work"), u)
r.ok("SUBSCRIBE Work.2026")
r.ok("DELETE Work.2026")
# The subscription outlives the folder (RFC 5258 section 3.1).
u, t = r.ok('LIST (SUBSCRIBED) "" "Work*"')
check(u == [b'* LIST (\\HasNoChildren \\Subscribed) "." Work', b'* LIST (\\NonExistent \\Subscribed) "." Work.2026'], u)
u, t = r.ok('LSUB "" "Work.%"')
check(u == [b'* LSUB (\\Noselect) "." Work.2026'], u)
u, t = r.cmd("DELETE INBOX")
check(t.startswith(b"NO"), t)
r.ok('CREATE "&AMQ-rger"')
u, t = r.ok('LIST "" "&AMQ-rger"')
check(u == [b'* LIST (\\HasNoChildren) "." &AMQ-rger'], u)
u, t = r.cmd("SELECT Nowhere")
check(t.startswith(b"NO [NONEXISTENT]"), t)

# STATUS.
u, t = r.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)")
m = re.match(rb"\* STATUS INBOX \(MESSAGES 3 UIDNEXT 4 UIDVALIDITY (\d+) UNSEEN 3 DELETED 0 SIZE (\d+) HIGHESTMODSEQ (\d+)\)", u[0])
check(m, u)
uidvalidity = int(m.group(1))

# ENABLE and SELECT with CONDSTORE.
u, t = r.ok("ENABLE CONDSTORE")
check(u == [b"* ENABLED CONDSTORE"], u)
u, t = r.ok("SELECT INBOX")
check(b"* 3 EXISTS" in u and any(b"[UIDVALIDITY %d]" % uidvalidity in l for l in u), u)
check(any(l.startswith(b"* OK [UIDNEXT 4]") for l in u) and any(b"[HIGHESTMODSEQ " in l for l in u), u)
check(any(l.startswith(b"* OK [PERMANENTFLAGS (") and b"\\*" in l for l in u), u)
check(t.startswith(b"OK [READ-WRITE]"), t)
# imaplib speaks IMAP4rev1: the first read-write SELECT takes the new messages as \Recent.
check(b"* 3 RECENT" in u, u)

# FETCH: the cheap items, ENVELOPE and BODYSTRUCTURE.
u, t = r.ok("FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)")
check(len(u) == 3, u)
check(re.match(rb'\* 1 FETCH \(UID 1 FLAGS \(\\Recent\) RFC822\.SIZE \d+ INTERNALDATE "\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}" MODSEQ \(\d+\)\)', u[0]), u[0])
u, t = r.ok("FETCH 2 (ENVELOPE)")
check(u[0] == b'* 2 FETCH (ENVELOPE ("Tue, 10 Nov 2026 10:00:00 +0100" "=?utf-8?q?Gr=C3=BC=C3=9Fe?=" (("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.com")) (("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.com")) (("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.com")) ((NIL NIL "alice" "example.test")) ((NIL NIL "bob" "example.test")) NIL NIL "<m2@example.com>"))', u[0])
u, t = r.ok("FETCH 2 (BODYSTRUCTURE)")
check(u[0] == b'* 2 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 29 0 NIL NIL NIL NIL)("application" "octet-stream" ("name" "data.bin") NIL NIL "base64" 8 NIL ("attachment" ("filename" "data.bin")) NIL NIL) "mixed" ("boundary" "XX") NIL NIL NIL))', u[0])
u, t = r.ok("FETCH 2 (BODY)")
check(u[0] == b'* 2 FETCH (BODY (("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 29 0)("application" "octet-stream" ("name" "data.bin") NIL NIL "base64" 8) "mixed"))', u[0])

# Sections: PEEK does not set \Seen; BODY[] does; partials; MIME; HEADER.FIELDS; BINARY.
u, t = r.ok("FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject Cc)])")
check(u[0] == b"* 2 FETCH (BODY[HEADER.FIELDS (Subject Cc)] {62}\r\nCc: bob@example.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\n)", u[0])
u, t = r.ok("FETCH 2 (BODY.PEEK[1] BODY.PEEK[2.MIME] BINARY.PEEK[1] BINARY.SIZE[2] BINARY.PEEK[2])")
check(u[0] == b'* 2 FETCH (BODY[1] {29}\r\nGr=C3=BC=C3=9Fe aus K=C3=B6ln BODY[2.MIME] {148}\r\nContent-Type: application/octet-stream; name="data.bin"\r\nContent-Disposition: attachment; filename="data.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n BINARY[1] {17}\r\n' + "Grüße aus Köln".encode() + b" BINARY.SIZE[2] 5 BINARY[2] ~{5}\r\n\x00\x01\x02\x03\x04)", u[0])
u, t = r.ok("FETCH 1 (FLAGS)")
check(u[0] == b"* 1 FETCH (FLAGS (\\Recent) MODSEQ (" + u[0].split(b"MODSEQ (")[1], u)
u, t = r.ok("FETCH 1 (BODY[TEXT]<0.5>)")
check(u[0].startswith(b"* 1 FETCH (BODY[TEXT]<0> {5}\r\nFirst FLAGS (\\Recent \\Seen) MODSEQ ("), u[0])
u, t = r.ok("FETCH 1 (RFC822.HEADER)")
check(b"\r\nSubject: Hello one\r\n" in u[0] and u[0].endswith(b"<m1@example.com>\r\n\r\n)"), u[0])
u, t = r.ok("UID FETCH 3 (BODY.PEEK[TEXT]<5150.100>)")
check(re.match(rb"\* 3 FETCH \(UID 3 BODY\[TEXT\]<5150> \{\d+\}\r\n", u[0]) and u[0].endswith(b"the needle is here\r\n)"), u[0])
u, t = r.cmd("FETCH 9 (FLAGS)")
check(t.startswith(b"BAD"), t)
u, t = r.cmd("FETCH 1 (NOPE)")
check(t.startswith(b"BAD"), t)

# STORE: add, remove, replace, keywords, .SILENT, UNCHANGEDSINCE.
u, t = r.ok("STORE 1 +FLAGS (\\Flagged $Important)")
# A new keyword is announced in FLAGS and PERMANENTFLAGS before a FETCH shows it.
check(u[0] == b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important)", u)
check(u[1].startswith(b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important \\*)]"), u)
check(re.match(rb"\* 1 FETCH \(FLAGS \(\\Recent \\Flagged \\Seen \$Important\) MODSEQ \((\d+)\)\)", u[2]), u)
ms = int(re.search(rb"MODSEQ \((\d+)\)", u[2]).group(1))
u, t = r.ok("STORE 1 -FLAGS.SILENT (\\Flagged)")
check(all(b"FLAGS" not in l for l in u), u)
u, t = r.ok("UID STORE 2 FLAGS (\\Answered)")
check(re.match(rb"\* 2 FETCH \(FLAGS \(\\Recent \\Answered\) UID 2 MODSEQ \(\d+\)\)", u[0]), u)
u, t = r.cmd("STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Draft)" % (ms - 1))
check(t.startswith(b"OK [MODIFIED 1]"), t)
u, t = r.ok("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % ms)
check(len(u) == 2 and u[0].startswith(b"* 1 FETCH") and u[1].startswith(b"* 2 FETCH"), u)

# SEARCH: the criteria set, UTF-8 text search, ESEARCH, MODSEQ.
def search(q, expect, cmd="SEARCH"):
    u, t = r.ok(cmd + " " + q if isinstance(q, str) else cmd.encode() + b" " + q)
    got = [l for l in u if l.startswith(b"* SEARCH")]
    check(got and got[0].split(b" (MODSEQ")[0].split()[2:] == [str(x).encode() for x in expect], (q, expect, u))
    return got[0]

search("ALL", [1, 2, 3])
search("SUBJECT hello", [1])
search("FROM sender@example", [1])
search("FROM joerg", [2])
search("TO alice", [1, 2, 3])
search("CC bob", [2])
search("BODY needle", [3])
search("TEXT needle", [3])
search("TEXT Hello", [1])
search("HEADER Message-ID <m3@example.net>", [3])
search("SEEN", [1])
search("UNSEEN", [2, 3])
search("ANSWERED", [2])
search("UNANSWERED", [1, 3])
search("KEYWORD $Important", [1])
search("UNKEYWORD $Important", [2, 3])
search("FLAGGED", [])
search("LARGER 3000", [3])
search("SMALLER 3000", [1, 2])
search("SENTBEFORE 05-Nov-2026", [1])
search("SENTSINCE 10-Nov-2026", [2, 3])
search("SENTON 20-Nov-2026", [3])
search("SINCE 1-Jan-2020", [1, 2, 3])
search("BEFORE 1-Jan-2020", [])
search("OR SUBJECT hello SUBJECT big", [1, 3])
search("NOT SEEN NOT ANSWERED", [3])
search("2:3 UNSEEN", [2, 3])
search("UID 2:*", [2, 3])
search(b"CHARSET UTF-8 SUBJECT {7+}\r\n" + "Grüße".encode(), [2])
search(b"CHARSET UTF-8 BODY {5+}\r\n" + "Köln".encode(), [2])
search(b"CHARSET UTF-8 TEXT {5+}\r\n" + "Köln".encode(), [2])
search(b"CHARSET UTF-8 FROM {5+}\r\n" + "Jörg".encode(), [2])
line = search("MODSEQ %d" % ms, [1, 2])
check(re.search(rb" \(MODSEQ \d+\)$", line), line)
search("UID 3", [3], cmd="UID SEARCH")
search("ALL", [1, 2, 3], cmd="UID SEARCH")
u, t = r.cmd("SEARCH CHARSET KOI8-R ALL")
check(t.startswith(b"NO [BADCHARSET"), t)
u, t = r.ok("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
check(u == [b'* ESEARCH (TAG "t%d") MIN 2 MAX 3 ALL 2:3 COUNT 2' % r.n], u)
u, t = r.ok("UID SEARCH RETURN () ALL")
check(u == [b'* ESEARCH (TAG "t%d") UID ALL 1:3' % r.n], u)

# COPY, MOVE (UIDPLUS responses), EXPUNGE, UID EXPUNGE.
u, t = r.ok("COPY 1:2 Archive")
av = re.search(rb"\[COPYUID (\d+) 1:2 1:2\]", t)
check(av, t)
u, t = r.cmd("COPY 1 Nowhere")
check(t.startswith(b"NO [TRYCREATE]"), t)
u, t = r.ok("UID MOVE 3 Trash")
check(any(re.match(rb"\* OK \[COPYUID \d+ 3 1\]", l) for l in u) and b"* 3 EXPUNGE" in u, u)
r.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
r.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
u, t = r.ok("UID EXPUNGE 2")
check(u == [b"* 2 EXPUNGE"], u)
u, t = r.ok("STATUS Archive (MESSAGES)")
check(u == [b"* STATUS Archive (MESSAGES 2)"], u)

# APPEND with flags and date; UNSELECT keeps \Deleted messages; CLOSE expunges them.
msg = b"From: alice@example.test\r\nSubject: draft\r\n\r\nA draft.\r\n"
u, t = r.ok(b'APPEND Drafts (\\Draft \\Seen) "01-Jan-2026 10:00:00 +0100" {%d+}\r\n' % len(msg) + msg)
m = re.match(rb"OK \[APPENDUID (\d+) 1\]", t)
check(m, t)
u, t = r.cmd(b"APPEND Nowhere {%d+}\r\n" % len(msg) + msg)
check(t.startswith(b"NO [TRYCREATE]"), t)
r.ok("UNSELECT")
u, t = r.ok("EXAMINE INBOX")
check(b"* 1 EXISTS" in u and t.startswith(b"OK [READ-ONLY]"), (u, t))
u, t = r.cmd("STORE 1 +FLAGS (\\Seen)")
check(t.startswith(b"NO"), t)
u, t = r.ok("SELECT Drafts")
u, t = r.ok("FETCH 1 (FLAGS INTERNALDATE)")
check(u[0].startswith(b'* 1 FETCH (FLAGS (\\Recent \\Seen \\Draft) INTERNALDATE "01-Jan-2026 09:00:00 +0000"'), u)
r.ok("SELECT INBOX")
r.ok("CLOSE")
u, t = r.ok("STATUS INBOX (MESSAGES)")
check(u == [b"* STATUS INBOX (MESSAGES 0)"], u)

# QUOTA.
u, t = r.ok("GETQUOTAROOT INBOX")
check(u[0] == b'* QUOTAROOT INBOX ""' and re.match(rb'\* QUOTA "" \(STORAGE \d+ 10240\)', u[1]), u)

# Errors: unknown commands, bad syntax, commands in the wrong state.
u, t = r.cmd("FROBNICATE")
check(t.startswith(b"BAD"), t)
u, t = r.cmd("FETCH 1 FLAGS")
check(t.startswith(b"BAD"), t)
u, t = r.cmd("LOGIN a b")
check(t.startswith(b"BAD"), t)
u, t = r.ok("LOGOUT")
check(u[0].startswith(b"* BYE"), u)
r.close()

# --- imaps: AUTHENTICATE PLAIN with SASL-IR, then UTF-8 names after ENABLE UTF8=ACCEPT.
r = Raw(IMAPS, CA, tls=True)
u, t = r.login_plain(USER, "wrong")
check(t.startswith(b"NO [AUTHENTICATIONFAILED]"), t)
u, t = r.login_plain(USER, PASS)
check(t.startswith(b"OK"), t)
r.ok("ENABLE UTF8=ACCEPT")
u, t = r.ok('LIST "" "Ä*"')
check(u == ['* LIST (\\HasNoChildren) "." "Ärger"'.encode()], u)
r.ok("LOGOUT")

# --- imaplib, the standard client, end to end.
M = imaplib.IMAP4(host="127.0.0.1", port=IMAP)
M.starttls(ssl_context=ctx)
M.login(USER, PASS)
typ, data = M.select("Archive")
check(typ == "OK" and data == [b"2"], data)
typ, data = M.fetch("1:*", "(RFC822)")
check(typ == "OK" and data[0][1] and b"Subject: Hello one" in data[0][1], data)
typ, data = M.uid("SEARCH", None, "ALL")
check(data == [b"1 2"], data)
typ, data = M.store("1", "+FLAGS", "\\Deleted")
typ, data = M.expunge()
check(data == [b"1"], data)
typ, data = M.append("Sent", "(\\Seen)", imaplib.Time2Internaldate(time.time()), b"Subject: sent\r\n\r\nx\r\n")
check(typ == "OK", data)
typ, data = M.status("Sent", "(MESSAGES)")
check(data == [b"Sent (MESSAGES 1)"], data)
M.close()
M.logout()
print("imap session: all checks passed")
