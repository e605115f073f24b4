"""The workspace's reads: the agent's own work in SLA order, what the list pages show beside each ticket, the
queues' oldest waiting tickets, saved views, and for the ticket page (each a batch: one statement whatever the
ticket's size) its timeline and the ticket viewers' heartbeats."""

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
from tierdesk.customers.models import Customer, CustomerIdentity
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import NotFound
from tierdesk.kit.scope import scoped
from tierdesk.kit.vocabulary import EventKind, IdentityKind, ViewerState
from tierdesk.queues.models import Queue
from tierdesk.routing.repository import PRIORITY_RANK
from tierdesk.tickets.lifecycle import WORKABLE
from tierdesk.tickets.models import Attachment, DispositionCode, Message, Ticket, TicketEvent
from tierdesk.workspace.models import SavedView, TicketViewer

MY_WORK_LIMIT = 200  # more than anyone works at once; the list links to the full ticket list beyond it


def my_work(db: Session, principal: Principal, agent_id: int, limit: int = MY_WORK_LIMIT) -> list[Ticket]:
    """The workable tickets assigned to the agent, most urgent first: the nearest SLA due time (a breached one is
    in the past, so first), those without a running clock after; then priority, then the oldest."""
    stmt = scoped(sa.select(Ticket), Ticket.brand_id, principal).where(
        Ticket.assignee_id == agent_id, Ticket.status.in_(WORKABLE))
    return list(db.scalars(stmt.order_by(Ticket.sla_due_at.is_(None), Ticket.sla_due_at, PRIORITY_RANK,
                                         Ticket.created_at, Ticket.id).limit(limit)))


def assigned_count(db: Session, principal: Principal, agent_id: int) -> dict[str, int]:
    """How many of the agent's tickets are in each status (the counts above My work)."""
    stmt = (scoped(sa.select(Ticket), Ticket.brand_id, principal).where(Ticket.assignee_id == agent_id)
            .with_only_columns(Ticket.status, sa.func.count()).group_by(Ticket.status))
    return {status.value: count for status, count in db.execute(stmt)}


def customer_labels(db: Session, customer_ids: list[int]) -> dict[int, str]:
    """A name to show for each customer: their display name, else an email address, else their number."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    found = {i: f"customer {i}" for i in ids}
    named: set[int] = set()
    for customer_id, name in db.execute(sa.select(Customer.id, Customer.display_name).where(Customer.id.in_(ids))):
        if name:
            found[customer_id] = name
            named.add(customer_id)
    unnamed = [i for i in ids if i not in named]
    if unnamed:
        for customer_id, value in db.execute(
                sa.select(CustomerIdentity.customer_id, sa.func.min(CustomerIdentity.value))
                .where(CustomerIdentity.customer_id.in_(unnamed), CustomerIdentity.kind == IdentityKind.EMAIL)
                .group_by(CustomerIdentity.customer_id)):
            found[customer_id] = value
    return found


def oldest_waiting(db: Session, queue_ids: list[int]) -> dict[int, dt.datetime]:
    """Since when the longest-waiting ticket of each queue waits for an agent (the router's partial index)."""
    if not queue_ids:
        return {}
    rows = db.execute(sa.select(Ticket.queue_id, sa.func.min(Ticket.routable_since))
                      .where(Ticket.queue_id.in_(queue_ids), Ticket.routable_since.is_not(None))
                      .group_by(Ticket.queue_id))
    return {queue_id: since for queue_id, since in rows if since is not None}


# -- saved views -------------------------------------------------------------------------------------------------------
def saved_views_of(db: Session, principal: Principal, agent_id: int) -> list[SavedView]:
    """The agent's own views, and those shared with a brand they work."""
    shared = SavedView.brand_id.is_not(None)
    if not principal.is_admin:
        shared = SavedView.brand_id.in_(principal.brand_ids)
    return list(db.scalars(sa.select(SavedView).where(sa.or_(SavedView.agent_id == agent_id, shared))
                           .order_by(SavedView.brand_id.is_not(None), sa.func.lower(SavedView.name), SavedView.id)
                           .limit(200)))


def saved_view_named(db: Session, agent_id: int, name: str) -> SavedView | None:
    return db.scalar(sa.select(SavedView).where(SavedView.agent_id == agent_id, SavedView.name == name))


def saved_view_visible(db: Session, principal: Principal, agent_id: int, view_id: int) -> SavedView:
    """A view the agent may see (theirs, or shared with one of their brands); any other answers 404."""
    view = db.get(SavedView, view_id)
    if view is None or not (view.agent_id == agent_id
                            or (view.brand_id is not None and principal.sees_brand(view.brand_id))):
        raise NotFound(f"saved view {view_id} not found")
    return view


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
