"""Time: timezone-aware UTC everywhere. Business-hour arithmetic will live here too (one place)."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

