"""Helpers for the client tests. Args: smtp imaps cafile action, where action is
  seed   – deliver messages "one", "two", "three" to alice by SMTP
  answer – set \\Answered on "three" in INBOX
  dump   – print "FOLDER subject:flags|subject:flags" for every folder with messages"""

import re
import smtplib
import sys

from imapclient import Raw, check

SMTP, IMAPS, CA, ACTION = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

if ACTION == "seed":
    with smtplib.SMTP("127.0.0.1", SMTP) as s:
        for subject in ("one", "two", "three"):
            s.sendmail("x@example.com", ["alice@example.test"], "Subject: %s\r\n\r\nbody of %s\r\n" % (subject, subject))
    sys.exit(0)

r = Raw(IMAPS, CA, tls=True)
u, t = r.login_plain("alice@example.test", "alice-password")
check(t.startswith(b"OK"), t)
if ACTION == "answer":
    r.ok("SELECT INBOX")
    u, t = r.ok("SEARCH SUBJECT three")
    n = u[0].split()[2].decode()
    r.ok("STORE %s +FLAGS (\\Answered)" % n)
elif ACTION == "dump":
    u, t = r.ok('LIST "" "*"')
    names = sorted(l.split(b' "." ')[1].decode().strip('"') for l in u)
    for name in names:
        r.ok('EXAMINE "%s"' % name)
        u, t = r.ok("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])") if True else None
        items = []
        for l in u:
            if b" FETCH " not in l:
                continue
            flags = re.search(rb"FLAGS \(([^)]*)\)", l).group(1).decode()
            flags = " ".join(f for f in flags.split() if f != "\\Recent")
            subject = re.search(rb"Subject: ([^\r]*)", l).group(1).decode()
            items.append("%s:%s" % (subject, flags))
        print("%s %s" % (name, "|".join(sorted(items))))
r.ok("LOGOUT")
