"""Pages of canned responses and macros: their admin pages (list, create, edit, delete), and the ticket page's panel
(`GET /tickets/{id}/macros`, an HTMX fragment) with the apply button's endpoint. The logic is tickets/macros.py, and
the forms validate through the API's own schemas, so a page refuses exactly what the API refuses.

The panel's buttons work through web/static/app/macros.js (data attributes, event delegation): choosing a canned
response inserts its text, placeholders filled, into the reply (#reply-body) or the note (#note-body); applying a
macro answers with the text to insert and the event `ticket-changed` (HX-Trigger) for the ticket page to reload
its state.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from tierdesk.agents.sessions import SignedIn
from tierdesk.brands import repository as brands
from tierdesk.deps import Db, SignedInAgent
from tierdesk.kit.errors import DomainError
from tierdesk.kit.input import PathId
from tierdesk.kit.pages import csrf_protect, render
from tierdesk.kit.vocabulary import Department, MessageDirection, Priority, TicketStatus
from tierdesk.tickets import macros, repository
from tierdesk.tickets.lifecycle import TRANSITIONS
from tierdesk.tickets.models import CannedResponse, Macro
from tierdesk.tickets.schemas import (
    PLACEHOLDERS,
    CannedResponseCreate,
    CannedResponseUpdate,
    MacroCreate,
    MacroUpdate,
)

router = APIRouter(dependencies=[Depends(csrf_protect)])

CANNED = "/admin/canned-responses"
MACROS = "/admin/macros"
_TEXT_TARGET = {MessageDirection.OUTBOUND: "reply-body", MessageDirection.NOTE: "note-body"}
_MACRO_STATUSES = sorted({s for targets in TRANSITIONS.values() for s in targets}, key=list(TicketStatus).index)


# -- forms ----------------------------------------------------------------------------------------------------------
def _errors_of(exc: ValidationError | DomainError) -> dict[str, str]:
    """Field -> message, for the form to show beside each field."""
    if isinstance(exc, DomainError):
        return {exc.field or "form": exc.message}
    found: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else "form"
        message = str(error["msg"]).removeprefix("Value error, ")
        found.setdefault(field, message)
    return found


def _tags(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,]+", text) if t]


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def _brands(db: Session, who: SignedIn) -> list[Any]:
    return brands.list_visible(db, who.principal)


def _brand_names(db: Session, who: SignedIn) -> dict[int, str]:
    return {b.id: b.name for b in _brands(db, who)}


# -- canned responses -----------------------------------------------------------------------------------------------
@router.get(CANNED, response_class=HTMLResponse)
def canned_list(request: Request, db: Db, who: SignedInAgent) -> Response:
    rows = repository.canned_responses_visible(db, who.principal, None)
    return render(request, "macros/canned_list.html", who=who, section="admin", rows=rows,
                  brand_names=_brand_names(db, who), manages=macros.may_manage_shared(who.principal),
                  notice=request.query_params.get("done"))


def _canned_form(request: Request, db: Session, who: SignedIn, *, canned: CannedResponse | None,
                 values: dict[str, Any], errors: dict[str, str], status_code: int = 200) -> Response:
    return render(request, "macros/canned_form.html", status_code=status_code, who=who, section="admin",
                  canned=canned, values=values, errors=errors, brands=_brands(db, who),
                  brand_names=_brand_names(db, who), manages=macros.may_manage_shared(who.principal),
                  placeholders=PLACEHOLDERS)


@router.get(CANNED + "/new", response_class=HTMLResponse)
def canned_new(request: Request, db: Db, who: SignedInAgent) -> Response:
    shared = macros.may_manage_shared(who.principal)
    return _canned_form(request, db, who, canned=None, errors={},
                        values={"brand": "", "title": "", "body": "", "shared": shared, "is_active": True})


@router.post(CANNED + "/new", response_class=HTMLResponse)
async def canned_create(request: Request, db: Db, who: SignedInAgent) -> Response:
    form = await _form(request)
    values: dict[str, Any] = {"brand": form.get("brand", ""), "title": form.get("title", ""),
                              "body": form.get("body", ""), "shared": form.get("shared") == "on",
                              "is_active": form.get("is_active") == "on"}
    try:
        canned = macros.create_canned_response(db, who.principal, CannedResponseCreate(**values))
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.status_code not in (409, 422):
            raise
        return _canned_form(request, db, who, canned=None, values=values, errors=_errors_of(exc), status_code=422)
    return RedirectResponse(f"{CANNED}?done=created-{canned.id}", status_code=303)


@router.get(CANNED + "/{canned_id}", response_class=HTMLResponse)
def canned_edit(request: Request, db: Db, who: SignedInAgent, canned_id: PathId) -> Response:
    canned = repository.canned_response_visible(db, who.principal, canned_id)
    values = {"title": canned.title, "body": canned.body, "is_active": canned.is_active}
    return _canned_form(request, db, who, canned=canned, values=values, errors={})


@router.post(CANNED + "/{canned_id}", response_class=HTMLResponse)
async def canned_update(request: Request, db: Db, who: SignedInAgent, canned_id: PathId) -> Response:
    canned = repository.canned_response_visible(db, who.principal, canned_id)
    form = await _form(request)
    values: dict[str, Any] = {"title": form.get("title", ""), "body": form.get("body", ""),
                              "is_active": form.get("is_active") == "on"}
    try:
        macros.update_canned_response(db, who.principal, canned_id, CannedResponseUpdate(**values))
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.status_code not in (409, 422):
            raise
        return _canned_form(request, db, who, canned=canned, values=values, errors=_errors_of(exc), status_code=422)
    return RedirectResponse(f"{CANNED}?done=saved-{canned_id}", status_code=303)


@router.post(CANNED + "/{canned_id}/delete")
def canned_delete(db: Db, who: SignedInAgent, canned_id: PathId) -> Response:
    macros.delete_canned_response(db, who.principal, canned_id)
    return RedirectResponse(f"{CANNED}?done=deleted-{canned_id}", status_code=303)


# -- macros ---------------------------------------------------------------------------------------------------------
def _require_manager(who: SignedIn) -> None:
    macros.require_manager(who.principal)


@router.get(MACROS, response_class=HTMLResponse)
def macro_list(request: Request, db: Db, who: SignedInAgent) -> Response:
    rows = repository.macros_visible(db, who.principal, None)
    return render(request, "macros/macro_list.html", who=who, section="admin", rows=rows,
                  brand_names=_brand_names(db, who), manages=macros.may_manage_shared(who.principal),
                  notice=request.query_params.get("done"))


def _macro_form(request: Request, db: Session, who: SignedIn, *, macro: Macro | None, values: dict[str, Any],
                errors: dict[str, str], status_code: int = 200) -> Response:
    visible = _brands(db, who)
    codes = repository.dispositions_visible(db, who.principal, None)
    return render(request, "macros/macro_form.html", status_code=status_code, who=who, section="admin",
                  macro=macro, values=values, errors=errors, brands=visible,
                  brand_names={b.id: b.name for b in visible}, codes=codes, statuses=_MACRO_STATUSES,
                  priorities=list(Priority), departments=list(Department), placeholders=PLACEHOLDERS)


def _macro_values(macro: Macro) -> dict[str, Any]:
    return {"name": macro.name, "description": macro.description,
            "department": macro.department.value if macro.department else "",
            "set_status": macro.set_status.value if macro.set_status else "",
            "set_priority": macro.set_priority.value if macro.set_priority else "",
            "add_tags": " ".join(macro.add_tags), "remove_tags": " ".join(macro.remove_tags),
            "disposition": macro.disposition or "", "assign_to_me": macro.assign_to_me, "text": macro.text,
            "text_into": macro.text_into.value, "is_active": macro.is_active}


def _macro_form_values(form: dict[str, str]) -> dict[str, Any]:
    """What the form shows again (as typed)."""
    return {"brand": form.get("brand", ""), "name": form.get("name", ""),
            "description": form.get("description", ""), "department": form.get("department", ""),
            "set_status": form.get("set_status", ""), "set_priority": form.get("set_priority", ""),
            "add_tags": form.get("add_tags", ""), "remove_tags": form.get("remove_tags", ""),
            "disposition": form.get("disposition", ""), "assign_to_me": form.get("assign_to_me") == "on",
            "text": form.get("text", ""), "text_into": form.get("text_into", "outbound"),
            "is_active": form.get("is_active") == "on"}


def _macro_input(values: dict[str, Any]) -> dict[str, Any]:
    """The same, as the API's schema takes it (empty choices are "leave as it is")."""
    return {"description": values["description"], "department": values["department"] or None,
            "set_status": values["set_status"] or None, "set_priority": values["set_priority"] or None,
            "add_tags": _tags(values["add_tags"]), "remove_tags": _tags(values["remove_tags"]),
            "disposition": values["disposition"] or None, "assign_to_me": values["assign_to_me"],
            "text": values["text"], "text_into": values["text_into"], "is_active": values["is_active"]}


@router.get(MACROS + "/new", response_class=HTMLResponse)
def macro_new(request: Request, db: Db, who: SignedInAgent) -> Response:
    _require_manager(who)
    return _macro_form(request, db, who, macro=None, errors={}, values=_macro_form_values({"is_active": "on"}))


@router.post(MACROS + "/new", response_class=HTMLResponse)
async def macro_create(request: Request, db: Db, who: SignedInAgent) -> Response:
    _require_manager(who)
    values = _macro_form_values(await _form(request))
    try:
        data = MacroCreate(brand=values["brand"], name=values["name"], **_macro_input(values))
        macro = macros.create_macro(db, who.principal, data)
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.status_code not in (409, 422):
            raise
        return _macro_form(request, db, who, macro=None, values=values, errors=_errors_of(exc), status_code=422)
    return RedirectResponse(f"{MACROS}?done=created-{macro.id}", status_code=303)


@router.get(MACROS + "/{macro_id}", response_class=HTMLResponse)
def macro_edit(request: Request, db: Db, who: SignedInAgent, macro_id: PathId) -> Response:
    _require_manager(who)
    macro = repository.macro_visible(db, who.principal, macro_id)
    return _macro_form(request, db, who, macro=macro, values=_macro_values(macro), errors={})


@router.post(MACROS + "/{macro_id}", response_class=HTMLResponse)
async def macro_update(request: Request, db: Db, who: SignedInAgent, macro_id: PathId) -> Response:
    _require_manager(who)
    macro = repository.macro_visible(db, who.principal, macro_id)
    values = _macro_form_values(await _form(request))
    try:
        macros.update_macro(db, who.principal, macro_id, MacroUpdate(name=values["name"], **_macro_input(values)))
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.status_code not in (409, 422):
            raise
        db.rollback()  # the form shows the macro as it was saved
        macro = repository.macro_visible(db, who.principal, macro_id)
        return _macro_form(request, db, who, macro=macro, values=values, errors=_errors_of(exc), status_code=422)
    return RedirectResponse(f"{MACROS}?done=saved-{macro_id}", status_code=303)


@router.post(MACROS + "/{macro_id}/delete")
def macro_delete(db: Db, who: SignedInAgent, macro_id: PathId) -> Response:
    macros.delete_macro(db, who.principal, macro_id)
    return RedirectResponse(f"{MACROS}?done=deleted-{macro_id}", status_code=303)


# -- the ticket page's panel ----------------------------------------------------------------------------------------
@router.get("/tickets/{ticket_id}/macros", response_class=HTMLResponse)
def ticket_panel(request: Request, db: Db, who: SignedInAgent, ticket_id: PathId) -> Response:
    """The canned responses and macros offered on this ticket, as a fragment for the ticket page's #macro-panel.
    A fixed number of statements whatever the data: the ticket, the two lists (bounded), the placeholders' values."""
    ticket = repository.get_visible(db, who.principal, ticket_id)
    canned = repository.canned_responses_visible(db, who.principal, ticket.brand_id, active_only=True)
    offered = repository.macros_visible(db, who.principal, ticket.brand_id, active_only=True,
                                        department=ticket.department)
    values = macros.placeholder_values(db, who.principal, ticket)
    texts = {c.id: macros.fill(c.body, values) for c in canned}
    return render(request, "macros/panel.html", ticket=ticket, canned=canned, texts=texts, macros=offered,
                  targets=_TEXT_TARGET)


@router.post("/tickets/{ticket_id}/macros/{macro_id}", response_class=HTMLResponse)
def ticket_apply(request: Request, db: Db, who: SignedInAgent, ticket_id: PathId, macro_id: PathId) -> Response:
    """Apply a macro from the panel (hx-post): refused whole with the reason (shown as a toast), or done, with the
    text to insert and HX-Trigger `ticket-changed` for the page to reload the ticket's state."""
    applied = macros.apply_macro(db, who.principal, ticket_id, macro_id)
    macro = repository.macro_visible(db, who.principal, macro_id)
    trigger = {"ticket-changed": {"ticket_id": applied.ticket.id, "by": "macro"}}
    return render(request, "macros/applied.html", macro=macro, text=applied.text,
                  target=_TEXT_TARGET[applied.text_into], headers={"HX-Trigger": json.dumps(trigger)})
