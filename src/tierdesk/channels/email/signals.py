"""Is this mail written by a machine (auto-reply, out-of-office, list traffic, bounce)? Such mail never gets an
automatic answer: two auto-responders answering each other is the classic mail storm."""

from __future__ import annotations

import re
from collections.abc import Callable

# Subjects of auto-replies in the languages seen most, a last resort when no header says so.
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response)|autoreply|"
    r"abwesenheitsnotiz|automatische antwort|abwesend|réponse automatique|absence du bureau|"
    r"respuesta automática|fuera de la oficina|risposta automatica|fuori sede|automatisch antwoord|afwezig|"
    r"automatiskt svar|frånvaro|autosvar|automatisk svar|odpowiedź automatyczna|resposta automática|"
    r"自动回复|自動回覆|自動応答|不在)",
    re.IGNORECASE,
)
_DSN_SENDER = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)


def detect_automatic(header: Callable[[str], str], subject: str, from_address: str | None, content_type: str,
                     report_type: str | None) -> str | None:
    """Which signal says the message is automatic ("Auto-Submitted: auto-replied", "Precedence: bulk", "List-Id",
    ...), or None for a person's mail. `header(name)` gives a header's decoded value, "" when absent."""
    auto_submitted = header("Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    if content_type == "multipart/report":
        return f"multipart/report; report-type={report_type or '?'}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"):
        value = header(name).strip()
        if value and value.lower() not in ("no", "false", "0"):
            return f"{name}: {value}"
    suppress = header("X-Auto-Response-Suppress").lower()
    if re.search(r"\b(oof|autoreply|all)\b", suppress):
        return f"X-Auto-Response-Suppress: {header('X-Auto-Response-Suppress').strip()}"
    precedence = header("Precedence").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply", "auto-reply"):
        return f"Precedence: {precedence}"
    if header("List-Id").strip():
        return "List-Id"
    if header("X-MS-Exchange-Generated-Message-Source").strip():
        return "X-MS-Exchange-Generated-Message-Source"
    if header("X-Loop").strip():
        return "X-Loop"
    if header("List-Unsubscribe").strip() and precedence:
        return "List-Unsubscribe with Precedence"
    if header("Return-Path").strip().replace(" ", "") == "<>" and content_type != "multipart/report":
        return "Return-Path: <>"
    if from_address and _DSN_SENDER.match(from_address):
        return f"From: {from_address}"
    if _AUTO_SUBJECT.match(subject):
        return f"Subject: {subject[:80]}"
    return None
