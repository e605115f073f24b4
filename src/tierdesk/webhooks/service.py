"""Webhook subscriptions (admins and leads, in their brands), their deliveries, redelivery and test pings, and the
subscription that TIERDESK_NOTIFICATION_WEBHOOK_URL stands for."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from sqlalchemy.orm import Session

from tierdesk.audit import service as audit
from tierdesk.brands.service import resolve_brand
from tierdesk.jobs import outbox
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import Conflict, InvalidInput, NotFound
from tierdesk.kit.input import patch_values
from tierdesk.kit.sealed import SealBroken, seal, unseal
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import AgentRole, OutboxTopic, WebhookDeliveryStatus, WebhookEvent
from tierdesk.queues import repository as queues
from tierdesk.webhooks import capture, repository
from tierdesk.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tierdesk.webhooks.schemas import AttemptOut, DeliveryOut, SubscriptionCreate, SubscriptionUpdate
from tierdesk.webhooks.signing import body_of

log = logging.getLogger("tierdesk.webhooks")

SECRET_PURPOSE = "webhook secret"  # what the signing secrets are sealed as (kit.sealed)
SETTINGS_NAME = "TIERDESK_NOTIFICATION_WEBHOOK_URL"
SETTINGS_EVENTS = [WebhookEvent.SLA_WARNING.value, WebhookEvent.SLA_BREACH.value]
_UNSET_REASON = "TIERDESK_NOTIFICATION_WEBHOOK_URL is no longer set"


AUDITED = ("name", "url", "events", "queue_ids", "departments", "is_active", "disabled_reason")


def audited(subscription: WebhookSubscription) -> dict[str, Any]:
    """What the audit keeps of a subscription: never its secret, only that one was set."""
    return {**audit.snapshot(subscription, AUDITED), "secret": audit.SECRET if subscription.secret_sealed else None}


def _manager(principal: Principal) -> None:
    principal.require_role(AgentRole.LEAD)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _queue_ids(db: Session, brand_id: int, refs: list[str]) -> list[int]:
    ids = []
    for ref in refs:
        queue = queues.in_brand(db, brand_id, ref)
        if queue is None:
            raise InvalidInput(f"no queue {ref!r} in this subscription's brand", field="queues")
        ids.append(queue.id)
    return sorted(set(ids))


def create(db: Session, principal: Principal, data: SubscriptionCreate, secret_key: str) -> tuple[
        WebhookSubscription, str]:
    """A new subscription and its signing secret (returned this once; stored sealed)."""
    _manager(principal)
    brand = resolve_brand(db, principal, data.brand)
    secret = data.secret or new_secret()
    now = utcnow()
    subscription = WebhookSubscription(
        brand_id=brand.id, name=data.name or data.url, url=data.url,
        secret_sealed=seal(secret_key, SECRET_PURPOSE, secret),
        events=[e.value for e in data.events], queue_ids=_queue_ids(db, brand.id, data.queues),
        departments=sorted({d.value for d in data.departments}), from_settings=False, is_active=True,
        consecutive_failures=0, created_at=now, updated_at=now,
    )
    db.add(subscription)
    db.flush()
    audit.record(db, Actor.of(principal), "webhook_subscription", subscription.id, "created",
                 after=audited(subscription), brand_id=brand.id)
    return subscription, secret


def list_subscriptions(db: Session, principal: Principal, brand: str | None = None) -> list[WebhookSubscription]:
    _manager(principal)
    brand_id = resolve_brand(db, principal, brand).id if brand is not None else None
    return repository.subscriptions_visible(db, principal, brand_id)


def get(db: Session, principal: Principal, subscription_id: int) -> WebhookSubscription:
    _manager(principal)
    found = repository.subscription_visible(db, principal, subscription_id)
    if found is None:
        raise NotFound(f"webhook subscription {subscription_id} not found")
    return found


def update(db: Session, principal: Principal, subscription_id: int, data: SubscriptionUpdate) -> WebhookSubscription:
    subscription = get(db, principal, subscription_id)
    before = audited(subscription)
    changes = patch_values(data)
    if subscription.from_settings and changes.keys() & {"url", "events", "queues", "departments"}:
        raise Conflict("this subscription follows TIERDESK_NOTIFICATION_WEBHOOK_URL: change the setting instead",
                       field=next(iter(changes)))
    for field, value in changes.items():
        if field == "events":
            subscription.events = [e.value for e in value]
        elif field == "queues":
            assert subscription.brand_id is not None  # only the settings' subscription has none
            subscription.queue_ids = _queue_ids(db, subscription.brand_id, value)
        elif field == "departments":
            subscription.departments = sorted({d.value for d in value})
        elif field == "is_active":
            if value:
                enable(subscription)
            else:
                disable(subscription, "disabled by hand")
        else:
            setattr(subscription, field, value)
    subscription.updated_at = utcnow()
    db.flush()
    audit.record(db, Actor.of(principal), "webhook_subscription", subscription.id, "updated", before=before,
                 after=audited(subscription), brand_id=subscription.brand_id)
    return subscription


def enable(subscription: WebhookSubscription) -> None:
    if not subscription.is_active:
        subscription.is_active = True
        subscription.disabled_at = subscription.disabled_reason = None
        subscription.consecutive_failures = 0
        subscription.updated_at = utcnow()


def disable(subscription: WebhookSubscription, reason: str) -> None:
    if subscription.is_active:
        subscription.is_active = False
        subscription.disabled_at = subscription.updated_at = utcnow()
        subscription.disabled_reason = reason


def delete(db: Session, principal: Principal, subscription_id: int) -> None:
    """The subscription and its delivery log go; deliveries still in the outbox are dropped when their turn comes."""
    subscription = get(db, principal, subscription_id)
    if subscription.from_settings:
        raise Conflict("this subscription follows TIERDESK_NOTIFICATION_WEBHOOK_URL: unset the setting (or "
                       "disable the subscription)")
    audit.record(db, Actor.of(principal), "webhook_subscription", subscription.id, "deleted",
                 before=audited(subscription), brand_id=subscription.brand_id)
    repository.delete_subscription(db, subscription.id)


# -- deliveries ---------------------------------------------------------------------------------------------------
def delivery_out(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id, subscription_id=delivery.subscription_id, event=delivery.event, ticket_id=delivery.ticket_id,
        status=delivery.status, attempts=delivery.attempts, last_response_code=delivery.last_response_code,
        last_error=delivery.last_error, created_at=delivery.created_at, last_attempt_at=delivery.last_attempt_at,
        delivered_at=delivery.delivered_at, failed_at=delivery.failed_at, body=json.loads(body_of(delivery)),
        attempt_log=[AttemptOut.model_validate(a) for a in attempts],
    )


def deliveries(db: Session, principal: Principal, subscription_id: int, *, before_id: int | None, limit: int,
               status: WebhookDeliveryStatus | None = None) -> list[DeliveryOut]:
    """Newest first, each with its attempts (limit + 1 rows: the caller pages)."""
    subscription = get(db, principal, subscription_id)
    rows = repository.deliveries_of(db, subscription.id, before_id=before_id, limit=limit, status=status)
    attempts = repository.attempts_of(db, [d.id for d in rows])
    return [delivery_out(d, attempts[d.id]) for d in rows]


def get_delivery(db: Session, principal: Principal, delivery_id: int) -> WebhookDelivery:
    _manager(principal)
    delivery = repository.delivery_visible(db, principal, delivery_id)
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    return delivery


def show_delivery(db: Session, principal: Principal, delivery_id: int) -> DeliveryOut:
    delivery = get_delivery(db, principal, delivery_id)
    return delivery_out(delivery, repository.attempts_of(db, [delivery.id])[delivery.id])


def redeliver(db: Session, principal: Principal, delivery_id: int) -> DeliveryOut:
    """Send a delivery again, with the same body and id (a receiver that kept it recognises it); its attempts go on
    counting from where they were."""
    delivery = get_delivery(db, principal, delivery_id)
    subscription = db.get_one(WebhookSubscription, delivery.subscription_id)
    if not subscription.is_active:
        raise Conflict(f"subscription {subscription.id} is disabled ({subscription.disabled_reason}): enable it "
                       "first", field="delivery_id")
    delivery.status = WebhookDeliveryStatus.PENDING
    delivery.failed_at = None
    outbox.enqueue(db, OutboxTopic.WEBHOOK_DELIVER, {"delivery_id": delivery.id})
    db.flush()
    return delivery_out(delivery, repository.attempts_of(db, [delivery.id])[delivery.id])


def ping(db: Session, principal: Principal, subscription_id: int) -> DeliveryOut:
    """A test delivery, through the outbox like every other: see it arrive, or its attempts say why not."""
    subscription = get(db, principal, subscription_id)
    if not subscription.is_active:
        raise Conflict(f"subscription {subscription.id} is disabled ({subscription.disabled_reason}): enable it "
                       "first")
    now = utcnow()
    delivery = WebhookDelivery(subscription_id=subscription.id, brand_id=subscription.brand_id,
                               event=WebhookEvent.PING, ticket_id=None, attempts=0, created_at=now,
                               status=WebhookDeliveryStatus.PENDING,
                               payload={"brand_id": subscription.brand_id, "subscription_id": subscription.id,
                                        "message": "a test delivery from tierdesk"})
    capture.add(db, delivery)
    db.flush()
    return delivery_out(delivery, [])


# -- the settings' subscription -----------------------------------------------------------------------------------
def keep_settings_subscription(db: Session, url: str | None, secret: str | None, secret_key: str) -> \
        WebhookSubscription | None:
    """TIERDESK_NOTIFICATION_WEBHOOK_URL (and _SECRET) as a subscription of every brand to SLA warnings and
    breaches, so they are delivered, logged and retried like every other webhook. Run when a worker starts:
    created when the setting appears, changed with it, disabled when it is unset (deliveries already made stay)."""
    row = repository.from_settings(db)
    if url is None:
        if row is not None and row.is_active:
            disable(row, _UNSET_REASON)
        return row
    url = url.strip()
    if row is None:
        now = utcnow()
        row = WebhookSubscription(
            brand_id=None, name=SETTINGS_NAME, url=url, from_settings=True, is_active=True, events=SETTINGS_EVENTS,
            queue_ids=[], departments=[], consecutive_failures=0, created_at=now, updated_at=now,
            secret_sealed=seal(secret_key, SECRET_PURPOSE, secret) if secret else None)
        db.add(row)
        db.flush()
        return row
    if row.url != url or _sealed_differs(row.secret_sealed, secret, secret_key):
        row.url = url
        row.secret_sealed = seal(secret_key, SECRET_PURPOSE, secret) if secret else None
        row.updated_at = utcnow()
        enable(row)  # a new receiver (or secret) gets its chance
    elif not row.is_active and row.disabled_reason == _UNSET_REASON:
        enable(row)
    db.flush()
    return row


def _sealed_differs(sealed: str | None, secret: str | None, secret_key: str) -> bool:
    if sealed is None or secret is None:
        return (sealed is None) != (secret is None)
    try:
        return unseal(secret_key, SECRET_PURPOSE, sealed) != secret
    except SealBroken:
        return True


def signed(subscription: WebhookSubscription) -> bool:
    return subscription.secret_sealed is not None


def subscription_out(subscription: WebhookSubscription, **extra: Any) -> dict[str, Any]:
    fields = {name: getattr(subscription, name) for name in (
        "id", "brand_id", "name", "url", "events", "queue_ids", "departments", "from_settings", "is_active",
        "disabled_at", "disabled_reason", "consecutive_failures", "created_at")}
    return {**fields, "signed": signed(subscription), **extra}
