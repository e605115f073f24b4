# SCAFFOLD for the lead's own tests until the parsing branch lands (replaced wholesale by it).
from __future__ import annotations

import hashlib
import re
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from tierdesk.channels.email.message import MailAttachment, ParsedEmail, UnparseableEmail
from tierdesk.kit.html import text_from_html

_ID = re.compile(r"<[^<>\s]+>")


def parse_message(raw: bytes) -> ParsedEmail:
    if not raw.strip():
        raise UnparseableEmail("empty")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    name, addr = parseaddr(str(msg.get("From", "")))
    text_part = msg.get_body(("plain",))
    html_part = msg.get_body(("html",))
    text = text_part.get_content() if text_part else ""
    html = html_part.get_content() if html_part else None
    if not text and html:
        text = text_from_html(html)
    atts = []
    for part in msg.iter_attachments():
        data = part.get_payload(decode=True) or b""
        cid = (part.get("Content-ID") or "").strip("<> ") or None
        atts.append(MailAttachment(part.get_filename(), part.get_content_type(), data, cid, False))
    auto = None
    if str(msg.get("Auto-Submitted", "no")).lower() != "no":
        auto = f"Auto-Submitted: {msg.get('Auto-Submitted')}"
    visible = "\n".join(line for line in text.splitlines() if not line.startswith(">")).split("\nOn ")[0].strip()
    digest = hashlib.sha256(raw.split(b"\n\n", 1)[-1] + str(msg.get("Subject", "")).encode()).hexdigest()
    return ParsedEmail(
        message_id=(_ID.findall(str(msg.get("Message-ID", ""))) or [None])[0],
        in_reply_to=_ID.findall(str(msg.get("In-Reply-To", ""))),
        references=_ID.findall(str(msg.get("References", ""))),
        subject=str(msg.get("Subject", "")), from_address=addr.lower() or None, from_name=name or None,
        reply_to=[], to=[a.lower() for _, a in getaddresses([str(msg.get("To", ""))]) if a],
        cc=[a.lower() for _, a in getaddresses([str(msg.get("Cc", ""))]) if a], date=None, text=text, html=html,
        visible_text=visible or text, attachments=atts, auto_submitted=auto, content_digest=digest)
