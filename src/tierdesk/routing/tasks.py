"""Worker jobs of the routing domain: the routing pass, overflow between queues, and escalation rules."""

from __future__ import annotations

import datetime as dt
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from tierdesk.agents.models import Agent
from tierdesk.kit.actors import SYSTEM_ACTOR
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import Department, PresenceStatus, Priority, TicketStatus, WorkKind
from tierdesk.queues.models import Queue
from tierdesk.routing import router
from tierdesk.routing.escalation import TOP_TIER, Move, move_ticket, next_tier_queue
from tierdesk.sla.models import SlaClock, SlaPolicy
from tierdesk.tickets import mutations
from tierdesk.tickets.models import Ticket

BATCH = 200


def routing_due(db: Session, defaults: dict[WorkKind, int]) -> bool:
    """Would a pass assign anything? Read only, so tickets waiting for busy agents cost no write lock."""
    return bool(router.route_waiting(db, defaults, apply=False))


def routing_may_be_due(db: Session) -> bool:
    """The cheap look: a ticket waits and some agent is available (two indexed lookups)."""
    return bool(db.scalar(sa.select(sa.exists().where(Ticket.routable_since.is_not(None))))
                and db.scalar(sa.select(sa.exists().where(Agent.presence == PresenceStatus.AVAILABLE,
                                                          Agent.is_active.is_(True)))))


def route(db: Session, defaults: dict[WorkKind, int]) -> int:
    return len(router.route_waiting(db, defaults))


def overflow_due(db: Session) -> bool:
    return bool(overflow_waiting(db, utcnow(), lock=False, limit=1))


def overflow_waiting(db: Session, now: dt.datetime, *, lock: bool, limit: int = BATCH) -> list[tuple[int, int, int]]:
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


def overflow(db: Session) -> int:
    """Tickets that waited past their queue's limit move to its overflow queue (and start waiting there)."""
    now = utcnow()
    moved = 0
    for ticket_id, target_id, after in overflow_waiting(db, now, lock=True):
        ticket = db.get_one(Ticket, ticket_id, populate_existing=True)
        target = db.get_one(Queue, target_id)
        if ticket.routable_since is None or ticket.assignee_id is not None or ticket.queue_id == target_id:
            continue
        source = db.get_one(Queue, ticket.queue_id)
        mutations.move_to_queue(db, ticket, target, SYSTEM_ACTOR,
                                reason=f"overflow: waited more than {after} s in queue '{source.slug}'")
        moved += 1
    db.flush()
    return moved


def _escalate(db: Session, ticket: Ticket, reason: str, summary: str) -> bool:
    """Escalate by rule when a tier above exists; a rule never fails the job."""
    if ticket.tier >= TOP_TIER or next_tier_queue(db, ticket.brand_id, ticket.department, ticket.tier) is None:
        return False
    move_ticket(db, ticket, Move.ESCALATE, SYSTEM_ACTOR, reason=reason, summary=summary)
    return True


def escalation_rules_due(db: Session, reopened_after: int, urgent_wait: dt.timedelta | None) -> bool:
    return bool(_rule_candidates(db, reopened_after, urgent_wait, utcnow(), lock=False, limit=1))


def _rule_candidates(db: Session, reopened_after: int, urgent_wait: dt.timedelta | None, now: dt.datetime, *,
                     lock: bool, limit: int = BATCH) -> list[tuple[int, str]]:
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


def apply_escalation_rules(db: Session, reopened_after: int, urgent_wait: dt.timedelta | None) -> int:
    """A TS ticket reopened `reopened_after` times since its last escalation by this rule, and an urgent ticket
    waiting unassigned longer than `urgent_wait`, go up a tier."""
    now = utcnow()
    done = 0
    for ticket_id, rule in _rule_candidates(db, reopened_after, urgent_wait, now, lock=True):
        ticket = db.get_one(Ticket, ticket_id, populate_existing=True)
        if rule == "reopened":
            ticket.reopens_escalated = ticket.reopen_count  # the rule has acted on these reopens, escalated or not
            done += _escalate(db, ticket, f"reopened {ticket.reopen_count} times",
                              "Escalated by rule: the customer reopened this technical ticket repeatedly; "
                              "see the earlier replies and notes for what was tried.")
        elif (urgent_wait is not None and ticket.routable_since is not None
              and ticket.routable_since <= now - urgent_wait):
            minutes = (now - ticket.routable_since).total_seconds() / 60
            done += _escalate(db, ticket, f"urgent and unassigned for {minutes:.0f} minutes",
                              "Escalated by rule: urgent ticket with no agent free in its queue.")
    db.flush()
    return done


def escalate_after_breach(db: Session, ticket: Ticket, clock: SlaClock, policy: SlaPolicy) -> None:
    """The SLA breach follow-up for policies with escalate_on_breach (the ticket is locked by the caller)."""
    if ticket.status in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        return
    _escalate(db, ticket, f"SLA breached: {clock.metric.value.replace('_', ' ')} (policy '{policy.slug}')",
              "Escalated by the SLA policy: the target was missed at the tier below.")
