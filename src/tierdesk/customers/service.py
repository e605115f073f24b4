"""Knowing who the customer is: find or create them from a contact's sender, and merge duplicates."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.customers import repository
from tierdesk.customers.identity import STRENGTH, normalise
from tierdesk.customers.models import Customer, CustomerIdentity
from tierdesk.customers.schemas import Sender
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import AgentRole, IdentityKind
from tierdesk.tickets import mutations


@dataclass
class Identification:
    customer: Customer
    created: bool
    # Identities the sender gave that belong to some other customer: a likely duplicate for an agent to merge.
    conflicting_customer_ids: list[int]


def sender_identities(sender: Sender, phone_region: str | None) -> list[tuple[IdentityKind, str]]:
    found = []
    for kind in STRENGTH:
        raw = getattr(sender, kind.value)
        if raw:
            found.append((kind, normalise(kind, raw, phone_region, field=f"sender.{kind.value}")))
    return found


def identify(db: Session, brand_id: int, sender: Sender, phone_region: str | None) -> Identification:
    """The customer a sender is, by the strongest identity known; created if none is. Unknown identities are added."""
    wanted = sender_identities(sender, phone_region)
    known = {(i.kind, i.value): i for i in repository.identities_matching(db, brand_id, wanted)}
    owner_id = next((known[w].customer_id for w in wanted if w in known), None)
    created = owner_id is None
    if created:
        customer = Customer(brand_id=brand_id, display_name=sender.name, identities=[])
        db.add(customer)
    else:
        customer = db.get_one(Customer, owner_id)
        if customer.display_name is None and sender.name:
            customer.display_name = sender.name
    conflicting = sorted({i.customer_id for i in known.values() if i.customer_id != owner_id})
    for kind, value in wanted:
        if (kind, value) not in known:
            db.add(CustomerIdentity(brand_id=brand_id, customer=customer, kind=kind, value=value))
    db.flush()  # one flush: the customer (if new) and its new identities
    return Identification(customer, created, conflicting)


def merge(db: Session, principal: Principal, target_id: int, source_id: int) -> Customer:
    """Fold the source customer into the target: identities, tickets, messages and timeline move; the source remains
    as a pointer (merged_into_id) so links to it still resolve."""
    principal.require_role(AgentRole.LEAD)
    if target_id == source_id:
        raise InvalidInput("a customer cannot be merged into itself", field="source_id")
    # Lock both rows in id order, so two merges of the same pair cannot deadlock or interleave.
    first, second = sorted((target_id, source_id))
    locked = {
        c.id: c
        for c in (repository.get_visible(db, principal, first, for_update=True),
                  repository.get_visible(db, principal, second, for_update=True))
    }
    target, source = locked[target_id], locked[source_id]
    if target.brand_id != source.brand_id:
        raise InvalidInput("customers of different brands cannot be merged", field="source_id")
    for c, field in ((source, "source_id"), (target, "customer_id")):
        if c.merged_into_id is not None:
            raise InvalidInput(f"customer {c.id} was already merged into {c.merged_into_id}", field=field)

    db.execute(sa.update(CustomerIdentity).where(CustomerIdentity.customer_id == source.id)
               .values(customer_id=target.id))
    mutations.move_to_customer(db, source.id, target.id, Actor.of(principal))
    db.execute(sa.update(Customer).where(Customer.merged_into_id == source.id).values(merged_into_id=target.id))
    source.merged_into_id = target.id
    if target.display_name is None:
        target.display_name = source.display_name
    target.updated_at = utcnow()
    db.flush()
    db.expire(target, ["identities"])
    return repository.get_visible(db, principal, target.id)
