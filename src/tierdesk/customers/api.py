from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tierdesk.brands.service import resolve_brand
from tierdesk.customers import repository, service
from tierdesk.customers.identity import normalise
from tierdesk.customers.models import Customer
from tierdesk.customers.schemas import CustomerHistory, CustomerMerge, CustomerOut
from tierdesk.deps import AppSettings, CurrentPrincipal, Db
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.input import PathId, refuse_nul
from tierdesk.kit.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page_of
from tierdesk.kit.vocabulary import IdentityKind
from tierdesk.tickets import repository as tickets_repo
from tierdesk.tickets.schemas import EventOut, TicketOut
from tierdesk.tickets.views import events_with_messages

router = APIRouter(prefix="/customers", tags=["customers"])

HISTORY_TICKETS = 100


@router.get("", response_model=Page[CustomerOut])
def search_customers(
    db: Db,
    principal: CurrentPrincipal,
    settings: AppSettings,
    brand: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
    q: Annotated[str | None, Query(min_length=2, max_length=200, description="prefix of a name or identity")] = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CustomerOut]:
    refuse_nul(q, "q")
    given = [(IdentityKind(k), v) for k, v in (("email", email), ("phone", phone), ("external_id", external_id)) if v]
    if len(given) > 1:
        raise InvalidInput("search by one identity at a time", field=given[1][0].value)
    identity = None
    if given:
        kind, raw = given[0]
        identity = (kind, normalise(kind, raw, settings.default_phone_region))
    brand_id = resolve_brand(db, principal, brand).id if brand else None
    position = decode_cursor(cursor, keys=("id",))
    rows = repository.search(
        db, principal, brand_id=brand_id, identity=identity, text=q,
        after_id=position["id"] if position else None, limit=limit,
    )
    rows, next_cursor = page_of(rows, limit, lambda c: {"id": c.id})
    return Page(items=[CustomerOut.model_validate(c) for c in rows], next_cursor=next_cursor)


@router.get("/{customer_id}", response_model=CustomerHistory)
def get_customer(customer_id: PathId, db: Db, principal: CurrentPrincipal) -> CustomerHistory:
    """The customer, their identities, the channels they used and their tickets (newest first, up to 100)."""
    customer = repository.get_visible(db, principal, customer_id)
    channels, open_count = repository.ticket_stats(db, customer.id)
    tickets = repository.tickets_of(db, customer.id, HISTORY_TICKETS)
    return CustomerHistory(
        **CustomerOut.model_validate(customer).model_dump(),
        channels=channels,
        open_tickets=open_count,
        tickets=[TicketOut.model_validate(t) for t in tickets],
    )


@router.get("/{customer_id}/timeline", response_model=Page[EventOut])
def customer_timeline(
    customer_id: PathId,
    db: Db,
    principal: CurrentPrincipal,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[EventOut]:
    """Everything that happened on all the customer's tickets, across channels, oldest first."""
    customer = repository.get_visible(db, principal, customer_id)
    position = decode_cursor(cursor, keys=("id",))
    rows = tickets_repo.events_of_customer(db, customer.id, after_id=position["id"] if position else None, limit=limit)
    rows, next_cursor = page_of(rows, limit, lambda e: {"id": e.id})
    return Page(items=events_with_messages(db, rows), next_cursor=next_cursor)


@router.post("/{customer_id}/merge", response_model=CustomerOut)
def merge_customers(customer_id: PathId, data: CustomerMerge, db: Db, principal: CurrentPrincipal) -> Customer:
    """Merge `source_id` into this customer (leads and admins)."""
    return service.merge(db, principal, customer_id, data.source_id)
