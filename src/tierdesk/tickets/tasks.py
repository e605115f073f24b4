"""Worker jobs of the tickets domain: closing solved tickets, and recording SLA warnings and breaches.

Both are safe with any number of workers: a ticket row is claimed with SKIP LOCKED (on PostgreSQL) and the change
re-checks what made it due, so it happens exactly once. The SLA watch polls every few hundred milliseconds with an
indexed look at the earliest due instant, so a breach is recorded within about a second of its due time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.orm import Session

from tierdesk.kit.actors import SYSTEM_ACTOR
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import EventKind, TicketStatus
from tierdesk.sla import repository as sla
from tierdesk.sla.models import SlaClock, SlaPolicy
from tierdesk.tickets import mutations, repository
from tierdesk.tickets.models import Ticket

BATCH = 200
SLA_BATCH = 500

# (db, ticket, clock, policy) -> None: what a breach sets off besides its event (escalation, if the policy says so)
BreachFollowUp = Callable[[Session, Ticket, SlaClock, SlaPolicy], None]


def solved_tickets_due(db: Session, after: dt.timedelta) -> bool:
    """A cheap read first, so an idle worker never takes SQLite's write lock."""
    return repository.any_solved_before(db, utcnow() - after)


def close_solved_tickets(db: Session, after: dt.timedelta) -> int:
    """Close tickets solved longer than `after` ago, each through change_status (its event and SLA hook)."""
    now = utcnow()
    closed = 0
    for ticket in repository.claim_solved_before(db, now - after, BATCH):
        if ticket.status is TicketStatus.SOLVED:  # re-read under the lock: reopened meanwhile stays open
            mutations.change_status(db, ticket, TicketStatus.CLOSED, SYSTEM_ACTOR,
                                    f"solved for more than {after.total_seconds() / 3600:g} hours", at=now)
            closed += 1
    db.flush()
    return closed


def sla_due(db: Session) -> bool:
    return sla.anything_due(db, utcnow())


def detect_sla_events(db: Session, *, on_breach: BreachFollowUp | None = None) -> int:
    """Record due warnings and breaches, each exactly once with any number of workers. (Their webhooks, the
    TIERDESK_NOTIFICATION_WEBHOOK_URL one among them, follow from the events: tickets.observers.)

    Locks are taken in the order the tickets service takes them, ticket before clock, so a worker and an agent
    changing the same ticket never deadlock: the ticket row is locked with SKIP LOCKED (a ticket being changed right
    now is looked at again on the next pass), then the clock is marked by a compare-and-set update that re-checks it
    is still due (the change may have stopped or paused it)."""
    now = utcnow()
    done = 0
    for alarm in (sla.Alarm.BREACH, sla.Alarm.WARNING):
        for clock_id, ticket_id in sla.due(db, alarm, now, SLA_BATCH):
            ticket = repository.lock_if_free(db, ticket_id)
            if ticket is None:
                continue
            clock = sla.mark(db, clock_id, alarm, now)
            if clock is None:
                continue
            due_at = clock.due_at if alarm is sla.Alarm.BREACH else clock.warn_at
            assert due_at is not None and clock.due_at is not None  # sla.mark matched a clock with them set
            kind = EventKind.SLA_BREACH if alarm is sla.Alarm.BREACH else EventKind.SLA_WARNING
            mutations.record_event(
                db, ticket, kind, SYSTEM_ACTOR,
                after={"metric": clock.metric.value, "due_at": clock.due_at.isoformat(), "detected_at": now.isoformat(),
                       "detected_after_seconds": round((now - due_at).total_seconds(), 3)},
                reason=f"{clock.metric.value.replace('_', ' ')} "
                       + ("target missed" if alarm is sla.Alarm.BREACH else "due soon"),
                at=now,
            )
            if alarm is sla.Alarm.BREACH and on_breach is not None:
                policy = db.get(SlaPolicy, clock.policy_id)
                if policy is not None and policy.escalate_on_breach:
                    on_breach(db, ticket, clock, policy)
            done += 1
    db.flush()
    return done
