"""Inbound email: a raw message stored as a contact (parse, thread, commit).

# PLACEHOLDER: replaced by the lead. Only the signatures the IMAP poller's wiring calls are here; both raise.
"""

from __future__ import annotations

from tierdesk.db import Database


def deliver_raw(database: Database, raw: bytes, *, source: str, brand_id: int | None = None) -> None:
    """Store one raw message (its own committed transaction); returns only after commit, raises on failure."""
    raise NotImplementedError("PLACEHOLDER: inbound.deliver_raw is provided by the lead")


def quarantine_raw(database: Database, raw: bytes, *, reason: str, source: str, brand_id: int | None = None) -> None:
    """Keep a raw message that could not be stored, with the reason (committed before it returns)."""
    raise NotImplementedError("PLACEHOLDER: inbound.quarantine_raw is provided by the lead")
