"""Delivers N messages by SMTP, then prints "state UIDVALIDITY uid,uid,..." of INBOX as IMAP
sees it. Args: smtp imaps cafile N."""

import re
import smtplib
import sys

from imapclient import Raw, check

SMTP, IMAPS, CA, N = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
with smtplib.SMTP("127.0.0.1", SMTP) as s:
    for i in range(N):
        s.sendmail("x@example.com", ["alice@example.test"], "Subject: m%d\r\n\r\nbody\r\n" % i)
r = Raw(IMAPS, CA, tls=True)
u, t = r.login_plain("alice@example.test", "alice-password")
check(t.startswith(b"OK"), t)
u, t = r.ok("SELECT INBOX")
uv = [re.search(rb"UIDVALIDITY (\d+)", l).group(1) for l in u if b"UIDVALIDITY" in l][0]
u, t = r.ok("UID FETCH 1:* (UID)")
uids = [re.search(rb"UID (\d+)", l).group(1).decode() for l in u]
print("state %s %s" % (uv.decode(), ",".join(uids)))
r.ok("LOGOUT")
