"""Live chat: the conversation's life, in the caller's transaction (the socket's unit of work or a worker job).

A chat is a ticket with channel `chat`. The first customer message goes through intake (a new ticket, triaged,
routed like any ticket against chat capacity); later ones too (`continues_ticket_id`). Agents' replies go through
tickets.service.reply, the one reply path, which hands them back here (`deliver_reply`) to land in the chat.

Everything the two sides see is an event of the conversation's log, numbered by `seq` under the conversation's row
lock, and announced on the live bus (topic `chat:<id>`, text the seq) when the transaction commits. Receivers read
the rows: a client resuming from its last seq gets everything after it, once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tierdesk.audit import service as audit
from tierdesk.brands import repository as brands
from tierdesk.brands.models import Brand
from tierdesk.channels.chat import repository
from tierdesk.channels.chat.models import ChatConversation, ChatEvent, ChatSettings
from tierdesk.channels.chat.schemas import ChatSettingsIn
from tierdesk.customers import service as customers
from tierdesk.customers.identity import normalise_email
from tierdesk.customers.schemas import Sender
from tierdesk.intake.pipeline import IntakePipeline, PreparedContact
from tierdesk.intake.schemas import ContactIn
from tierdesk.jobs import live, outbox
from tierdesk.kit import business_hours
from tierdesk.kit.actors import CUSTOMER_ACTOR, SYSTEM, SYSTEM_ACTOR, Actor, Principal
from tierdesk.kit.errors import Forbidden, InvalidInput, NotFound
from tierdesk.kit.origins import same_origin
from tierdesk.kit.sealed import seal, unseal
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import (
    ActorKind,
    AgentRole,
    Channel,
    ChatEventKind,
    ChatStatus,
    EventKind,
    MessageDirection,
    OutboxTopic,
    TicketStatus,
)
from tierdesk.sla import repository as calendars
from tierdesk.sla.models import BusinessCalendar
from tierdesk.tickets import mutations
from tierdesk.tickets import service as tickets
from tierdesk.tickets.models import Message, Ticket
from tierdesk.tickets.schemas import MessageCreate, TicketUpdate
from tierdesk.triage.service import TriagerSource, read_message

BATCH = 200
_CLIENT_ID = "tierdesk_chat_client_id"  # session info: the client's id of the agent message being replied
_CONVERSATION = "tierdesk_chat_conversation"  # session info: the chat the agent writes in, locked already
AGENT_NAME_TTL = 60.0  # seconds an agent's display name is remembered (a renamed agent shows so within a minute)
_agent_names: dict[int, tuple[str | None, float]] = {}
DEFAULT_EXPECTED_WAIT = 60.0  # seconds per place in the queue, until the brand has answered chats to learn from


def topic(conversation_id: int) -> str:
    """The live bus topic of a conversation's events (the text is the new seq)."""
    return f"chat:{conversation_id}"


def agent_topic(agent_id: int) -> str:
    """The live bus topic of an agent's chats: a chat was given to them (the text is the conversation id)."""
    return f"chat-agent:{agent_id}"


def typing_topic(conversation_id: int) -> str:
    return f"chat-typing:{conversation_id}"


def _digest(secret_key: str, token: str) -> str:
    return hmac.new(secret_key.encode(), f"chat:{token}".encode(), hashlib.sha256).hexdigest()


# -- the log -----------------------------------------------------------------------------------------------------------
def append(db: Session, conversation: ChatConversation, kind: ChatEventKind, actor: Actor, *,
           data: dict[str, Any] | None = None, message_id: int | None = None,
           client_id: str | None = None) -> ChatEvent:
    """The conversation's next event. The caller holds the conversation's row lock (repository.lock)."""
    conversation.last_seq += 1
    event = ChatEvent(conversation_id=conversation.id, seq=conversation.last_seq, kind=kind,
                      actor_kind=actor.kind, agent_id=actor.agent_id, message_id=message_id, client_id=client_id,
                      data=data or {}, created_at=utcnow())
    db.add(event)
    live.publish(db, topic(conversation.id), notice_of(event))
    return event


def notice_of(event: ChatEvent) -> str:
    """The live notification of an event: its seq, then (when it fits a notification) its frame as JSON, which the
    sockets send as it is instead of each reading the row back. PostgreSQL sends a NOTIFY only when its transaction
    commits, so the frame is of a stored event; a receiver that misses one (a gap in the seqs) reads the log."""
    seq = str(event.seq)
    encoded = f"{seq} {json.dumps(frame_of(event), default=str)}"
    return encoded if len(encoded) + len(topic(event.conversation_id)) < live.MAX_PAYLOAD else seq


def parse_notice(text: str) -> tuple[int | None, str | None]:
    """(seq, frame JSON or None) of a notification; (None, None) for anything else (the bus's resync)."""
    head, _, frame = text.partition(" ")
    return (int(head), frame or None) if head.isdigit() else (None, None)


def frame_of(event: ChatEvent) -> dict[str, Any]:
    """An event as both sides receive it."""
    frame: dict[str, Any] = {"type": "event", "conversation": event.conversation_id, "seq": event.seq,
                             "kind": event.kind.value, "from": event.actor_kind.value,
                             "at": event.created_at.isoformat()}
    frame.update(event.data)
    return frame


def _locked(db: Session, conversation_id: int) -> ChatConversation:
    """The conversation, locked, its ticket locked before it: every path takes the two in the reply path's order
    (tickets.service.reply locks the ticket, then deliver_reply the chat), so none waits for the other in a
    circle."""
    return _locked_with_ticket(db, conversation_id)[0]


def _locked_with_ticket(db: Session, conversation_id: int) -> tuple[ChatConversation, Ticket | None]:
    """_locked, and the ticket it locked (loaded by the same statement: no second query for it)."""
    ticket = repository.lock_ticket_of(db, conversation_id)
    conversation = repository.lock(db, conversation_id)
    if conversation is None:
        raise NotFound(f"chat {conversation_id} not found")
    return conversation, ticket


# -- the customer's side -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Started:
    conversation_id: int
    token: str  # the widget's secret for resuming; only its digest is stored
    pre_chat_form: bool


def chat_settings(db: Session, brand_id: int) -> ChatSettings | None:
    return db.get(ChatSettings, brand_id)


def brand_for_widget(db: Session, slug: str) -> Brand:
    brand = brands.by_slug(db, slug)
    if brand is None:
        raise NotFound(f"no brand '{slug}'")
    return brand


def origin_allowed(db: Session, brand: Brand, origin: str | None, own_origins: set[str]) -> bool:
    """A page may open a chat for the brand when its origin is one the brand allows, or this server's own. A client
    that sends no Origin is no browser page (browsers always send it on a WebSocket): it is not embedding anything,
    so there is nothing to protect against."""
    if origin is None:
        return True
    row = chat_settings(db, brand.id)
    return same_origin(origin, [*(row.allowed_origins if row else []), *own_origins])


def start(db: Session, secret_key: str, brand: Brand, *, visitor: str, name: str | None,
          email: str | None) -> Started:
    """A new conversation for the brand's widget (its ticket opens with the first message)."""
    row = chat_settings(db, brand.id)
    form = bool(row and row.pre_chat_form)
    if form and not (name and email):
        raise InvalidInput("this brand asks for a name and an email before the chat starts",
                           field="email" if name else "name")
    if email:
        email = normalise_email(email)  # checked now, not at the first message
    token = secrets.token_urlsafe(24)
    conversation = ChatConversation(brand_id=brand.id, token_digest=_digest(secret_key, token),
                                    visitor_id=visitor, visitor_name=name or None, visitor_email=email or None,
                                    status=ChatStatus.WAITING, last_seq=0, created_at=utcnow())
    db.add(conversation)
    db.flush()
    return Started(conversation.id, token, form)


IDENTITY_SECRET = "chat identity secret"  # what kit.sealed seals it for


def new_identity_secret(db: Session, principal: Principal, secret_key: str, brand: Brand) -> str:
    """A new secret for the brand's site to sign its customers' ids with (returned once; the old one stops
    working)."""
    principal.require_admin()
    row = chat_settings(db, brand.id)
    if row is None:
        row = ChatSettings(brand_id=brand.id, allowed_origins=[], pre_chat_form=False)
        db.add(row)
    secret = secrets.token_urlsafe(32)
    row.identity_secret_sealed = seal(secret_key, IDENTITY_SECRET, secret)
    row.updated_at = utcnow()
    db.flush()
    audit.record(db, Actor.of(principal), "chat_settings", brand.id, "updated",
                 before={"identity_secret": None}, after={"identity_secret": audit.SECRET}, brand_id=brand.id)
    return secret


def signed_customer(db: Session, secret_key: str, brand: Brand, customer_id: str, signature: str) -> str:
    """The brand's own id of a customer signed in on its site, if the site signed it: hex HMAC-SHA256 of the id
    with the brand's identity secret. The chat is then theirs (their history, their tickets)."""
    row = chat_settings(db, brand.id)
    if row is None or row.identity_secret_sealed is None:
        raise InvalidInput(f"brand '{brand.slug}' does not sign its customers' ids (no identity secret)",
                           field="customer")
    key = unseal(secret_key, IDENTITY_SECRET, row.identity_secret_sealed)
    expected = hmac.new(key.encode(), customer_id.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise InvalidInput("the customer id's signature does not match", field="customer.signature")
    return customer_id


def resume(db: Session, secret_key: str, brand: Brand, conversation_id: int, token: str) -> ChatConversation:
    """The customer's conversation, if the token is its own (another's id and a wrong token look the same)."""
    conversation = db.get(ChatConversation, conversation_id)
    if (conversation is None or conversation.brand_id != brand.id
            or not hmac.compare_digest(conversation.token_digest, _digest(secret_key, token))):
        raise Forbidden("no such chat, or not yours")
    return conversation


def customer_connected(db: Session, conversation_id: int, connection: str) -> None:
    conversation = _locked(db, conversation_id)
    conversation.customer_connection = connection
    conversation.customer_left_at = None


def customer_disconnected(db: Session, conversation_id: int, connection: str) -> None:
    """The widget went away: the grace time starts, unless it came back on another connection meanwhile."""
    conversation = _locked(db, conversation_id)
    if conversation.customer_connection == connection and conversation.status is not ChatStatus.ENDED:
        conversation.customer_left_at = utcnow()


@dataclass
class CustomerMessage:
    event: ChatEvent | None  # None: the same client_id was taken before (a resend after a reconnect)
    seq: int
    ticket_id: int


def read_customer_message(triage: TriagerSource | None, text: str) -> Any:
    """Triage's reading of a first message, done before the transaction (it needs no database)."""
    return read_message(triage, text, None) if triage is not None else None


def customer_message(db: Session, intake: IntakePipeline, conversation_id: int, text: str, client_id: str,
                     reading: Any = None, now: dt.datetime | None = None) -> CustomerMessage:
    """The customer wrote: the message goes into the ticket, and into the chat's log. The first one goes through
    intake (the ticket opens, triaged); the later ones join that ticket through tickets.mutations.add_message, as
    intake would add them, without identifying the customer again. A resend of the same client_id (its ack was
    lost) is recognised and not stored twice."""
    conversation, locked_ticket = _locked_with_ticket(db, conversation_id)
    earlier = repository.seq_of_client_message(db, conversation_id, ActorKind.CUSTOMER, client_id)
    if earlier is not None:
        assert conversation.ticket_id is not None  # a stored message opened it
        return CustomerMessage(None, earlier, conversation.ticket_id)
    if conversation.status is ChatStatus.ENDED:
        raise InvalidInput("this chat has ended; start a new one", field="type")
    external_id = f"chat:{conversation.id}:{client_id}"
    # Plain text: what the customer typed is shown as text (HTML in it is escaped, never rendered).
    body_text, body_html = tickets.message_bodies(text, None)
    ticket = locked_ticket if locked_ticket is not None and locked_ticket.id == conversation.ticket_id else (
        db.get(Ticket, conversation.ticket_id) if conversation.ticket_id is not None else None)
    first = ticket is None or ticket.status is TicketStatus.CLOSED
    if ticket is not None and not first:
        message = mutations.add_message(
            db, ticket, direction=MessageDirection.INBOUND, channel=Channel.CHAT, body_text=body_text,
            body_html=body_html, actor=CUSTOMER_ACTOR, author_customer_id=conversation.customer_id,
            external_id=external_id, thread_ref=f"chat:{conversation.id}")
        db.flush()
        message_id = message.id
    else:
        brand = db.get_one(Brand, conversation.brand_id)
        contact = ContactIn(
            brand=brand.slug, channel=Channel.CHAT,
            sender=Sender(email=conversation.visitor_email, external_id=conversation.visitor_id,
                          name=conversation.visitor_name),
            body=text, external_id=external_id, thread_ref=f"chat:{conversation.id}",
        )
        prepared = PreparedContact(body_text, body_html, reading)
        result = intake.receive(db, SYSTEM, contact, prepared)
        ticket = db.get_one(Ticket, result.ticket.id)
        message_id = result.message_id
        conversation.ticket_id = ticket.id
        conversation.customer_id = result.customer_id
        conversation.started_at = conversation.started_at or utcnow()
        mutations.record_event(db, ticket, EventKind.CHAT_STARTED, CUSTOMER_ACTOR,
                               after={"conversation_id": conversation.id})
    event = append(db, conversation, ChatEventKind.MESSAGE, CUSTOMER_ACTOR, message_id=message_id,
                   client_id=client_id, data={"text": body_text, "client_id": client_id,
                                              "name": conversation.visitor_name or "you"})
    if first:
        calendar = _calendar(db, conversation.brand_id)
        if calendar is not None and not business_hours.is_open(calendar, now or utcnow()):
            offer_email(db, conversation, "outside business hours: nobody can answer now")
    db.flush()
    return CustomerMessage(event, event.seq, ticket.id)


def _calendar(db: Session, brand_id: int) -> business_hours.BusinessCalendar | None:
    row = chat_settings(db, brand_id)
    if row is None or row.calendar_id is None:
        return None
    stored = db.get(BusinessCalendar, row.calendar_id)
    if stored is None:
        return None
    return business_hours.BusinessCalendar.from_spec(stored.timezone, stored.weekly_hours, stored.holidays)


def offer_email(db: Session, conversation: ChatConversation, reason: str) -> None:
    """Tell the widget nobody can take the chat now, and that it may continue by email."""
    if conversation.email_offered_at is not None or conversation.status is ChatStatus.ENDED:
        return
    conversation.email_offered_at = utcnow()
    append(db, conversation, ChatEventKind.EMAIL_OFFERED, SYSTEM_ACTOR,
           data={"reason": reason, "needs_email": not _has_email(conversation)})


def _has_email(conversation: ChatConversation) -> bool:
    return bool(conversation.visitor_email)


def mark(db: Session, conversation_id: int, side: ActorKind, kind: ChatEventKind, seq: int,
         agent_id: int | None = None) -> ChatEvent | None:
    """A side's client received (delivered) or showed (read) the log up to `seq`. Stored only when it advances."""
    conversation = _locked(db, conversation_id)
    if seq > conversation.last_seq or seq < 1:
        raise InvalidInput(f"seq {seq} is not in this chat (its last is {conversation.last_seq})", field="seq")
    column = f"{'customer' if side is ActorKind.CUSTOMER else 'agent'}_{kind.value}_seq"
    if getattr(conversation, column) >= seq:
        return None
    setattr(conversation, column, seq)
    if kind is ChatEventKind.READ and getattr(conversation, column.replace("read", "delivered")) < seq:
        setattr(conversation, column.replace("read", "delivered"), seq)  # read implies delivered
    actor = Actor(side, agent_id=agent_id)
    return append(db, conversation, kind, actor, data={"up_to": seq})


def continue_by_email(db: Session, conversation_id: int, email: str | None, phone_region: str | None,
                      actor: Actor) -> None:
    """The customer takes the offer (or leaves): the chat ends and continues by email, the transcript mailed."""
    conversation = _locked(db, conversation_id)
    if conversation.status is ChatStatus.ENDED:
        return
    if email and not conversation.visitor_email:
        # The address joins the customer's identities (found by the visitor id they chatted as).
        sender = Sender(email=normalise_email(email), external_id=conversation.visitor_id)
        conversation.visitor_email = sender.email
        customers.identify(db, conversation.brand_id, sender, phone_region)
    if not _has_email(conversation):
        raise InvalidInput("give an email address to continue by email", field="email")
    end(db, conversation, actor, "the customer continues by email", by_email=True)


def customer_end(db: Session, conversation_id: int) -> None:
    """The customer said goodbye: the chat ends and continues by email (when they gave an address)."""
    end(db, _locked(db, conversation_id), CUSTOMER_ACTOR, "the customer ended the chat", by_email=True)


def end(db: Session, conversation: ChatConversation, actor: Actor, reason: str, *, by_email: bool) -> None:
    """The chat is over: stored, told to both sides, and in the ticket's trail. With `by_email` (and an address to
    send to) the transcript goes to the customer through the outbox, and later replies go by email."""
    if conversation.status is ChatStatus.ENDED:
        return
    now = utcnow()
    conversation.status = ChatStatus.ENDED
    conversation.ended_at = now
    conversation.ended_by = actor.kind
    conversation.ended_by_agent_id = actor.agent_id
    conversation.ended_reason = reason[:500]
    emailed = by_email and _has_email(conversation) and conversation.ticket_id is not None
    conversation.continued_by_email = emailed
    append(db, conversation, ChatEventKind.ENDED, actor, data={"reason": reason, "continues_by_email": emailed})
    if conversation.ticket_id is None:
        return  # nothing was said: no ticket, nothing to send
    ticket = db.get_one(Ticket, conversation.ticket_id)
    mutations.record_event(db, ticket, EventKind.CHAT_ENDED, actor, reason=reason,
                           after={"conversation_id": conversation.id, "ended_by": actor.kind.value,
                                  "continues_by_email": emailed})
    if emailed:
        # Worked as email from now on: replies go by mail, and it takes the agent's email capacity, not a chat's.
        mutations.set_channel(db, ticket, Channel.EMAIL, actor, "the chat continues by email")
        last = repository.last_inbound_message_id(db, ticket.id)
        if last is not None:
            outbox.enqueue(db, OutboxTopic.EMAIL_ACKNOWLEDGE,
                           {"ticket_id": ticket.id, "message_id": last,
                            "transcript": transcript(db, conversation, ticket)})


def transcript(db: Session, conversation: ChatConversation, ticket: Ticket) -> str:
    lines = [f"Your chat with us (ticket {ticket.id}). We continue by email: reply to this message to add to it.",
             ""]
    for event in repository.messages_of(db, conversation.id):
        who = (conversation.visitor_name or "You") if event.actor_kind is ActorKind.CUSTOMER else (
            event.data.get("name") or "Agent")
        lines.append(f"[{event.created_at:%Y-%m-%d %H:%M} UTC] {who}: {event.data.get('text', '')}")
    return "\n".join(lines)


# -- the agent's side ------------------------------------------------------------------------------------------------
def _agent_name(db: Session, agent_id: int) -> str | None:
    """The name the customer sees, remembered a minute (one query less on every reply)."""
    known = _agent_names.get(agent_id)
    if known is not None and known[1] > time.monotonic():
        return known[0]
    name = repository.agent_name(db, agent_id)
    _agent_names[agent_id] = (name, time.monotonic() + AGENT_NAME_TTL)
    return name


def deliver_reply(db: Session, ticket: Ticket, message: Message) -> bool:
    """tickets.service.reply's delivery for chat tickets: the reply joins the chat's log. A chat that ended leaves
    it to the default (a chat that continued by email is an email ticket since, see end())."""
    held = db.info.pop(_CONVERSATION, None)
    conversation = held if isinstance(held, ChatConversation) and held.ticket_id == ticket.id else (
        repository.of_ticket(db, ticket.id, for_update=True))
    if conversation is None or conversation.status is ChatStatus.ENDED:
        return False
    name = _agent_name(db, message.author_agent_id) if message.author_agent_id else None
    append(db, conversation, ChatEventKind.MESSAGE, Actor(ActorKind.AGENT, message.author_agent_id),
           message_id=message.id, client_id=db.info.pop(_CLIENT_ID, None),
           data={"text": message.body_text, "name": name or "Agent"})
    return True


def agent_conversation(db: Session, principal: Principal, conversation_id: int) -> ChatConversation:
    """A chat the agent may act in: its ticket is visible to them and assigned to them (leads and admins may act
    in any chat they see)."""
    conversation = db.get(ChatConversation, conversation_id)
    if conversation is None or conversation.ticket_id is None:
        raise NotFound(f"chat {conversation_id} not found")
    _check_agent(principal, db.get_one(Ticket, conversation.ticket_id), conversation_id)
    return conversation


def _check_agent(principal: Principal, ticket: Ticket, conversation_id: int) -> None:
    if not principal.sees_brand(ticket.brand_id):
        raise NotFound(f"chat {conversation_id} not found")
    if ticket.assignee_id != principal.agent_id and not principal.is_admin and principal.role is not AgentRole.LEAD:
        raise Forbidden(f"chat {conversation_id} is not yours")


def agent_message(db: Session, principal: Principal, conversation_id: int, text: str, client_id: str) -> int:
    """The agent writes in the chat: a public reply to its ticket, through the one reply path. Returns its seq; a
    resend of the same client_id (its ack was lost) is not stored twice."""
    conversation, ticket = _locked_with_ticket(db, conversation_id)  # checked as agent_conversation does
    if conversation.ticket_id is None:
        raise NotFound(f"chat {conversation_id} not found")
    if ticket is None or ticket.id != conversation.ticket_id:  # its first message opened a new one meanwhile
        ticket = db.get_one(Ticket, conversation.ticket_id)
    _check_agent(principal, ticket, conversation_id)
    earlier = repository.seq_of_client_message(db, conversation_id, ActorKind.AGENT, client_id)
    if earlier is not None:
        return earlier
    if conversation.status is ChatStatus.ENDED:
        raise InvalidInput("this chat has ended; reply on the ticket instead", field="conversation")
    # For deliver_reply, which the reply path calls: the client's id to store with the event, and the chat
    # (locked here already, so not looked up and locked again).
    db.info[_CLIENT_ID] = client_id
    db.info[_CONVERSATION] = conversation
    try:
        tickets.reply(db, principal, conversation.ticket_id, MessageCreate(body=text))
    finally:
        db.info.pop(_CLIENT_ID, None)
        db.info.pop(_CONVERSATION, None)
    # deliver_reply appended it under the lock this transaction holds: the seq is the conversation's last.
    return conversation.last_seq


def agent_end(db: Session, principal: Principal, conversation_id: int, disposition: str | None,
              solve: bool = True, reason: str | None = None) -> None:
    """The agent ends the chat with a disposition; the ticket is solved (reopens if the customer writes again)."""
    conversation = agent_conversation(db, principal, conversation_id)
    assert conversation.ticket_id is not None
    ticket = db.get_one(Ticket, conversation.ticket_id)
    update: dict[str, Any] = {"reason": reason or "chat ended by the agent"}
    if disposition:
        update["disposition"] = disposition
    if solve and ticket.status not in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        update["status"] = TicketStatus.SOLVED
    tickets.update_ticket(db, principal, ticket.id, TicketUpdate(**update))
    end(db, _locked(db, conversation_id), Actor.of(principal), reason or "the agent ended the chat",
        by_email=False)


# -- waiting ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Waiting:
    position: int
    expected_wait_seconds: int


def waiting(db: Session, conversation_id: int) -> Waiting | None:
    """Where a waiting chat stands in its queue (None when it does not wait)."""
    conversation = db.get(ChatConversation, conversation_id)
    if conversation is None or conversation.status is not ChatStatus.WAITING or conversation.ticket_id is None:
        return None
    ticket = db.get_one(Ticket, conversation.ticket_id)
    position = repository.queue_position(db, ticket)
    if position == 0:
        return None
    waits = repository.recent_waits(db, conversation.brand_id)
    per_place = sum(waits) / len(waits) if waits else DEFAULT_EXPECTED_WAIT
    return Waiting(position, round(per_place * position))


# -- the worker's jobs -------------------------------------------------------------------------------------------------
def follow_assignments_due(db: Session) -> bool:
    return bool(repository.assignment_changes(db, 1, lock=False))


def follow_assignments(db: Session) -> int:
    """The router (or a person) gave a chat's ticket to an agent, took it back or gave it to another: the chat
    says so to the customer ("agent joined/left"), and the agent's socket is told of the new chat."""
    done = 0
    for conversation_id in repository.assignment_changes(db, BATCH, lock=False):
        conversation = _locked(db, conversation_id)
        assert conversation.ticket_id is not None
        ticket = db.get_one(Ticket, conversation.ticket_id)
        if conversation.agent_id == ticket.assignee_id:
            continue
        if conversation.agent_id is not None:
            append(db, conversation, ChatEventKind.AGENT_LEFT, SYSTEM_ACTOR,
                   data={"agent_id": conversation.agent_id,
                         "name": _agent_name(db, conversation.agent_id) or "Agent"})
        conversation.agent_id = ticket.assignee_id
        if ticket.assignee_id is not None:
            conversation.status = ChatStatus.ACTIVE
            conversation.answered_at = conversation.answered_at or utcnow()
            append(db, conversation, ChatEventKind.AGENT_JOINED, Actor(ActorKind.AGENT, ticket.assignee_id),
                   data={"agent_id": ticket.assignee_id,
                         "name": _agent_name(db, ticket.assignee_id) or "Agent"})
            live.publish(db, agent_topic(ticket.assignee_id), str(conversation.id))
        else:
            conversation.status = ChatStatus.WAITING
        done += 1
    db.flush()
    return done


def offer_email_due(db: Session, max_wait: dt.timedelta) -> bool:
    return bool(repository.unanswered_since(db, utcnow() - max_wait, 1, lock=False))


def offer_email_after_wait(db: Session, max_wait: dt.timedelta) -> int:
    done = 0
    for conversation_id in repository.unanswered_since(db, utcnow() - max_wait, BATCH, lock=False):
        conversation = _locked(db, conversation_id)
        if conversation.status is ChatStatus.WAITING and conversation.email_offered_at is None:
            minutes = max_wait.total_seconds() / 60
            offer_email(db, conversation, f"no agent could take the chat within {minutes:g} minutes")
            done += 1
    db.flush()
    return done


def end_left_due(db: Session, grace: dt.timedelta) -> bool:
    return bool(repository.left_before(db, utcnow() - grace, 1, lock=False))


def end_left(db: Session, grace: dt.timedelta) -> int:
    """Chats whose customer has been gone longer than the grace time end and continue by email."""
    done = 0
    for conversation_id in repository.left_before(db, utcnow() - grace, BATCH, lock=False):
        conversation = _locked(db, conversation_id)
        if conversation.status is not ChatStatus.ENDED and conversation.customer_left_at is not None:
            end(db, conversation, SYSTEM_ACTOR, "the customer left the chat", by_email=True)
            done += 1
    db.flush()
    return done


CHAT_AUDITED = ("allowed_origins", "pre_chat_form", "calendar_id")


def update_settings(db: Session, principal: Principal, brand: Brand, data: ChatSettingsIn) -> ChatSettings:
    """The API's and the admin page's change: the calendar named by slug (empty: always open)."""
    principal.require_admin()
    calendar_id = None
    if data.calendar:
        calendar_id = calendars.calendar_in_brand(db, brand.id, data.calendar, None)
        if calendar_id is None:
            raise InvalidInput(f"brand '{brand.slug}' has no business calendar '{data.calendar}'", field="calendar")
    return set_settings(db, principal, brand, data.allowed_origins, data.pre_chat_form, calendar_id,
                        data.calendar is not None)


def set_settings(db: Session, principal: Principal, brand: Brand, allowed_origins: list[str] | None,
                 pre_chat_form: bool | None, calendar_id: int | None, calendar_given: bool) -> ChatSettings:
    principal.require_admin()
    row = chat_settings(db, brand.id)
    if row is None:
        row = ChatSettings(brand_id=brand.id, allowed_origins=[], pre_chat_form=False)
        db.add(row)
    before = audit.snapshot(row, CHAT_AUDITED)
    if allowed_origins is not None:
        row.allowed_origins = allowed_origins
    if pre_chat_form is not None:
        row.pre_chat_form = pre_chat_form
    if calendar_given:
        row.calendar_id = calendar_id
    row.updated_at = utcnow()
    db.flush()
    audit.record(db, Actor.of(principal), "chat_settings", brand.id, "updated", before=before,
                 after=audit.snapshot(row, CHAT_AUDITED), brand_id=brand.id)
    return row
