"""The SLA domain's queries: the worker's look for clocks that are due, and the compare-and-set that marks one."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.sla.models import SlaClock


class Alarm(StrEnum):
    """What a due clock sets off; the value is the event kind's suffix (sla_breach, sla_warning)."""

    BREACH = "breach"
    WARNING = "warning"


def _due(alarm: Alarm, now: dt.datetime) -> tuple[sa.ColumnElement[bool], ...]:
    if alarm is Alarm.BREACH:
        return (SlaClock.breached_at.is_(None), SlaClock.due_at.is_not(None), SlaClock.due_at <= now,
                SlaClock.stopped_at.is_(None))
    return (SlaClock.warned_at.is_(None), SlaClock.warn_at.is_not(None), SlaClock.warn_at <= now,
            SlaClock.breached_at.is_(None), SlaClock.stopped_at.is_(None))


def anything_due(db: Session, now: dt.datetime) -> bool:
    """The worker's cheap look: one indexed probe per alarm."""
    return any(db.scalar(sa.select(sa.exists().where(*_due(alarm, now)))) for alarm in Alarm)


def due(db: Session, alarm: Alarm, now: dt.datetime, limit: int) -> list[tuple[int, int]]:
    """(clock, ticket) of clocks whose alarm is due, earliest first."""
    order = SlaClock.due_at if alarm is Alarm.BREACH else SlaClock.warn_at
    return [(c, t) for c, t in db.execute(
        sa.select(SlaClock.id, SlaClock.ticket_id).where(*_due(alarm, now)).order_by(order).limit(limit))]


def mark(db: Session, clock_id: int, alarm: Alarm, now: dt.datetime) -> SlaClock | None:
    """Mark the alarm on the clock if it is still due (compare-and-set: another worker, or a change to the ticket
    that stopped or paused the clock, may have got there first). Returns the clock when this call marked it."""
    column = SlaClock.breached_at if alarm is Alarm.BREACH else SlaClock.warned_at
    moved = db.execute(sa.update(SlaClock).where(SlaClock.id == clock_id, *_due(alarm, now)).values({column: now})
                       .execution_options(synchronize_session=False))
    if cast("sa.CursorResult[Any]", moved).rowcount != 1:  # Session.execute is typed Result; DML gives this
        return None
    return db.get(SlaClock, clock_id, populate_existing=True)
