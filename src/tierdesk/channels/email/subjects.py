"""The subject a conversation is known by, whatever mail clients in which languages put in front of it.

Threading compares normalised subjects as its last resort; ticket tokens are another part's business."""

from __future__ import annotations

import re

# Reply and forward prefixes of the mail clients seen in the field, by language: English (Re, Fw, Fwd), German (AW,
# WG, Antw), Scandinavian (Sv, Vs, VB), Dutch (Antw, Doorst), French (Réf, TR), Italian (R, Rif, I), Spanish and
# Portuguese (RV, Enc), Polish (Odp), Turkish (Yanıt), Chinese (回复, 答复, 转发), Japanese (返信, 転送).
_PREFIXES = (
    "re", "aw", "sv", "antw", "antwort", "vs", "ref", "réf", "rif", "r", "fw", "fwd", "wg", "tr", "enc", "rv",
    "doorst", "vb", "odp", "yanıt", "yanit", "回复", "答复", "转发", "返信", "転送", "回覆", "轉寄",
)
_PREFIX = re.compile(
    r"^\s*(?:" + "|".join(re.escape(p) for p in sorted(_PREFIXES, key=len, reverse=True)) + r")"
    r"\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]",
    re.IGNORECASE,
)
# "[EXTERNAL]", "[SPAM]", "[Ext]", "(EXTERNAL)": tags a gateway puts in front (ticket tokens like "[#123]" are left).
_TAG = re.compile(r"^\s*[\[(](?:external|extern|ext|externe|spam|suspected spam|caution|warning|warnung|"
                  r"ekstern|extern mail|external email|external sender)[\])]\s*:?", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def normalise_subject(subject: str) -> str:
    """`subject` without its chain of reply/forward prefixes and gateway tags, whitespace collapsed, casefolded:
    "AW: Re[2]: [EXTERNAL] Printer offline" and "printer offline" are the same conversation."""
    text = _SPACE.sub(" ", subject).strip()
    while True:
        stripped = _TAG.sub("", _PREFIX.sub("", text, count=1), count=1).strip()
        if stripped == text:
            break
        text = stripped
    return text.casefold()
