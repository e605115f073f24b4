"""parse_message on the shapes real mail takes, one property at a time (the corpus test covers whole messages)."""

from __future__ import annotations

import base64
import datetime as dt
import encodings.aliases
import pathlib
import random
import tracemalloc
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from tierdesk.channels.email.message import UnparseableEmail
from tierdesk.channels.email.parse import parse_message, parse_message_ids
from tierdesk.channels.email.replies import visible_reply
from tierdesk.channels.email.subjects import normalise_subject


def _mail(body: str = "Hello", **headers: str) -> bytes:
    head = {"From": "Ann <ann@example.com>", "To": "support@example.com", "Subject": "Help",
            "Date": "Mon, 4 Mar 2024 10:00:00 +0100", "Message-ID": "<m1@example.com>"}
    head.update({k.replace("_", "-"): v for k, v in headers.items()})
    lines = [f"{k}: {v}" for k, v in head.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")


# -- not a message at all -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n ", b"\x00\x01\x02\x03binary\xff\xfe" * 50])
def test_what_is_not_a_message_is_refused(raw: bytes) -> None:
    with pytest.raises(UnparseableEmail):
        parse_message(raw)


def test_text_without_any_header_is_still_read_with_a_defect() -> None:
    parsed = parse_message(b"just some words somebody piped in\n")
    assert "just some words" in parsed.text
    assert any("no header" in d for d in parsed.defects)


# -- headers --------------------------------------------------------------------------------------------------------

def test_basic_headers() -> None:
    parsed = parse_message(_mail(Cc="Bob <BOB@Example.com>, carol@example.com", Reply_To="help@example.com"))
    assert (parsed.from_address, parsed.from_name) == ("ann@example.com", "Ann")
    assert parsed.to == ["support@example.com"]
    assert parsed.cc == ["bob@example.com", "carol@example.com"]
    assert parsed.reply_to == ["help@example.com"]
    assert parsed.date == dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.UTC)
    assert parsed.message_id == "<m1@example.com>"
    assert parsed.defects == []


def test_missing_and_malformed_headers_are_defects_not_failures() -> None:
    parsed = parse_message(_mail(From=None, Date="the day before yesterday", Message_ID=None))  # type: ignore[arg-type]
    assert parsed.from_address is None and parsed.date is None and parsed.message_id is None
    assert any(d.startswith("From") for d in parsed.defects)
    assert any(d.startswith("Date") for d in parsed.defects)


def test_unparseable_from_keeps_what_looks_like_an_address() -> None:
    parsed = parse_message(_mail(From='"Broken Quote <ann@example.com>'))
    assert parsed.from_address == "ann@example.com"


def test_raw_8bit_header_bytes_are_read_as_utf8_or_in_the_message_charset() -> None:
    utf8 = b"From: =?utf-8?q?J=C3=B6rg?= <j@example.de>\r\nSubject: Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n\r\nx"
    assert parse_message(utf8).subject == "Grüße aus Köln"
    koi8 = (b"Subject: " + "Привет".encode("koi8_r") + b"\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n"
            + "тело".encode("koi8_r"))
    parsed = parse_message(koi8)
    assert parsed.subject == "Привет" and parsed.text == "тело"


def test_subject_encoded_words_split_inside_a_character_and_folded() -> None:
    word = "Störung".encode()
    first, second = base64.b64encode(word[:3]).decode(), base64.b64encode(word[3:]).decode()
    parsed = parse_message(_mail(Subject=f"=?utf-8?b?{first}?=\r\n =?utf-8?b?{second}?= im\r\n\tNetz"))
    assert parsed.subject == "Störung im Netz"


def test_unknown_charset_in_an_encoded_word_does_not_fail() -> None:
    assert parse_message(_mail(Subject="=?x-martian?q?Hello_there?=")).subject == "Hello there"


@pytest.mark.parametrize(("value", "ids"), [
    ("<a@b>", ["<a@b>"]),
    ("a@b", ["<a@b>"]),
    ("<a@b> <c@d>", ["<a@b>", "<c@d>"]),
    ("<a@b>,<c@d>", ["<a@b>", "<c@d>"]),
    ('"Ann" <a@b> (sent 2024) c@d', ["<a@b>", "<c@d>"]),
    ("<a@b>\r\n\t<c@d>", ["<a@b>", "<c@d>"]),
    ("<a@\r\n b>", ["<a@b>"]),
    ("<a@b> <a@b>", ["<a@b>"]),
    ("1234.5678", ["<1234.5678>"]),
    ("", []),
])
def test_message_ids_are_read_tolerantly(value: str, ids: list[str]) -> None:
    assert parse_message_ids(value) == ids


def test_threading_headers() -> None:
    parsed = parse_message(_mail(In_Reply_To="x@y (Support)", References="<r1@y> garbage <r2@y>"))
    assert parsed.in_reply_to == ["<x@y>"]
    assert parsed.references == ["<r1@y>", "<r2@y>"]


# -- bodies and charsets --------------------------------------------------------------------------------------------

_TEXT = "Grüße, €5 – ok"


def _codecs_that_carry(text: str) -> list[str]:
    names = sorted(set(encodings.aliases.aliases.values()))
    usable = []
    for name in names:
        try:
            if text.encode(name).decode(name) == text:
                usable.append(name)
        except (UnicodeError, LookupError, TypeError, ValueError):
            continue
    return usable


@pytest.mark.parametrize("codec", _codecs_that_carry(_TEXT))
def test_every_charset_python_knows_is_read(codec: str) -> None:
    raw = (b"From: a@example.com\r\nContent-Type: text/plain; charset=" + codec.encode()
           + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(_TEXT.encode(codec)))
    assert parse_message(raw).text == _TEXT


def test_a_lying_charset_falls_back_and_says_so() -> None:
    raw = (b"From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           + "Die Überweisung über 120 € ist fehlgeschlagen.".encode("cp1252"))
    parsed = parse_message(raw)
    assert parsed.text == "Die Überweisung über 120 € ist fehlgeschlagen."
    assert any("part 1" in d and "'utf-8'" in d for d in parsed.defects)


def test_an_unknown_charset_is_a_defect_naming_it() -> None:
    raw = b"From: a@example.com\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nqapla'"
    parsed = parse_message(raw)
    assert parsed.text == "qapla'"
    assert any("x-klingon" in d for d in parsed.defects)


def test_quoted_printable_and_broken_base64() -> None:
    qp = (b"From: a@example.com\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
          b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
          b"Sch=F6ne Gr=FC=DFe, sehr lange Zeile die umbr=\r\nochen ist")
    assert parse_message(qp).text == "Schöne Grüße, sehr lange Zeile die umbrochen ist"
    b64 = (b"From: a@example.com\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"aGVsbG8gd29ybGQ\r\n")
    parsed = parse_message(b64)
    assert parsed.text == "hello world"


def test_html_only_mail_gets_a_text_rendering() -> None:
    html = "<html><body><p>Hello <b>there</b></p><ul><li>one</li><li>two</li></ul><script>x()</script></body></html>"
    parsed = parse_message(_mail(html, Content_Type="text/html; charset=utf-8"))
    assert parsed.html == html
    assert "Hello there" in parsed.text and "one" in parsed.text and "x()" not in parsed.text
    assert "<b>" not in parsed.visible_text


def test_very_long_lines() -> None:
    line = "x" * 200_000
    parsed = parse_message(_mail(line))
    assert parsed.text == line


def _multipart() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ann <ann@example.com>"
    message["To"] = "support@example.com"
    message["Subject"] = "Screenshot"
    message.set_content("See the picture.")
    message.add_alternative('<p>See the picture.<img src="cid:shot@ann"></p>', subtype="html")
    message.get_payload()[1].add_related(b"\x89PNG fake", "image", "png", cid="<shot@ann>", filename="shot.png")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="Rechnung März 2024.pdf")
    forwarded = EmailMessage()
    forwarded["From"] = "bob@example.com"
    forwarded["Subject"] = "Original problem"
    forwarded["Message-ID"] = "<inner@example.com>"
    forwarded.set_content("It broke.")
    message.add_attachment(forwarded)
    return message


def test_alternative_related_attachments_and_forwards() -> None:
    parsed = parse_message(_multipart().as_bytes(policy=SMTP))
    assert parsed.text.strip() == "See the picture."
    assert parsed.html is not None and "cid:shot@ann" in parsed.html
    by_name = {a.filename: a for a in parsed.attachments}
    assert set(by_name) == {"shot.png", "Rechnung März 2024.pdf", "Original problem.eml"}
    image = by_name["shot.png"]
    assert image.inline and image.content_id == "shot@ann" and image.data == b"\x89PNG fake"
    assert not by_name["Rechnung März 2024.pdf"].inline
    forward = by_name["Original problem.eml"]
    assert forward.content_type == "message/rfc822"
    assert b"Message-ID: <inner@example.com>" in forward.data and b"It broke." in forward.data


def test_deeply_nested_multiparts_do_not_fail() -> None:
    body = "leaf"
    raw = "Content-Type: text/plain\r\n\r\nleaf\r\n"
    for level in range(80):
        raw = (f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n{raw}\r\n--b{level}--\r\n')
    parsed = parse_message(b"From: a@example.com\r\n" + raw.encode())
    assert body in parsed.text or any("deeper than" in d for d in parsed.defects)


def test_a_25_mb_attachment_parses_without_blowing_up_memory() -> None:
    payload = bytes(range(256)) * (25 * 1024 * 1024 // 256)
    message = EmailMessage()
    message["From"] = "ann@example.com"
    message["Subject"] = "big"
    message.set_content("see attached")
    message.add_attachment(payload, maintype="application", subtype="octet-stream", filename="big.bin")
    raw = message.as_bytes()
    tracemalloc.start()
    try:
        parsed = parse_message(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parsed.attachments[0].data == payload
    assert parsed.visible_text == "see attached"
    # Linear handling keeps a handful of copies of the message; a quadratic one would not finish at all.
    assert peak < 12 * len(raw)


# -- what agents see first ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "visible"), [
    ("Thanks, works now.\n\nOn Wed, Dec 20, 2023 at 13:37, Support <s@x.com> wrote:\n> old\n> more",
     "Thanks, works now."),
    ("Danke!\n\nAm 20.12.2023 um 13:37 schrieb Max Muster <max@example.de>:\n> alt", "Danke!"),
    ("Merci\n\nLe mer. 20 déc. 2023 à 13:37, Jean <j@example.fr> a écrit :\n> vieux", "Merci"),
    ("Gracias\n\nEl mié, 20 dic 2023 a las 13:37, Juan (<j@example.es>) escribió:\n> viejo", "Gracias"),
    ("Bedankt\n\nOp wo 20 dec. 2023 om 13:37 schreef Jan <j@example.nl>:\n> oud", "Bedankt"),
    ("Tack\n\nDen 20 dec. 2023 kl. 13:37 skrev Sven <s@example.se>:\n> gammal", "Tack"),
    ("Please fix.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nTo: me\nSubject: x\n\nold",
     "Please fix."),
    ("Please fix.\n\nFrom: Support <s@x.com>\nSent: Monday, 1 Jan 2024\nTo: me\nSubject: x\n\nold", "Please fix."),
    ("Bitte prüfen.\n\nVon: Support <s@x.com>\nGesendet: Montag, 1. Januar 2024\nAn: mich\n\nalt", "Bitte prüfen."),
    ("Hello\n\n-- \nBob\nACME Ltd", "Hello"),
    ("Hello\n\nSent from my iPhone\n\n> Hi", "Hello"),
    ("On Tue, Bob wrote:\n> question?\n\nMy answer below the quote.", "My answer below the quote."),
    ("Point one:\n> your question\nmy answer\n> your other question\nanother answer", None),
    ("> only a quote, nothing else", "> only a quote, nothing else"),
])
def test_visible_reply(text: str, visible: str | None) -> None:
    assert visible_reply(text) == (text if visible is None else visible)


def test_visible_text_is_never_empty_when_text_is_not() -> None:
    for text in ["-- \nonly a signature", "-----Original Message-----\nFrom: x\nSent: y\n\nbody", "> quoted"]:
        assert visible_reply(text).strip()


# -- automatic mail ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "signal"), [
    ({"Auto_Submitted": "auto-replied"}, "Auto-Submitted"),
    ({"Auto_Submitted": "auto-generated"}, "Auto-Submitted"),
    ({"X_Autoreply": "yes"}, "X-Autoreply"),
    ({"X_Autorespond": "Vacation"}, "X-Autorespond"),
    ({"X_Auto_Response_Suppress": "OOF, AutoReply"}, "X-Auto-Response-Suppress"),
    ({"Precedence": "bulk"}, "Precedence"),
    ({"Precedence": "junk"}, "Precedence"),
    ({"Precedence": "list"}, "Precedence"),
    ({"Precedence": "auto_reply"}, "Precedence"),
    ({"List_Id": "Users <users.lists.example.com>"}, "List-Id"),
    ({"X_Loop": "support@example.com"}, "X-Loop"),
    ({"Return_Path": "<>"}, "Return-Path"),
    ({"X_MS_Exchange_Generated_Message_Source": "Mailbox Rules Agent"}, "X-MS-Exchange"),
    ({"Subject": "Out of Office: Help"}, "Subject"),
    ({"Subject": "Automatic reply: Help"}, "Subject"),
    ({"Subject": "Abwesenheitsnotiz: Hilfe"}, "Subject"),
    ({"Subject": "=?utf-8?q?R=C3=A9ponse_automatique_:_Aide?="}, "Subject"),
])
def test_automatic_mail_is_recognised_and_says_why(headers: dict[str, str], signal: str) -> None:
    parsed = parse_message(_mail(**headers))
    assert parsed.auto_submitted is not None and parsed.auto_submitted.startswith(signal)


@pytest.mark.parametrize("headers", [{}, {"Auto_Submitted": "no"}, {"Subject": "Re: out of office hours support?"},
                                     {"X_Auto_Response_Suppress": "DR, RN"}])
def test_a_persons_mail_is_not_automatic(headers: dict[str, str]) -> None:
    assert parse_message(_mail(**headers)).auto_submitted is None


# -- bounces -------------------------------------------------------------------------------------------------------

_DSN = """From: MAILER-DAEMON@mx.example.net
To: support@example.com
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary=B

--B
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; alias-7@internal.example.net
Original-Recipient: rfc822; Customer@Example.net
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--B
Content-Type: message/rfc822

From: support@example.com
To: customer@example.net
Subject: Re: your ticket
Message-ID: <sent-1@example.com>

Our answer.
--B--
"""


def test_delivery_status_notification_failed() -> None:
    raw = _DSN.format(action="failed", status="5.1.1", diagnostic="550 5.1.1 User unknown").encode()
    parsed = parse_message(raw)
    assert parsed.bounce is not None
    assert parsed.bounce.failed_recipients == ["customer@example.net"]
    assert (parsed.bounce.status, parsed.bounce.permanent) == ("5.1.1", True)
    assert parsed.bounce.diagnostic == "smtp; 550 5.1.1 User unknown"
    assert parsed.bounce.original_message_id == "<sent-1@example.com>"
    assert parsed.auto_submitted is not None


def test_delivery_status_notification_delayed_is_soft() -> None:
    raw = _DSN.format(action="delayed", status="4.4.1", diagnostic="connection timed out").encode()
    bounce = parse_message(raw).bounce
    assert bounce is not None and not bounce.permanent and bounce.status == "4.4.1"


def test_successful_delivery_report_is_no_bounce() -> None:
    raw = _DSN.format(action="delivered", status="2.0.0", diagnostic="250 ok").encode()
    parsed = parse_message(raw)
    assert parsed.bounce is None and parsed.auto_submitted is not None


def test_qmail_style_bounce() -> None:
    raw = b"""From: MAILER-DAEMON@mail.example.org
To: support@example.com
Subject: failure notice

Hi. This is the qmail-send program at mail.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<nobody@example.org>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

To: nobody@example.org
From: support@example.com
"""
    bounce = parse_message(raw).bounce
    assert bounce is not None and bounce.failed_recipients == ["nobody@example.org"]


def test_a_person_writing_about_undelivered_mail_is_no_bounce() -> None:
    parsed = parse_message(_mail("The following address failed:\n  x@example.com\nwhy?", Subject="Undeliverable?"))
    assert parsed.bounce is None


# -- duplicates ------------------------------------------------------------------------------------------------------

def test_content_digest_ignores_how_the_message_travelled() -> None:
    base = _mail("same words")
    relayed = (b"Received: from mx by mx2; Mon, 4 Mar 2024\r\nReturn-Path: <ann@example.com>\r\n"
               b"DKIM-Signature: v=1; a=rsa-sha256\r\nARC-Seal: i=1\r\nX-Spam-Score: 0.1\r\n" + base)
    assert parse_message(base).content_digest == parse_message(relayed).content_digest
    assert parse_message(base).content_digest == parse_message(base.replace(b"\r\n", b"\n")).content_digest
    assert parse_message(base).content_digest != parse_message(_mail("other words")).content_digest
    assert parse_message(base).content_digest != parse_message(_mail("same words", Subject="Other")).content_digest


# -- subjects -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("subject", [
    "Printer offline", "Re: Printer offline", "RE: RE: Printer offline", "Re[2]: Printer offline",
    "AW: Printer offline", "Aw: WG: Printer offline", "SV: Printer offline", "Sv: VS: Printer offline",
    "Antw: Printer offline", "Ref: Printer offline", "Réf. : Printer offline".replace(". ", ""),
    "Rif: Printer offline", "R: Printer offline", "Fw: Printer offline", "Fwd: Fwd: Printer offline",
    "TR: Printer offline", "Enc: Printer offline", "RV: Printer offline", "Doorst: Printer offline",
    "VB: Printer offline", "Odp: Printer offline", "Yanıt: Printer offline", "回复: Printer offline",
    "答复：Printer offline", "转发: Printer offline", "返信: Printer offline", "転送: Printer offline",
    "[EXTERNAL] Printer offline", "[EXTERNAL] RE: Printer offline", "Re: [External] Re: Printer offline",
    "  re:   PRINTER   offline  ",
])
def test_normalise_subject(subject: str) -> None:
    assert normalise_subject(subject) == "printer offline"


def test_normalise_subject_keeps_what_is_not_a_prefix() -> None:
    assert normalise_subject("Regarding: invoice") == "regarding: invoice"
    assert normalise_subject("Re: [#1234] Printer") == "[#1234] printer"
    assert normalise_subject("Re:") == ""


# -- damaged input -------------------------------------------------------------------------------------------------

def test_damaged_corpus_messages_never_raise_anything_but_unparseable() -> None:
    """Truncated messages, flipped bytes, inserted garbage (a seeded, fixed set): parsing reads what it can."""
    rng = random.Random(9)
    corpus = sorted((pathlib.Path(__file__).parent / "corpus").glob("*.eml"))
    for path in corpus[::3]:
        raw = path.read_bytes()
        for attempt in range(12):
            damaged = bytearray(raw)
            if attempt % 3 == 0:
                damaged = damaged[: rng.randrange(len(damaged) + 1)]
            elif attempt % 3 == 1:
                for _ in range(20):
                    damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            else:
                at = rng.randrange(len(damaged))
                damaged[at:at] = bytes(rng.randrange(256) for _ in range(50))
            try:
                parsed = parse_message(bytes(damaged))
            except UnparseableEmail:
                continue
            assert isinstance(parsed.text, str) and len(parsed.content_digest) == 64, path.name
