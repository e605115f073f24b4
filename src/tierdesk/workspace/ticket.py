"""The ticket page, where an agent works a ticket: the ticket and its SLA clocks, the customer's timeline, the triage
decision and re-triage, reply and internal note, status/priority/tags/disposition, escalation, and who else has it
open.

Every change goes through the same services as the API (tickets.service.reply and update_ticket, routing's
escalation), with the same pydantic schemas, so the page accepts and refuses exactly what the API does. A refused
form re-renders the page with the field's error (422) and what was typed; nothing is half-written (each change runs
in a savepoint). The page's reads are batches: the number of statements does not grow with the ticket's messages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from tierdesk.customers import repository as customers
from tierdesk.deps import AppSettings, Db, SignedInAgent
from tierdesk.kit.blobs import blob_store
from tierdesk.kit.errors import DomainError, NotFound
from tierdesk.kit.input import PathId
from tierdesk.kit.intents import INTENTS
from tierdesk.kit.pages import csrf_protect, render
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import (
    TOP_TIER,
    Channel,
    Department,
    EventKind,
    Priority,
    TicketStatus,
    ViewerState,
)
from tierdesk.queues import repository as queues
from tierdesk.queues.models import Queue
from tierdesk.routing.escalation import Move, move_by_request
from tierdesk.routing.schemas import TicketMove
from tierdesk.tickets import api as tickets_api
from tierdesk.tickets import repository as tickets
from tierdesk.tickets import service
from tierdesk.tickets.lifecycle import TRANSITIONS
from tierdesk.tickets.models import Attachment, Message, Ticket, TicketEvent
from tierdesk.tickets.schemas import MessageCreate, TicketUpdate
from tierdesk.workspace import repository

router = APIRouter(dependencies=[Depends(csrf_protect)])

PAGE_EVENTS = 30  # the latest events shown at first; "show earlier" loads the ones before, as many at a time
NEWER_LIMIT = 200
OTHER_TICKETS = 20
VIEWER_FRESH = dt.timedelta(seconds=20)  # a viewer not seen for this long has left (the page beats every 5 s)
MESSAGE_KINDS = {EventKind.MESSAGE_RECEIVED, EventKind.REPLY_SENT, EventKind.NOTE_ADDED}


# -- reading -----------------------------------------------------------------------------------------------------------
@dataclass
class TimelineItem:
    event: TicketEvent
    actor: str
    changes: list[tuple[str, str, str]]  # (what, before, after)
    message: Message | None = None
    author: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    has_original: bool = False


def _label(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value).replace("_", " ")


def timeline_items(db: Session, ticket: Ticket, events: list[TicketEvent]) -> list[TimelineItem]:
    """Events with their messages, attachments, originals and the names they refer to, in a fixed number of
    statements (one per kind of thing, never one per event)."""
    message_ids = [e.message_id for e in events if e.message_id]
    messages = tickets.messages_by_id(db, message_ids)
    attachments = repository.attachments_of_messages(db, message_ids)
    originals = repository.originals_of_messages(db, message_ids)
    agent_ids: set[int] = {e.actor_agent_id for e in events if e.actor_agent_id}
    queue_ids: set[int] = set()
    for e in events:
        for side in (e.before or {}, e.after or {}):
            if isinstance(side.get("assignee_id"), int):
                agent_ids.add(side["assignee_id"])
            if isinstance(side.get("queue_id"), int):
                queue_ids.add(side["queue_id"])
    agent_ids |= {m.author_agent_id for m in messages.values() if m.author_agent_id}
    names = repository.agent_names(db, agent_ids)
    people = repository.customer_names(db, {m.author_customer_id for m in messages.values() if m.author_customer_id})
    queue_names = repository.queue_names(db, ticket.brand_id, queue_ids)
    items = []
    for e in events:
        if e.actor_agent_id:
            actor = names.get(e.actor_agent_id, f"agent {e.actor_agent_id}")
        else:
            actor = {"customer": "the customer", "system": "tierdesk"}.get(e.actor_kind.value, e.actor_kind.value)
        changes = []
        # A new ticket's fields are on the page already; the other changes read "what: before -> after".
        if e.kind not in MESSAGE_KINDS and e.kind not in (EventKind.TRIAGED, EventKind.CREATED):
            before, after = e.before or {}, e.after or {}
            for key in sorted(set(before) | set(after)):
                if key == "summary":
                    continue

                def shown(value: Any, key: str = key) -> str:
                    if key == "assignee_id" and isinstance(value, int):
                        return names.get(value, f"agent {value}")
                    if key == "queue_id" and isinstance(value, int):
                        return queue_names.get(value, f"queue {value}")
                    return _label(value)

                changes.append((key.removesuffix("_id").replace("_", " "), shown(before.get(key)),
                                shown(after.get(key))))
        item = TimelineItem(event=e, actor=actor, changes=changes)
        message = messages.get(e.message_id) if e.message_id else None
        if message is not None:
            item.message = message
            item.attachments = attachments.get(message.id, [])
            item.has_original = message.id in originals
            if message.author_agent_id:
                item.author = names.get(message.author_agent_id, f"agent {message.author_agent_id}")
            elif message.author_customer_id:
                item.author = people.get(message.author_customer_id) or f"customer {message.author_customer_id}"
        items.append(item)
    return items


def _window(events: list[TicketEvent], limit: int) -> tuple[list[TicketEvent], int | None]:
    """Drop the extra event a query fetched to learn whether there are earlier ones; the id to load before."""
    if len(events) > limit:
        events = events[1:]
        return events, events[0].id
    return events, None


def _reply_route(db: Session, ticket: Ticket, identities: list[Any]) -> dict[str, Any]:
    """Where a public reply goes: by email (to which addresses), into the chat, or onto the portal."""
    if service.reached_by_email(db, ticket):
        emails = [i for i in identities if i.kind.value == "email"]
        return {"channel": "email", "to": [i.value for i in emails if i.undeliverable_since is None],
                "bounced": [(i.value, i.undeliverable_reason) for i in emails if i.undeliverable_since]}
    if ticket.channel is Channel.CHAT:
        return {"channel": "chat", "to": [], "bounced": []}
    return {"channel": "web", "to": [], "bounced": []}


def _page(request: Request, db: Session, who: SignedInAgent, ticket_id: int, *, status_code: int = 200,
          errors: dict[str, dict[str, str]] | None = None, values: dict[str, dict[str, str]] | None = None,
          newer: list[Message] | None = None, done: str | None = None) -> HTMLResponse:
    ticket = tickets.get_visible(db, who.principal, ticket_id)
    customer = customers.get_visible(db, who.principal, ticket.customer_id)
    events, earlier = _window(repository.events_before(db, ticket.id, None, PAGE_EVENTS), PAGE_EVENTS)
    items = timeline_items(db, ticket, events)
    triage = repository.latest_triage(db, ticket.id)
    queue = db.get(Queue, ticket.queue_id)
    assignee = repository.agent_names(db, {ticket.assignee_id}) if ticket.assignee_id else {}
    dispositions = repository.disposition_labels(db, ticket.brand_id)
    next_queue = (queues.next_tier(db, ticket.brand_id, ticket.department, ticket.tier)
                  if ticket.tier < TOP_TIER else None)
    context: dict[str, Any] = {
        "who": who, "section": "work", "ticket": ticket, "customer": customer, "queue": queue,
        "assignee": assignee.get(ticket.assignee_id or 0), "tags": tickets.tags_of(db, ticket.id),
        "sla": service.ticket_sla(db, who.principal, ticket.id), "items": items, "earlier": earlier,
        "last_event_id": events[-1].id if events else 0,
        "seen_message_id": repository.latest_message_id(db, ticket.id),
        "triage": triage, "triage_decision": (triage.after or {}) if triage else {},
        "others": repository.other_tickets(db, customer.id, ticket.id, OTHER_TICKETS),
        "dispositions": [d for d in dispositions if d.is_active],
        "disposition": next((d for d in dispositions if d.id == ticket.disposition_id), None),
        "next_queue": next_queue, "route": _reply_route(db, ticket, customer.identities),
        "statuses": [ticket.status, *sorted(TRANSITIONS[ticket.status], key=list(TicketStatus).index)],
        "priorities": list(Priority), "departments": list(Department),
        "intents": {d: sorted(n for n, (dept, _) in INTENTS.items() if dept is d) for d in Department},
        "errors": errors or {}, "values": values or {}, "newer": newer or [], "done": done,
    }
    return render(request, "workspace/ticket.html", status_code=status_code, **context)


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(ticket_id: PathId, request: Request, db: Db, who: SignedInAgent,
                done: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    return _page(request, db, who, ticket_id, done=done)


@router.get("/tickets/{ticket_id}/timeline", response_class=HTMLResponse)
def timeline_fragment(ticket_id: PathId, request: Request, db: Db, who: SignedInAgent,
                      before: Annotated[int | None, Query(ge=1)] = None,
                      after: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """HTMX: the events before `before` ("show earlier"), or those after `after` (new ones, appended live)."""
    ticket = tickets.get_visible(db, who.principal, ticket_id)
    if after is not None:
        events, earlier = repository.events_after(db, ticket.id, after, NEWER_LIMIT), None
    else:
        events, earlier = _window(repository.events_before(db, ticket.id, before, PAGE_EVENTS), PAGE_EVENTS)
    return render(request, "workspace/ticket_timeline.html", ticket=ticket, items=timeline_items(db, ticket, events),
                  earlier=earlier)


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}")
def attachment(ticket_id: PathId, attachment_id: PathId, db: Db, who: SignedInAgent,
               settings: AppSettings) -> Response:
    """The file, always as a download (the API's own answer: never rendered inline, it came from outside)."""
    return tickets_api.download_attachment(ticket_id, attachment_id, db, who.principal, settings)


@router.get("/tickets/{ticket_id}/messages/{message_id}/original", response_class=HTMLResponse)
def original(ticket_id: PathId, message_id: PathId, request: Request, db: Db, who: SignedInAgent,
             settings: AppSettings) -> Response:
    """The email as it arrived (or left): its raw MIME, shown as text."""
    ticket = tickets.get_visible(db, who.principal, ticket_id)
    record = repository.email_record(db, ticket.id, message_id)
    if record is None or record.raw_sha256 is None:
        raise NotFound(f"message {message_id} of ticket {ticket_id} has no original email")
    raw = blob_store(settings.data_dir).read(record.raw_sha256)
    return render(request, "workspace/ticket_original.html", who=who, section="work", ticket=ticket, record=record,
                  raw=raw.decode("utf-8", errors="replace"))


@router.post("/tickets/{ticket_id}/viewers", response_class=HTMLResponse)
def viewers(ticket_id: PathId, request: Request, db: Db, who: SignedInAgent,
            state: Annotated[ViewerState, Form()] = ViewerState.VIEWING,
            seen_message_id: Annotated[int, Form(ge=0)] = 0) -> Response:
    """HTMX heartbeat of an open ticket page: records that this agent is here (viewing or replying) and answers
    with the others who are, and how many messages arrived since the page was loaded."""
    ticket = tickets.get_visible(db, who.principal, ticket_id)
    now = utcnow()
    repository.heartbeat(db, ticket.id, who.agent_id, state, now)
    return render(request, "workspace/ticket_viewers.html", ticket=ticket,
                  viewers=repository.other_viewers(db, ticket.id, who.agent_id, now - VIEWER_FRESH),
                  new_messages=repository.count_messages_after(db, ticket.id, seen_message_id, not_by=who.agent_id))


@router.post("/tickets/{ticket_id}/viewers/leave", status_code=204)
def leave(ticket_id: PathId, db: Db, who: SignedInAgent) -> Response:
    """The page was closed or left: the others stop seeing this agent at once (not only when the heartbeat ages)."""
    ticket = tickets.get_visible(db, who.principal, ticket_id)
    repository.leave(db, ticket.id, who.agent_id)
    return Response(status_code=204)


# -- changing ----------------------------------------------------------------------------------------------------------
def _errors_of(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err.get("loc") else "form"
        found.setdefault(name, str(err.get("msg", "invalid")).removeprefix("Value error, "))
    return found


def _refused(request: Request, db: Session, who: SignedInAgent, ticket_id: int, form: str,
             errors: dict[str, str], values: dict[str, str], status_code: int = 422) -> HTMLResponse:
    return _page(request, db, who, ticket_id, status_code=status_code, errors={form: errors}, values={form: values})


def _done(ticket_id: int, what: str) -> RedirectResponse:
    return RedirectResponse(f"/tickets/{ticket_id}?done={what}", status_code=303)


@router.post("/tickets/{ticket_id}/messages")
def add_message(ticket_id: PathId, request: Request, db: Db, who: SignedInAgent,
                body: Annotated[str, Form(max_length=200_000)] = "",
                direction: Annotated[str, Form(max_length=20)] = "outbound",
                seen_message_id: Annotated[int, Form(ge=0)] = 0,
                confirm: Annotated[str, Form(max_length=10)] = "") -> Response:
    """A public reply or an internal note. A reply is held back when messages arrived since the agent's page was
    loaded (`seen_message_id`): the page shows them, and the agent sends anyway or edits."""
    form = "note" if direction == "note" else "reply"
    values = {"body": body}
    try:
        data = MessageCreate(direction=direction, body=body)
    except ValidationError as exc:
        return _refused(request, db, who, ticket_id, form, _errors_of(exc), values)
    ticket = tickets.get_visible(db, who.principal, ticket_id)
    if form == "reply" and confirm != "yes" and body.strip():
        newer = [m for m in repository.messages_after(db, ticket.id, seen_message_id, 20)
                 if m.author_agent_id != who.agent_id]
        if newer:
            return _page(request, db, who, ticket_id, status_code=409, newer=newer, values={"reply": values},
                         errors={"reply": {"form": f"{len(newer)} new message(s) arrived since you opened this "
                                                   "ticket: read them, then send anyway or edit your reply"}})
    try:
        with db.begin_nested():
            service.reply(db, who.principal, ticket.id, data)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _refused(request, db, who, ticket_id, form, {exc.field or "body": exc.message}, values)
    repository.heartbeat(db, ticket.id, who.agent_id, ViewerState.VIEWING, utcnow())
    return _done(ticket_id, "noted" if form == "note" else "replied")


def _try_update(request: Request, db: Session, who: SignedInAgent, ticket_id: int, form: str,
                fields: dict[str, Any], values: dict[str, str], what: str) -> Response:
    try:
        data = TicketUpdate(**fields)
    except ValidationError as exc:
        return _refused(request, db, who, ticket_id, form, _errors_of(exc), values)
    try:
        with db.begin_nested():
            service.update_ticket(db, who.principal, ticket_id, data)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _refused(request, db, who, ticket_id, form, {exc.field or "form": exc.message}, values)
    return _done(ticket_id, what)


@router.post("/tickets/{ticket_id}/properties")
def update_properties(ticket_id: PathId, request: Request, db: Db, who: SignedInAgent,
                      status: Annotated[str, Form(max_length=20)] = "",
                      priority: Annotated[str, Form(max_length=20)] = "",
                      tags: Annotated[str, Form(max_length=5000)] = "",
                      disposition: Annotated[str, Form(max_length=64)] = "",
                      reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Status, priority, tags and disposition: only what differs from the ticket goes to update_ticket (one event
    per real change)."""
    ticket = tickets.get_visible(db, who.principal, ticket_id)
    values = {"status": status, "priority": priority, "tags": tags, "disposition": disposition, "reason": reason}
    fields: dict[str, Any] = {}
    if status and status != ticket.status.value:
        fields["status"] = status
    if priority and priority != ticket.priority.value:
        fields["priority"] = priority
    wanted = [t for t in tags.replace(",", " ").split() if t]
    if sorted({t.lower() for t in wanted}) != tickets.tags_of(db, ticket.id):
        fields["tags"] = wanted
    current = repository.disposition_labels(db, ticket.brand_id) if ticket.disposition_id else []
    current_code = next((d.code for d in current if d.id == ticket.disposition_id), "")
    if disposition != current_code:
        fields["disposition"] = disposition or None
    if not fields:
        return _done(ticket_id, "unchanged")
    if reason.strip():
        fields["reason"] = reason.strip()
    return _try_update(request, db, who, ticket_id, "properties", fields, values, "updated")


@router.post("/tickets/{ticket_id}/solve")
def solve(ticket_id: PathId, request: Request, db: Db, who: SignedInAgent,
          disposition: Annotated[str, Form(max_length=64)] = "") -> Response:
    """Solve, with the disposition code chosen (the brand's codes)."""
    fields: dict[str, Any] = {"status": TicketStatus.SOLVED.value}
    if disposition:
        fields["disposition"] = disposition
    return _try_update(request, db, who, ticket_id, "solve", fields, {"disposition": disposition}, "solved")


@router.post("/tickets/{ticket_id}/retriage")
def retriage(ticket_id: PathId, request: Request, db: Db, who: SignedInAgent,
             department: Annotated[str, Form(max_length=10)] = "",
             intent: Annotated[str, Form(max_length=100)] = "",
             reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Re-triage: another department (its entry queue) and intent, with the reason the next person and the model
    learn from (tickets.service.update_ticket records "retriaged")."""
    values = {"department": department, "intent": intent, "reason": reason}
    if not reason.strip():
        return _refused(request, db, who, ticket_id, "retriage",
                        {"reason": "say why the ticket moves to another department (reason)"}, values)
    fields: dict[str, Any] = {"reason": reason.strip()}
    if department:
        fields["department"] = department
    if intent:
        fields["intent"] = intent
    if not department and not intent:
        return _refused(request, db, who, ticket_id, "retriage", {"department": "choose a department"}, values)
    return _try_update(request, db, who, ticket_id, "retriage", fields, values, "retriaged")


@router.post("/tickets/{ticket_id}/escalate")
def escalate(ticket_id: PathId, request: Request, db: Db, who: SignedInAgent,
             reason: Annotated[str, Form(max_length=2000)] = "",
             summary: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    """Up to the next tier of the ticket's department, with the reason and the summary of what was tried (the
    API's TicketMove and routing's escalation: the same rules)."""
    values = {"reason": reason, "summary": summary}
    try:
        data = TicketMove(reason=reason.strip(), summary=summary.strip() or None)
    except ValidationError as exc:
        errors = _errors_of(exc)
        if "reason" in errors:
            errors["reason"] = "say why the ticket goes up a tier (reason)"
        return _refused(request, db, who, ticket_id, "escalate", errors, values)
    try:
        with db.begin_nested():
            move_by_request(db, who.principal, ticket_id, Move.ESCALATE, reason=data.reason, summary=data.summary,
                            queue_ref=None)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _refused(request, db, who, ticket_id, "escalate", {exc.field or "form": exc.message}, values)
    return _done(ticket_id, "escalated")

