from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tierdesk.kit.input import Input
from tierdesk.kit.vocabulary import Department, WebhookDeliveryStatus, WebhookEvent

SUBSCRIBABLE = [e for e in WebhookEvent if e is not WebhookEvent.PING]


def check_url(url: str) -> str:
    """A receiver's address: absolute http or https with a host (nothing else can be POSTed to)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is no number)
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host, e.g. https://hooks.example.com/tierdesk")
    if any(c.isspace() for c in url):
        raise ValueError("must not contain spaces")
    return url


class _Filters(Input):
    @field_validator("url", check_fields=False)
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return check_url(v) if v is not None else None

    @field_validator("events", check_fields=False)
    @classmethod
    def _events(cls, v: list[WebhookEvent] | None) -> list[WebhookEvent] | None:
        if v is None:
            return None
        if not v:
            raise ValueError("name at least one event")
        if WebhookEvent.PING in v:
            raise ValueError("ping is sent by hand (POST .../ping), not subscribed to")
        return [e for e in SUBSCRIBABLE if e in v]


class SubscriptionCreate(_Filters):
    brand: str = Field(max_length=64, description="brand slug or id")
    url: str = Field(max_length=2000, description="where deliveries are POSTed (http or https)")
    name: str | None = Field(default=None, max_length=200)
    events: list[WebhookEvent] = Field(description="the events to receive")
    queues: list[str] = Field(default_factory=list, max_length=100,
                              description="only tickets in these queues (slugs or ids); empty: any queue")
    departments: list[Department] = Field(default_factory=list, description="only tickets of these; empty: any")
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="the signing secret; left out, one is generated and shown once")


class SubscriptionUpdate(_Filters):
    """Fields to change; those left out stay. `is_active: true` enables a disabled subscription again (its failure
    count starts over)."""

    url: str | None = Field(default=None, max_length=2000)
    name: str | None = Field(default=None, max_length=200)
    events: list[WebhookEvent] | None = None
    queues: list[str] | None = Field(default=None, max_length=100)
    departments: list[Department] | None = None
    is_active: bool | None = None


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int | None = Field(description="null: the subscription from TIERDESK_NOTIFICATION_WEBHOOK_URL, "
                                             "which hears of every brand")
    name: str
    url: str
    events: list[str]
    queue_ids: list[int]
    departments: list[str]
    from_settings: bool
    is_active: bool
    disabled_at: dt.datetime | None
    disabled_reason: str | None
    consecutive_failures: int
    signed: bool = Field(description="whether deliveries carry a signature (they do unless from the settings "
                                     "without TIERDESK_NOTIFICATION_WEBHOOK_SECRET)")
    created_at: dt.datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="the signing secret: shown this once, stored encrypted")


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    status: WebhookDeliveryStatus
    response_code: int | None
    duration_ms: int
    error: str | None
    attempted_at: dt.datetime


class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    event: WebhookEvent
    ticket_id: int | None
    status: WebhookDeliveryStatus
    attempts: int
    last_response_code: int | None
    last_error: str | None
    created_at: dt.datetime
    last_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    failed_at: dt.datetime | None
    body: dict[str, Any] = Field(description="the JSON that is posted (the same on every attempt)")
    attempt_log: list[AttemptOut]

