"""The chat channel's queries."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.agents.models import Agent
from tierdesk.channels.chat.models import ChatConversation, ChatEvent
from tierdesk.customers.models import Customer
from tierdesk.kit.vocabulary import ActorKind, ChatEventKind, ChatStatus
from tierdesk.tickets.models import Message, Ticket

_OPEN = ChatConversation.status != ChatStatus.ENDED


def lock(db: Session, conversation_id: int) -> ChatConversation | None:
    """The conversation, locked: its log's next seq is taken under this lock, so seqs never collide or skip."""
    return db.scalar(sa.select(ChatConversation).where(ChatConversation.id == conversation_id)
                     .with_for_update().execution_options(populate_existing=True))


def of_ticket(db: Session, ticket_id: int, *, for_update: bool = False) -> ChatConversation | None:
    """The ticket's latest conversation."""
    query = (sa.select(ChatConversation).where(ChatConversation.ticket_id == ticket_id)
             .order_by(ChatConversation.id.desc()).limit(1))
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.scalar(query)


def events_after(db: Session, conversation_id: int, after_seq: int, limit: int = 500) -> list[ChatEvent]:
    return list(db.scalars(sa.select(ChatEvent).where(ChatEvent.conversation_id == conversation_id,
                                                      ChatEvent.seq > after_seq)
                           .order_by(ChatEvent.seq).limit(limit)))


def messages_of(db: Session, conversation_id: int) -> list[ChatEvent]:
    return list(db.scalars(sa.select(ChatEvent).where(ChatEvent.conversation_id == conversation_id,
                                                      ChatEvent.kind == ChatEventKind.MESSAGE)
                           .order_by(ChatEvent.seq)))


def last_inbound_message_id(db: Session, ticket_id: int) -> int | None:
    return db.scalar(sa.select(sa.func.max(Message.id)).where(Message.ticket_id == ticket_id,
                                                              Message.author_customer_id.is_not(None)))


def open_of_agent(db: Session, agent_id: int) -> list[ChatConversation]:
    """The chats an agent has now: assigned to them and not over."""
    return list(db.scalars(sa.select(ChatConversation).join(Ticket, Ticket.id == ChatConversation.ticket_id)
                           .where(_OPEN, Ticket.assignee_id == agent_id).order_by(ChatConversation.id)))


def assignment_changes(db: Session, limit: int, *, lock: bool) -> list[int]:
    """Open conversations whose ticket's assignee is not the conversation's agent: the router (or a person)
    assigned, reassigned or unassigned it since."""
    query = (sa.select(ChatConversation.id).join(Ticket, Ticket.id == ChatConversation.ticket_id)
             .where(_OPEN, ChatConversation.ticket_id.is_not(None),
                    sa.func.coalesce(ChatConversation.agent_id, 0) != sa.func.coalesce(Ticket.assignee_id, 0))
             .order_by(ChatConversation.id).limit(limit))
    if lock:
        query = query.with_for_update(of=ChatConversation, skip_locked=True)
    return list(db.scalars(query))


def unanswered_since(db: Session, before: dt.datetime, limit: int, *, lock: bool) -> list[int]:
    """Waiting chats whose first message came before `before` and that were not offered email yet."""
    query = (sa.select(ChatConversation.id)
             .where(ChatConversation.status == ChatStatus.WAITING, ChatConversation.started_at.is_not(None),
                    ChatConversation.started_at < before, ChatConversation.email_offered_at.is_(None))
             .order_by(ChatConversation.id).limit(limit))
    if lock:
        query = query.with_for_update(skip_locked=True)
    return list(db.scalars(query))


def left_before(db: Session, before: dt.datetime, limit: int, *, lock: bool) -> list[int]:
    """Open chats whose customer has been gone since before `before`."""
    query = (sa.select(ChatConversation.id)
             .where(_OPEN, ChatConversation.customer_left_at.is_not(None),
                    ChatConversation.customer_left_at < before)
             .order_by(ChatConversation.id).limit(limit))
    if lock:
        query = query.with_for_update(skip_locked=True)
    return list(db.scalars(query))


def queue_position(db: Session, ticket: Ticket) -> int:
    """1 + the tickets of the ticket's queue that have waited longer (the router serves those first, urgency
    aside)."""
    if ticket.routable_since is None:
        return 0
    ahead = db.scalar(sa.select(sa.func.count()).select_from(Ticket)
                      .where(Ticket.queue_id == ticket.queue_id, Ticket.routable_since.is_not(None),
                             Ticket.routable_since < ticket.routable_since))
    return int(ahead or 0) + 1


def recent_waits(db: Session, brand_id: int, limit: int = 20) -> list[float]:
    """Seconds the brand's latest answered chats waited for their agent."""
    rows = db.execute(sa.select(ChatConversation.started_at, ChatConversation.answered_at)
                      .where(ChatConversation.brand_id == brand_id, ChatConversation.answered_at.is_not(None),
                             ChatConversation.started_at.is_not(None))
                      .order_by(ChatConversation.id.desc()).limit(limit)).all()
    return [max(0.0, (answered - started).total_seconds()) for started, answered in rows if started and answered]


def customer_name(db: Session, customer_id: int | None) -> str | None:
    if customer_id is None:
        return None
    return db.scalar(sa.select(Customer.display_name).where(Customer.id == customer_id))


def agent_name(db: Session, agent_id: int) -> str | None:
    return db.scalar(sa.select(Agent.display_name).where(Agent.id == agent_id))


def lock_ticket_of(db: Session, conversation_id: int) -> Ticket | None:
    """Lock the conversation's ticket (when it has one) before the conversation, and load it, in one statement:
    the reply path locks in that order (the ticket, then its chat), and the other way round would deadlock."""
    ticket_id = (sa.select(ChatConversation.ticket_id).where(ChatConversation.id == conversation_id)
                 .scalar_subquery())
    return db.scalar(sa.select(Ticket).where(Ticket.id == ticket_id).with_for_update(of=Ticket)
                     .execution_options(populate_existing=True))


def seq_of_client_message(db: Session, conversation_id: int, side: ActorKind, client_id: str) -> int | None:
    return db.scalar(sa.select(ChatEvent.seq).where(ChatEvent.conversation_id == conversation_id,
                                                    ChatEvent.actor_kind == side, ChatEvent.client_id == client_id))

