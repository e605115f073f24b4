"""Knowing who the customer is: find or create them from a contact's sender, and merge duplicates."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from tierdesk.customers import repository
from tierdesk.customers.identity import STRENGTH, normalise
from tierdesk.customers.models import Customer
from tierdesk.customers.schemas import Sender
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import Conflict, InvalidInput
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
    """The customer a sender is, by the strongest identity known; created if none is. Unknown identities are added.

    Two first contacts from one new address at once: both find nothing and both create a customer, but only one gets
    the identity (the other's insert does nothing, after waiting for the first to commit). The loser removes the
    customer it made and looks again, finding the winner's. No savepoint and no IntegrityError on that path."""
    wanted = sender_identities(sender, phone_region)
    for _attempt in range(IDENTIFY_ATTEMPTS):
        found = _identify_once(db, brand_id, sender, wanted)
        if found is not None:
            return found
    raise Conflict("the sender's identities kept changing while the contact was taken in: send it again")


IDENTIFY_ATTEMPTS = 3


def _identify_once(
    db: Session, brand_id: int, sender: Sender, wanted: list[tuple[IdentityKind, str]]
) -> Identification | None:
    known = {(i.kind, i.value): i for i in repository.identities_matching(db, brand_id, wanted)}
    owner = next((known[w].customer for w in wanted if w in known), None)
    missing = [w for w in wanted if w not in known]
    if owner is None:
        customer = Customer(brand_id=brand_id, display_name=sender.name)
        db.add(customer)
        db.flush()
    else:
        customer = owner
        if customer.display_name is None and sender.name:
            customer.display_name = sender.name
    if missing:
        added = repository.add_identities(db, brand_id, customer.id, missing)
        if len(added) < len(missing):  # another transaction took one of them first: what it committed decides
            if owner is None:
                repository.delete_unused(db, customer.id)
                db.expunge(customer)
            return None
        db.expire(customer, ["identities"])  # added beside the ORM: loaded again when someone asks
    conflicting = sorted({i.customer_id for i in known.values() if i.customer_id != customer.id})
    return Identification(customer, owner is None, conflicting)


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

    repository.move_identities(db, source.id, target.id)
    mutations.move_to_customer(db, source.id, target.id, Actor.of(principal))
    repository.repoint_merged(db, source.id, target.id)
    source.merged_into_id = target.id
    if target.display_name is None:
        target.display_name = source.display_name
    target.updated_at = utcnow()
    db.flush()
    db.expire(target, ["identities"])
    return repository.get_visible(db, principal, target.id)


def flag_undeliverable(db: Session, brand_id: int, addresses: list[str], reason: str) -> int:
    """Mail to these addresses bounced for good: replies are not sent to them, and agents see why."""
    now = utcnow()
    flagged = 0
    for identity in repository.email_identities(db, brand_id, [a.lower() for a in addresses]):
        identity.undeliverable_since = identity.undeliverable_since or now
        identity.undeliverable_reason = reason[:1000]
        flagged += 1
    return flagged


def clear_undeliverable(db: Session, brand_id: int, address: str) -> None:
    """The customer wrote from this address: it works again."""
    for identity in repository.email_identities(db, brand_id, [address]):
        if identity.undeliverable_since is not None:
            identity.undeliverable_since = None
            identity.undeliverable_reason = None
