"""The addresses each brand receives mail at. Plus-addressing is implied: support+anything@acme.test reaches the brand
that owns support@acme.test, so an address is stored without its +tag."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tierdesk.audit import service as audit
from tierdesk.brands.models import Brand
from tierdesk.channels.email import repository
from tierdesk.channels.email.models import EmailAddress
from tierdesk.customers.identity import normalise_email
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import Conflict, InvalidInput, NotFound


def mailbox_of(address: str) -> str:
    """The address as stored: lower-case, without a +tag in the local part."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower()
    return f"{local.split('+', 1)[0]}@{domain}"


def normalise_brand_address(raw: str) -> str:
    value = normalise_email(raw, field="address")
    if "+" in value.partition("@")[0]:
        raise InvalidInput(f"give '{raw}' without its +tag: every {mailbox_of(value).replace('@', '+anything@')} "
                           f"reaches {mailbox_of(value)} anyway", field="address")
    return value


def add_address(db: Session, principal: Principal, brand: Brand, raw: str) -> EmailAddress:
    principal.require_admin()
    value = normalise_brand_address(raw)
    existing = repository.address(db, value)
    if existing is not None:
        if existing.brand_id == brand.id:
            raise Conflict(f"brand '{brand.slug}' already receives mail at {value}")
        raise Conflict(f"{value} belongs to another brand: an address reaches one brand only")
    first = not repository.addresses_of_brand(db, brand.id)
    row = EmailAddress(brand_id=brand.id, address=value, is_default=first)
    db.add(row)
    db.flush()
    audit.record(db, Actor.of(principal), "email_address", row.address, "created",
                 after={"address": row.address, "is_default": row.is_default}, brand_id=brand.id)
    return row


def remove_address(db: Session, principal: Principal, brand: Brand, raw: str) -> None:
    principal.require_admin()
    value = mailbox_of(raw)
    row = repository.address(db, value)
    if row is None or row.brand_id != brand.id:
        raise NotFound(f"brand '{brand.slug}' does not receive mail at {value}")
    audit.record(db, Actor.of(principal), "email_address", row.address, "deleted",
                 before={"address": row.address, "is_default": row.is_default}, brand_id=brand.id)
    db.delete(row)
    db.flush()
    if row.is_default:  # the next address becomes the From address of replies
        rest = repository.addresses_of_brand(db, brand.id)
        if rest:
            rest[0].is_default = True


def brand_for_recipients(db: Session, recipients: list[str]) -> Brand | None:
    return repository.brand_of_addresses(db, [mailbox_of(r) for r in recipients if "@" in r])
