"""The workers' side of the wake-up (db.wake_workers sends it): on PostgreSQL idle workers LISTEN instead of sleeping
out their poll interval, so a ticket is routed within milliseconds of becoming routable. Polling stays as the safety
net (and is all there is on SQLite, where the worker runs in the same process)."""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol, cast

import sqlalchemy as sa

from tierdesk.db import WAKE_CHANNEL

log = logging.getLogger("tierdesk.worker")


class Listener(Protocol):
    connection: sa.PoolProxiedConnection  # held for the worker's lifetime; closed when it stops

    def __call__(self, timeout: float) -> bool: ...


def listener(engine: sa.Engine) -> Listener | None:
    """On PostgreSQL, a function that waits up to `timeout` seconds for new work and says whether some came;
    None elsewhere. Holds one connection of the pool for the worker's lifetime."""
    if engine.dialect.name != "postgresql":
        return None
    raw = engine.raw_connection()
    conn: Any = raw.driver_connection  # psycopg's Connection (PostgreSQL only)
    conn.autocommit = True
    conn.execute(f"LISTEN {WAKE_CHANNEL}")

    broken = False

    def wait(timeout: float) -> bool:
        nonlocal broken
        if not broken:
            try:
                return any(True for _ in conn.notifies(timeout=timeout, stop_after=1))
            except Exception:  # a broken connection: from now on the worker polls
                log.exception("LISTEN connection failed; polling only")
                broken = True
        time.sleep(timeout)  # sleep out the interval, as without LISTEN (never a busy loop)
        return False

    listening = cast(Listener, wait)  # the function, with the attribute a Listener has
    listening.connection = raw  # kept so it is not returned to the pool
    return listening
