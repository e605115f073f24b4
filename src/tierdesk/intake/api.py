from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request, Response, status

from tierdesk.deps import CurrentPrincipal, Db
from tierdesk.intake.pipeline import PreparedContact
from tierdesk.intake.schemas import ContactIn, ContactResult
from tierdesk.kit.errors import DomainError
from tierdesk.kit.vocabulary import TokenScope
from tierdesk.tickets.service import message_bodies
from tierdesk.triage.service import TriagerSource, read_message

router = APIRouter(prefix="/contacts", tags=["intake"])


async def read_before_transaction(request: Request) -> PreparedContact | None:
    """The contact's text and sanitised HTML, and triage's costly part (features, probabilities, language), in a
    worker thread, before the request's transaction opens: declared ahead of `Db` on the endpoint, FastAPI resolves
    it first. So classifying never holds a database connection, nor on SQLite the single writer slot (deps.get_db),
    and one large message cannot hold up everyone else's contacts. Inside the transaction the triage step only adds
    the customer's recent departments to this reading, and the message is not worked out again."""
    if not request.headers.get("authorization"):
        return None  # refused with 401 anyway: no work for it
    try:
        payload = await request.json()  # parsed once already, for the endpoint: cached on the request
    except ValueError:
        return None
    return await to_thread.run_sync(_read, request.app.state.triage, payload)


def _read(source: TriagerSource, payload: Any) -> PreparedContact | None:
    try:
        contact = ContactIn.model_validate(payload)
    except (ValueError, DomainError):  # pydantic's ValidationError is a ValueError
        return None  # the endpoint validates the body again and answers 422, naming every field
    body_text, body_html = message_bodies(contact.body, contact.body_html)
    reading = read_message(source, body_text, contact.subject) if body_text else None
    return PreparedContact(body_text, body_html, reading)


Prepared = Annotated[PreparedContact | None, Depends(read_before_transaction)]


@router.post(
    "",
    response_model=ContactResult,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ContactResult, "description": "a repeated delivery (same external_id): nothing new"}},
)
def receive_contact(
    contact: ContactIn,
    request: Request,
    response: Response,
    prepared: Prepared,  # before `db`: see read_before_transaction
    db: Db,
    principal: CurrentPrincipal,
) -> ContactResult:
    """Take one inbound contact: find or create the customer, continue their open ticket when `thread_ref` matches,
    else open a new ticket; the message and every change are recorded in one transaction."""
    result: ContactResult = request.app.state.intake.receive(db, principal, contact, prepared)
    if result.duplicate:
        response.status_code = status.HTTP_200_OK
    return result


# deps.get_principal: the one operation an intake token may use
receive_contact.token_scope = TokenScope.INTAKE  # type: ignore[attr-defined]
