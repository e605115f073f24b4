"""Ticket work: opening, messages, updates with their events. Services flush, never commit."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.agents.models import Agent, agent_brands
from tierdesk.brands.service import resolve_brand
from tierdesk.jobs import wakeup  # noqa: F401 (announces new routable work to the workers on PostgreSQL)
from tierdesk.kit.actors import CUSTOMER_ACTOR, Actor, Principal
from tierdesk.kit.errors import Conflict, InvalidInput
from tierdesk.kit.html import html_from_text, sanitize_html, text_from_html
from tierdesk.kit.input import patch_values
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import AgentRole, Channel, Department, MessageDirection, Priority, TicketStatus
from tierdesk.queues import repository as queues
from tierdesk.queues.models import Queue
from tierdesk.sla import clocks
from tierdesk.tickets import repository
from tierdesk.tickets.lifecycle import REOPENED_BY_CUSTOMER, WORKABLE, check_transition
from tierdesk.tickets.models import DispositionCode, Message, Ticket, TicketEvent
from tierdesk.tickets.schemas import DispositionCreate, MessageCreate, TicketUpdate

_MESSAGE_EVENT = {
    MessageDirection.INBOUND: "message_received",
    MessageDirection.OUTBOUND: "reply_sent",
    MessageDirection.NOTE: "note_added",
}


def record_event(
    db: Session,
    ticket: Ticket,
    kind: str,
    actor: Actor,
    *,
    before: dict | None = None,
    after: dict | None = None,
    reason: str | None = None,
    message: Message | None = None,
    at: dt.datetime | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket=ticket,
        brand_id=ticket.brand_id,
        customer_id=ticket.customer_id,
        kind=kind,
        actor_kind=actor.kind,
        actor_agent_id=actor.agent_id,
        actor_integration_id=actor.integration_id,
        before=before,
        after=after,
        reason=reason,
        message=message,
        created_at=at or utcnow(),
    )
    db.add(event)
    return event


def message_bodies(text: str | None, html: str | None) -> tuple[str, str]:
    """Plain text and sanitised HTML of a message, each derived from the other when only one is given."""
    text = (text or "").strip()
    clean_html = sanitize_html(html) if html and html.strip() else ""
    if not text and clean_html:
        text = text_from_html(clean_html)
    if not clean_html and text:
        clean_html = html_from_text(text)
    return text, clean_html


def open_ticket(
    db: Session,
    *,
    brand_id: int,
    customer_id: int,
    subject: str,
    channel: Channel,
    queue: Queue,
    priority: Priority,
    department: Department | None,
    intent: str | None,
    actor: Actor,
    reason: str | None = None,
) -> Ticket:
    now = utcnow()
    ticket = Ticket(
        brand_id=brand_id,
        customer_id=customer_id,
        subject=subject,
        status=TicketStatus.NEW,
        priority=priority,
        department=department or queue.department,
        intent=intent,
        queue_id=queue.id,
        tier=queue.tier,
        channel=channel,
        message_count=0,
        created_at=now,
        updated_at=now,
        routable_since=now,
        reopen_count=0,
        reopens_escalated=0,
    )
    db.add(ticket)
    clocks.ticket_opened(db, ticket, now)
    record_event(
        db,
        ticket,
        "created",
        actor,
        after={
            "subject": subject,
            "status": ticket.status,
            "priority": ticket.priority,
            "department": ticket.department,
            "intent": intent,
            "queue_id": queue.id,
            "tier": ticket.tier,
            "channel": channel,
        },
        reason=reason,
        at=now,
    )
    return ticket


def _set_status(db: Session, ticket: Ticket, target: TicketStatus, actor: Actor, reason: str | None) -> None:
    check_transition(ticket.status, target)
    if target == ticket.status:
        return
    before = ticket.status
    now = utcnow()
    if target is TicketStatus.SOLVED:
        ticket.solved_at = now
    elif target is TicketStatus.CLOSED:
        ticket.closed_at = now
    elif before is TicketStatus.SOLVED:  # reopened: the earlier outcome no longer holds
        ticket.solved_at = None
        ticket.disposition_id = None
        ticket.reopen_count = (ticket.reopen_count or 0) + 1
    ticket.status = target
    record_event(
        db, ticket, "status_changed", actor, before={"status": before}, after={"status": target}, reason=reason
    )
    clocks.status_changed(db, ticket, now)
    sync_routable(ticket, now)


def sync_routable(ticket: Ticket, now: dt.datetime, *, requeued: bool = False) -> None:
    """Keep `routable_since` true to the ticket: set while it waits unassigned in a workable status (restarted when
    it moves to another queue, so overflow counts the wait in the queue it is in), cleared otherwise."""
    if ticket.assignee_id is None and ticket.status in WORKABLE:
        if ticket.routable_since is None or requeued:
            ticket.routable_since = now
    else:
        ticket.routable_since = None


def add_message(
    db: Session,
    ticket: Ticket,
    *,
    direction: MessageDirection,
    channel: Channel,
    body_text: str,
    body_html: str,
    actor: Actor,
    author_agent_id: int | None = None,
    author_customer_id: int | None = None,
    external_id: str | None = None,
    thread_ref: str | None = None,
    at: dt.datetime | None = None,
) -> Message:
    now = utcnow()
    at = at or now
    message = Message(
        ticket=ticket,
        brand_id=ticket.brand_id,
        direction=direction,
        channel=channel,
        author_agent_id=author_agent_id,
        author_customer_id=author_customer_id,
        body_text=body_text,
        body_html=body_html,
        external_id=external_id,
        thread_ref=thread_ref,
        created_at=at,
    )
    db.add(message)
    # The ticket row is new or locked (FOR UPDATE) by the caller, so counting in Python loses no increment.
    ticket.message_count = (ticket.message_count or 0) + 1
    ticket.updated_at = now
    record_event(db, ticket, _MESSAGE_EVENT[direction], actor, message=message, at=at)
    if direction is MessageDirection.INBOUND:
        ticket.last_inbound_at = at
        clocks.customer_wrote(db, ticket, now)
        if ticket.status in REOPENED_BY_CUSTOMER:
            _set_status(db, ticket, TicketStatus.OPEN, CUSTOMER_ACTOR, "the customer wrote again")
    elif direction is MessageDirection.OUTBOUND:
        if ticket.first_response_at is None:
            ticket.first_response_at = at
        clocks.agent_replied(db, ticket, now)
        if ticket.status is TicketStatus.NEW:
            _set_status(db, ticket, TicketStatus.OPEN, actor, "first reply")
    return message


def reply(db: Session, principal: Principal, ticket_id: int, data: MessageCreate) -> Message:
    ticket = repository.get_visible(db, principal, ticket_id, for_update=True)
    if ticket.status is TicketStatus.CLOSED:
        raise InvalidInput("the ticket is closed; a new message needs a follow-up ticket", field="ticket_id")
    text, html = message_bodies(data.body, data.body_html)
    if not text:
        raise InvalidInput("the message is empty: give body or body_html", field="body")
    message = add_message(
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
    return message


def _assignable(db: Session, ticket: Ticket, agent_id: int) -> Agent:
    agent = db.get(Agent, agent_id)
    if agent is None or not agent.is_active:
        raise InvalidInput(f"no active agent {agent_id}", field="assignee_id")
    works_brand = db.scalar(
        sa.select(sa.literal(True)).where(
            agent_brands.c.agent_id == agent_id, agent_brands.c.brand_id == ticket.brand_id
        )
    )
    if not works_brand and agent.role is not AgentRole.ADMIN:
        raise InvalidInput(f"agent {agent_id} is not assigned to this ticket's brand", field="assignee_id")
    return agent


def update_ticket(db: Session, principal: Principal, ticket_id: int, data: TicketUpdate) -> Ticket:
    ticket = repository.get_visible(db, principal, ticket_id, for_update=True)
    actor = Actor.of(principal)
    given = set(patch_values(data, nullable=frozenset({"assignee_id", "intent", "disposition", "reason"})))
    given.discard("reason")
    changed: list[tuple[str, object, object]] = []

    def change(field: str, value: object) -> None:
        old = getattr(ticket, field)
        if old != value:
            setattr(ticket, field, value)
            changed.append((field, old, value))

    if ticket.status is TicketStatus.CLOSED and given - {"status"}:
        raise InvalidInput("a closed ticket cannot be changed", field=sorted(given)[0])

    if "subject" in given:
        change("subject", data.subject)
    if "priority" in given:
        change("priority", data.priority)
    if "intent" in given:
        change("intent", data.intent)
    if "queue_id" in given:
        queue = queues.in_brand(db, ticket.brand_id, data.queue_id)
        if queue is None:
            raise InvalidInput(f"no queue {data.queue_id} in this ticket's brand", field="queue_id")
    elif "department" in given and data.department != ticket.department:
        # Re-triage to the other department (or out of human triage): the ticket goes to that department's entry
        # queue, so it never sits as a CS ticket in a TS queue.
        queue = queues.default_for_department(db, ticket.brand_id, data.department)
        if queue is None:
            raise InvalidInput(f"this brand has no active {data.department.value} queue", field="department")
    else:
        queue = None
    if queue is not None:
        if not queue.is_active:
            raise InvalidInput(f"queue '{queue.slug}' is inactive", field="queue_id")
        if "department" in given and queue.department and data.department != queue.department:
            raise InvalidInput(
                f"queue '{queue.slug}' belongs to {queue.department.value}, not {data.department.value}",
                field="department",
            )
        change("queue_id", queue.id)
        change("tier", queue.tier)
        if queue.department:
            change("department", queue.department)
    if "department" in given:
        change("department", data.department)
    if "assignee_id" in given:
        if data.assignee_id is not None:
            _assignable(db, ticket, data.assignee_id)
        change("assignee_id", data.assignee_id)
    if "disposition" in given:
        if data.disposition is None:
            change("disposition_id", None)
        else:
            code = repository.disposition_in_brand(db, ticket.brand_id, data.disposition)
            if code is None or not code.is_active:
                raise InvalidInput(f"no active disposition code '{data.disposition}'", field="disposition")
            change("disposition_id", code.id)

    for field, old, new in changed:
        kind = f"{field.removesuffix('_id')}_changed"  # queue_changed, assignee_changed, disposition_changed
        record_event(db, ticket, kind, actor, before={field: old}, after={field: new}, reason=data.reason)
    _record_retriage(db, ticket, actor, changed, data.reason)

    if "status" in given:
        _set_status(db, ticket, data.status, actor, data.reason)
    elif ticket.status is TicketStatus.NEW and ticket.assignee_id is not None and "assignee_id" in given:
        _set_status(db, ticket, TicketStatus.OPEN, actor, "assigned")
    fields = {field for field, _, _ in changed}
    now = utcnow()
    if fields & {"priority", "department"}:
        clocks.targets_changed(db, ticket, now)
    sync_routable(ticket, now, requeued="queue_id" in fields)
    if changed or "status" in given:
        ticket.updated_at = now
    db.flush()
    return ticket


def _record_retriage(
    db: Session, ticket: Ticket, actor: Actor, changed: list[tuple[str, object, object]], reason: str | None
) -> None:
    """A person moving a ticket to another department or queue corrects triage: one "retriaged" event with the
    reason, which `tierdesk triage train --from-db` learns from. The reason is required, because it is what the
    next person (and the next model) learns from."""
    moved = {field: (old, new) for field, old, new in changed if field in ("department", "queue_id")}
    if not moved:
        return
    if not (reason or "").strip():
        field = "department" if "department" in moved else "queue_id"
        raise InvalidInput("say why the ticket moves to another department or queue (reason)", field=field)
    before = {"department": ticket.department, "queue_id": ticket.queue_id}
    before.update({field: old for field, (old, _) in moved.items()})
    after = {"department": ticket.department, "queue_id": ticket.queue_id}
    record_event(db, ticket, "retriaged", actor, before=before, after=after, reason=reason)


def create_disposition(db: Session, principal: Principal, data: DispositionCreate) -> DispositionCode:
    principal.require_admin()
    brand = resolve_brand(db, principal, data.brand)
    if repository.disposition_in_brand(db, brand.id, data.code):
        raise Conflict(f"brand '{brand.slug}' has a disposition code '{data.code}' already", field="code")
    code = DispositionCode(brand_id=brand.id, code=data.code, label=data.label, department=data.department)
    db.add(code)
    db.flush()
    return code
