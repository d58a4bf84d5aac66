"""Failed IMAP logins ban the client address: IMAP and POP3 then refuse it at connect.
Args: imaps pop3s cafile (auth-failures 3 in the config)."""

import poplib
import ssl
import sys

from imapclient import Raw, check

IMAPS, POP3S, CA = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
r = Raw(IMAPS, CA, tls=True)
for i in range(3):
    u, t = r.cmd("LOGIN alice@example.test wrong%d" % i)
    check(t.startswith(b"NO [AUTHENTICATIONFAILED]"), t)
try:
    line = r.line()
    check(line.startswith(b"* BYE"), line)
except EOFError:
    pass
r.close()
# A new connection, even with the right password, is refused.
r = Raw(IMAPS, CA, tls=True)
check(r.greeting.startswith(b"* BYE"), r.greeting)
r.close()
ctx = ssl.create_default_context(cafile=CA)
try:
    p = poplib.POP3_SSL("127.0.0.1", POP3S, context=ctx)
    check(False, "POP3 greeted a banned address: %r" % p.getwelcome())
except poplib.error_proto as e:
    check(b"-ERR" in e.args[0] if isinstance(e.args[0], bytes) else "-ERR" in e.args[0], e)
print("ban: all checks passed")
