from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Response, status

from tierdesk.brands.service import resolve_brand
from tierdesk.deps import AppSettings, CurrentPrincipal, Db
from tierdesk.kit.blobs import blob_store
from tierdesk.kit.errors import NotFound
from tierdesk.kit.input import TAG_PATTERN, PathId, QueryId
from tierdesk.kit.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page_of
from tierdesk.kit.vocabulary import Channel, Department, Priority, TicketStatus
from tierdesk.sla.schemas import TicketSlaOut
from tierdesk.tickets import repository, service
from tierdesk.tickets.models import Attachment, DispositionCode, Message, Ticket
from tierdesk.tickets.repository import TicketFilters
from tierdesk.tickets.schemas import (
    AttachmentOut,
    DispositionCreate,
    DispositionOut,
    EventOut,
    MessageCreate,
    MessageOut,
    TicketOut,
    TicketUpdate,
)
from tierdesk.tickets.views import events_with_messages

router = APIRouter(prefix="/tickets", tags=["tickets"])
dispositions_router = APIRouter(prefix="/dispositions", tags=["dispositions"])



@router.get("", response_model=Page[TicketOut])
def list_tickets(
    db: Db,
    principal: CurrentPrincipal,
    brand: str | None = None,
    status: Annotated[list[TicketStatus] | None, Query(description="repeat for several")] = None,
    priority: Priority | None = None,
    department: Department | None = None,
    queue_id: QueryId = None,
    assignee_id: QueryId = None,
    unassigned: bool | None = None,
    customer_id: QueryId = None,
    channel: Channel | None = None,
    tag: Annotated[str | None, Query(pattern=TAG_PATTERN, max_length=64)] = None,
    order: Literal["newest", "oldest"] = "newest",
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[TicketOut]:
    filters = TicketFilters(
        brand_id=resolve_brand(db, principal, brand).id if brand else None,
        statuses=status,
        priority=priority,
        department=department,
        queue_id=queue_id,
        assignee_id=assignee_id,
        unassigned=unassigned,
        customer_id=customer_id,
        channel=channel,
        tag=tag,
    )
    position = decode_cursor(cursor, keys=("id",))
    rows = repository.list_visible(
        db, principal, filters, after_id=position["id"] if position else None, limit=limit,
        newest_first=order == "newest",
    )
    rows, next_cursor = page_of(rows, limit, lambda t: {"id": t.id})
    return Page(items=[TicketOut.model_validate(t) for t in rows], next_cursor=next_cursor)


@router.get("/{ticket_id}", response_model=TicketOut)
def get_ticket(ticket_id: PathId, db: Db, principal: CurrentPrincipal) -> Ticket:
    return repository.get_visible(db, principal, ticket_id)


@router.patch("/{ticket_id}", response_model=TicketOut)
def update_ticket(ticket_id: PathId, data: TicketUpdate, db: Db, principal: CurrentPrincipal) -> Ticket:
    """Change status, priority, queue, assignee, department, intent, subject or disposition; each change is an event."""
    return service.update_ticket(db, principal, ticket_id, data)


@router.get("/{ticket_id}/messages", response_model=Page[MessageOut])
def list_messages(ticket_id: PathId, db: Db, principal: CurrentPrincipal, cursor: str | None = None,
                  limit: Limit = DEFAULT_LIMIT) -> Page[MessageOut]:
    ticket = repository.get_visible(db, principal, ticket_id)
    position = decode_cursor(cursor, keys=("id",))
    rows = repository.messages_of_ticket(db, ticket.id, after_id=position["id"] if position else None, limit=limit)
    rows, next_cursor = page_of(rows, limit, lambda m: {"id": m.id})
    return Page(items=[MessageOut.model_validate(m) for m in rows], next_cursor=next_cursor)


@router.post("/{ticket_id}/messages", response_model=MessageOut, status_code=status.HTTP_201_CREATED)
def add_message(ticket_id: PathId, data: MessageCreate, db: Db, principal: CurrentPrincipal) -> Message:
    """An agent's public reply (`outbound`) or internal note (`note`)."""
    return service.reply(db, principal, ticket_id, data)


@router.get("/{ticket_id}/tags", response_model=list[str])
def list_tags(ticket_id: PathId, db: Db, principal: CurrentPrincipal) -> list[str]:
    """The ticket's tags, sorted (set them with PATCH /tickets/{id} `tags`)."""
    return repository.tags_of(db, repository.get_visible(db, principal, ticket_id).id)


@router.get("/{ticket_id}/attachments", response_model=list[AttachmentOut])
def list_attachments(ticket_id: PathId, db: Db, principal: CurrentPrincipal,
                     message_id: QueryId | None = None) -> list[Attachment]:
    """The files that came with the ticket's messages (of one message with `message_id`)."""
    ticket = repository.get_visible(db, principal, ticket_id)
    return repository.attachments_of_ticket(db, ticket.id, message_id)


@router.get("/{ticket_id}/attachments/{attachment_id}", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}})
def download_attachment(ticket_id: PathId, attachment_id: PathId, db: Db, principal: CurrentPrincipal,
                        settings: AppSettings) -> Response:
    """One attachment's bytes. Always as a download (never rendered inline by the browser: it came from outside)."""
    ticket = repository.get_visible(db, principal, ticket_id)
    attachment = repository.attachment_of_ticket(db, ticket.id, attachment_id)
    if attachment is None:
        raise NotFound(f"attachment {attachment_id} not found in ticket {ticket_id}")
    data = blob_store(settings.data_dir).read(attachment.sha256)
    name = attachment.filename or f"attachment-{attachment.id}"
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
        "X-Original-Content-Type": attachment.content_type,
    })


@router.get("/{ticket_id}/sla", response_model=TicketSlaOut)
def get_ticket_sla(ticket_id: PathId, db: Db, principal: CurrentPrincipal) -> TicketSlaOut:
    """The ticket's SLA clocks: target, business time used, due time, and whether each is met, paused or breached."""
    return service.ticket_sla(db, principal, ticket_id)


@router.get("/{ticket_id}/timeline", response_model=Page[EventOut])
def timeline(ticket_id: PathId, db: Db, principal: CurrentPrincipal, cursor: str | None = None,
             limit: Limit = DEFAULT_LIMIT) -> Page[EventOut]:
    """Every change and message of the ticket, oldest first: who, when, before and after."""
    ticket = repository.get_visible(db, principal, ticket_id)
    position = decode_cursor(cursor, keys=("id",))
    rows = repository.events_of_ticket(db, ticket.id, after_id=position["id"] if position else None, limit=limit)
    rows, next_cursor = page_of(rows, limit, lambda e: {"id": e.id})
    return Page(items=events_with_messages(db, rows), next_cursor=next_cursor)


@dispositions_router.get("", response_model=list[DispositionOut])
def list_dispositions(db: Db, principal: CurrentPrincipal, brand: str | None = None) -> list[DispositionCode]:
    brand_id = resolve_brand(db, principal, brand).id if brand else None
    return repository.dispositions_visible(db, principal, brand_id)


@dispositions_router.post("", response_model=DispositionOut, status_code=status.HTTP_201_CREATED)
def create_disposition(data: DispositionCreate, db: Db, principal: CurrentPrincipal) -> DispositionCode:
    return service.create_disposition(db, principal, data)
