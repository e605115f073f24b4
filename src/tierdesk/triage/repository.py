"""Triage's queries: what a deployment's tickets teach, and a customer's recent departments."""

from __future__ import annotations

import datetime as dt
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import ActorKind, Department, EventKind, MessageDirection, TicketStatus
from tierdesk.tickets.models import Message, Ticket, TicketEvent

HISTORY_DAYS = 30


# (id, subject, body, department, intent, priority, corrected)
TrainingTicket = tuple[int, str, str, str, str | None, str | None, bool]


def training_tickets(db: Session) -> list[TrainingTicket]:
    """(id, subject, first inbound body, department, intent, priority, re-triaged?) of every ticket whose department
    a person has confirmed: resolved (solved or closed) or moved by an agent. Oldest first, across brands.

    Intent and priority count only where an agent set them: the model's own guesses left standing are not labels
    (learning from them would only teach the model its own mistakes)."""
    first_message = (
        sa.select(Message.ticket_id, sa.func.min(Message.id).label("message_id"))
        .where(Message.direction == MessageDirection.INBOUND)
        .group_by(Message.ticket_id)
        .subquery()
    )
    corrected = sa.exists().where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == EventKind.RETRIAGED)

    def set_by_agent(kind: EventKind) -> sa.Exists:
        return sa.exists().where(
            TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == kind, TicketEvent.actor_kind == ActorKind.AGENT
        )

    rows = db.execute(
        sa.select(
            Ticket.id, Ticket.subject, Message.body_text, Ticket.department, Ticket.intent, Ticket.priority,
            corrected.label("corrected"), set_by_agent(EventKind.INTENT_CHANGED),
            set_by_agent(EventKind.PRIORITY_CHANGED),
        )
        .join(first_message, first_message.c.ticket_id == Ticket.id)
        .join(Message, Message.id == first_message.c.message_id)
        .where(
            Ticket.department.is_not(None),
            sa.or_(Ticket.status.in_([TicketStatus.SOLVED, TicketStatus.CLOSED]), corrected),
        )
        .order_by(Ticket.id)
    ).all()
    return [(r[0], r[1], r[2], str(r[3]), r[4] if r[7] else None, str(r[5]) if r[8] else None, bool(r[6]))
            for r in rows]


def recent_departments(db: Session, brand_id: int, customer_id: int, limit: int = 3) -> tuple[Department, ...]:
    """The departments of the customer's latest tickets in the last 30 days, newest first."""
    since = utcnow() - dt.timedelta(days=HISTORY_DAYS)
    rows = db.scalars(
        sa.select(Ticket.department)
        .where(
            Ticket.brand_id == brand_id,
            Ticket.customer_id == customer_id,
            Ticket.department.is_not(None),
            Ticket.created_at >= since,
        )
        .order_by(Ticket.id.desc())
        .limit(limit)
    ).all()
    return cast("tuple[Department, ...]", tuple(rows))  # not null: see where()
