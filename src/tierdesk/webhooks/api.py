"""Webhooks out: /api/v1/webhooks (admins, and leads in their brands)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from tierdesk.deps import CurrentPrincipal, Db
from tierdesk.kit.input import PathId
from tierdesk.kit.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page_of
from tierdesk.kit.vocabulary import WebhookDeliveryStatus
from tierdesk.webhooks import service
from tierdesk.webhooks.schemas import (
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionUpdate,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])



@router.post("", response_model=SubscriptionCreated, status_code=status.HTTP_201_CREATED)
def create_subscription(data: SubscriptionCreate, request: Request, db: Db,
                        principal: CurrentPrincipal) -> dict[str, Any]:
    """Subscribe a URL to a brand's ticket events. The signing secret is in the answer this once."""
    subscription, secret = service.create(db, principal, data, request.app.state.secret_key)
    return service.subscription_out(subscription, secret=secret)


@router.get("", response_model=list[SubscriptionOut])
def list_subscriptions(db: Db, principal: CurrentPrincipal, brand: str | None = None) -> list[dict[str, Any]]:
    return [service.subscription_out(s) for s in service.list_subscriptions(db, principal, brand)]


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut)
def get_delivery(delivery_id: PathId, db: Db, principal: CurrentPrincipal) -> DeliveryOut:
    return service.show_delivery(db, principal, delivery_id)


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut,
             status_code=status.HTTP_202_ACCEPTED)
def redeliver(delivery_id: PathId, db: Db, principal: CurrentPrincipal) -> DeliveryOut:
    """Send the delivery again (same body and id, a new signature), through the outbox."""
    return service.redeliver(db, principal, delivery_id)


@router.get("/{subscription_id}", response_model=SubscriptionOut)
def get_subscription(subscription_id: PathId, db: Db, principal: CurrentPrincipal) -> dict[str, Any]:
    return service.subscription_out(service.get(db, principal, subscription_id))


@router.patch("/{subscription_id}", response_model=SubscriptionOut)
def update_subscription(subscription_id: PathId, data: SubscriptionUpdate, db: Db,
                        principal: CurrentPrincipal) -> dict[str, Any]:
    return service.subscription_out(service.update(db, principal, subscription_id, data))


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_subscription(subscription_id: PathId, db: Db, principal: CurrentPrincipal) -> Response:
    service.delete(db, principal, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{subscription_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(subscription_id: PathId, db: Db, principal: CurrentPrincipal,
                    delivery_status: Annotated[WebhookDeliveryStatus | None, Query(alias="status")] = None,
                    cursor: str | None = None, limit: Limit = DEFAULT_LIMIT) -> Page[DeliveryOut]:
    """The subscription's deliveries, newest first, each with its attempts (status, response code, duration)."""
    position = decode_cursor(cursor, keys=("id",))
    rows = service.deliveries(db, principal, subscription_id, before_id=position["id"] if position else None,
                              limit=limit, status=delivery_status)
    items, next_cursor = page_of(rows, limit, lambda d: {"id": d.id})
    return Page(items=items, next_cursor=next_cursor)


@router.post("/{subscription_id}/ping", response_model=DeliveryOut, status_code=status.HTTP_202_ACCEPTED)
def ping(subscription_id: PathId, db: Db, principal: CurrentPrincipal) -> DeliveryOut:
    """Send a test delivery (event `ping`) through the outbox; its attempts show how the receiver answered."""
    return service.ping(db, principal, subscription_id)
