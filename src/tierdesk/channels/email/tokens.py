"""The ticket token every outbound subject and body carries, e.g. "[#1234-k7q2mx]".

The number is the ticket's; the check is an HMAC of the brand and the ticket under the deployment's secret key, so a
token cannot be made up for a ticket one has not been sent, and a token of one brand's ticket means nothing in another
brand's mail. A token is a threading hint, not a pass: who may write into the ticket is decided afterwards, by the
sender (inbound.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

CHECK_LENGTH = 6  # base32 characters: 30 bits, far beyond guessing by mail
TOKEN = re.compile(r"\[#(\d{1,18})-([a-z2-7]{" + str(CHECK_LENGTH) + r"})\]", re.IGNORECASE)


def _check(secret_key: str, brand_id: int, ticket_id: int) -> str:
    mac = hmac.new(secret_key.encode(), f"ticket-token:{brand_id}:{ticket_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode().lower()[:CHECK_LENGTH]


def ticket_token(secret_key: str, brand_id: int, ticket_id: int) -> str:
    return f"[#{ticket_id}-{_check(secret_key, brand_id, ticket_id)}]"


def find_ticket_token(secret_key: str, brand_id: int, *texts: str) -> int | None:
    """The ticket named by the first valid token of this brand in the texts (subject first, then the body)."""
    for text in texts:
        for match in TOKEN.finditer(text or ""):
            ticket_id = int(match.group(1))
            if hmac.compare_digest(match.group(2).lower(), _check(secret_key, brand_id, ticket_id)):
                return ticket_id
    return None


def strip_tokens(subject: str) -> str:
    """The subject without any token (for comparing subjects)."""
    return " ".join(TOKEN.sub(" ", subject).split())
