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
from tierdesk.kit.time import utcnow
from tierdesk.sla.models import SlaClock, SlaPolicy
from tierdesk.tickets.models import Ticket
from tierdesk.tickets.service import SYSTEM_ACTOR, record_event

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
    """Record due warnings and breaches. Rows are claimed with SKIP LOCKED and each is marked by a compare-and-set
    update, so with any number of workers every breach is recorded (and notified) once."""
    now = utcnow()
    done = 0
    for kind in ("breach", "warning"):
        where = _breach_due(now) if kind == "breach" else _warning_due(now)
        mark = SlaClock.breached_at if kind == "breach" else SlaClock.warned_at
        clocks = db.scalars(
            sa.select(SlaClock).where(*where).order_by(SlaClock.due_at if kind == "breach" else SlaClock.warn_at)
            .limit(BATCH).with_for_update(skip_locked=True)
        ).all()
        for clock in clocks:
            moved = db.execute(
                sa.update(SlaClock).where(SlaClock.id == clock.id, mark.is_(None)).values({mark: now})
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                continue
            ticket = db.get(Ticket, clock.ticket_id)
            due_at = clock.due_at if kind == "breach" else clock.warn_at
            late = (now - due_at).total_seconds()
            record_event(
                db, ticket, f"sla_{kind}", SYSTEM_ACTOR,
                after={"metric": clock.metric.value, "due_at": clock.due_at.isoformat(), "detected_at": now.isoformat(),
                       "detected_after_seconds": round(late, 3)},
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
