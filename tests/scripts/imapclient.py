"""A small, exact IMAP client for the tests: it sends command bytes as written and returns the
untagged responses (with literals inlined) and the tagged completion, so the tests can check the
server's responses byte for byte. imaplib is used as the real client elsewhere."""

import base64
import socket
import ssl
import sys


def context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class Raw:
    def __init__(self, port, cafile, tls=False, host="127.0.0.1"):
        self.cafile = cafile
        s = socket.create_connection((host, port), timeout=20)
        if tls:
            s = context(cafile).wrap_socket(s, server_hostname="localhost")
        self.s = s
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    def starttls(self):
        self.s = context(self.cafile).wrap_socket(self.s, server_hostname="localhost")

    def _fill(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def _raw_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def line(self):
        """One response line, literals inlined (their bytes follow the {n} marker)."""
        out = self._raw_line()
        while out.endswith(b"}") and b"{" in out:
            size = out[out.rindex(b"{") + 1:-1].lstrip(b"~")
            if not size.isdigit():
                break
            n = int(size)
            while len(self.buf) < n:
                self._fill()
            out += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]
            out += self._raw_line()
        return out

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def cmd(self, text):
        """Sends `TAG text` and reads to the tagged reply; returns (untagged, tagged line)."""
        self.n += 1
        tag = "t%d" % self.n
        data = text.encode() if isinstance(text, str) else text
        self.send(tag.encode() + b" " + data + b"\r\n")
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag.encode() + b" "):
                return untagged, line[len(tag) + 1:]
            untagged.append(line)

    def ok(self, text):
        untagged, tagged = self.cmd(text)
        check(tagged.startswith(b"OK"), "%s -> %r %r" % (text if isinstance(text, str) else text[:60], tagged, untagged[:5]))
        return untagged, tagged

    def login_plain(self, user, password):
        ir = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
        return self.cmd("AUTHENTICATE PLAIN " + ir)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def check(cond, what):
    if not cond:
        import traceback
        caller = traceback.extract_stack(limit=2)[0]
        print("FAILED at %s:%d: %s" % (caller.filename.rsplit("/", 1)[-1], caller.lineno, what))
        sys.exit(1)


def find(lines, prefix):
    """The untagged lines that start with `* prefix` (bytes)."""
    if isinstance(prefix, str):
        prefix = prefix.encode()
    return [l for l in lines if l.startswith(b"* " + prefix)]
