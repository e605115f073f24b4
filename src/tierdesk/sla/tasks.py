"""Worker jobs of the SLA domain: warnings before the due time and breaches at it, each detected exactly once.

The worker polls every few hundred milliseconds with an indexed look at the earliest due instant, so a breach is
recorded within about a second of its due time, not in an hourly batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.jobs import outbox
from tierdesk.kit.actors import SYSTEM_ACTOR
from tierdesk.kit.time import utcnow
from tierdesk.sla.models import SlaClock, SlaPolicy
from tierdesk.tickets.models import Ticket
from tierdesk.tickets.service import record_event

BATCH = 500

# (db, ticket, clock, policy) -> None: what a breach sets off besides its event (escalation, if the policy says so)
BreachFollowUp = Callable[[Session, Ticket, SlaClock, SlaPolicy], None]


def _breach_due(now: dt.datetime):
    return (SlaClock.breached_at.is_(None), SlaClock.due_at.is_not(None), SlaClock.due_at <= now,
            SlaClock.stopped_at.is_(None))


def _warning_due(now: dt.datetime):
    return (SlaClock.warned_at.is_(None), SlaClock.warn_at.is_not(None), SlaClock.warn_at <= now,
            SlaClock.breached_at.is_(None), SlaClock.stopped_at.is_(None))


def sla_due(db: Session) -> bool:
    now = utcnow()
    return bool(db.scalar(sa.select(sa.exists().where(*_breach_due(now))))
                or db.scalar(sa.select(sa.exists().where(*_warning_due(now)))))


def _notify(db: Session, notify: bool, topic: str, ticket: Ticket, clock: SlaClock, at: dt.datetime) -> None:
    if notify:
        outbox.enqueue(db, topic, {
            "ticket_id": ticket.id, "brand_id": ticket.brand_id, "metric": clock.metric.value,
            "due_at": clock.due_at.isoformat() if clock.due_at else None, "detected_at": at.isoformat(),
            "assignee_id": ticket.assignee_id, "queue_id": ticket.queue_id, "priority": ticket.priority.value,
        })


def detect_sla_events(db: Session, *, notify: bool, on_breach: BreachFollowUp | None = None) -> int:
    """Record due warnings and breaches, each exactly once with any number of workers.

    Locks are taken in the order the tickets service takes them, ticket before clock, so a worker and an agent
    changing the same ticket never deadlock: the ticket row is locked with SKIP LOCKED (a ticket being changed right
    now is looked at again on the next pass), then the clock is marked by a compare-and-set update that re-checks it
    is still due (the change may have stopped or paused it)."""
    now = utcnow()
    done = 0
    for kind in ("breach", "warning"):
        where = _breach_due(now) if kind == "breach" else _warning_due(now)
        mark = SlaClock.breached_at if kind == "breach" else SlaClock.warned_at
        due = db.execute(
            sa.select(SlaClock.id, SlaClock.ticket_id).where(*where)
            .order_by(SlaClock.due_at if kind == "breach" else SlaClock.warn_at).limit(BATCH)
        ).all()
        for clock_id, ticket_id in due:
            ticket = db.scalar(sa.select(Ticket).where(Ticket.id == ticket_id).with_for_update(skip_locked=True))
            if ticket is None:
                continue
            moved = db.execute(
                sa.update(SlaClock).where(SlaClock.id == clock_id, *where).values({mark: now})
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                continue
            clock = db.get(SlaClock, clock_id, populate_existing=True)
            due_at = clock.due_at if kind == "breach" else clock.warn_at
            record_event(
                db, ticket, f"sla_{kind}", SYSTEM_ACTOR,
                after={"metric": clock.metric.value, "due_at": clock.due_at.isoformat(), "detected_at": now.isoformat(),
                       "detected_after_seconds": round((now - due_at).total_seconds(), 3)},
                reason=f"{clock.metric.value.replace('_', ' ')} " + ("target missed" if kind == "breach"
                                                                      else "due soon"),
                at=now,
            )
            _notify(db, notify, f"sla.{kind}", ticket, clock, now)
            if kind == "breach" and on_breach is not None:
                policy = db.get(SlaPolicy, clock.policy_id)
                if policy is not None and policy.escalate_on_breach:
                    on_breach(db, ticket, clock, policy)
            done += 1
    db.flush()
    return done
