"""Tricky MIME messages for comparing yubin's FETCH ENVELOPE/BODYSTRUCTURE and SEARCH with
Dovecot's. Each entry is (name, bytes); lines end in CRLF unless the case is about bare LF.
The messages named in LITERAL8 are appended as literal8 (`~{n}`, RFC 3516)."""

def crlf(s):
    return s.replace("\n", "\r\n").encode()

CORPUS = [
    ("plain-no-content-type", crlf("""From: a@example.com
To: b@example.com
Subject: plain
Date: Sun, 01 Nov 2026 10:00:00 +0000
Message-ID: <plain@example.com>

Just text.
Two lines.
""")),
    ("alternative-qp", crlf("""From: "Doe, John" <john.doe@example.com>
To: "Alice" <alice@example.test>, bob@example.test
Cc: undisclosed-recipients:;
Subject: =?UTF-8?B?8J+Ukg==?= alternative
Date: Mon, 02 Nov 2026 11:30:00 -0500
Message-ID: <alt@example.com>
In-Reply-To: <parent@example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="=_alt"

This is a multi-part message in MIME format.
--=_alt
Content-Type: text/plain; charset="utf-8"; format=flowed
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 au lait, na=C3=AFve.
--=_alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>Caf=C3=A9 au lait</p>
--=_alt--
""")),
    ("nested-rfc822", crlf("""From: Forwarder <fwd@example.org>
To: alice@example.test
Subject: Fwd: inner
Date: Tue, 03 Nov 2026 09:00:00 +0900
Message-ID: <fwd@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: text/plain

See the attached message.
--outer
Content-Type: message/rfc822
Content-Disposition: attachment; filename="inner.eml"

From: Inner Sender <inner@example.net>
To: someone@example.net
Subject: inner
Date: Mon, 02 Nov 2026 08:00:00 +0000
Message-ID: <inner@example.net>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=us-ascii

inner text
--inner
Content-Type: text/html; charset=us-ascii

<b>inner</b>
--inner--
--outer--
""")),
    ("groups-and-odd-addresses", crlf("""From: =?iso-8859-1?q?J=F6rg_M=FCller?= <joerg@example.de>
Sender: list-bounces@lists.example.org
Reply-To: list@lists.example.org
To: Team: carol@example.net, "Dave (work)" <dave@example.net>;, eve@example.net
Cc: "quoted \\"name\\"" <q@example.com>
Bcc: hidden@example.com
Subject: 
Date: Wed, 04 Nov 2026 12:00:00 +0100
Message-ID: <groups@example.de>

body
""")),
    ("related-inline-params", crlf("""From: a@example.com
To: b@example.com
Subject: related
Date: Thu, 05 Nov 2026 10:00:00 +0000
Message-ID: <rel@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="m"
Content-Language: en

--m
Content-Type: multipart/related; boundary="r"; type="text/html"

--r
Content-Type: text/html; charset=utf-8
Content-Language: en, de
Content-Location: http://example.com/index.html

<img src="cid:logo@example.com">
--r
Content-Type: image/png; name=logo.png
Content-ID: <logo@example.com>
Content-Description: The logo
Content-Disposition: inline; filename=logo.png; size=4
Content-Transfer-Encoding: base64
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

iVBORw==
--r--
--m
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment;
 filename="report.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--m--
""")),
    ("missing-final-boundary", crlf("""From: a@example.com
To: b@example.com
Subject: truncated
Date: Fri, 06 Nov 2026 10:00:00 +0000
Message-ID: <trunc@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

part one
--b
Content-Type: text/plain

part two never ends
""")),
    ("boundary-never-appears", crlf("""From: a@example.com
To: b@example.com
Subject: no parts
Date: Sat, 07 Nov 2026 10:00:00 +0000
Message-ID: <noparts@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=zzz

just a preamble, no parts at all
""")),
    ("uppercase-types", crlf("""From: a@example.com
To: b@example.com
Subject: case
Date: Sun, 08 Nov 2026 10:00:00 +0000
Message-ID: <case@example.com>
MIME-Version: 1.0
Content-Type: TEXT/HTML; CHARSET=UTF-8
Content-Transfer-Encoding: 8BIT

<p>hello</p>
""")),
    ("digest", crlf("""From: digest@example.com
To: b@example.com
Subject: digest
Date: Mon, 09 Nov 2026 10:00:00 +0000
Message-ID: <digest@example.com>
MIME-Version: 1.0
Content-Type: multipart/digest; boundary=d

--d

From: one@example.com
Subject: first

first body
--d

From: two@example.com
Subject: second

second body
--d--
""")),
    ("folded-headers", crlf("""From: a@example.com
To: first@example.com,
 second@example.com,
	third@example.com
Subject: a subject that is folded
 over two lines
Date: Tue, 10 Nov 2026 10:00:00 +0000
Message-ID:
 <folded@example.com>
Content-Type: text/plain;
 charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Gr=FC=DFe
""")),
    ("rfc2231-params", crlf("""From: a@example.com
To: b@example.com
Subject: rfc2231
Date: Wed, 11 Nov 2026 10:00:00 +0000
Message-ID: <rfc2231@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=x

--x
Content-Type: application/octet-stream; name*=utf-8''na%C3%AFve.bin
Content-Disposition: attachment; filename*=utf-8''na%C3%AFve.bin

AAAA
--x--
""")),
    ("no-body", crlf("""From: a@example.com
Subject: headers only
Date: Thu, 12 Nov 2026 10:00:00 +0000
""").rstrip(b"\r\n") + b"\r\n"),
    ("8bit-utf8-headers", """From: Jörg <joerg@example.de>
To: Zoë <zoe@example.com>
Subject: Grüße aus Köln
Date: Fri, 13 Nov 2026 10:00:00 +0000
Message-ID: <utf8@example.de>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Schöne Grüße
""".replace("\n", "\r\n").encode()),
    ("message-without-date-or-from", crlf("""Subject: minimal

x
""")),
    ("bare-lf-lines", b"From: lf@example.com\nTo: b@example.com\nSubject: bare LF\nDate: Sat, 14 Nov 2026 10:00:00 +0000\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=lf\n\n--lf\nContent-Type: text/plain\n\nline one\nline two\n--lf--\n"),
    ("invalid-content-type", crlf("""From: a@example.com
To: b@example.com
Subject: bad type
Date: Sun, 15 Nov 2026 10:00:00 +0000
Content-Type: text
Content-Transfer-Encoding: base64

aGVsbG8=
""")),
    ("three-levels-preamble-epilogue", crlf("""From: a@example.com
To: b@example.com
Subject: deep
Date: Mon, 16 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=L1

preamble text
--L1
Content-Type: multipart/alternative; boundary=L2

--L2
Content-Type: text/plain; charset=us-ascii

plain
--L2
Content-Type: multipart/related; boundary=L3

--L3
Content-Type: text/html

<p>deep</p>
--L3
Content-Type: image/gif
Content-Transfer-Encoding: base64

R0lGODlh
--L3--

--L2--
--L1
Content-Type: message/rfc822

Subject: attached
From: x@example.com

attached body
--L1--
epilogue text
""")),
    ("duplicate-headers-encoded-filename", crlf("""From: a@example.com
From: second@example.com
To: b@example.com
Subject: first subject
Subject: second subject
Date: Tue, 17 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="q"

--q
Content-Type: application/octet-stream; name="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="
Content-Disposition: attachment; filename="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="

AAAA
--q--
""")),
    # imaptest fetch-body-message-rfc822-x2: a top-level message/rfc822 holding another; its
    # part 1 is the whole embedded message.
    ("top-level-rfc822-x2", crlf("""From: user@domain.org
Date: Sat, 24 Mar 2007 23:00:00 +0200
Mime-Version: 1.0
Content-Type: message/rfc822

From: user2@domain.org
Date: Fri, 23 Mar 2007 11:22:33 +0200
Mime-Version: 1.0
Content-Type: message/rfc822

From: sub@domain.org
Date: Sun, 12 Aug 2012 12:34:56 +0300
Subject: submsg

Hello world
""")),
    # imaptest fetch-body-message-rfc822-mime: the embedded message is a digest.
    ("top-level-rfc822-digest", crlf("""From: user@domain.org
Date: Sat, 24 Mar 2007 23:00:00 +0200
Mime-Version: 1.0
Content-Type: message/rfc822

From: sub@domain.org
Date: Sun, 12 Aug 2012 12:34:56 +0300
Subject: submsg
Content-Type: multipart/digest; boundary="foo"

prologue

--foo 

From: m1@example.com
Subject: m1

m1 body

--foo 
X-Mime: m2 header

From: m2@example.com
Subject: m2

m2 body

--foo--

epilogue
""")),
    # imaptest fetch-envelope and search-addresses: comments are not part of an address; an
    # addr-spec's last comment is its display name; missing parts are filled in.
    ("address-comments", crlf("""From: <user-from (comment)@ (comment) domain.org>
Sender: user-from@domain.org (Real Name)
Reply-To: grp: a@example.net (X);, g2: (foo) ;
To: Name <u (c)@example.net>, x (a) (b) @ example.net (c) (d), "q\\"x" (cmt (nested) \\) x) <q@example.net>
Cc: user, John Smith, (pre) u3@example.net, u4 (in) @example.net, u5@example.net ()
Bcc: user-bcc@domain.org (Real
 Folded)
Subject: address comments
Date: Wed, 18 Nov 2026 10:00:00 +0000
Message-ID: <addr@example.net>

body
""")),
    ("address-comment-name", crlf("""From: user-from@domain.org (Real Name)
To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;
Cc: group:;, group2: (foo) ;
Subject: comment name
Date: Wed, 18 Nov 2026 11:00:00 +0000

body
""")),
    # imaptest fetch-binary-mime-qp: trailing white space and `=` + space soft line breaks
    # (RFC 2045 §6.7 rules 3 and 5).
    ("qp-soft-breaks", crlf("""From: user@domain.org
Date: Sat, 24 Mar 2007 23:00:00 +0200
Mime-Version: 1.0
Content-Type: multipart/mixed; boundary="foo
 bar"

Root MIME prologue

--foo bar
Content-Type: text/x-myown; charset=us-ascii
Content-Transfer-Encoding: quoted-printable

hello  
bar=

foo\t=
bar
foo\t \t= 
=62
foo = \t
bar
foo =
=62
foo  
bar=

foo_bar

--foo bar--
Root MIME epilogue
""")),
    # imaptest append-binary: NUL, bare CR and LF in a binary part sent as literal8.
    ("binary-literal8", b"From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00-\xe4\n\r\n\n"),
    ("binary-literal8-multipart", b"From: user@domain.org\r\nSubject: binary parts\r\nMime-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\ntext\r\n--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: binary\r\n\r\n" + bytes(range(256)) * 3 + b"\r\n--b--\r\n"),
    # A NUL in a plain literal: BODY[] carries it as 0x80, BINARY[] as a literal8.
    ("nul-in-text", b"From: a@example.com\r\nSubject: nul\r\n\r\nnul\x00here\r\n"),
]

LITERAL8 = {"binary-literal8", "binary-literal8-multipart"}

# SEARCH criteria whose results are compared (sequence numbers follow CORPUS order).
SEARCHES = [
    "ALL",
    "SUBJECT inner",
    "SUBJECT Fwd",
    "FROM example.com",
    "FROM joerg",
    "TO carol",
    "TO Team",
    "CC quoted",
    "BCC hidden",
    "HEADER Content-Type multipart",
    "HEADER Message-ID folded",
    "HEADER In-Reply-To \"\"",
    "BODY lait",
    "BODY caf\u00e9",
    "TEXT inner",
    "TEXT logo",
    "BODY preamble",
    "SENTSINCE 5-Nov-2026",
    "SENTBEFORE 4-Nov-2026",
    "SENTON 3-Nov-2026",
    "LARGER 600",
    "SMALLER 300",
    "OR FROM a@example.com SUBJECT digest",
    "NOT FROM example.com",
    "SUBJECT gr\u00fc\u00dfe",
    "BODY sch\u00f6ne",
    "SUBJECT \"folded over\"",
    "BODY \u00fc\u00df",
    "SUBJECT second",
    "FROM second",
    "BODY epilogue",
    "BODY preamble",
    "TEXT attached",
    "BODY hello",
    "BODY aGVsbG8",
    "SUBJECT bare",
    "FROM user-from@domain.org",
    "FROM comment",
    "HEADER FROM comment",
    "FROM \"real name\"",
    "BCC \"real folded\"",
    "TO \"<q@example.net>\"",
    "TO \"d <x@example.net>\"",
    "CC \"john smith\"",
    "CC u3@example.net",
    "TO g3@d3.org",
    "CC group2",
    "BODY \"hello world\"",
    "TEXT m2",
]
