"""What triage reads of a message: the customer's own words, normalised so spelling variants meet.

Quoted history ("> ..." lines, "On ... wrote:", forwarded headers) is dropped: a reply's new words decide, not the
thread it quotes. Case, accents and German umlaut spellings (ä/ae) are folded; long digit runs (order numbers,
phone numbers) become one token, while short numbers such as error codes stay as they are.

The work per message is bounded whatever arrives: triage reads the subject and the first MAX_BODY_CHARS of the
customer's words (a customer says what is wrong near the top), and a "word" longer than MAX_WORD characters is not
language (a hash, base64, a random string) and is dropped, so no later step pays for its length.
"""

from __future__ import annotations

import re
import unicodedata

_QUOTE_START = re.compile(
    r"^\s*(on .{3,200} wrote:|am .{3,200} schrieb .{0,100}:|le .{3,200} a écrit\s*:|el .{3,200} escribió:"
    r"|-{2,}\s*(original message|ursprüngliche nachricht|forwarded message|weitergeleitete nachricht)\s*-{2,}"
    r"|(from|von|de|van):\s.+@.+)\s*$",
    re.IGNORECASE,
)
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_WORD = re.compile(r"[^\W_]+")
_APOSTROPHE = re.compile(r"(?<=\w)['’`](?=\w)")
_LONG_NUMBER = re.compile(r"^\d{5,}$")

# Every message in the shipped examples and the benchmark data is shorter than 2,000 characters; twice that keeps a
# long email's opening paragraphs, where the problem is told. Measured with bench/triage.py: no change in accuracy.
MAX_BODY_CHARS = 4_000
MAX_SUBJECT_CHARS = 500
MAX_SCAN_CHARS = 100_000  # of a body, looked through for the customer's words past quoted lines
# The longest words of the examples and benchmark data are German compounds of 42 letters ("konfigurations-
# uebereinstimmungsproblematik"); random strings and encoded blobs are longer.
MAX_WORD = 48
FOLD_CACHE_SIZE = 1 << 15
_folded: dict[str, str] = {}


def customer_words(text: str, limit: int | None = None) -> str:
    """The part of a message the customer wrote now: quoted history cut off; at most `limit` characters of it."""
    kept, size = [], 0
    for line in text.splitlines():
        if _QUOTE_START.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
        size += len(line) + 1
        if limit is not None and size > limit:
            break
    words = "\n".join(kept) if kept else text
    return words[:limit] if limit is not None else words


def fold(word: str) -> str:
    """NFKC, umlauts spelled out, other accents removed: 'rückerstattung' -> 'rueckerstattung', 'café' -> 'cafe'."""
    word = unicodedata.normalize("NFKC", word).translate(_FOLD)
    if not word.isascii():
        word = "".join(ch for ch in unicodedata.normalize("NFD", word) if not unicodedata.combining(ch))
    return "0num" if _LONG_NUMBER.match(word) else word


def tokens(text: str) -> list[str]:
    """Folded lower-case word tokens in any script; "can't" -> "cant", 4839201 -> "0num". Tokens longer than
    MAX_WORD, before or after folding (NFKC can lengthen a word), are dropped."""
    out = []
    for word in _WORD.findall(_APOSTROPHE.sub("", text.lower())):
        folded = _folded.get(word)
        if folded is None:
            if len(word) > MAX_WORD:
                continue
            folded = fold(word)
            if len(_folded) >= FOLD_CACHE_SIZE:  # bounded: emptied when full, support traffic refills it at once
                _folded.clear()
            _folded[word] = folded
        if len(folded) <= MAX_WORD:
            out.append(folded)
    return out


def message_text(subject: str | None, body: str) -> str:
    """What triage reads of a message: the subject (the customer's own summary, so it counts like the body) and the
    first MAX_BODY_CHARS of the customer's words in the body."""
    body = customer_words((body or "")[:MAX_SCAN_CHARS], MAX_BODY_CHARS)
    return f"{subject[:MAX_SUBJECT_CHARS]}\n{body}" if subject else body


# Function words never explain a decision, even when a model leans on them.
STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been am do does did have has had
    i me my we our you your he she it its they them their this that these those there here what which who
    not no so too very can could would should will just also than then about into over up down out
    ich du er sie es wir ihr mein meine meinen meinem meiner dein sein unser euer der die das den dem des ein eine
    einen einem einer und oder aber wenn dass ist sind war habe hat haben bin bitte mit von zu im in am auf fuer an
    bei nach aus auch noch schon nur sehr so wie was wer mich mir dich dir uns ihnen sich
    le la les un une des et ou de du je tu il nous vous mon ma mes est sont el los las y o mi mis es son
    il lo gli di da che non per con het een en of van ik mijn is zijn o os um uma e meu minha""".split()
)
