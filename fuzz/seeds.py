#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/<target>/ (files named seed-*): real protocol
sessions, the sample messages, the example configurations, and the hostile inputs of issue 10.
Run it from anywhere; it rewrites only seed-* files (cmin'd or found inputs keep their hash
names). The backup seeds real-* come from a real `yubin backup run` and are not made here.

Session targets take a mode byte first (fuzz/src/stream.rs): '@' no switch, written whole;
'A' 'B' 'C' ... switches 1, 2, 3 ...; 'H' 'P' 'X' cut into small, medium, large writes.
"""

import base64
import io
import os
import tarfile

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)
CORPUS = os.path.join(FUZZ, "corpus")
SAMPLES = os.path.join(FUZZ, "samples")
PASSWORD = "fuzz-password"
TOKEN = "fuzz-token"


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def samples():
    out = {}
    for n in sorted(os.listdir(SAMPLES)):
        with open(os.path.join(SAMPLES, n), "rb") as f:
            out[n[:-4]] = f.read()
    return out


MSG = samples()
AUTH_PLAIN = base64.b64encode(f"\0alice@example.test\0{PASSWORD}".encode()).decode()

# ---- SMTP -------------------------------------------------------------------------------

for i, line in enumerate([
    "EHLO client.example",
    "HELO [192.0.2.1]",
    "MAIL FROM:<alice@example.test> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ314159",
    "MAIL FROM:<>",
    "MAIL FROM:<@a.example,@b.example:bob@example.test> BODY=BINARYMIME",
    "RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.test",
    'RCPT TO:<"quoted \\" local"@example.test>',
    "RCPT TO:<jörg@bücher.test>",
    "RCPT TO:<user@[192.0.2.1]>",
    "RCPT TO:<user@[IPv6:2001:db8::1]>",
    "RCPT TO:<Postmaster>",
    "RCPT TO:<" + "a" * 65 + "@example.test>",
    "RCPT TO:<a@" + "b" * 250 + ".example>",
    "BDAT 1000 LAST",
    "BDAT 18446744073709551616",
    "AUTH PLAIN " + AUTH_PLAIN,
    "AUTH LOGIN",
    "DATA",
    "STARTTLS",
    "VRFY alice",
    "mail from:<x@y.example>\tsize=12",
]):
    put("smtp_parse", f"{i:02}", line)


MX_SESSION = (
    "EHLO client.example\r\nMAIL FROM:<sender@elsewhere.example>\r\n"
    "RCPT TO:<alice@example.test>\r\nRCPT TO:<team@example.test>\r\nRCPT TO:<x@catchall.test>\r\n"
    "RCPT TO:<nobody@example.test>\r\nDATA\r\n"
)
put("smtp_session", "mx", b"@" + MX_SESSION.encode() + MSG["plain"] + b".\r\nQUIT\r\n")
put("smtp_session", "mx-chunked", b"H" + MX_SESSION.encode() + MSG["nested-rfc822"] + b".\r\nQUIT\r\n")
put("smtp_session", "mx-utf8", b"P" + crlf(
    "EHLO client.example\nMAIL FROM:<jörg@bücher.test> SMTPUTF8 BODY=8BITMIME\n"
    "RCPT TO:<jörg@bücher.test>\nDATA\nFrom: jörg@bücher.test\nSubject: Grüße\n\nÄÖÜ\n.\nQUIT\n").encode())
bdat = MSG["multipart-alternative"]
put("smtp_session", "bdat", b"@" + (
    "EHLO c.example\r\nMAIL FROM:<s@elsewhere.example> BODY=BINARYMIME\r\nRCPT TO:<alice@example.test>\r\n"
    f"BDAT 100\r\n").encode() + bdat[:100] + f"BDAT {len(bdat) - 100} LAST\r\n".encode() + bdat[100:]
    + b"BDAT 0 LAST\r\nRSET\r\nQUIT\r\n")
put("smtp_session", "pipelined-bad", b"X" + crlf(
    "EHLO c.example\nMAIL FROM:<a@b.example> SIZE=99999999999\nRCPT TO:<alice@example.test>\n"
    "NOOP\nHELP\nVRFY alice\nEXPN team\nRSET\nMAIL FROM:<a@b.example>\nDATA\nBDAT 5\nQUIT\n").encode())
put("smtp_session", "submission-trusted", b"C" + crlf(
    "EHLO laptop.example.test\nMAIL FROM:<alice@example.test>\nRCPT TO:<bob@example.test>\n"
    "RCPT TO:<friend@remote.example>\nDATA\nFrom: alice@example.test\nTo: bob@example.test\n"
    "Subject: hi\nFrom: second@example.test\n\nhello\n.\nQUIT\n").encode())
put("smtp_session", "submissions-auth", b"E" + crlf(
    f"EHLO laptop\nAUTH PLAIN {AUTH_PLAIN}\nMAIL FROM:<alice@example.test>\nRCPT TO:<bob@example.test>\n"
    "DATA\nFrom: Alice <alice@example.test>\nSubject: sent\n\nbody\n.\nQUIT\n").encode())
put("smtp_session", "submissions-auth-login", b"E" + crlf(
    "EHLO laptop\nAUTH LOGIN\n" + base64.b64encode(b"alice@example.test").decode() + "\n"
    + base64.b64encode(PASSWORD.encode()).decode() + "\nAUTH PLAIN\n*\nQUIT\n").encode())
put("smtp_session", "submission-starttls", b"A" + crlf("EHLO laptop\nSTARTTLS\n").encode()
    + b"\x16\x03\x01\x00\x05hello")
# Issue 10: SMTP smuggling, the end of data in bare LF or CR forms, a second message after it.
for i, end in enumerate(["\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r", "\r\n\x00.\r\n", ".\n"]):
    put("smtp_session", f"smuggle-{i}", b"@" + (
        "EHLO c.example\r\nMAIL FROM:<s@elsewhere.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
        "From: s@elsewhere.example\r\nSubject: first\r\n\r\nbody" + end
        + "MAIL FROM:<admin@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
        "From: admin@example.test\r\nSubject: smuggled\r\n\r\nowned\r\n.\r\nQUIT\r\n").encode())
# Past 256 KiB a body is spooled to disk.
big = b"".join(b"line %06d of a large message body, long enough to matter\r\n" % i for i in range(5000))
put("smtp_session", "spooled", b"@" + MX_SESSION.encode() + b"Subject: big\r\n\r\n" + big + b".\r\nQUIT\r\n")
put("smtp_session", "long-line", b"@EHLO c\r\nMAIL FROM:<" + b"a" * 5000 + b"@b.example>\r\n" + b"X" * 70000)

# ---- IMAP -------------------------------------------------------------------------------

NEST = "a SEARCH " + "(" * 5000 + "ALL" + ")" * 5000
NOTS = "a SEARCH " + "NOT " * 15000 + "ALL"
ORS = "a SEARCH " + "OR " * 8000 + "ALL " * 8000 + "ALL"
STARS = 'a LIST "" ' + "*" * 60000
for i, line in enumerate([
    "a CAPABILITY",
    "a LOGIN alice@example.test " + PASSWORD,
    'a LOGIN {18}\r\nalice@example.test "fuzz-password"',
    "a AUTHENTICATE PLAIN " + AUTH_PLAIN,
    "a SELECT INBOX (CONDSTORE)",
    'a STATUS "Archive.2025" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)',
    "a FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)",
    "a UID FETCH 1,3:5,7:* (BODY.PEEK[1.2.HEADER.FIELDS.NOT (Received X-Spam)]<0.100> BINARY[2.1] BINARY.SIZE[1] BODY[1.MIME]) (CHANGEDSINCE 12 VANISHED)",
    "a STORE 1:3 +FLAGS.SILENT (\\Seen \\Deleted $Forwarded) (UNCHANGEDSINCE 5)",
    "a UID SEARCH RETURN (MIN MAX COUNT ALL SAVE) CHARSET UTF-8 OR (FROM \"jörg\" SUBJECT {4+}\r\ntest) NOT (SEEN LARGER 100 SENTBEFORE 1-Feb-2026) UID $ HEADER Message-ID \"<a@b>\" MODSEQ 3",
    "a APPEND INBOX (\\Seen) \"03-Mar-2026 10:15:00 +0100\" {11+}\r\nSubject: x\r\n",
    "a APPEND Archive UTF8 (~{5+}\r\nhello)",
    'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Archive.*" %) RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))',
    "a RENAME Work \"Work.Old\"",
    "a MOVE 1:* \"&AOk-t&AOk-\"",
    "a ENABLE CONDSTORE QRESYNC UTF8=ACCEPT",
    'a ID ("name" "fuzz" "version" NIL)',
    "a GETQUOTAROOT INBOX",
    "a LOGIN {25166824+}",
    NEST, NOTS, ORS, STARS,
    'a LIST "" "abcd&AOk-"',
    'a LIST "" "*a*a*a*a*a*ab"',
]):
    put("imap_parse", f"{i:02}", line)

PREAUTH_SESSION = crlf(
    "a ENABLE CONDSTORE\nb LIST \"\" *\nc SELECT INBOX\n"
    "d FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (From Subject)])\n"
    "e FETCH 2 (BODY[1.1] BINARY[1.2] BINARY.SIZE[2] BODY[2.MIME] BODY[TEXT]<0.20> RFC822.SIZE)\n"
    "f FETCH 3 (BODY[2.2.2] BODY[2] BODY[3])\n"
    "g SEARCH CHARSET UTF-8 OR SUBJECT Quarterly FROM \"Fran\" NOT SEEN\n"
    "h UID SEARCH RETURN (MIN MAX COUNT) TEXT \"会議\"\n"
    "i STORE 1:2 +FLAGS (\\Deleted)\nj UID COPY 1:* Archive\nk EXPUNGE\n"
    "l STATUS Archive (MESSAGES UIDNEXT UNSEEN SIZE)\nm CREATE Fuzz.Child\nn RENAME Fuzz Fuzz2\n"
    "o IDLE\nDONE\np NAMESPACE\nq GETQUOTAROOT INBOX\nr UID MOVE 1 Trash\ns CLOSE\n"
    "t EXAMINE \"&AOk-t&AOk-\"\nu UNSELECT\nv DELETE Fuzz2.Child\nw LSUB \"\" %\nz LOGOUT\n")
put("imap_session", "preauth", "A" + PREAUTH_SESSION)
put("imap_session", "preauth-chunked", "H" + PREAUTH_SESSION)
put("imap_session", "login-tls", "B" + crlf(
    f"a CAPABILITY\nb LOGIN alice@example.test {PASSWORD}\nc SELECT INBOX\nd FETCH 1:* (FLAGS BODY[])\n"
    "e LOGOUT\n"))
put("imap_session", "authenticate-tls", "B" + crlf(
    "a AUTHENTICATE PLAIN\n" + AUTH_PLAIN + "\nb SELECT Archive\nc SEARCH ALL\nd LOGOUT\n"))
put("imap_session", "not-logged-in", "@" + crlf(
    "a CAPABILITY\nb NOOP\nc ID NIL\nd LOGIN alice@example.test x\ne SELECT INBOX\nf STARTTLS\n"))
msg = MSG["nested-rfc822"]
put("imap_session", "append", b"A" + b"a APPEND INBOX (\\Seen $x) {%d}\r\n" % len(msg) + msg
    + b"\r\nb APPEND Archive {5+}\r\nhello\r\nc SELECT INBOX\r\nd FETCH * BODYSTRUCTURE\r\ne LOGOUT\r\n")
# Issue 10: nesting and chains in SEARCH, before and after SELECT; LIST patterns; a huge literal.
for name, cmd in [("search-nest", NEST), ("search-not", NOTS), ("search-or", ORS)]:
    put("imap_session", name, "A" + "s SELECT INBOX\r\n" + cmd + "\r\n")
    put("imap_session", name + "-unselected", "A" + cmd + "\r\n")
put("imap_session", "list-stars", "A" + STARS + "\r\n")
put("imap_session", "list-mutf7", 'Aa LIST "" "abcd&AOk-"\r\nb LIST "" "&AOk-t&AOk-*"\r\n')
put("imap_session", "list-backtrack", 'Aa LIST "" "*a*a*a*a*a*ab"\r\nb CREATE ' + "a" * 200 + "\r\nc LIST \"\" \"*a*a*a*a*a*ab\"\r\n")
put("imap_session", "notify-multiappend-catenate", "A" + crlf(
    "a ENABLE QRESYNC\nb SELECT INBOX (QRESYNC (1 5 1:10))\n"
    "c NOTIFY SET STATUS (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange)) "
    "(personal (MailboxName SubscriptionChange))\nd APPEND Archive {3+}\nabc (\\Seen) {3+}\ndef\n"
    "e APPEND Work CATENATE (URL \"/INBOX;UIDVALIDITY=1/;UID=1/;SECTION=TEXT\" TEXT {6+}\nhello!)\n"
    "f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\ng IDLE\nDONE\nh NOTIFY NONE\nz LOGOUT\n"))
put("imap_session", "preauth-literal", "@a LOGIN {25166824+}\r\n" + "x" * 1000)

# ---- POP3 -------------------------------------------------------------------------------

put("pop3_session", "tls", "A" + crlf(
    f"CAPA\nUSER alice@example.test\nPASS {PASSWORD}\nSTAT\nLIST\nLIST 2\nUIDL\nUIDL 1\nRETR 1\n"
    "TOP 3 2\nDELE 1\nRETR 1\nRSET\nNOOP\nDELE 6\nQUIT\n"))
put("pop3_session", "tls-auth", "A" + crlf(
    f"AUTH\nAUTH PLAIN {AUTH_PLAIN}\nSTAT\nRETR 5\nTOP 5 0\nQUIT\n"))
put("pop3_session", "tls-auth-continued", "P" + crlf(f"AUTH PLAIN\n{AUTH_PLAIN}\nLIST\nQUIT\n"))
put("pop3_session", "plain", "@" + crlf("CAPA\nUSER alice@example.test\nPASS x\nAPOP a b\nSTLS\n"))
put("pop3_session", "trusted-bad", "B" + crlf("USER\nPASS\nRETR 1\n" + "X" * 300 + "\nQUIT\n"))

# ---- HTTP / webhook ---------------------------------------------------------------------


def webhook(body, extra="", length=None):
    head = (
        "POST /in HTTP/1.1\r\nHost: mx.example.test\r\nAuthorization: Bearer " + TOKEN + "\r\n"
        "Content-Type: message/rfc822\r\nMail-From: <sender@elsewhere.example>\r\n"
        "Rcpt-To: alice@example.test, bob@example.test\r\n" + extra
    )
    if length is not False:
        head += f"Content-Length: {len(body) if length is None else length}\r\n"
    return head.encode() + b"\r\n" + body


put("http_webhook", "post", b"@" + webhook(MSG["plain"]))
put("http_webhook", "post-https-idempotent", b"A" + webhook(MSG["iso-2022-jp"], "Idempotency-Key: k-1\r\n"))
put("http_webhook", "post-chunked-writes", b"H" + webhook(MSG["encoded-words"]))
body = MSG["digest"]
put("http_webhook", "post-transfer-chunked", b"@" + webhook(
    b"%x\r\n" % 20 + body[:20] + b"\r\n%x;ext=1\r\n" % (len(body) - 20) + body[20:] + b"\r\n0\r\nTrailer: x\r\n\r\n",
    "Transfer-Encoding: chunked\r\n", length=False))
put("http_webhook", "post-expect", b"@" + webhook(MSG["plain"], "Expect: 100-continue\r\n"))
put("http_webhook", "smuggle-cl-te", b"@" + webhook(b"0\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n",
                                                     "Transfer-Encoding: chunked\r\n"))
put("http_webhook", "double-length", b"@" + webhook(b"hello", "Content-Length: 3\r\n"))
put("http_webhook", "wrong-token", b"@POST /in HTTP/1.1\r\nAuthorization: Bearer nope\r\nContent-Length: 0\r\n\r\n")
put("http_webhook", "get", b"@GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
put("http_webhook", "metrics", b"@GET /metrics HTTP/1.0\r\n\r\n")
put("http_webhook", "get-in", b"PGET /in?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
put("http_webhook", "bad-head", b"@POST  /in HTTP/1.1\r\n folded: header\r\nX\r\n\r\n")
# Issue 10: 1,040,000 LFs under a 64 KiB limit (each LF becomes CRLF: checked after).
put("http_webhook", "lf-flood", b"@" + webhook(b"\n" * 1040000))

# ---- MIME -------------------------------------------------------------------------------

for n, m in MSG.items():
    put("mime", n, m)
deep = b""
for i in range(60):
    deep += b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
deep += b"Content-Type: text/plain\r\n\r\ninnermost\r\n"
for i in reversed(range(60)):
    deep += b"--b%d--\r\n" % i
put("mime", "deep-multipart", deep)
put("mime", "deep-rfc822", b"Content-Type: message/rfc822\r\n\r\n" * 200 + b"Subject: end\r\n\r\nx")
put("mime", "bare-lf", MSG["multipart-alternative"].replace(b"\r\n", b"\n"))
put("mime", "no-header-end", b"Subject: " + b"x" * 3000 + b"\r\n\tcontinued")
put("mime", "empty-boundary", b"Content-Type: multipart/digest; boundary=\"\"\r\n\r\n--\r\n\r\n--\r\n")

# ---- config (KDL) -----------------------------------------------------------------------

for n in sorted(os.listdir(os.path.join(ROOT, "examples"))):
    with open(os.path.join(ROOT, "examples", n), "rb") as f:
        put("config_kdl", n[:-4], f.read())
# Issue 10: deep nesting and slashdash chains (refused before the KDL parser recurses).
put("config_kdl", "nested-2000", "a {\n" * 2000 + "}\n" * 2000)
put("config_kdl", "slashdash-20000", "/-a {" * 20000)
put("config_kdl", "closers-100000", "}" * 100000)
put("config_kdl", "unterminated-comment", 'hostname "mx.example.test"\n/* ' + "/* x " * 2000)
put("config_kdl", "odd", 'hostname r#"mx"#\n/* c /* nested */ */ listen { smtp "[::1]:25" ; }\n'
    'domain "xn--bcher-kva.test" { user "a" password-hash=#null }\nlimits { message-size "99999999999TiB" }\n')

# ---- LIST patterns ----------------------------------------------------------------------

for i, (p, n) in enumerate([
    ("*" * 60000, "a" * 100),
    ("*a*a*a*a*a*ab", "a" * 200),
    ("abcd&AOk-", "abcdé"),
    ("INBOX.%", "INBOX.Sent"),
    ("inbox*", "INBOX"),
    ("%", "a.b"),
    ("Archive.*", "Archive.2025.Q1"),
    ("%.%.%", "x.y.z"),
    ("&AOk-t&AOk-*", "été.2025"),
]):
    put("imap_list", f"{i:02}", p + "\0" + n)

# ---- backups: crafted archives next to the real manifest --------------------------------

with open(os.path.join(CORPUS, "backup", "real-mailboxes"), "rb") as f:
    manifest = f.read().split(b"\0", 1)[0]


def tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            info.type = kind
            info.mode = 0o600
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = "../../etc/passwd"
            t.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buf.getvalue()


good = ("mail/example.test/alice/Maildir/new/1.planted", b"planted", tarfile.REGTYPE)
for name, entries in [
    ("climbs", [good, ("mail/../../escape", b"owned", tarfile.REGTYPE)]),
    ("absolute", [good, ("/etc/cron.d/x", b"owned", tarfile.REGTYPE)]),
    ("other-root", [good, ("dkim/example.test/t1.key", b"key", tarfile.REGTYPE)]),
    ("root-itself", [good, ("mail", b"x", tarfile.REGTYPE)]),
    ("symlink", [good, ("mail/link", b"", tarfile.SYMTYPE)]),
    ("hardlink", [good, ("mail/hard", b"", tarfile.LNKTYPE)]),
    ("directory", [("mail/dir/", b"", tarfile.DIRTYPE), good]),
    ("long-name", [("mail/" + "n" * 300, b"long", tarfile.REGTYPE)]),
    ("same-twice", [good, good]),
]:
    put("backup", name, manifest + b"\0" + tar(entries))
put("backup", "manifest-only", manifest)
put("backup", "bad-json", b'{"format": 1, "id": "20261130T053540Z-manual", "components": {"x": {"file": "..", "size": -1}}}')
