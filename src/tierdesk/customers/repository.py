from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload, selectinload

from tierdesk.customers.models import Customer, CustomerIdentity
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import NotFound
from tierdesk.kit.scope import scoped
from tierdesk.kit.vocabulary import IdentityKind, TicketStatus
from tierdesk.tickets.models import Message, Ticket


def get_visible(db: Session, principal: Principal, customer_id: int, *, for_update: bool = False) -> Customer:
    stmt = scoped(sa.select(Customer).where(Customer.id == customer_id), Customer.brand_id, principal).options(
        selectinload(Customer.identities)
    )
    if for_update:
        stmt = stmt.with_for_update()
    customer = db.scalar(stmt)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def identities_matching(db: Session, brand_id: int, wanted: list[tuple[IdentityKind, str]]) -> list[CustomerIdentity]:
    """The brand's identities among `wanted`, each with its customer (one round trip for both: intake's hot path)."""
    if not wanted:
        return []
    return list(
        db.scalars(
            sa.select(CustomerIdentity)
            .where(
                CustomerIdentity.brand_id == brand_id,
                sa.tuple_(CustomerIdentity.kind, CustomerIdentity.value).in_(wanted),
            )
            .options(joinedload(CustomerIdentity.customer, innerjoin=True))
        )
    )


def add_identities(
    db: Session, brand_id: int, customer_id: int, identities: list[tuple[IdentityKind, str]]
) -> set[tuple[IdentityKind, str]]:
    """Give the customer these identities, in one statement; returns those it got. An identity another transaction
    holds already is left to it (ON CONFLICT DO NOTHING: no error, so no savepoint is needed to carry on)."""
    if not identities:
        return set()
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(CustomerIdentity)
        .values([{"brand_id": brand_id, "customer_id": customer_id, "kind": kind, "value": value}
                 for kind, value in identities])
        .on_conflict_do_nothing(index_elements=["brand_id", "kind", "value"])
        .returning(CustomerIdentity.kind, CustomerIdentity.value)
    )
    return {(row.kind, row.value) for row in db.execute(stmt)}


def delete_unused(db: Session, customer_id: int) -> None:
    """Remove a customer made a moment ago in this transaction that turned out to exist already (with its identities,
    by the foreign key's cascade)."""
    db.execute(sa.delete(Customer).where(Customer.id == customer_id))


def search(
    db: Session,
    principal: Principal,
    *,
    brand_id: int | None,
    identity: tuple[IdentityKind, str] | None,
    text: str | None,
    after_id: int | None,
    limit: int,
) -> list[Customer]:
    stmt = scoped(sa.select(Customer), Customer.brand_id, principal).where(Customer.merged_into_id.is_(None))
    if brand_id is not None:
        stmt = stmt.where(Customer.brand_id == brand_id)
    if identity is not None:
        kind, value = identity
        stmt = stmt.where(
            Customer.id.in_(
                sa.select(CustomerIdentity.customer_id).where(
                    CustomerIdentity.kind == kind, CustomerIdentity.value == value
                )
            )
        )
    if text:
        # Prefix match on identities (email, phone, account id) or on the name: what an agent types to find someone.
        like = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Customer.display_name).like(like, escape="\\"),
                Customer.id.in_(
                    sa.select(CustomerIdentity.customer_id).where(
                        sa.func.lower(CustomerIdentity.value).like(like, escape="\\")
                    )
                ),
            )
        )
    if after_id is not None:
        stmt = stmt.where(Customer.id > after_id)
    return list(db.scalars(stmt.options(selectinload(Customer.identities)).order_by(Customer.id).limit(limit + 1)))


def tickets_of(db: Session, customer_id: int, limit: int) -> list[Ticket]:
    return list(
        db.scalars(sa.select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id.desc()).limit(limit))
    )


def ticket_stats(db: Session, customer_id: int) -> tuple[list[str], int]:
    """Channels the customer has used, and how many of their tickets are not yet solved."""
    channels = db.scalars(
        sa.select(Message.channel)
        .where(Message.author_customer_id == customer_id)
        .distinct()
        .order_by(Message.channel)
    )
    open_count = db.scalar(
        sa.select(sa.func.count()).where(
            Ticket.customer_id == customer_id, Ticket.status.not_in((TicketStatus.SOLVED, TicketStatus.CLOSED))
        )
    )
    return [c.value for c in channels], open_count or 0


def move_identities(db: Session, source_id: int, target_id: int) -> None:
    db.execute(sa.update(CustomerIdentity).where(CustomerIdentity.customer_id == source_id)
               .values(customer_id=target_id))


def repoint_merged(db: Session, source_id: int, target_id: int) -> None:
    """Customers merged into the source earlier now point at the target (no chain of pointers)."""
    db.execute(sa.update(Customer).where(Customer.merged_into_id == source_id).values(merged_into_id=target_id))


def email_identities(db: Session, brand_id: int, values: list[str]) -> list[CustomerIdentity]:
    if not values:
        return []
    return list(db.scalars(sa.select(CustomerIdentity).where(
        CustomerIdentity.brand_id == brand_id, CustomerIdentity.kind == IdentityKind.EMAIL,
        CustomerIdentity.value.in_(values))))
