"""The email channel's API: the brands' addresses, the quarantine, and the email side of a message (headers, the
original MIME, the HTML with its remote images when an agent asks for them)."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Request, Response, status

from tierdesk.brands.service import resolve_brand
from tierdesk.channels.email import addresses, repository
from tierdesk.channels.email.inbound import EmailInbound
from tierdesk.channels.email.models import EmailAddress, EmailRecord, QuarantinedEmail
from tierdesk.channels.email.parse import parse_message
from tierdesk.channels.email.schemas import (
    EmailAddressIn,
    EmailAddressOut,
    EmailRecordOut,
    InboundResultOut,
    QuarantinedEmailOut,
)
from tierdesk.deps import AppSettings, ComputingPrincipal, CurrentPrincipal, Db
from tierdesk.kit.blobs import blob_store
from tierdesk.kit.errors import NotFound
from tierdesk.kit.html import sanitize_html
from tierdesk.kit.input import PathId
from tierdesk.kit.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page_of
from tierdesk.tickets import repository as tickets

router = APIRouter(tags=["email"])


@router.get("/email/addresses", response_model=list[EmailAddressOut])
def list_addresses(db: Db, principal: CurrentPrincipal, brand: str | None = None) -> list[EmailAddress]:
    brand_id = resolve_brand(db, principal, brand).id if brand else None
    return repository.addresses_visible(db, principal, brand_id)


@router.post("/email/addresses", response_model=EmailAddressOut, status_code=status.HTTP_201_CREATED)
def add_address(data: EmailAddressIn, db: Db, principal: CurrentPrincipal) -> EmailAddress:
    """The brand receives mail at this address (and at every +tag of it). An address reaches one brand only."""
    return addresses.add_address(db, principal, resolve_brand(db, principal, data.brand), data.address)


@router.delete("/email/addresses/{address}", status_code=status.HTTP_204_NO_CONTENT)
def remove_address(address: str, brand: str, db: Db, principal: CurrentPrincipal) -> None:
    addresses.remove_address(db, principal, resolve_brand(db, principal, brand), address)


@router.get("/email/quarantine", response_model=Page[QuarantinedEmailOut])
def list_quarantine(db: Db, principal: CurrentPrincipal, include_released: bool = False, cursor: str | None = None,
                    limit: Limit = DEFAULT_LIMIT) -> Page[QuarantinedEmailOut]:
    """Mail that could not be taken in, with the reason: unreadable, for no brand, a sender flooding a brand.
    `include_released` adds what was re-processed and automatic mail that answered nothing."""
    position = decode_cursor(cursor, keys=("id",))
    rows = repository.quarantine_visible(db, principal, include_released=include_released,
                                         after_id=position["id"] if position else None, limit=limit)
    rows, next_cursor = page_of(rows, limit, lambda q: {"id": q.id})
    return Page(items=[QuarantinedEmailOut.model_validate(q) for q in rows], next_cursor=next_cursor)


def _quarantined_visible(db: Db, principal: CurrentPrincipal, quarantine_id: int) -> QuarantinedEmail:
    row = repository.quarantined(db, quarantine_id)
    if row is None or not (principal.is_admin or (row.brand_id is not None and principal.sees_brand(row.brand_id))):
        raise NotFound(f"quarantined email {quarantine_id} not found")
    return row


@router.get("/email/quarantine/{quarantine_id}/original", response_class=Response,
            responses={200: {"content": {"message/rfc822": {}}, "description": "the message as received"}})
def quarantined_original(quarantine_id: PathId, db: Db, principal: CurrentPrincipal,
                         settings: AppSettings) -> Response:
    row = _quarantined_visible(db, principal, quarantine_id)
    return _eml(blob_store(settings.data_dir).read(row.raw_sha256), f"quarantine-{row.id}.eml")


@router.post("/email/quarantine/{quarantine_id}/reprocess", response_model=InboundResultOut)
async def reprocess(quarantine_id: PathId, request: Request, principal: ComputingPrincipal) -> InboundResultOut:
    """Take a quarantined message in again (after a fix, or once a brand receives mail at its address)."""
    inbound: EmailInbound = request.app.state.email_inbound

    def run() -> InboundResultOut:
        with inbound.database.transaction(write=False) as db:
            _quarantined_visible(db, principal, quarantine_id)
        result = inbound.reprocess(quarantine_id)
        return InboundResultOut(outcome=result.outcome, ticket_id=result.ticket_id, message_id=result.message_id,
                                customer_id=result.customer_id, reason=result.reason)

    return await to_thread.run_sync(run, limiter=request.app.state.computing_threads)


def _record(db: Db, principal: CurrentPrincipal, ticket_id: int, message_id: int) -> EmailRecord:
    ticket = tickets.get_visible(db, principal, ticket_id)
    record = repository.email_record_of(db, message_id)
    if record is None or record.ticket_id != ticket.id:
        raise NotFound(f"message {message_id} of ticket {ticket_id} is not an email")
    return record


@router.get("/tickets/{ticket_id}/messages/{message_id}/email", response_model=EmailRecordOut)
def message_email(ticket_id: PathId, message_id: PathId, db: Db, principal: CurrentPrincipal) -> EmailRecord:
    """The email side of a message: headers, repairs made while reading it, delivery of a reply."""
    return _record(db, principal, ticket_id, message_id)


@router.get("/tickets/{ticket_id}/messages/{message_id}/email/original", response_class=Response,
            responses={200: {"content": {"message/rfc822": {}}, "description": "the message, byte for byte"}})
def message_original(ticket_id: PathId, message_id: PathId, db: Db, principal: CurrentPrincipal,
                     settings: AppSettings) -> Response:
    """The full original MIME, as received or sent (quoted history, signature and all)."""
    record = _record(db, principal, ticket_id, message_id)
    if record.raw_sha256 is None:
        raise NotFound(f"message {message_id} has no stored original yet")
    return _eml(blob_store(settings.data_dir).read(record.raw_sha256), f"message-{message_id}.eml")


@router.get("/tickets/{ticket_id}/messages/{message_id}/email/html", response_class=Response,
            responses={200: {"content": {"text/html": {}}, "description": "the sanitised HTML"}})
def message_html(ticket_id: PathId, message_id: PathId, db: Db, principal: CurrentPrincipal, settings: AppSettings,
                 remote_images: bool = False) -> Response:
    """The whole message's HTML, sanitised; with `remote_images=true` its images from the internet are kept (an
    agent's choice: loading them tells the sender the mail was read)."""
    record = _record(db, principal, ticket_id, message_id)
    if record.raw_sha256 is None:
        raise NotFound(f"message {message_id} has no stored original yet")
    mail = parse_message(blob_store(settings.data_dir).read(record.raw_sha256))
    body = sanitize_html(mail.html, remote_images=remote_images) if mail.html else ""
    return Response(body, media_type="text/html; charset=utf-8", headers={
        # Shown inside the agent's page: no scripts may run, whatever slipped through.
        "Content-Security-Policy": "default-src 'none'; img-src * data: cid:; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff",
    })


def _eml(data: bytes, name: str) -> Response:
    return Response(data, media_type="message/rfc822", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"})
