"""The webhooks domain's queries: the capture's look at a brand's subscriptions, the API's brand-scoped reads,
and the sender's record of each attempt (compare-and-set where deliveries of one subscription race)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.kit.actors import Principal
from tierdesk.kit.scope import scoped
from tierdesk.kit.vocabulary import WebhookDeliveryStatus
from tierdesk.tickets.models import Ticket
from tierdesk.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

# Built once: the capture runs it in every transaction that records a ticket event.
_ACTIVE_FOR_BRAND = (
    sa.select(WebhookSubscription.id, WebhookSubscription.events, WebhookSubscription.queue_ids,
              WebhookSubscription.departments)
    .where(WebhookSubscription.is_active.is_(True),
           sa.or_(WebhookSubscription.brand_id == sa.bindparam("brand_id"), WebhookSubscription.brand_id.is_(None)))
)


def active_for_brand(db: Session, brand_id: int) -> list[Any]:
    """The subscriptions that hear of this brand's events: its own active ones, and the settings' (every brand)."""
    return list(db.execute(_ACTIVE_FOR_BRAND, {"brand_id": brand_id}))


def ticket_rows(db: Session, ticket_ids: Sequence[int]) -> dict[int, Any]:
    """The tickets of a bulk event (the routing pass), with the fields a delivery tells of."""
    rows = db.execute(sa.select(Ticket.id, Ticket.brand_id, Ticket.customer_id, Ticket.subject, Ticket.status,
                                Ticket.priority, Ticket.department, Ticket.intent, Ticket.queue_id, Ticket.tier,
                                Ticket.assignee_id, Ticket.channel).where(Ticket.id.in_(ticket_ids)))
    return {r.id: r for r in rows}


# -- subscriptions, for the API and the CLI (brand-scoped: kit.scope) ------------------------------------------
def subscriptions_visible(db: Session, principal: Principal, brand_id: int | None = None) -> list[WebhookSubscription]:
    stmt = scoped(sa.select(WebhookSubscription), WebhookSubscription.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(WebhookSubscription.brand_id == brand_id)
    return list(db.scalars(stmt.order_by(WebhookSubscription.id)))


def subscription_visible(db: Session, principal: Principal, subscription_id: int) -> WebhookSubscription | None:
    stmt = scoped(sa.select(WebhookSubscription), WebhookSubscription.brand_id, principal)
    return db.scalar(stmt.where(WebhookSubscription.id == subscription_id))


def from_settings(db: Session) -> WebhookSubscription | None:
    return db.scalar(sa.select(WebhookSubscription).where(WebhookSubscription.from_settings.is_(True)))


def delete_subscription(db: Session, subscription_id: int) -> None:
    db.execute(sa.delete(WebhookSubscription).where(WebhookSubscription.id == subscription_id))


# -- deliveries ---------------------------------------------------------------------------------------------------
def deliveries_of(db: Session, subscription_id: int, *, before_id: int | None, limit: int,
                  status: WebhookDeliveryStatus | None = None) -> list[WebhookDelivery]:
    """Newest first (limit + 1 rows: the extra one tells whether another page exists)."""
    stmt = (sa.select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.id.desc()).limit(limit + 1))
    if before_id is not None:
        stmt = stmt.where(WebhookDelivery.id < before_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    return list(db.scalars(stmt))


def attempts_of(db: Session, delivery_ids: Sequence[int]) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        for a in db.scalars(sa.select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids))
                            .order_by(WebhookAttempt.id)):
            found[a.delivery_id].append(a)
    return found


def delivery_visible(db: Session, principal: Principal, delivery_id: int) -> WebhookDelivery | None:
    """A delivery of a subscription the principal sees (the scope is the subscription's brand)."""
    stmt = scoped(sa.select(WebhookDelivery).join(WebhookSubscription), WebhookSubscription.brand_id,
                  principal)
    return db.scalar(stmt.where(WebhookDelivery.id == delivery_id))


def delivery_to_send(db: Session, delivery_id: int) -> tuple[WebhookDelivery, WebhookSubscription] | None:
    row = db.execute(sa.select(WebhookDelivery, WebhookSubscription).join(WebhookSubscription)
                     .where(WebhookDelivery.id == delivery_id)).first()
    return (row[0], row[1]) if row is not None else None


def set_delivery(db: Session, delivery_id: int, values: dict[str, Any]) -> None:
    db.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))


def record_attempt(db: Session, delivery_id: int, attempt: WebhookAttempt, values: dict[str, Any]) -> None:
    """The attempt's log row, and the delivery's state after it; its attempt count goes up in the statement."""
    db.add(attempt)
    db.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
               .values(attempts=WebhookDelivery.attempts + 1, **values))


def succeeded(db: Session, subscription_id: int) -> None:
    """A delivery went through: the failures in a row start again from nothing."""
    db.execute(sa.update(WebhookSubscription)
               .where(WebhookSubscription.id == subscription_id, WebhookSubscription.consecutive_failures != 0)
               .values(consecutive_failures=0))


def failed_for_good(db: Session, subscription_id: int) -> int:
    """One more delivery failed for good: counted in one statement (deliveries of a subscription finish side by
    side). Returns the count after it."""
    db.execute(sa.update(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
               .values(consecutive_failures=WebhookSubscription.consecutive_failures + 1))
    return int(db.scalar(sa.select(WebhookSubscription.consecutive_failures)
                         .where(WebhookSubscription.id == subscription_id)) or 0)


def disable(db: Session, subscription_id: int, reason: str, now: dt.datetime) -> bool:
    """Disable the subscription unless it is already (compare-and-set: the first reason stays)."""
    moved = db.execute(
        sa.update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id, WebhookSubscription.is_active.is_(True))
        .values(is_active=False, disabled_at=now, disabled_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False))
    return cast("sa.CursorResult[Any]", moved).rowcount == 1
