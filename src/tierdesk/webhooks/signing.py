"""How a webhook delivery is signed, so its receiver can tell it came from this tierdesk and was not replayed.

Like Stripe's scheme: the signed text is the Unix timestamp of the attempt, a dot, and the exact body bytes;
the signature is the HMAC-SHA256 of it under the subscription's secret, in hex:

    X-Tierdesk-Timestamp: 1796208000
    X-Tierdesk-Signature: v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

A receiver recomputes it over the raw body (before parsing the JSON), compares in constant time, and refuses a
timestamp too far from its clock (five minutes is usual). `v1=` names the scheme; a later one would add its own
entry, comma-separated, so receivers can move over without a gap. README.md, section Webhooks, shows a receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from tierdesk.webhooks.models import WebhookDelivery

SCHEME = "v1"
TIMESTAMP_HEADER = "X-Tierdesk-Timestamp"
SIGNATURE_HEADER = "X-Tierdesk-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return f"{SCHEME}=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, header: str, body: bytes) -> bool:
    """The receiver's side (for tests and for Python receivers): does any v1 entry of the header match?"""
    if not timestamp.isdigit():
        return False
    expected = signature(secret, int(timestamp), body)
    return any(hmac.compare_digest(expected, entry.strip()) for entry in header.split(","))


def body_of(delivery: WebhookDelivery) -> bytes:
    """The JSON a delivery posts: the same bytes on every attempt and redelivery (only the signature's timestamp
    changes), with the delivery's id for the receiver to drop a duplicate."""
    payload: dict[str, Any] = dict(delivery.payload)
    if isinstance(payload.get("ticket"), dict):
        payload["ticket"] = {"id": delivery.ticket_id, **payload["ticket"]}
    envelope = {"id": delivery.id, "event": delivery.event.value, "created_at": delivery.created_at.isoformat(),
                **payload}
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True, default=str).encode()
