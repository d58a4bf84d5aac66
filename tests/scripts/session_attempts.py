"""Each session gets three login attempts, whatever the ban settings (issue 10, case 9):
the third failure closes the session on IMAP, POP3 and SMTP.
Args: imaps pop3s submission cafile (a ban threshold far above 3 in the config)."""

import poplib
import smtplib
import sys

from imapclient import Raw, check, context

IMAPS, POP3S, SUBMISSION, CA = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

r = Raw(IMAPS, CA, tls=True)
for i in range(3):
    u, t = r.cmd("LOGIN alice@example.test wrong-%d" % i)
    check(t.startswith(b"NO [AUTHENTICATIONFAILED]"), t)
try:
    line = r.line()
    check(line.startswith(b"* BYE"), line)
    r.line()
    check(False, "the IMAP session stayed open after three failures")
except EOFError:
    pass
r.close()

p = poplib.POP3_SSL("127.0.0.1", POP3S, context=context(CA))
for i in range(3):
    p.user("alice@example.test")
    try:
        p.pass_("wrong-%d" % i)
        check(False, "wrong password accepted")
    except poplib.error_proto as e:
        check(b"-ERR" in e.args[0], e)
try:
    p.user("alice@example.test")
    check(False, "the POP3 session stayed open after three failures")
except (poplib.error_proto, EOFError, ConnectionError, OSError):
    pass

s = smtplib.SMTP("127.0.0.1", SUBMISSION, timeout=20)
s.starttls(context=context(CA))
s.ehlo("client.example")
codes = []
for i in range(3):
    # One mechanism per attempt (login() would try PLAIN, then LOGIN).
    s.user, s.password = "alice@example.test", "wrong-%d" % i
    try:
        s.auth("PLAIN", s.auth_plain)
    except smtplib.SMTPAuthenticationError as e:
        codes.append(e.smtp_code)
check(codes == [535, 535, 535], codes)
try:
    # The 421 that followed the third 535 answers this NOOP; then the connection is gone.
    code = s.noop()[0]
    check(code == 421, code)
    s.noop()
    check(False, "the SMTP session stayed open after three failures")
except (smtplib.SMTPServerDisconnected, ConnectionError):
    pass

# A fresh session is not banned: the right password works.
r = Raw(IMAPS, CA, tls=True)
r.ok("LOGIN alice@example.test alice-password")
r.close()
print("attempts per session: all checks passed")
