"""POP3 with Python's poplib: STLS, USER/PASS and AUTH PLAIN only under TLS, STAT, LIST, UIDL
(stable across sessions), RETR, TOP, DELE, RSET, NOOP, QUIT with the UPDATE state, the
mailbox lock, and IMAP seeing the result. Args: smtp pop3 pop3s imaps cafile."""

import base64
import poplib
import smtplib
import ssl
import sys

from imapclient import Raw, check

SMTP, POP3, POP3S, IMAPS, CA = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
USER, PASS = "alice@example.test", "alice-password"
ctx = ssl.create_default_context(cafile=CA)

msgs = [
    b"Subject: one\r\n\r\nfirst\r\n",
    b"Subject: two\r\n\r\n.leading dot\r\nline 2\r\nline 3\r\n",
    b"Subject: three\r\n\r\nthird\r\n",
]
with smtplib.SMTP("127.0.0.1", SMTP) as s:
    for m in msgs:
        s.sendmail("x@example.com", [USER], m)

# Before TLS: no USER/SASL in CAPA, STLS offered, USER refused.
p = poplib.POP3("127.0.0.1", POP3)
caps = p.capa()
check("STLS" in caps and "USER" not in caps and "SASL" not in caps and "UIDL" in caps and "TOP" in caps, caps)
try:
    p.user(USER)
    check(False, "USER accepted before STLS")
except poplib.error_proto as e:
    check(b"[AUTH]" in e.args[0], e)
p.stls(context=ctx)
caps = p.capa()
check("USER" in caps and caps.get("SASL") == ["PLAIN"] and "STLS" not in caps and "RESP-CODES" in caps, caps)
try:
    p.user(USER)
    p.pass_("wrong")
    check(False, "wrong password accepted")
except poplib.error_proto as e:
    check(b"[AUTH]" in e.args[0], e)
p.user(USER)
resp = p.pass_(PASS)
check(resp.startswith(b"+OK"), resp)

count, size = p.stat()
check(count == 3, (count, size))
resp, listing, _ = p.list()
sizes = [int(l.split()[1]) for l in listing]
check(len(sizes) == 3 and sum(sizes) == size, listing)
resp, uidl, _ = p.uidl()
uids = [l.split()[1] for l in uidl]
check(len(set(uids)) == 3, uidl)
check(p.uidl(2).split()[2] == uids[1], p.uidl(2))
resp, lines, octets = p.retr(2)
check(b"Subject: two" in lines and b".leading dot" in lines and lines[-1] == b"line 3", lines)
resp, lines, _ = p.top(2, 1)
check(lines[-1] == b".leading dot" and b"line 2" not in lines, lines)
p.noop()

# The mailbox lock: a second POP3 session of the same account is refused while this one runs.
q = poplib.POP3_SSL("127.0.0.1", POP3S, context=ctx)
try:
    q.user(USER)
    q.pass_(PASS)
    check(False, "second POP3 session got the lock")
except poplib.error_proto as e:
    check(b"[IN-USE]" in e.args[0], e)
q.quit()

p.dele(1)
try:
    p.retr(1)
    check(False, "RETR of a deleted message")
except poplib.error_proto:
    pass
check(p.stat()[0] == 2, p.stat())
p.rset()
check(p.stat()[0] == 3, p.stat())
p.dele(1)
p.dele(3)
try:
    p.retr(9)
    check(False, "RETR 9")
except poplib.error_proto:
    pass
resp = p.quit()
check(resp.startswith(b"+OK"), resp)

# pop3s with AUTH PLAIN: one message left, same UIDL, marked \Seen after RETR (IMAP shows it).
q = poplib.POP3_SSL("127.0.0.1", POP3S, context=ctx)
ir = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASS.encode()).decode()
resp = q._shortcmd("AUTH PLAIN " + ir)
check(resp.startswith(b"+OK"), resp)
resp, uidl, _ = q.uidl()
check(len(uidl) == 1 and uidl[0].split()[1] == uids[1], (uidl, uids))
q.quit()

r = Raw(IMAPS, CA, tls=True)
r.login_plain(USER, PASS)
u, t = r.ok("SELECT INBOX")
check(b"* 1 EXISTS" in u, u)
u, t = r.ok("FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
check(b"\\Seen" in u[0] and b"Subject: two" in u[0], u)
r.ok("LOGOUT")
print("pop3: all checks passed")
