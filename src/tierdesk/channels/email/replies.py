"""The part of a reply an agent reads first: the new text, without the quoted history and the signature.

mail-parser-reply (MIT) knows the "On ... wrote:" lines of many languages' mail clients; it normalises the text it
reads (strips every line), so here it only tells where the history starts, and the cut is made on the original text.
Our own markers cover what it misses (Outlook's blocks, Spanish and Dutch headers, "> " quoting, "-- " signatures,
"Sent from my phone")."""

from __future__ import annotations

import re

from mailparser_reply import EmailReplyParser

# The text reply detection reads; a longer body is cut here (regex work on 25 MB is not what an agent waits for).
_SCAN_LIMIT = 100_000
_LANGUAGES = ["en", "de", "fr", "es", "nl", "sv", "da", "it", "pl", "ja", "zh", "cs", "ko"]
_LIBRARY = EmailReplyParser(languages=_LANGUAGES)

_WROTE = (
    r"wrote|schrieb|a écrit|escribió|escribio|schreef|skrev|kirjoitti|scrisse|napisał|napsal|escreveu|írta|"
    r"yazdı|написал|написала|έγραψε"
)
_HISTORY_MARKERS = [
    # "On <date>, <name> wrote:" and its translations, possibly wrapped over two lines by the client.
    re.compile(r"^[ \t]*(?:On|Am|Le|El|Op|Den|Il|Em|Dnia|Dne|W dniu|Pada|Le \w+)\b[^\n]{0,300}?(?:\n[^\n]{0,200}?)?"
               rf"\b(?:{_WROTE})\b[^\n]{{0,200}}:[ \t]*$", re.MULTILINE | re.IGNORECASE),
    re.compile(rf"^[ \t]*[^\n]{{0,200}}\b(?:{_WROTE})\s*:[ \t]*$", re.MULTILINE | re.IGNORECASE),
    # A header the client wrapped: a first line with a date or time, the second ending in "wrote:".
    re.compile(rf"^[^\n]{{0,200}}(?:\b\d{{4}}\b|\b\d{{1,2}}:\d{{2}}\b)[^\n]{{0,200}}\n[^\n]{{0,200}}"
               rf"\b(?:{_WROTE})\s*:[ \t]*$", re.MULTILINE | re.IGNORECASE),
    # Outlook and Lotus: "-----Original Message-----" and its translations.
    re.compile(r"^[ \t]*-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original|"
               r"Oorspronkelijk bericht|Originalmeddelande|Messaggio originale|Forwarded message|"
               r"Weitergeleitete Nachricht|Message transféré)\s*-{2,}", re.MULTILINE | re.IGNORECASE),
    # Outlook's header block: "From: ..." followed within a few lines by "Sent:/Date:" (in several languages).
    re.compile(r"^[ \t]*\*?(?:From|Von|De|Van|Från|Fra|Da|Od)\s*:\*?[^\n]*\n(?:[^\n]*\n){0,3}?[ \t]*\*?"
               r"(?:Sent|Date|Gesendet|Datum|Envoyé|Enviado|Verzonden|Skickat|Sendt|Inviato|Wysłano)\s*:",
               re.MULTILINE | re.IGNORECASE),
    # A line of underscores (Outlook Web) right before a From: line.
    re.compile(r"^[ \t]*_{10,}[ \t]*\n+[ \t]*\*?(?:From|Von|De|Van|Från|Fra|Da|Od)\s*:", re.MULTILINE | re.IGNORECASE),
]
_QUOTE_LINE = re.compile(r"^[ \t]*>")
_SIGNATURE_MARKERS = [
    re.compile(r"^-- ?$", re.MULTILINE),  # the RFC 3676 signature separator (some clients drop its space)
    re.compile(r"^[ \t]*(?:Sent from my |Sent from Mail for |Sent from Outlook|Get Outlook for |Von meinem |"
               r"Gesendet von |Envoyé de mon |Enviado desde mi |Verzonden vanaf mijn |Skickat från min |"
               r"Inviato da |Sent via )[^\n]{0,80}$", re.MULTILINE | re.IGNORECASE),
]


def visible_reply(text: str) -> str:
    """`text` without quoted history and signature; `text` itself when nothing would be left."""
    if not text.strip():
        return text.strip()
    head = _drop_quoted_head(text.replace("\r\n", "\n")[:_SCAN_LIMIT])
    cut = min([len(head), _library_cut(head)] + [_first_match(p, head) for p in _HISTORY_MARKERS])
    reply = _drop_quoted_tail(head[:cut])
    for marker in _SIGNATURE_MARKERS:
        match = marker.search(reply)
        if match and reply[: match.start()].strip():
            reply = reply[: match.start()]
    reply = reply.strip()
    return reply if reply else text.strip()


def _first_match(pattern: re.Pattern[str], text: str) -> int:
    match = pattern.search(text)
    # A marker in the first line is the whole message being a forward or a quote: nothing new to cut off.
    return match.start() if match and text[: match.start()].strip() else len(text)


def _library_cut(text: str) -> int:
    """Where mail-parser-reply sees the first reply header, as a position in our (unnormalised) text."""
    try:
        replies = _LIBRARY.read(text).replies
    except Exception:  # a library failure costs only its opinion
        return len(text)
    if len(replies) < 2 or not replies[1].headers:
        return len(text)
    first_line = next((line.strip() for line in replies[1].headers.splitlines() if line.strip()), "")
    if not first_line:
        return len(text)
    position = text.find(first_line)
    return position if position > 0 and text[:position].strip() else len(text)


def _drop_quoted_head(text: str) -> str:
    """A bottom-posted reply: an "... wrote:" line and quoted lines first, the answer below them."""
    lines = text.lstrip("\n").split("\n")
    if not lines or not any(p.match(lines[0] + "\n") for p in _HISTORY_MARKERS[:2]):
        return text
    end = 1
    while end < len(lines) and (_QUOTE_LINE.match(lines[end]) or not lines[end].strip()):
        end += 1
    if end == 1 or end == len(lines):
        return text
    return "\n".join(lines[end:])


def _drop_quoted_tail(text: str) -> str:
    """Drop the trailing block of "> " lines (with blank lines among them): quoted history below the reply.
    Quotes interleaved with answers stay: the answers make no sense without them."""
    lines = text.rstrip().split("\n")
    end = len(lines)
    while end > 0 and (_QUOTE_LINE.match(lines[end - 1]) or not lines[end - 1].strip()):
        end -= 1
    if end == len(lines) or end == 0:
        return text
    return "\n".join(lines[:end])
