"""Compares yubin's FETCH ENVELOPE / BODYSTRUCTURE / BODY / RFC822.SIZE, sections, BINARY and
SEARCH results with Dovecot's for the MIME corpus, field by field. Both servers get the same
bytes by APPEND (as a literal8 for the LITERAL8 messages). Args: yubin_imaps cafile
dovecot_imap."""

import sys

from imapclient import Raw, check
from mime_corpus import CORPUS, LITERAL8, SEARCHES

YUBIN, CA, DOVECOT = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])


def tokens(data):
    """Parses an IMAP response into nested lists of bytes/None."""
    pos = 0
    stack = [[]]
    while pos < len(data):
        c = data[pos:pos + 1]
        if c in (b" ", b"\r", b"\n"):
            pos += 1
        elif c == b"(":
            stack.append([])
            pos += 1
        elif c == b")":
            done = stack.pop()
            stack[-1].append(done)
            pos += 1
        elif c == b'"':
            out = b""
            pos += 1
            while data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                out += data[pos:pos + 1]
                pos += 1
            pos += 1
            stack[-1].append(out)
        elif c in (b"{", b"~"):
            if c == b"~":
                pos += 1
            end = data.index(b"}", pos)
            n = int(data[pos + 1:end])
            start = end + 3
            stack[-1].append(data[start:start + n])
            pos = start + n
        else:
            end = pos
            while end < len(data) and data[end:end + 1] not in (b" ", b"(", b")", b"\r"):
                if data[end:end + 1] == b"[":
                    end = data.index(b"]", end)
                end += 1
            atom = data[pos:end]
            stack[-1].append(None if atom.upper() == b"NIL" else atom)
            pos = end
    return stack[0]


def fetch_items(line):
    """`* n FETCH (K V K V)` → {K: V}."""
    t = tokens(line)
    items = t[3]
    return {items[i].decode().upper(): items[i + 1] for i in range(0, len(items), 2)}


def diff(a, b, path):
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return ["%s: %d vs %d items: %r | %r" % (path, len(a), len(b), a, b)]
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff(x, y, "%s[%d]" % (path, i))
        return out
    # Media types and parameter names are case-insensitive.
    if isinstance(a, bytes) and isinstance(b, bytes) and a.lower() == b.lower() and path.endswith(("[0]", "[1]")):
        return []
    return [] if a == b else ["%s: %r vs %r" % (path, a, b)]


# Sections fetched from every message (parts that do not exist included).
SECTIONS = ["1", "1.MIME", "2", "2.MIME", "2.HEADER", "2.TEXT", "1.1", "2.1", "TEXT", "HEADER.FIELDS (From Subject)",
            "1.HEADER", "1.TEXT", "1.1.1", "1.1.HEADER", "1.1.MIME", "1.HEADER.FIELDS (From)"]
# Decoded parts (RFC 3516): the answer's status and items.
BINARY = ["1", "2"]


def collect(r):
    r.ok("CREATE Cmp")
    for name, raw in CORPUS:
        lit = b"~" if name in LITERAL8 else b""
        r.ok(b'APPEND Cmp (\\Seen) "01-Nov-2026 00:00:00 +0000" %s{%d+}\r\n' % (lit, len(raw)) + raw)
    r.ok("SELECT Cmp")
    out = {}
    for i, (name, raw) in enumerate(CORPUS):
        u, t = r.ok("FETCH %d (ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE)" % (i + 1))
        out[name] = fetch_items([l for l in u if b" FETCH " in l][0])
        for section in SECTIONS:
            u, t = r.ok("FETCH %d (BODY.PEEK[%s])" % (i + 1, section))
            items = fetch_items([l for l in u if b" FETCH " in l][0])
            out[name]["BODY[%s]" % section] = list(items.values())[0]
        for part in BINARY:
            u, t = r.cmd("FETCH %d (BINARY.SIZE[%s] BINARY.PEEK[%s])" % (i + 1, part, part))
            lines = [l for l in u if b" FETCH " in l]
            items = fetch_items(lines[0]) if lines and t.startswith(b"OK") else {}
            out[name]["BINARY[%s]" % part] = [t.split(b" ")[0], items.get("BINARY.SIZE[%s]" % part), items.get("BINARY[%s]" % part)]
    searches = {}
    for q in SEARCHES:
        data = q.encode()
        if not q.isascii():
            # The UTF-8 argument goes as a literal with CHARSET UTF-8.
            head, arg = q.rsplit(" ", 1)
            arg = arg.encode()
            data = b"CHARSET UTF-8 " + head.encode() + b" {%d+}\r\n" % len(arg) + arg
        u, t = r.ok(b"SEARCH " + data)
        found = [l for l in u if l.startswith(b"* SEARCH")]
        searches[q] = sorted(int(x) for x in found[0].split()[2:]) if found else []
    return out, searches


y = Raw(YUBIN, CA, tls=True)
u, t = y.login_plain("alice@example.test", "alice-password")
check(t.startswith(b"OK"), t)
d = Raw(DOVECOT, CA)
d.ok("LOGIN alice alice-pass")
ours, our_search = collect(y)
theirs, their_search = collect(d)

def self_consistent(answer):
    """A BINARY answer whose BINARY.SIZE is the length of its BINARY data."""
    status, size, data = answer
    return status == b"OK" and size is not None and data is not None and int(size) == len(data)


problems = []
for name, _ in CORPUS:
    for item in ("ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822.SIZE") + tuple("BODY[%s]" % s for s in SECTIONS) + tuple("BINARY[%s]" % p for p in BINARY):
        a, b = ours[name][item], theirs[name][item]
        if item.startswith("BINARY[") and a[2] == b[2] and self_consistent(a) and not self_consistent(b):
            # Dovecot 2.3.19 miscounts BINARY.SIZE of a multipart whose parts it decodes
            # (its size is not the length of its own BINARY answer); the data must agree.
            print("NOTE %s %s: Dovecot BINARY.SIZE %s for %d bytes" % (name, item, b[1].decode(), len(b[2])))
            a, b = a[:2], a[:2]
        for p in diff(a, b, "%s %s" % (name, item)):
            problems.append(p)
for q in SEARCHES:
    if our_search[q] != their_search[q]:
        problems.append("SEARCH %s: yubin %r, dovecot %r" % (q, our_search[q], their_search[q]))
for p in problems:
    print("DIFF", p)
print("compared %d messages x %d items and %d searches: %d differences" % (len(CORPUS), 4 + len(SECTIONS) + len(BINARY), len(SEARCHES), len(problems)))
