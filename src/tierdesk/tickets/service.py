"""Ticket work: opening, messages, updates with their events. Services flush, never commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from sqlalchemy.orm import Session

from tierdesk.agents import repository as agents
from tierdesk.agents.models import Agent
from tierdesk.audit import service as audit
from tierdesk.brands.service import resolve_brand
from tierdesk.jobs import outbox
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import Conflict, InvalidInput
from tierdesk.kit.html import html_from_text, sanitize_html, text_from_html
from tierdesk.kit.input import patch_values
from tierdesk.kit.intents import check_intent
from tierdesk.kit.vocabulary import (
    AgentRole,
    Channel,
    Department,
    EventKind,
    MessageDirection,
    OutboxTopic,
    Priority,
    TicketStatus,
)
from tierdesk.queues import repository as queues
from tierdesk.queues.models import Queue
from tierdesk.queues.rules import QueueRule
from tierdesk.sla import service as sla
from tierdesk.sla.schemas import TicketSlaOut
from tierdesk.tickets import mutations, repository
from tierdesk.tickets.lifecycle import check_transition
from tierdesk.tickets.models import DispositionCode, Message, Ticket
from tierdesk.tickets.schemas import DispositionCreate, MessageCreate, TicketUpdate


def message_bodies(text: str | None, html: str | None) -> tuple[str, str]:
    """Plain text and sanitised HTML of a message, each derived from the other when only one is given."""
    text = (text or "").strip()
    clean_html = sanitize_html(html) if html and html.strip() else ""
    if not text and clean_html:
        text = text_from_html(clean_html)
    if not clean_html and text:
        clean_html = html_from_text(text)
    return text, clean_html


def reply(db: Session, principal: Principal, ticket_id: int, data: MessageCreate) -> Message:
    ticket = repository.get_visible(db, principal, ticket_id, for_update=True)
    if ticket.status is TicketStatus.CLOSED:
        raise InvalidInput("the ticket is closed; a new message needs a follow-up ticket", field="ticket_id")
    text, html = message_bodies(data.body, data.body_html)
    if not text:
        raise InvalidInput("the message is empty: give body or body_html", field="body")
    message = mutations.add_message(
        db,
        ticket,
        direction=MessageDirection(data.direction),
        channel=ticket.channel,
        body_text=text,
        body_html=html,
        actor=Actor.of(principal),
        author_agent_id=principal.agent_id,
    )
    db.flush()
    if message.direction is not MessageDirection.OUTBOUND:
        return message
    live = _reply_deliveries.get(ticket.channel)
    if live is not None and live(db, ticket, message):
        return message  # the channel took it (a chat delivers it to the customer's widget)
    if reached_by_email(db, ticket):
        # Sent by the worker after commit (channels/email/outbound.py); nothing is sent if this rolls back.
        outbox.enqueue(db, OutboxTopic.EMAIL_SEND, {"message_id": message.id})
    return message


# A live channel's delivery of a public reply (chat): registered by tierdesk.hooks in every process, called in the
# reply's transaction; True when the channel delivered it, False to fall back to email where the customer has it.
ReplyDelivery = Callable[[Session, Ticket, Message], bool]
_reply_deliveries: dict[Channel, ReplyDelivery] = {}


def deliver_replies(channel: Channel, delivery: ReplyDelivery) -> None:
    """Register how replies to tickets of `channel` reach the customer (one per channel; registering again
    replaces it)."""
    _reply_deliveries[channel] = delivery


def reached_by_email(db: Session, ticket: Ticket) -> bool:
    """Whether the customer's replies go out by email: the ticket was opened by email, or the customer has written
    into it by email since (a web-form ticket answered by mail). Notes never go out; other tickets are answered in
    their own channel."""
    return ticket.channel is Channel.EMAIL or repository.has_inbound_on_channel(db, ticket.id, Channel.EMAIL)


def _assignable(db: Session, ticket: Ticket, agent_id: int) -> Agent:
    """An agent who may be given this ticket by a person: active and working its brand. Another brand's agent and
    an unknown id get the same answer, so nobody learns who exists elsewhere."""
    agent = db.get(Agent, agent_id)
    works_brand = agent is not None and agent.is_active and (
        agent.role is AgentRole.ADMIN or agents.works_brand(db, agent_id, ticket.brand_id))
    if agent is None or not works_brand:
        raise InvalidInput(f"no active agent {agent_id} works this ticket's brand", field="assignee_id")
    return agent


@dataclass
class _Change:
    """What a PATCH asks for, checked before anything is written (no half-applied update)."""

    given: set[str]
    queue: Queue | None = None
    disposition_id: int | None = None


def update_ticket(db: Session, principal: Principal, ticket_id: int, data: TicketUpdate) -> Ticket:
    """An agent's change to a ticket: every field checked first, then applied through the mutation functions in one
    order (fields, queue, assignee, disposition, status), each with its event and consequences."""
    ticket = repository.get_visible(db, principal, ticket_id, for_update=True)
    actor = Actor.of(principal)
    change = _check_update(db, ticket, data)
    given, reason = change.given, data.reason
    if "subject" in given:
        mutations.set_subject(db, ticket, cast(str, data.subject), actor, reason)  # not null: _check_update
    if "priority" in given:
        mutations.set_priority(db, ticket, cast(Priority, data.priority), actor, reason)
    if "tags" in given and data.tags is not None:
        mutations.set_tags(db, ticket, data.tags, actor, reason)
    if change.queue is not None and change.queue.id != ticket.queue_id:
        _move(db, ticket, change.queue, actor, reason, keep_assignee="assignee_id" in given)
    if "intent" in given:
        mutations.set_intent(db, ticket, data.intent, actor, reason)
    if "assignee_id" in given:
        mutations.assign(db, ticket, data.assignee_id, actor, reason)
    if "disposition" in given:
        mutations.set_disposition(db, ticket, change.disposition_id, actor, reason)
    if "status" in given:
        mutations.change_status(db, ticket, cast(TicketStatus, data.status), actor, reason)
    db.flush()
    return ticket


def _check_update(db: Session, ticket: Ticket, data: TicketUpdate) -> _Change:
    given = set(patch_values(data, nullable=frozenset({"assignee_id", "intent", "disposition", "reason"})))
    given.discard("reason")
    change = _Change(given)
    if ticket.status is TicketStatus.CLOSED and given - {"status"}:
        raise InvalidInput("a closed ticket cannot be changed", field=sorted(given)[0])
    change.queue = _destination(db, ticket, data, given)
    moves = change.queue is not None and change.queue.id != ticket.queue_id
    if moves and not (data.reason or "").strip():
        # A person moving a ticket corrects triage: the reason is what the next person (and model) learns from.
        field = "department" if "department" in given else "queue_id"
        raise InvalidInput("say why the ticket moves to another department or queue (reason)", field=field)
    department = change.queue.department if moves and change.queue and change.queue.department else ticket.department
    if "intent" in given and data.intent is not None:
        check_intent(data.intent, department)
    if "assignee_id" in given and data.assignee_id is not None:
        _assignable(db, ticket, data.assignee_id)
    if "disposition" in given and data.disposition is not None:
        code = repository.disposition_in_brand(db, ticket.brand_id, data.disposition)
        if code is None or not code.is_active:
            raise InvalidInput(f"no active disposition code '{data.disposition}'", field="disposition")
        if code.department is not None and department is not None and code.department != department:
            raise InvalidInput(f"disposition '{code.code}' is for {code.department.value} tickets; this one is "
                               f"{department.value}", field="disposition")
        change.disposition_id = code.id
    if "status" in given:
        check_transition(ticket.status, cast(TicketStatus, data.status))  # not null: patch_values
    return change


def _destination(db: Session, ticket: Ticket, data: TicketUpdate, given: set[str]) -> Queue | None:
    """The queue a PATCH sends the ticket to: the one named, or for a department change (re-triage, or out of human
    triage) that department's entry queue, so a ticket never sits as a CS ticket in a TS queue."""
    if "queue_id" in given:
        queue = queues.in_brand(db, ticket.brand_id, cast(int, data.queue_id))  # not null: patch_values
        if queue is None:
            raise InvalidInput(f"no queue {data.queue_id} in this ticket's brand", field="queue_id")
    elif "department" in given and data.department != ticket.department:
        queue = queues.default_for_department(db, ticket.brand_id, cast(Department, data.department))
        if queue is None:
            raise InvalidInput(f"this brand has no active {data.department} queue", field="department")
    else:
        return None
    if not queue.is_active:
        raise InvalidInput(f"queue '{queue.slug}' is inactive", field="queue_id")
    if "department" in given and queue.department and data.department != queue.department:
        raise InvalidInput(f"queue '{queue.slug}' belongs to {queue.department.value}, not {data.department}",
                           field="department")
    return queue


def _move(db: Session, ticket: Ticket, queue: Queue, actor: Actor, reason: str | None, *, keep_assignee: bool) -> None:
    """A person's move to another queue: the move itself, the assignee leaving if they may not work the new queue
    (unless the same change names an assignee), and one "retriaged" event that `tierdesk triage train --from-db`
    learns from."""
    before = {"department": ticket.department, "queue_id": ticket.queue_id}
    unassign = (not keep_assignee and ticket.assignee_id is not None
                and not _may_work(db, ticket.assignee_id, queue))
    mutations.move_to_queue(db, ticket, queue, actor, reason=reason, unassign=unassign)
    mutations.record_event(db, ticket, EventKind.RETRIAGED, actor, before=before,
                           after={"department": ticket.department, "queue_id": ticket.queue_id}, reason=reason)


def _may_work(db: Session, agent_id: int, queue: Queue) -> bool:
    profile = agents.profile(db, agent_id)
    return profile is not None and QueueRule.of(queues.with_skills(db, queue)).accepts(profile)


def create_disposition(db: Session, principal: Principal, data: DispositionCreate) -> DispositionCode:
    principal.require_admin()
    brand = resolve_brand(db, principal, data.brand)
    if repository.disposition_in_brand(db, brand.id, data.code):
        raise Conflict(f"brand '{brand.slug}' has a disposition code '{data.code}' already", field="code")
    code = DispositionCode(brand_id=brand.id, code=data.code, label=data.label, department=data.department)
    db.add(code)
    db.flush()
    audit.record(db, Actor.of(principal), "disposition_code", code.id, "created",
                 after=audit.snapshot(code, DISPOSITION_AUDITED), brand_id=brand.id)
    return code


DISPOSITION_AUDITED = ("code", "label", "department", "is_active")


def set_disposition_active(db: Session, principal: Principal, code_id: int, active: bool) -> DispositionCode:
    """Deactivate a disposition code (agents no longer choose it; tickets that have it keep it), or bring it back."""
    principal.require_admin()
    code = repository.disposition_visible(db, principal, code_id)
    if code.is_active is not active:
        code.is_active = active
        db.flush()
        audit.record(db, Actor.of(principal), "disposition_code", code.id,
                     "reactivated" if active else "deactivated", before={"is_active": not active},
                     after={"is_active": active}, brand_id=code.brand_id)
    return code


def ticket_sla(db: Session, principal: Principal, ticket_id: int) -> TicketSlaOut:
    return sla.clock_report(db, repository.get_visible(db, principal, ticket_id))
