from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from tierdesk.deps import CurrentPrincipal, Db
from tierdesk.intake.schemas import ContactIn, ContactResult

router = APIRouter(prefix="/contacts", tags=["intake"])


@router.post(
    "",
    response_model=ContactResult,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ContactResult, "description": "a repeated delivery (same external_id): nothing new"}},
)
def receive_contact(
    contact: ContactIn, request: Request, response: Response, db: Db, principal: CurrentPrincipal
) -> ContactResult:
    """Take one inbound contact: find or create the customer, continue their open ticket when `thread_ref` matches,
    else open a new ticket; the message and every change are recorded in one transaction."""
    result: ContactResult = request.app.state.intake.receive(db, principal, contact)
    if result.duplicate:
        response.status_code = status.HTTP_200_OK
    return result
