"""Time: timezone-aware UTC everywhere. Business-hour arithmetic will live here too (one place)."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def ensure_utc(value: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC; naive input is refused rather than guessed at."""
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone offset (e.g. 2026-11-23T14:00:00Z)")
    return value.astimezone(dt.timezone.utc)
