"""Waking the workers on PostgreSQL: a transaction that makes a ticket routable, frees an agent's capacity or makes
an agent available sends NOTIFY (delivered at commit, dropped on rollback), and idle workers LISTEN instead of
sleeping out their poll interval, so a ticket is routed within milliseconds of becoming routable. Polling stays as
the safety net (and is all there is on SQLite, where the worker runs in the same process)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from tierdesk.agents.models import Agent
from tierdesk.kit.vocabulary import PresenceStatus
from tierdesk.tickets.lifecycle import WORKABLE
from tierdesk.tickets.models import Ticket

CHANNEL = "tierdesk_work"
log = logging.getLogger("tierdesk.worker")


def _makes_work(obj) -> bool:
    """A ticket starts waiting, an agent's capacity frees up (a ticket leaves new/open or changes hands), or an
    agent becomes available."""
    if isinstance(obj, Ticket):
        attrs = sa.inspect(obj).attrs
        if obj.routable_since is not None and attrs.routable_since.history.has_changes():
            return True
        if attrs.assignee_id.history.has_changes():
            return True
        return attrs.status.history.has_changes() and obj.status not in WORKABLE
    if isinstance(obj, Agent):
        return obj.presence is PresenceStatus.AVAILABLE and sa.inspect(obj).attrs.presence.history.has_changes()
    return False


@event.listens_for(Session, "before_flush")
def _notify_new_work(session: Session, _context, _instances) -> None:
    if session.info.get("tierdesk_notified") or session.get_bind().dialect.name != "postgresql":
        return
    if any(_makes_work(obj) for obj in (*session.new, *session.dirty)):
        session.connection().exec_driver_sql(f"SELECT pg_notify('{CHANNEL}', '')")
        session.info["tierdesk_notified"] = True


@event.listens_for(Session, "after_transaction_end")
def _reset(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("tierdesk_notified", None)


def listener(engine: sa.Engine) -> Callable[[float], bool] | None:
    """On PostgreSQL, a function that waits up to `timeout` seconds for new work and says whether some came;
    None elsewhere. Holds one connection of the pool for the worker's lifetime."""
    if engine.dialect.name != "postgresql":
        return None
    raw = engine.raw_connection()
    conn = raw.driver_connection
    conn.autocommit = True
    conn.execute(f"LISTEN {CHANNEL}")

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

    wait.connection = raw  # kept so it is not returned to the pool
    return wait
