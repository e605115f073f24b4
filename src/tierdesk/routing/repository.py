"""The routing domain's queries besides the routing pass itself (routing/router.py, whose statements are its
algorithm): the worker's looks and claims for overflow and escalation rules, and a queue's waiting list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from tierdesk.agents.models import Agent
from tierdesk.kit.vocabulary import TOP_TIER, Department, PresenceStatus, Priority, TicketStatus
from tierdesk.queues.models import Queue
from tierdesk.tickets.models import Ticket

# The router's serving order in SQL, from the one ordering of priorities (Priority.rank).
PRIORITY_RANK = sa.case({p.value: p.rank for p in Priority}, value=Ticket.priority, else_=len(Priority))


def routing_may_be_due(db: Session) -> bool:
    """A ticket waits and some agent is available (two indexed lookups)."""
    return bool(db.scalar(sa.select(sa.exists().where(Ticket.routable_since.is_not(None))))
                and db.scalar(sa.select(sa.exists().where(Agent.presence == PresenceStatus.AVAILABLE,
                                                          Agent.is_active.is_(True)))))


def overflow_waiting(db: Session, now: dt.datetime, *, lock: bool, limit: int) -> list[tuple[int, int, int]]:
    """(ticket, overflow queue, wait limit) of tickets waiting past their queue's limit, queue by queue, longest
    wait first (each queue's cutoff is computed here, which keeps the SQL portable: no interval arithmetic)."""
    target = aliased(Queue)
    queues = db.execute(
        sa.select(Queue.id, Queue.overflow_queue_id, Queue.overflow_after_seconds)
        .join(target, target.id == Queue.overflow_queue_id)
        .where(Queue.overflow_after_seconds.is_not(None), target.is_active.is_(True))
        .order_by(Queue.id)
    ).all()
    due: list[tuple[int, int, int]] = []
    for queue_id, overflow_queue_id, after in cast("list[tuple[int, int, int]]", queues):  # both set: see where()
        stmt = (
            sa.select(Ticket.id)
            .where(Ticket.queue_id == queue_id, Ticket.routable_since.is_not(None),
                   Ticket.routable_since <= now - dt.timedelta(seconds=after))
            .order_by(Ticket.routable_since)
            .limit(limit - len(due))
        )
        due += [(t, overflow_queue_id, after) for t in db.scalars(stmt.with_for_update(skip_locked=True)
                                                                   if lock else stmt)]
        if len(due) >= limit:
            break
    return due


def escalation_candidates(db: Session, reopened_after: int, urgent_wait: dt.timedelta | None, now: dt.datetime, *,
                     lock: bool, limit: int) -> list[tuple[int, str]]:
    """(ticket, rule) of tickets an escalation rule applies to: a TS ticket reopened `reopened_after` times since the
    rule last acted, an urgent ticket waiting unassigned longer than `urgent_wait`."""
    found: list[tuple[int, str]] = []
    if reopened_after > 0:
        stmt = (sa.select(Ticket.id).where(
            Ticket.department == Department.TS, Ticket.tier < TOP_TIER,
            Ticket.reopen_count - Ticket.reopens_escalated >= reopened_after,
            Ticket.status.not_in([TicketStatus.SOLVED, TicketStatus.CLOSED])).limit(limit))
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        found += [(t, "reopened") for t in db.scalars(stmt)]
    if urgent_wait is not None:
        stmt = (sa.select(Ticket.id).where(
            Ticket.priority == Priority.URGENT, Ticket.tier < TOP_TIER, Ticket.routable_since.is_not(None),
            Ticket.routable_since <= now - urgent_wait).limit(limit))
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        found += [(t, "urgent_waiting") for t in db.scalars(stmt) if (t, "reopened") not in found]
    return found


def waiting_in_queue(db: Session, queue_id: int, limit: int) -> Sequence[sa.Row[*tuple[Any, ...]]]:
    """The queue's waiting tickets in the order the router serves them."""
    return db.execute(
        sa.select(Ticket.id, Ticket.subject, Ticket.priority, Ticket.channel, Ticket.routable_since, Ticket.sla_due_at)
        .where(Ticket.queue_id == queue_id, Ticket.routable_since.is_not(None))
        .order_by(PRIORITY_RANK, Ticket.sla_due_at.is_(None), Ticket.sla_due_at, Ticket.routable_since, Ticket.id)
        .limit(limit)
    ).all()
