"""Reading one MIME message into a ParsedEmail: pure (bytes in, no I/O), and never failing on what real mail servers
deliver. Whatever is wrong and repaired is written into `defects`; only bytes that are not a message at all raise
UnparseableEmail.

Built on the standard library's modern email API (policy.default). Header values are read from their raw form and
decoded here, so that a lying charset, raw 8-bit bytes or a malformed address cannot raise out of the library's
header classes."""

from __future__ import annotations

import base64
import binascii
import codecs
import datetime as dt
import email.utils
import functools
import hashlib
import io
import quopri
import re
from dataclasses import replace
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.policy import EmailPolicy
from typing import Any, cast
from urllib.parse import unquote

from tierdesk.channels.email.message import BounceReport, MailAttachment, ParsedEmail, UnparseableEmail
from tierdesk.channels.email.replies import visible_reply
from tierdesk.channels.email.signals import detect_automatic

__all__ = ["content_digest", "decode_bytes", "decode_header_text", "html_to_text", "parse_message", "parse_message_ids"]

# Labels whose real-world senders write a superset: decoding with the superset reads what the sender meant
# (the WHATWG encoding standard makes the same choices for the web).
_SUPERSETS = {
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "iso8859-1": "cp1252", "iso-8859-9": "cp1254", "iso-8859-11": "cp874", "tis-620": "cp874",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "euc-cn": "gb18030", "cp936": "gb18030",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext", "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "ksc5601": "cp949",
    "big5": "big5hkscs", "utf8": "utf-8", "iso-8859-8-i": "iso-8859-8", "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
}
# Declarations that say nothing about 8-bit bytes: such text is read as UTF-8 when it is UTF-8, else guessed.
_WEAK_CHARSETS = {"", "us-ascii", "ascii", "x-unknown", "unknown-8bit", "unknown", "x-user-defined", "default"}
_MSGID_TOKEN = re.compile(r"<[^<>]*>|[^\s<>,;\"()]+@[^\s<>,;\"()]+")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+?)\?([bBqQ])\?([^?]*?)\?=")
_BETWEEN_ENCODED_WORDS = re.compile(r"(\?=)\s+(=\?)")
_CID_REFERENCE = re.compile(r"cid:([^\"'\s>)]+)", re.IGNORECASE)
_FOLD = re.compile(r"\r?\n[ \t]*")
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
# Bodies past this many characters are cut before reply detection and the HTML rendering's second pass: reading a
# 25 MB body must stay linear, and what an agent sees first is never that long.
_TEXT_SCAN_LIMIT = 200_000
_HEADER_BLOCK_END = re.compile(rb"\r?\n\r?\n")
_DIGEST_SKIPPED = (b"received", b"return-path", b"delivered-to", b"dkim-signature", b"domainkey-signature",
                   b"authentication-results", b"received-spf", b"envelope-to", b"x-", b"arc-")


class _RememberingPolicy(EmailPolicy):
    """policy.default, but a header value is parsed once: the library parses a header again every time it is asked
    for (the parser itself asks for each part's Content-Type many times), a third of the time taken to read a mail.
    Header objects are immutable, so the same (name, value) may share one."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        if len(value) > _REMEMBERED_LENGTH:  # a long one is parsed each time, so the cache stays small
            return self.header_factory(name, "".join(value.splitlines()))
        return _parsed_header(self.header_factory, name, value)


_REMEMBERED_LENGTH = 1000


@functools.lru_cache(maxsize=4096)
def _parsed_header(factory: Any, name: str, value: str) -> Any:
    return factory(name, "".join(value.splitlines()))


_POLICY = _RememberingPolicy()


def parse_message(raw: bytes) -> ParsedEmail:
    """Read one message as it came off the wire (or out of an .eml/mbox file)."""
    if not raw or not raw.strip():
        raise UnparseableEmail("the message is empty")
    if raw.startswith(b"From ") and b"\n" in raw:  # an mbox "From " separator line left on a single message
        first_line, _, rest = raw.partition(b"\n")
        if b":" not in first_line.split(b" ", 2)[1]:
            raw = rest
    try:
        message = cast(EmailMessage, BytesParser(policy=_POLICY).parsebytes(raw))
    except Exception as error:  # the parser is documented not to raise; keep the promise to quarantine either way
        raise UnparseableEmail(f"the MIME structure cannot be read: {error}") from error
    if not message.keys() and _looks_binary(raw):
        raise UnparseableEmail("no header fields and no readable text: this is not an email message")

    reading = _Reading(message)
    if not message.keys():
        reading.defects.append("no header fields: the whole input was read as the body")
    reading.walk(message, depth=0)

    text = "\n\n".join(t for t in reading.texts if t.strip()) if reading.texts else ""
    html = "\n".join(reading.htmls) if reading.htmls else None
    if not text.strip() and html:
        text = html_to_text(html)
    if html and "cid:" in html:
        # A part the HTML shows through "cid:" is inline, whatever its Content-Disposition says (senders differ).
        shown = {unquote(cid).strip("<>") for cid in _CID_REFERENCE.findall(html)}
        reading.attachments = [replace(a, inline=True) if a.content_id in shown else a for a in reading.attachments]
    subject = reading.header_text("Subject")
    bounce = _bounce_report(message, reading, text)
    return ParsedEmail(
        message_id=_first(parse_message_ids(reading.raw_header("Message-ID"))),
        in_reply_to=parse_message_ids(reading.raw_header("In-Reply-To")),
        references=parse_message_ids(reading.raw_header("References")),
        subject=subject,
        from_address=reading.from_address,
        from_name=reading.from_name,
        reply_to=reading.addresses("Reply-To"),
        to=reading.addresses("To"),
        cc=reading.addresses("Cc"),
        date=reading.date(),
        text=text,
        html=html,
        visible_text=visible_reply(text),
        attachments=reading.attachments,
        auto_submitted=detect_automatic(reading.header_text, subject, reading.from_address,
                                        message.get_content_type(), _report_type(message)),
        bounce=bounce,
        defects=reading.defects,
        content_digest=content_digest(raw),
    )


def content_digest(raw: bytes) -> str:
    """SHA-256 over the message without its trace headers (how it travelled), line endings normalised: the same
    message delivered twice, over SMTP or fetched by IMAP, has the same digest."""
    match = _HEADER_BLOCK_END.search(raw)
    head, body = (raw[: match.start()], raw[match.end():]) if match else (raw, b"")
    digest = hashlib.sha256()
    for name, value in _unfolded_fields(head):
        if not name.lower().startswith(_DIGEST_SKIPPED):
            digest.update(name.lower() + b":" + b" ".join(value.split()) + b"\n")
    digest.update(b"\n")
    digest.update(body.replace(b"\r\n", b"\n").rstrip(b"\n"))
    return digest.hexdigest()


def _unfolded_fields(head: bytes) -> list[tuple[bytes, bytes]]:
    fields: list[tuple[bytes, bytes]] = []
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + b" " + line.strip())
        elif b":" in line:
            name, _, value = line.partition(b":")
            fields.append((name.strip(), value.strip()))
    return fields


def parse_message_ids(value: str | None) -> list[str]:
    """Message ids out of a Message-ID, In-Reply-To or References value, tolerantly: ids without angle brackets,
    comments, quoted names or other garbage between them. Each is returned as "<...>" without whitespace."""
    if not value:
        return []
    found: list[str] = []
    for token in _MSGID_TOKEN.findall(_FOLD.sub(" ", value)):
        inner = "".join(token.strip("<>").split())
        if not inner or (not token.startswith("<") and "@" not in inner):
            continue
        normalised = f"<{inner}>"
        if normalised not in found:
            found.append(normalised)
    if not found and value.strip() and "<" not in value:  # a bare id with no "@" (some mailers): keep it
        bare = "".join(value.split())
        if bare and len(bare) < 1000:
            found.append(f"<{bare}>")
    return found


def decode_header_text(value: str, fallback_charset: str | None = None) -> str:
    """An unstructured header value as a person reads it: RFC 2047 encoded words decoded with charset fallback
    (adjacent words in one charset joined before decoding: senders split multi-byte characters between them), raw
    8-bit bytes read as UTF-8, else as `fallback_charset` (the message's own), else Windows-1252; folding undone."""
    value = _fix_raw_bytes(_FOLD.sub(" ", value), fallback_charset)
    if "=?" in value:
        value = _decode_encoded_words(value)
    return value.replace("\r", "").replace("\n", " ").strip()


def _decode_encoded_words(value: str) -> str:
    pieces: list[str] = []
    pending: bytearray = bytearray()
    pending_charset: str | None = None
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position: match.start()]
        charset = match.group(1).split("*", 1)[0].lower()
        data = _encoded_word_bytes(match.group(2), match.group(3))
        if data is None:  # not decodable after all: keep it as written
            continue
        if pending_charset is not None and (between.strip() or charset != pending_charset):
            pieces.append(decode_bytes(bytes(pending), pending_charset)[0])
            pending, pending_charset = bytearray(), None
        if pending_charset is None:
            pieces.append(between if between.strip() or not pieces else "")
        pending += data
        pending_charset = charset
        position = match.end()
    if pending_charset is not None:
        pieces.append(decode_bytes(bytes(pending), pending_charset)[0])
    pieces.append(value[position:])
    return "".join(pieces)


def _encoded_word_bytes(encoding: str, payload: str) -> bytes | None:
    try:
        if encoding.upper() == "B":
            return base64.b64decode(payload + "=" * (-len(payload) % 4))
        return quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return None


def html_to_text(html: str) -> str:
    """A plain-text rendering of an HTML body (inscriptis keeps the layout of tables and lists readable)."""
    try:
        from inscriptis import get_text

        return str(get_text(html)).strip()
    except Exception:  # lxml refuses some documents outright; a crude rendering beats none
        return _strip_tags(html)


def _strip_tags(html: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", html)
    text = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>", "\n", text)
    text = re.sub(r"<[^>]*>", "", text)
    import html as html_module

    return re.sub(r"[ \t]+", " ", html_module.unescape(text)).strip()


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Text out of bytes said to be in `charset`, never raising: the declared charset (or the superset senders
    really use), then UTF-8, then a guess from the bytes (charset-normalizer), then Windows-1252, then Latin-1
    (which reads anything). Returns the text and, when the declared charset did not fit, the name of the one used
    instead (None when it did). US-ASCII and no charset are weak declarations: 8-bit text in them is read as UTF-8
    without complaint."""
    declared = (charset or "").strip().strip('"').lower()
    weak = declared in _WEAK_CHARSETS
    if weak and data.isascii():
        return data.decode("ascii"), None
    candidates: list[str] = []
    if declared and not weak:
        codec = _SUPERSETS.get(declared, declared)
        try:
            if codecs.lookup(codec)._is_text_encoding:
                candidates.append(codec)
        except (LookupError, ValueError):  # a charset Python does not know: whatever reads it, the declaration failed
            pass
    known = bool(candidates)
    candidates.append("utf-8")
    for position, codec in enumerate(candidates):
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            continue
        fitted = (position == 0 and known) or (weak and codec == "utf-8")
        return text, None if fitted else codec
    guessed = _guess_charset(data)
    for codec in ([guessed] if guessed else []) + ["cp1252"]:
        try:
            return data.decode(codec), codec
        except (UnicodeDecodeError, LookupError, ValueError):
            continue
    return data.decode("latin-1"), "latin-1"


def _guess_charset(data: bytes) -> str | None:
    """The charset the bytes most likely are in, judged on a sample (the guess must stay cheap on 25 MB)."""
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:65536]).best()
    except Exception:
        return None
    if best is None or best.encoding in ("ascii", "utf_8"):
        return None
    return str(best.encoding)


def _fix_raw_bytes(value: str, fallback_charset: str | None = None) -> str:
    """Header values with raw 8-bit bytes reach us as surrogate escapes: read those bytes as UTF-8, else in the
    message's own charset, else as cp1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    data = value.encode("ascii", "surrogateescape")
    for codec in ("utf-8", _SUPERSETS.get(fallback_charset or "", fallback_charset), "cp1252"):
        if not codec:
            continue
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            continue
    return data.decode("latin-1")


def _looks_binary(raw: bytes) -> bool:
    sample = raw[:4096]
    if b"\x00" in sample:
        return True
    printable = sum(1 for b in sample if b >= 32 or b in (9, 10, 13))
    return printable < len(sample) * 0.9


def _first(items: list[str]) -> str | None:
    return items[0] if items else None


def _report_type(message: Message) -> str | None:
    if message.get_content_type() != "multipart/report":
        return None
    value = message.get_param("report-type")
    return value.lower() if isinstance(value, str) else None


class _Reading:
    """The state of reading one message: header access that never raises, the body parts found, the defects."""

    def __init__(self, message: EmailMessage) -> None:
        self.message = message
        self.defects: list[str] = []
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.attachments: list[MailAttachment] = []
        self.report_parts: list[Message] = []
        self._part_number = 0
        for defect in getattr(message, "defects", []):
            self.defects.append(f"message: {type(defect).__name__}: {defect}")
        self.charset = _first_charset(message)
        self.from_address, self.from_name = self._sender()

    # -- headers --------------------------------------------------------------------------------------------------

    def raw_header(self, name: str) -> str | None:
        """The first value of header `name` as it came (a str; raw bytes as surrogate escapes), None when absent."""
        wanted = name.lower()
        for key, value in self.message.raw_items():
            if key.lower() == wanted:
                return str(value)
        return None

    def header_text(self, name: str) -> str:
        value = self.raw_header(name)
        return decode_header_text(value, self.charset) if value is not None else ""

    def addresses(self, name: str) -> list[str]:
        return [addr for _, addr in self._mailboxes(name)]

    def _mailboxes(self, name: str) -> list[tuple[str, str]]:
        values = [str(v) for k, v in self.message.raw_items() if k.lower() == name.lower()]
        if not values:
            return []
        found: list[tuple[str, str]] = []
        for value in values:
            cleaned = _fix_raw_bytes(_FOLD.sub(" ", value), self.charset)
            try:
                pairs = email.utils.getaddresses([cleaned])
            except Exception:
                pairs = []
            good = [(n, a) for n, a in pairs if "@" in a and " " not in a.strip()]
            if not good:  # getaddresses gave up (unbalanced quotes, garbage): pick out what looks like addresses
                good = [("", a) for a in _ADDRESS.findall(cleaned)]
                if cleaned.strip():
                    self.defects.append(f"{name}: header could not be parsed as addresses: {cleaned[:200]!r}")
            for display, address in good:
                address = address.strip().strip("<>").lower()
                if address not in [a for _, a in found]:
                    found.append((decode_header_text(display, self.charset), address))
        return found

    def _sender(self) -> tuple[str | None, str | None]:
        mailboxes = self._mailboxes("From") or self._mailboxes("Sender")
        if not mailboxes:
            self.defects.append("From: missing or without an address")
            return None, None
        name, address = mailboxes[0]
        return address, (name or None)

    def date(self) -> dt.datetime | None:
        value = self.raw_header("Date")
        if value is None:
            self.defects.append("Date: missing")
            return None
        try:
            parsed = email.utils.parsedate_to_datetime(_fix_raw_bytes(_FOLD.sub(" ", value)).strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            self.defects.append(f"Date: cannot be read: {value[:100]!r}")
            return None
        if parsed.tzinfo is None:  # "-0000" and no zone: the time is UTC as far as anyone knows
            parsed = parsed.replace(tzinfo=dt.UTC)
        try:
            return parsed.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            self.defects.append(f"Date: out of range: {value[:100]!r}")
            return None

    # -- body ----------------------------------------------------------------------------------------------------

    def walk(self, part: Message, depth: int) -> None:
        content_type = _content_type(part)
        if part is not self.message:
            for defect in getattr(part, "defects", []):
                if "Base64" not in type(defect).__name__:  # those are reported with the payload they spoil
                    self.defects.append(f"{content_type} part: {type(defect).__name__}")
        # message/* parts look multipart to the library (their payload is a list of messages or field blocks):
        # they are handled whole, before the multipart walk.
        if content_type in ("message/delivery-status", "message/disposition-notification"):
            self._part_number += 1
            self.report_parts.append(part)
            return
        if content_type == "message/rfc822" or (content_type.startswith("message/") and _is_message_payload(part)):
            self._part_number += 1
            self._forwarded(part)
            return
        if part.is_multipart():
            children = part.get_payload()
            if not isinstance(children, list):
                return
            if content_type == "multipart/report":
                # The first part is for people; the others (delivery-status, the returned headers) are for the
                # bounce report. A returned whole message stays an attachment.
                for index, report_part in enumerate(c for c in children if isinstance(c, Message)):
                    if index == 0 or _content_type(report_part) == "message/rfc822":
                        self.walk(report_part, depth + 1)
                    else:
                        self.report_parts.append(report_part)
                return
            for child in children:
                if not isinstance(child, Message):
                    continue
                if depth > 50:  # a pathological nesting: what is deeper is kept in the stored raw message
                    self.defects.append("multipart nesting deeper than 50 levels: deeper parts not read")
                    return
                self.walk(child, depth + 1)
            return
        self._part_number += 1
        if content_type.startswith("multipart/"):  # a multipart without its boundary: the parser kept it as text
            self.defects.append(f"part {self._part_number} ({content_type}): no boundary; read as text")
            self.texts.append(self._text_of(part, "text/plain"))
            return
        disposition = _disposition(part)
        filename = self._filename(part)
        # Inline text is shown as body even when named (Apple Mail and Thunderbird name inline text parts).
        if content_type in ("text/plain", "text/html") and (disposition == "inline" or (
                disposition is None and not filename)):
            text = self._text_of(part, content_type)
            (self.texts if content_type == "text/plain" else self.htmls).append(text)
            return
        if content_type in ("text/rfc822-headers", "message/rfc822-headers"):
            self.report_parts.append(part)
        data = self._payload(part)
        content_id = _content_id(part)
        inline = disposition != "attachment" and (content_id is not None or disposition == "inline") and (
            content_type.startswith("image/") or content_id is not None)
        self.attachments.append(MailAttachment(filename=filename, content_type=content_type, data=data,
                                               content_id=content_id, inline=inline))

    def _payload(self, part: Message) -> bytes:
        try:
            data = part.get_payload(decode=True)
        except Exception as error:
            self.defects.append(f"part {self._part_number}: payload cannot be decoded ({error}): kept as sent")
            data = None
        if isinstance(data, bytes):
            for defect in part.defects:
                name = type(defect).__name__
                if "Base64" in name or "Padding" in name:
                    self.defects.append(f"part {self._part_number} ({_content_type(part)}): {name}")
            return data
        raw = part.get_payload()
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""

    def _text_of(self, part: Message, content_type: str) -> str:
        data = self._payload(part)
        declared = part.get_param("charset")
        charset = declared if isinstance(declared, str) else None
        if charset is None and content_type == "text/html":
            meta = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_:.-]+)", data[:4096], re.IGNORECASE)
            charset = meta.group(1).decode("ascii") if meta else None
        text, used = decode_bytes(data, charset)
        if used is not None:
            said = f"declared charset {charset!r}" if charset else "no declared charset"
            self.defects.append(f"part {self._part_number} ({content_type}): {said} did not fit; read as {used}")
        return text.replace("\r\n", "\n")

    def _filename(self, part: Message) -> str | None:
        try:
            name = part.get_filename()
        except Exception:
            name = None
        if not name:
            raw = part.get_param("name")
            name = raw if isinstance(raw, str) else None
        if not name:
            return None
        name = decode_header_text(str(name))
        return name.replace("\\", "/").rsplit("/", 1)[-1].strip() or None

    def _forwarded(self, part: Message) -> None:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        data = b""
        subject = ""
        if isinstance(inner, Message):
            data = _message_bytes(inner)
            subject = decode_header_text(str(inner.get("Subject", "") or ""))
        else:
            data = self._payload(part)
        filename = self._filename(part) or f"{_safe_name(subject) or 'forwarded message'}.eml"
        self.attachments.append(MailAttachment(filename=filename, content_type="message/rfc822", data=data))


def _first_charset(message: Message) -> str | None:
    """The first charset the message declares: what its raw 8-bit header bytes are most likely in too."""
    for part in message.walk():
        charset = part.get_param("charset")
        if isinstance(charset, str) and charset.lower() not in _WEAK_CHARSETS:
            return charset.lower()
    return None


def _message_bytes(message: Message) -> bytes:
    """An enclosed message back as bytes, header values as they were received (compat32 does not refold them)."""
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=policy.compat32).flatten(message)
        return buffer.getvalue()
    except Exception:
        return bytes(message.as_string(policy=policy.compat32), "utf-8", "surrogateescape")


def _safe_name(subject: str) -> str:
    return re.sub(r"[\\/:*?\"<>|\x00-\x1f]+", "_", subject).strip()[:120]


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _content_id(part: Message) -> str | None:
    value = part.get("Content-ID")
    if value is None:
        return None
    cid = "".join(str(value).split()).strip("<>")
    return cid or None


def _is_message_payload(part: Message) -> bool:
    payload = part.get_payload()
    return isinstance(payload, list) and bool(payload) and isinstance(payload[0], Message)


# -- bounces ------------------------------------------------------------------------------------------------------

_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|maildaemon|bounce[s]?|"
                             r"mail delivery subsystem|mdaemon)\b", re.IGNORECASE)
_BOUNCE_SUBJECTS = re.compile(r"undeliver|delivery (status notification|failure|has failed)|returned mail|"
                              r"failure notice|mail delivery failed|delivery failed|non[- ]?delivery|"
                              r"could not be delivered|unzustellbar|nicht zustellbar|non remis|"
                              r"Unzustellbar|delivery problem|mail system error", re.IGNORECASE)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_FAILED_LIST = re.compile(
    r"(?:following (?:address(?:\(es\))?|recipients?)[^\n]*(?:failed|could not be delivered|undeliverable)"
    r"|could not be delivered to[^\n]*:|delivery to the following recipients? failed[^\n]*|"
    r"I wasn't able to deliver your message to the following addresses\.?)"
    r"[^\n]*\n((?:[ \t]*\n)*(?:[ \t]*\S[^\n]*\n)+)", re.IGNORECASE)
_ANGLE_RECIPIENT_LINE = re.compile(r"^[ \t]*<([^<>\s@]+@[^<>\s]+)>[ \t]*:", re.MULTILINE)


def _bounce_report(message: EmailMessage, reading: _Reading, text: str) -> BounceReport | None:
    report = _dsn_report(message, reading) or _plain_bounce(reading, text)
    if report is None and _from_mailer_daemon(reading):
        # A gateway that wrapped the real DSN in a message of its own (disclaimer added): the first enclosed
        # message that is a bounce is the report.
        for attachment in reading.attachments:
            if attachment.content_type == "message/rfc822" and b"delivery-status" in attachment.data[:200_000]:
                try:
                    inner = parse_message(attachment.data)
                except UnparseableEmail:
                    continue
                if inner.bounce is not None:
                    return inner.bounce
    return report


def _from_mailer_daemon(reading: _Reading) -> bool:
    local = (reading.from_address or "").split("@", 1)[0]
    return bool(_BOUNCE_SENDERS.match(local) or _BOUNCE_SENDERS.match(reading.from_name or ""))


def _dsn_report(message: EmailMessage, reading: _Reading) -> BounceReport | None:
    status_parts = [p for p in reading.report_parts if _content_type(p) == "message/delivery-status"]
    if not status_parts:
        return None
    failed: list[str] = []
    delayed: list[str] = []
    status = diagnostic = None
    for part in status_parts:
        for block in _status_blocks(part):
            # The Original-Recipient is the address the sender wrote (what the customer record holds); the
            # Final-Recipient may be an internal alias it was rewritten to.
            address = _recipient_address(block.get("original-recipient") or "") or _recipient_address(
                block.get("final-recipient") or "")
            if not address:
                continue
            action = (block.get("action") or "").strip().lower()
            block_status = _STATUS.search(block.get("status") or "")
            code = block_status.group(1) if block_status else None
            if action in ("delivered", "relayed", "expanded") or (not action and code and code.startswith("2")):
                continue
            is_delay = action == "delayed" or (not action and code is not None and code.startswith("4"))
            target = delayed if is_delay else failed
            if address and address not in target:
                target.append(address)
            if status is None or (not is_delay and not (status or "").startswith("5")):
                status = code or status
                diagnostic = " ".join((block.get("diagnostic-code") or "").split()) or diagnostic
    if not failed and not delayed:
        return None
    return BounceReport(failed_recipients=failed or delayed, status=status, diagnostic=diagnostic,
                        permanent=bool(failed), original_message_id=_original_message_id(reading))


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message and per-recipient field groups of a message/delivery-status part, tolerantly."""
    payload = part.get_payload()
    texts: list[str] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                texts.append("\n".join(f"{k}: {v}" for k, v in block.raw_items()))
    elif isinstance(payload, str):
        data = part.get_payload(decode=True)
        decoded = data.decode("utf-8", "replace") if isinstance(data, bytes) else payload
        texts = re.split(r"\n[ \t]*\n", decoded.replace("\r\n", "\n"))
    blocks = []
    for chunk in texts:
        fields: dict[str, str] = {}
        for name, value in _unfolded_fields(chunk.encode("utf-8", "surrogateescape")):
            key = name.decode("utf-8", "replace").lower()
            fields.setdefault(key, value.decode("utf-8", "replace"))
        blocks.append(fields)
    return blocks


def _recipient_address(value: str) -> str | None:
    """The address of a "rfc822; user@example.com" recipient field; None for an X.400 or other non-mail address
    when nothing like an address is in it."""
    kind, _, address = value.rpartition(";")
    address = address.strip().strip("<>").strip()
    match = _ADDRESS.search(address)
    if match:
        return match.group(0).lower()
    return address.lower() if address and "rfc822" not in kind.lower() and kind.strip() else None


def _original_message_id(reading: _Reading) -> str | None:
    for part in reading.report_parts:
        if _content_type(part) in ("text/rfc822-headers", "message/rfc822-headers"):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                headers = HeaderParser(policy=policy.compat32).parsestr(data.decode("utf-8", "replace"))
                ids = parse_message_ids(str(headers.get("Message-ID", "") or ""))
                if ids:
                    return ids[0]
    for attachment in reading.attachments:
        if attachment.content_type == "message/rfc822":
            head = _HEADER_BLOCK_END.split(attachment.data, maxsplit=1)[0]
            for name, value in _unfolded_fields(head):
                if name.lower() == b"message-id":
                    ids = parse_message_ids(value.decode("utf-8", "replace"))
                    if ids:
                        return ids[0]
    return None


def _plain_bounce(reading: _Reading, text: str) -> BounceReport | None:
    """A bounce that is not a DSN (Exim, qmail, older Sendmail): it comes from the mailer daemon or postmaster and
    names its failed recipients in a recognisable list."""
    sender = reading.from_address or ""
    subject = reading.header_text("Subject")
    from_daemon = _from_mailer_daemon(reading)
    if not from_daemon and not (reading.raw_header("X-Failed-Recipients") and _BOUNCE_SUBJECTS.search(subject)):
        return None
    if not from_daemon and not _BOUNCE_SUBJECTS.search(subject):
        return None
    failed: list[str] = []
    header = reading.raw_header("X-Failed-Recipients")
    if header:
        failed += [a.lower() for a in _ADDRESS.findall(header)]
    head = text[:_TEXT_SCAN_LIMIT]
    cut = re.search(r"^-+ ?(?:original message|this is a copy of the message|below this line is a copy)",
                    head, re.IGNORECASE | re.MULTILINE)
    if cut:
        head = head[: cut.start()]
    if not failed:
        for block in _FAILED_LIST.finditer(head):
            failed += [a.lower() for a in _ADDRESS.findall(block.group(1))]
    if not failed:
        failed = [a.lower() for a in _ANGLE_RECIPIENT_LINE.findall(head)]
    failed = [a for a in dict.fromkeys(failed) if a != sender]
    if not failed:
        return None
    status_match = _STATUS.search(head)
    status = status_match.group(1) if status_match else None
    diagnostic_match = re.search(r"^[ \t]*(?:[^\n]*?)\b([45]\d\d[ -][^\n]{3,300})$", head, re.MULTILINE)
    permanent = not (status or "5").startswith("4") and not re.search(
        r"will (?:continue|keep) (?:trying|to try)|has been delayed|not yet been delivered", head, re.IGNORECASE)
    return BounceReport(failed_recipients=failed, status=status,
                        diagnostic=diagnostic_match.group(1).strip() if diagnostic_match else None,
                        permanent=permanent, original_message_id=_original_message_id(reading))
