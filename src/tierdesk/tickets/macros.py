"""Canned responses and macros: the prepared answers agents insert, and the one-click treatments that set a ticket's
fields and insert a text.

A macro changes a ticket only through `service.update_ticket` (so each change is checked, then applied by the
mutation functions with its event, reason "macro <name>"), in the caller's transaction: a macro that may not be
applied to this ticket (an illegal status change, another department's disposition) is refused whole, before
anything is written. Texts carry placeholders ({customer_name}, {agent_name}, {ticket_id}, {brand_name}) filled by
plain replacement in one pass, never by a template engine: a customer named "{agent_name}" or "{{7*7}}" stays that.

Configuration changes are audited (audit.service.record), whoever makes them: API, pages or a command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from tierdesk.agents.models import Agent
from tierdesk.audit import service as audit
from tierdesk.brands.models import Brand
from tierdesk.brands.service import resolve_brand
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import Conflict, Forbidden, InvalidInput
from tierdesk.kit.input import patch_values
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import AgentRole, Department, MessageDirection
from tierdesk.tickets import repository, service
from tierdesk.tickets.lifecycle import TRANSITIONS
from tierdesk.tickets.models import CannedResponse, Macro, Ticket
from tierdesk.tickets.schemas import (
    PLACEHOLDERS,
    CannedResponseCreate,
    CannedResponseUpdate,
    MacroCreate,
    MacroFields,
    MacroUpdate,
    TicketUpdate,
)

CANNED_FIELDS = ("brand_id", "owner_agent_id", "title", "body", "is_active")
MACRO_FIELDS = ("brand_id", "name", "description", "department", "set_status", "set_priority", "add_tags",
                "remove_tags", "disposition", "assign_to_me", "text", "text_into", "is_active")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
# Statuses some other status may move to: a macro that sets one that none reaches (new) could never be applied.
_REACHABLE = frozenset(s for targets in TRANSITIONS.values() for s in targets)


# -- placeholders ---------------------------------------------------------------------------------------------------
def fill(text: str, values: dict[str, str]) -> str:
    """The text with its placeholders replaced, in one pass: a value is never read again for placeholders, and
    nothing is evaluated. Unknown braces stay as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


# The customer's name: customers sit above tickets in the layering, so tierdesk.hooks registers how to read it.
CustomerName = Callable[[Session, int], "str | None"]
_customer_name: list[CustomerName] = []


def names_customers(reader: CustomerName) -> None:
    """Register how a ticket's customer's name is read (one reader; registering again replaces it)."""
    _customer_name[:] = [reader]


def placeholder_values(db: Session, principal: Principal, ticket: Ticket) -> dict[str, str]:
    customer = _customer_name[0](db, ticket.customer_id) if _customer_name else None
    agent = db.get(Agent, principal.agent_id) if principal.agent_id is not None else None
    brand = db.get(Brand, ticket.brand_id)
    return {
        "customer_name": customer or "",
        "agent_name": agent.display_name if agent else "",
        "ticket_id": str(ticket.id),
        "brand_name": brand.name if brand else "",
    }


# -- who manages what ------------------------------------------------------------------------------------------------
def require_manager(principal: Principal) -> None:
    """Shared canned responses and macros are the brand's: its admins and leads manage them."""
    if not may_manage_shared(principal):
        raise Forbidden(f"shared canned responses and macros are managed by the brand's admins and leads; you are "
                        f"{principal.role.value}")


def may_manage_shared(principal: Principal) -> bool:
    return principal.is_admin or (principal.role is AgentRole.LEAD and not principal.is_integration)


def _require_agent(principal: Principal) -> int:
    if principal.agent_id is None:
        raise Forbidden("only an agent has personal canned responses")
    return principal.agent_id


# -- canned responses ------------------------------------------------------------------------------------------------
def create_canned_response(db: Session, principal: Principal, data: CannedResponseCreate) -> CannedResponse:
    brand = resolve_brand(db, principal, data.brand)
    if data.shared:
        require_manager(principal)
        owner = None
    else:
        owner = _require_agent(principal)
    now = utcnow()
    canned = CannedResponse(brand_id=brand.id, owner_agent_id=owner, title=data.title, body=data.body,
                            is_active=data.is_active, created_at=now, updated_at=now)
    db.add(canned)
    db.flush()
    audit.record(db, Actor.of(principal), "canned_response", canned.id, "created",
                 after=audit.snapshot(canned, CANNED_FIELDS), brand_id=brand.id)
    return canned


def _managed_canned(db: Session, principal: Principal, canned_id: int) -> CannedResponse:
    canned = repository.canned_response_visible(db, principal, canned_id)
    if canned.owner_agent_id is None:
        require_manager(principal)
    return canned


def update_canned_response(db: Session, principal: Principal, canned_id: int,
                           data: CannedResponseUpdate) -> CannedResponse:
    canned = _managed_canned(db, principal, canned_id)
    before = audit.snapshot(canned, CANNED_FIELDS)
    changes = patch_values(data)
    for field, value in changes.items():
        setattr(canned, field, value)
    if changes:
        canned.updated_at = utcnow()
    db.flush()
    audit.record(db, Actor.of(principal), "canned_response", canned.id, "updated", before=before,
                 after=audit.snapshot(canned, CANNED_FIELDS), brand_id=canned.brand_id)
    return canned


def delete_canned_response(db: Session, principal: Principal, canned_id: int) -> None:
    canned = _managed_canned(db, principal, canned_id)
    audit.record(db, Actor.of(principal), "canned_response", canned.id, "deleted",
                 before=audit.snapshot(canned, CANNED_FIELDS), brand_id=canned.brand_id)
    db.delete(canned)
    db.flush()


# -- macros ----------------------------------------------------------------------------------------------------------
def _check_macro(db: Session, brand_id: int, macro: dict[str, Any]) -> None:
    """What the schema cannot know: the disposition is one of the brand's and fits the department; the actions
    agree with each other; the macro does something."""
    status = macro.get("set_status")
    if status is not None and status not in _REACHABLE:
        raise InvalidInput(f"no ticket can be set back to {status.value}", field="set_status")
    overlap = set(macro.get("add_tags") or ()) & set(macro.get("remove_tags") or ())
    if overlap:
        raise InvalidInput(f"tag '{sorted(overlap)[0]}' is both added and removed", field="remove_tags")
    if macro.get("disposition"):
        code = repository.disposition_in_brand(db, brand_id, macro["disposition"])
        if code is None or not code.is_active:
            raise InvalidInput(f"no active disposition code '{macro['disposition']}' in this brand",
                               field="disposition")
        department = macro.get("department")
        if code.department is not None and department is not None and code.department != department:
            raise InvalidInput(f"disposition '{code.code}' is for {code.department.value} tickets; this macro is "
                               f"for {department.value}", field="disposition")
    does = (status, macro.get("set_priority"), macro.get("add_tags"), macro.get("remove_tags"),
            macro.get("disposition"), macro.get("assign_to_me"), (macro.get("text") or "").strip())
    if not any(does):
        raise InvalidInput("the macro does nothing: give it an action or a text", field="text")


def _macro_values(data: MacroFields) -> dict[str, Any]:
    values = {f: getattr(data, f) for f in MacroFields.model_fields}
    values["text_into"] = MessageDirection(values["text_into"])
    return values


def create_macro(db: Session, principal: Principal, data: MacroCreate) -> Macro:
    require_manager(principal)
    brand = resolve_brand(db, principal, data.brand)
    values = _macro_values(data)
    _check_macro(db, brand.id, values)
    if repository.macro_named(db, brand.id, data.name):
        raise Conflict(f"brand '{brand.slug}' has a macro named '{data.name}' already", field="name")
    now = utcnow()
    macro = Macro(brand_id=brand.id, name=data.name, created_at=now, updated_at=now, **values)
    db.add(macro)
    db.flush()
    audit.record(db, Actor.of(principal), "macro", macro.id, "created", after=audit.snapshot(macro, MACRO_FIELDS),
                 brand_id=brand.id)
    return macro


def update_macro(db: Session, principal: Principal, macro_id: int, data: MacroUpdate) -> Macro:
    require_manager(principal)
    macro = repository.macro_visible(db, principal, macro_id)
    changes = patch_values(data, nullable=frozenset({"department", "set_status", "set_priority", "disposition"}))
    if "text_into" in changes:
        changes["text_into"] = MessageDirection(changes["text_into"])
    merged = {f: getattr(macro, f) for f in MACRO_FIELDS} | changes
    _check_macro(db, macro.brand_id, merged)
    if "name" in changes and changes["name"] != macro.name:
        other = repository.macro_named(db, macro.brand_id, changes["name"])
        if other is not None and other.id != macro.id:
            raise Conflict(f"this brand has a macro named '{changes['name']}' already", field="name")
    before = audit.snapshot(macro, MACRO_FIELDS)
    for field, value in changes.items():
        setattr(macro, field, value)
    if changes:
        macro.updated_at = utcnow()
    db.flush()
    audit.record(db, Actor.of(principal), "macro", macro.id, "updated", before=before,
                 after=audit.snapshot(macro, MACRO_FIELDS), brand_id=macro.brand_id)
    return macro


def delete_macro(db: Session, principal: Principal, macro_id: int) -> None:
    require_manager(principal)
    macro = repository.macro_visible(db, principal, macro_id)
    audit.record(db, Actor.of(principal), "macro", macro.id, "deleted", before=audit.snapshot(macro, MACRO_FIELDS),
                 brand_id=macro.brand_id)
    db.delete(macro)
    db.flush()


# -- applying --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Applied:
    ticket: Ticket
    text: str  # placeholders filled; empty when the macro inserts nothing
    text_into: MessageDirection


def offered(macro: Macro, department: Department | None) -> bool:
    """Whether the macro is offered on a ticket of this department."""
    return macro.is_active and (macro.department is None or macro.department == department)


def apply_macro(db: Session, principal: Principal, ticket_id: int, macro_id: int) -> Applied:
    """Apply a macro to a ticket: every change checked first, then made through update_ticket with reason
    "macro <name>"; the macro's text comes back filled in, for the reply or the note."""
    ticket = repository.get_visible(db, principal, ticket_id, for_update=True)
    macro = repository.macro_visible(db, principal, macro_id)
    if macro.brand_id != ticket.brand_id:
        raise InvalidInput(f"macro '{macro.name}' belongs to another brand than this ticket", field="macro_id")
    if not macro.is_active:
        raise InvalidInput(f"macro '{macro.name}' is inactive", field="macro_id")
    if not offered(macro, ticket.department):
        where = ticket.department.value if ticket.department else "untriaged"
        raise InvalidInput(f"macro '{macro.name}' is for {macro.department.value if macro.department else ''} "
                           f"tickets; this one is {where}", field="macro_id")
    update = _update_of(db, principal, ticket, macro)
    if update is not None:
        try:
            service.update_ticket(db, principal, ticket.id, update)
        except InvalidInput as refused:
            raise InvalidInput(f"macro '{macro.name}' cannot be applied to this ticket: {refused.message}",
                               field=refused.field) from None
    text = fill(macro.text, placeholder_values(db, principal, ticket)) if macro.text else ""
    return Applied(ticket, text, macro.text_into)


def _update_of(db: Session, principal: Principal, ticket: Ticket, macro: Macro) -> TicketUpdate | None:
    values: dict[str, Any] = {}
    if macro.set_status is not None:
        values["status"] = macro.set_status
    if macro.set_priority is not None:
        values["priority"] = macro.set_priority
    if macro.add_tags or macro.remove_tags:
        current = set(repository.tags_of(db, ticket.id))
        values["tags"] = sorted((current | set(macro.add_tags)) - set(macro.remove_tags))
    if macro.disposition:
        values["disposition"] = macro.disposition
    if macro.assign_to_me:
        if principal.agent_id is None:
            raise InvalidInput(f"macro '{macro.name}' assigns the ticket to whoever applies it: an agent",
                               field="macro_id")
        values["assignee_id"] = principal.agent_id
    if not values:
        return None
    try:
        return TicketUpdate(reason=f"macro {macro.name}", **values)
    except ValidationError as invalid:
        error = invalid.errors()[0]
        raise InvalidInput(f"macro '{macro.name}' cannot be applied to this ticket: {error['msg']}",
                           field=str(error["loc"][0]) if error["loc"] else "macro_id") from None
