"""Worker jobs of the tickets domain."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.kit.actors import SYSTEM_ACTOR
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import TicketStatus
from tierdesk.sla import clocks
from tierdesk.tickets.models import Ticket
from tierdesk.tickets.service import record_event

BATCH = 200


def _solved_before(cutoff: dt.datetime):
    return (Ticket.status == TicketStatus.SOLVED, Ticket.solved_at <= cutoff)


def solved_tickets_due(db: Session, after: dt.timedelta) -> bool:
    """A cheap read first, so an idle worker never takes SQLite's write lock."""
    return db.scalar(sa.select(sa.exists().where(*_solved_before(utcnow() - after)))) or False


def close_solved_tickets(db: Session, after: dt.timedelta) -> int:
    """Close tickets solved longer than `after` ago. Safe with any number of workers: rows are claimed with
    SKIP LOCKED on PostgreSQL and each is moved by a compare-and-set update, so a ticket is closed (and its event
    written) exactly once."""
    now = utcnow()
    due = (
        sa.select(Ticket.id)
        .where(*_solved_before(now - after))
        .order_by(Ticket.solved_at)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    closed = 0
    for ticket_id in db.scalars(due).all():
        moved = db.execute(
            sa.update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.status == TicketStatus.SOLVED)
            .values(status=TicketStatus.CLOSED, closed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:
            ticket = db.get(Ticket, ticket_id, populate_existing=True)
            record_event(
                db, ticket, "status_changed", SYSTEM_ACTOR,
                before={"status": TicketStatus.SOLVED}, after={"status": TicketStatus.CLOSED},
                reason=f"solved for more than {after.total_seconds() / 3600:g} hours", at=now,
            )
            clocks.status_changed(db, ticket, now)
            closed += 1
    db.flush()
    return closed
