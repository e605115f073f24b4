"""The workspace's reads for the ticket page (each a batch: one statement whatever the ticket's size) and the ticket
viewers' heartbeats."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tierdesk.agents.models import Agent
from tierdesk.channels.email.models import EmailRecord
from tierdesk.customers.models import Customer
from tierdesk.kit.vocabulary import EventKind, ViewerState
from tierdesk.queues.models import Queue
from tierdesk.tickets.models import Attachment, DispositionCode, Message, Ticket, TicketEvent
from tierdesk.workspace.models import TicketViewer


def _pairs(result: Iterable[Any]) -> dict[Any, Any]:
    """(key, value) rows as a dict."""
    return {key: value for key, value in result}


# -- the timeline ------------------------------------------------------------------------------------------------------
def events_before(db: Session, ticket_id: int, before_id: int | None, limit: int) -> list[TicketEvent]:
    """The ticket's `limit` latest events before `before_id` (all, when None), oldest first; one more than `limit`
    when there are earlier ones (the caller drops it and offers "show earlier")."""
    stmt = sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if before_id is not None:
        stmt = stmt.where(TicketEvent.id < before_id)
    rows = list(db.scalars(stmt.order_by(TicketEvent.id.desc()).limit(limit + 1)))
    rows.reverse()
    return rows


def events_after(db: Session, ticket_id: int, after_id: int, limit: int) -> list[TicketEvent]:
    return list(db.scalars(sa.select(TicketEvent)
                           .where(TicketEvent.ticket_id == ticket_id, TicketEvent.id > after_id)
                           .order_by(TicketEvent.id).limit(limit)))


def latest_triage(db: Session, ticket_id: int) -> TicketEvent | None:
    return db.scalar(sa.select(TicketEvent)
                     .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == EventKind.TRIAGED)
                     .order_by(TicketEvent.id.desc()).limit(1))


def attachments_of_messages(db: Session, message_ids: list[int]) -> dict[int, list[Attachment]]:
    found: dict[int, list[Attachment]] = defaultdict(list)
    if message_ids:
        for a in db.scalars(sa.select(Attachment).where(Attachment.message_id.in_(message_ids))
                            .order_by(Attachment.id)):
            found[a.message_id].append(a)
    return found


def originals_of_messages(db: Session, message_ids: list[int]) -> set[int]:
    """Which of these messages have their original email kept (raw MIME in the blob store)."""
    if not message_ids:
        return set()
    return set(db.scalars(sa.select(EmailRecord.message_id).where(EmailRecord.message_id.in_(message_ids),
                                                                  EmailRecord.raw_sha256.is_not(None))))


def email_record(db: Session, ticket_id: int, message_id: int) -> EmailRecord | None:
    return db.scalar(sa.select(EmailRecord).where(EmailRecord.message_id == message_id,
                                                  EmailRecord.ticket_id == ticket_id))


def agent_names(db: Session, agent_ids: set[int]) -> dict[int, str]:
    if not agent_ids:
        return {}
    return _pairs(db.execute(sa.select(Agent.id, Agent.display_name).where(Agent.id.in_(agent_ids))))


def customer_names(db: Session, customer_ids: set[int]) -> dict[int, str | None]:
    if not customer_ids:
        return {}
    return _pairs(db.execute(sa.select(Customer.id, Customer.display_name)
                           .where(Customer.id.in_(customer_ids))))


def queue_names(db: Session, brand_id: int, queue_ids: set[int]) -> dict[int, str]:
    if not queue_ids:
        return {}
    return _pairs(db.execute(sa.select(Queue.id, Queue.name)
                           .where(Queue.brand_id == brand_id, Queue.id.in_(queue_ids))))


def disposition_labels(db: Session, brand_id: int) -> list[DispositionCode]:
    """The brand's disposition codes (active and retired: the timeline names retired ones too)."""
    return list(db.scalars(sa.select(DispositionCode).where(DispositionCode.brand_id == brand_id)
                           .order_by(DispositionCode.code)))


def other_tickets(db: Session, customer_id: int, ticket_id: int, limit: int) -> list[Ticket]:
    """The customer's other tickets, newest first (every channel)."""
    return list(db.scalars(sa.select(Ticket).where(Ticket.customer_id == customer_id, Ticket.id != ticket_id)
                           .order_by(Ticket.id.desc()).limit(limit)))


# -- newer messages (the collision warning) ----------------------------------------------------------------------------
def messages_after(db: Session, ticket_id: int, after_id: int, limit: int) -> list[Message]:
    """Messages that arrived after `after_id`, oldest first."""
    return list(db.scalars(sa.select(Message).where(Message.ticket_id == ticket_id, Message.id > after_id)
                           .order_by(Message.id).limit(limit)))


def count_messages_after(db: Session, ticket_id: int, after_id: int, *, not_by: int) -> int:
    """How many messages arrived after `after_id`, besides the agent's own."""
    return db.scalar(sa.select(sa.func.count()).select_from(Message).where(
        Message.ticket_id == ticket_id, Message.id > after_id,
        sa.or_(Message.author_agent_id.is_(None), Message.author_agent_id != not_by))) or 0


def latest_message_id(db: Session, ticket_id: int) -> int:
    return db.scalar(sa.select(sa.func.max(Message.id)).where(Message.ticket_id == ticket_id)) or 0


# -- viewers -----------------------------------------------------------------------------------------------------------
def heartbeat(db: Session, ticket_id: int, agent_id: int, state: ViewerState, now: dt.datetime) -> None:
    """The agent has the ticket open (one statement: an upsert, so two tabs never collide)."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(TicketViewer).values(ticket_id=ticket_id, agent_id=agent_id, state=state, seen_at=now)
    db.execute(stmt.on_conflict_do_update(index_elements=["ticket_id", "agent_id"],
                                          set_={"state": stmt.excluded.state, "seen_at": stmt.excluded.seen_at}))


def leave(db: Session, ticket_id: int, agent_id: int) -> None:
    db.execute(sa.delete(TicketViewer).where(TicketViewer.ticket_id == ticket_id, TicketViewer.agent_id == agent_id))


def other_viewers(db: Session, ticket_id: int, agent_id: int, since: dt.datetime) -> list[tuple[str, ViewerState,
                                                                                              dt.datetime]]:
    """The other agents seen on the ticket since `since`: (name, state, seen at), those replying first."""
    rows = db.execute(sa.select(Agent.display_name, TicketViewer.state, TicketViewer.seen_at)
                      .join(Agent, Agent.id == TicketViewer.agent_id)
                      .where(TicketViewer.ticket_id == ticket_id, TicketViewer.agent_id != agent_id,
                             TicketViewer.seen_at >= since)
                      .order_by(TicketViewer.state, Agent.display_name).limit(20))
    return [(name, state, seen) for name, state, seen in rows]
