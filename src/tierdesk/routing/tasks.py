"""Worker jobs of the routing domain: the routing pass, overflow between queues, and escalation rules."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from tierdesk.kit.actors import SYSTEM_ACTOR
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import TOP_TIER, TicketStatus, WorkKind
from tierdesk.queues import repository as queues
from tierdesk.queues.models import Queue
from tierdesk.routing import repository, router
from tierdesk.routing.escalation import Move, move_ticket
from tierdesk.sla.models import SlaClock, SlaPolicy
from tierdesk.tickets import mutations
from tierdesk.tickets.models import Ticket

BATCH = 200


def routing_due(db: Session, defaults: dict[WorkKind, int]) -> bool:
    """Would a pass assign anything? Read only, so tickets waiting for busy agents cost no write lock."""
    return bool(router.route_waiting(db, defaults, apply=False))


def routing_may_be_due(db: Session) -> bool:
    """The cheap look: a ticket waits and some agent is available (two indexed lookups)."""
    return repository.routing_may_be_due(db)


def route(db: Session, defaults: dict[WorkKind, int]) -> int:
    return len(router.route_waiting(db, defaults))


def overflow_due(db: Session) -> bool:
    return bool(repository.overflow_waiting(db, utcnow(), lock=False, limit=1))


def overflow(db: Session) -> int:
    """Tickets that waited past their queue's limit move to its overflow queue (and start waiting there)."""
    now = utcnow()
    moved = 0
    for ticket_id, target_id, after in repository.overflow_waiting(db, now, lock=True, limit=BATCH):
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
    if ticket.tier >= TOP_TIER or queues.next_tier(db, ticket.brand_id, ticket.department, ticket.tier) is None:
        return False
    move_ticket(db, ticket, Move.ESCALATE, SYSTEM_ACTOR, reason=reason, summary=summary)
    return True


def escalation_rules_due(db: Session, reopened_after: int, urgent_wait: dt.timedelta | None) -> bool:
    return bool(repository.escalation_candidates(db, reopened_after, urgent_wait, utcnow(), lock=False, limit=1))


def apply_escalation_rules(db: Session, reopened_after: int, urgent_wait: dt.timedelta | None) -> int:
    """A TS ticket reopened `reopened_after` times since its last escalation by this rule, and an urgent ticket
    waiting unassigned longer than `urgent_wait`, go up a tier."""
    now = utcnow()
    done = 0
    due = repository.escalation_candidates(db, reopened_after, urgent_wait, now, lock=True, limit=BATCH)
    for ticket_id, rule in due:
        ticket = db.get_one(Ticket, ticket_id, populate_existing=True)
        if rule == "reopened":
            mutations.reopens_handled(ticket)
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
