"""The SLA domain's queries: policies and calendars, a ticket's clocks, the worker's look for clocks that are due
and the compare-and-set that marks one."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.kit.actors import Principal
from tierdesk.kit.scope import scoped
from tierdesk.kit.vocabulary import Department, Priority
from tierdesk.sla.models import BusinessCalendar, SlaClock, SlaPolicy


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


def policies_matching(db: Session, brand_id: int, department: Department | None, priority: Priority, *,
                      existing_at: dt.datetime | None = None, or_id: int | None = None) -> list[SlaPolicy]:
    """The brand's active policies that apply to a ticket of this department and priority (None matches any)."""
    stmt = sa.select(SlaPolicy).where(
        SlaPolicy.brand_id == brand_id,
        SlaPolicy.is_active.is_(True),
        sa.or_(SlaPolicy.department.is_(None), SlaPolicy.department == department),
        sa.or_(SlaPolicy.priority.is_(None), SlaPolicy.priority == priority),
    )
    if existing_at is not None:
        stmt = stmt.where(sa.or_(SlaPolicy.created_at <= existing_at, SlaPolicy.id == or_id))
    return list(db.scalars(stmt))


def clocks_of_ticket(db: Session, ticket_id: int, *, live_only: bool) -> list[SlaClock]:
    stmt = sa.select(SlaClock).where(SlaClock.ticket_id == ticket_id)
    if live_only:
        stmt = stmt.where(SlaClock.stopped_at.is_(None))
    return list(db.scalars(stmt.order_by(SlaClock.id)))


def calendar_slug_taken(db: Session, brand_id: int, slug: str) -> bool:
    return db.scalar(sa.select(BusinessCalendar.id).where(BusinessCalendar.brand_id == brand_id,
                                                          BusinessCalendar.slug == slug)) is not None


def calendars_visible(db: Session, principal: Principal) -> list[BusinessCalendar]:
    stmt = scoped(sa.select(BusinessCalendar), BusinessCalendar.brand_id, principal)
    return list(db.scalars(stmt.order_by(BusinessCalendar.brand_id, BusinessCalendar.slug)))


def calendar_visible(db: Session, principal: Principal, calendar_id: int) -> BusinessCalendar | None:
    stmt = scoped(sa.select(BusinessCalendar).where(BusinessCalendar.id == calendar_id), BusinessCalendar.brand_id,
                  principal)
    return db.scalar(stmt)


def calendar_in_brand(db: Session, brand_id: int, slug: str | None, calendar_id: int | None) -> int | None:
    """The id of the brand's calendar by slug, else by id (a slug of digits wins over an id)."""
    stmt = sa.select(BusinessCalendar.id).where(BusinessCalendar.brand_id == brand_id)
    found = db.scalar(stmt.where(BusinessCalendar.slug == slug)) if slug else None
    if found is None and calendar_id is not None:
        found = db.scalar(stmt.where(BusinessCalendar.id == calendar_id))
    return found


def policy_slug_taken(db: Session, brand_id: int, slug: str) -> bool:
    return db.scalar(sa.select(SlaPolicy.id).where(SlaPolicy.brand_id == brand_id, SlaPolicy.slug == slug)) is not None


def policy_visible(db: Session, principal: Principal, policy_id: int) -> SlaPolicy | None:
    return db.scalar(scoped(sa.select(SlaPolicy).where(SlaPolicy.id == policy_id), SlaPolicy.brand_id, principal))


def policies_visible(db: Session, principal: Principal) -> list[SlaPolicy]:
    stmt = scoped(sa.select(SlaPolicy), SlaPolicy.brand_id, principal)
    return list(db.scalars(stmt.order_by(SlaPolicy.brand_id, SlaPolicy.slug)))
