"""A ban ends authentication on sessions opened before it (issue 10, case 9): IMAP, POP3 and
SMTP sessions opened first, then failures from other sessions ban the address, then the right
password on the old sessions is refused and they are closed. Each session also gets at most
three attempts of its own.
Args: imaps pop3s submission cafile (auth-failures 3 in the config)."""

import poplib
import smtplib
import ssl
import sys

from imapclient import Raw, check, context

IMAPS, POP3S, SUBMISSION, CA = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

# Sessions opened before anything happened.
old_imap = Raw(IMAPS, CA, tls=True)
check(old_imap.greeting.startswith(b"* OK"), old_imap.greeting)
old_pop = poplib.POP3_SSL("127.0.0.1", POP3S, context=context(CA))
old_smtp = smtplib.SMTP("127.0.0.1", SUBMISSION, timeout=20)
old_smtp.starttls(context=context(CA))
old_smtp.ehlo("old.example")

# The old IMAP session fails once; two more failures elsewhere ban the address.
u, t = old_imap.cmd("LOGIN alice@example.test wrong-0")
check(t.startswith(b"NO [AUTHENTICATIONFAILED]"), t)
other = Raw(IMAPS, CA, tls=True)
for i in (1, 2):
    u, t = other.cmd("LOGIN alice@example.test wrong-%d" % i)
    check(t.startswith(b"NO [AUTHENTICATIONFAILED]"), t)
other.close()

# The right password on each old session is refused, and the session ends.
try:
    u, t = old_imap.cmd("LOGIN alice@example.test alice-password")
    check(not t.startswith(b"OK"), "a banned IMAP session logged in: %r" % t)
    check(any(l.startswith(b"* BYE") for l in u), u)
except EOFError:
    pass
old_imap.close()

old_pop.user("alice@example.test")
try:
    old_pop.pass_("alice-password")
    check(False, "a banned POP3 session logged in")
except poplib.error_proto as e:
    check(b"-ERR" in e.args[0], e)

old_smtp.user, old_smtp.password = "alice@example.test", "alice-password"
try:
    old_smtp.auth("PLAIN", old_smtp.auth_plain)
    check(False, "a banned SMTP session authenticated")
except smtplib.SMTPServerDisconnected:
    pass
except smtplib.SMTPResponseException as e:
    check(e.smtp_code == 421, e)
print("ban on open sessions: all checks passed")
