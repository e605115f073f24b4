"""The API of canned responses and macros, and applying a macro to a ticket (logic: tickets/macros.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from tierdesk.brands.service import resolve_brand
from tierdesk.deps import CurrentPrincipal, Db
from tierdesk.kit.input import PathId
from tierdesk.tickets import macros, repository
from tierdesk.tickets.models import CannedResponse, Macro
from tierdesk.tickets.schemas import (
    CannedResponseCreate,
    CannedResponseOut,
    CannedResponseUpdate,
    MacroApplied,
    MacroCreate,
    MacroOut,
    MacroUpdate,
    TicketOut,
)

canned_responses_router = APIRouter(prefix="/canned-responses", tags=["canned responses"])
macros_router = APIRouter(prefix="/macros", tags=["macros"])
apply_router = APIRouter(prefix="/tickets", tags=["macros"])


@canned_responses_router.get("", response_model=list[CannedResponseOut])
def list_canned_responses(db: Db, principal: CurrentPrincipal, brand: str | None = None,
                          active: bool | None = None) -> list[CannedResponse]:
    """The shared canned responses of your brands and your personal ones, by title (at most 500)."""
    brand_id = resolve_brand(db, principal, brand).id if brand else None
    return repository.canned_responses_visible(db, principal, brand_id, active_only=bool(active))


@canned_responses_router.post("", response_model=CannedResponseOut, status_code=status.HTTP_201_CREATED)
def create_canned_response(data: CannedResponseCreate, db: Db, principal: CurrentPrincipal) -> CannedResponse:
    """A shared canned response (admins and leads of the brand) or a personal one (`shared: false`, any agent)."""
    return macros.create_canned_response(db, principal, data)


@canned_responses_router.get("/{canned_id}", response_model=CannedResponseOut)
def get_canned_response(canned_id: PathId, db: Db, principal: CurrentPrincipal) -> CannedResponse:
    return repository.canned_response_visible(db, principal, canned_id)


@canned_responses_router.patch("/{canned_id}", response_model=CannedResponseOut)
def update_canned_response(canned_id: PathId, data: CannedResponseUpdate, db: Db,
                           principal: CurrentPrincipal) -> CannedResponse:
    return macros.update_canned_response(db, principal, canned_id, data)


@canned_responses_router.delete("/{canned_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_canned_response(canned_id: PathId, db: Db, principal: CurrentPrincipal) -> Response:
    macros.delete_canned_response(db, principal, canned_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@macros_router.get("", response_model=list[MacroOut])
def list_macros(db: Db, principal: CurrentPrincipal, brand: str | None = None,
                active: bool | None = None) -> list[Macro]:
    """The macros of your brands, by name (at most 500)."""
    brand_id = resolve_brand(db, principal, brand).id if brand else None
    return repository.macros_visible(db, principal, brand_id, active_only=bool(active))


@macros_router.post("", response_model=MacroOut, status_code=status.HTTP_201_CREATED)
def create_macro(data: MacroCreate, db: Db, principal: CurrentPrincipal) -> Macro:
    """A macro of the brand (admins and leads): the fields it sets and the text it inserts."""
    return macros.create_macro(db, principal, data)


@macros_router.get("/{macro_id}", response_model=MacroOut)
def get_macro(macro_id: PathId, db: Db, principal: CurrentPrincipal) -> Macro:
    return repository.macro_visible(db, principal, macro_id)


@macros_router.patch("/{macro_id}", response_model=MacroOut)
def update_macro(macro_id: PathId, data: MacroUpdate, db: Db, principal: CurrentPrincipal) -> Macro:
    return macros.update_macro(db, principal, macro_id, data)


@macros_router.delete("/{macro_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_macro(macro_id: PathId, db: Db, principal: CurrentPrincipal) -> Response:
    macros.delete_macro(db, principal, macro_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@apply_router.post("/{ticket_id}/macros/{macro_id}", response_model=MacroApplied)
def apply_macro(ticket_id: PathId, macro_id: PathId, db: Db, principal: CurrentPrincipal) -> MacroApplied:
    """Apply a macro: its changes are made (each an event, reason "macro <name>") or, if any may not be made on this
    ticket, none is; the answer carries the ticket and the macro's text with its placeholders filled."""
    applied = macros.apply_macro(db, principal, ticket_id, macro_id)
    return MacroApplied(ticket=TicketOut.model_validate(applied.ticket), text=applied.text,
                        text_into=applied.text_into)
