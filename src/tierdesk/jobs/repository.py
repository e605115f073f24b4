"""The outbox's queries: the worker's look, its claim (SKIP LOCKED and compare-and-set) and the outcome."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.jobs.models import OutboxMessage


def any_due(db: Session, now: dt.datetime) -> bool:
    return bool(db.scalar(sa.select(sa.exists().where(*_pending(), OutboxMessage.next_attempt_at <= now))))


def _pending() -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
    return (OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None))


def claim(db: Session, now: dt.datetime, limit: int, claim_for: dt.timedelta) -> list[OutboxMessage]:
    """Due messages, each claimed by a compare-and-set that moves its next attempt `claim_for` ahead (retried then
    if its deliverer disappears) and counts the attempt."""
    rows = db.scalars(
        sa.select(OutboxMessage)
        .where(*_pending(), OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for row in rows:
        moved = db.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.next_attempt_at == row.next_attempt_at, *_pending())
            .values(next_attempt_at=now + claim_for, attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if cast("sa.CursorResult[Any]", moved).rowcount == 1:  # Session.execute is typed Result; DML gives this
            claimed.append(row)
    return claimed


def record_outcome(db: Session, message_id: int, values: dict[str, Any]) -> None:
    db.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))
