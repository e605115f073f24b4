"""Webhooks out: a brand's subscriptions to ticket events, each delivery made for one, and every attempt at it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tierdesk.db import Base, BigId, JsonData, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import WebhookDeliveryStatus, WebhookEvent
from tierdesk.tickets.models import Ticket


class WebhookSubscription(Base):
    """A receiver (URL) that hears of a brand's ticket events of the types it chose, optionally only of some queues
    and departments. Each delivery is signed with its secret. Disabled by hand, by a 410 answer, or after
    TIERDESK_WEBHOOK_DISABLE_AFTER_FAILURES deliveries in a row failed for good, with the reason kept."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        # The capture's look on every ticket event's transaction: the active subscriptions of one brand.
        sa.Index("ix_webhook_subscriptions_active_brand", "brand_id",
                 postgresql_where=sa.text("is_active"), sqlite_where=sa.text("is_active")),
        # At most one subscription comes from TIERDESK_NOTIFICATION_WEBHOOK_URL.
        sa.Index("uq_webhook_subscriptions_from_settings", "from_settings", unique=True,
                 postgresql_where=sa.text("from_settings"), sqlite_where=sa.text("from_settings")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # None: every brand (only the subscription from the settings, which is no brand's).
    brand_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(200))
    url: Mapped[str] = mapped_column(sa.String(2000))
    # The signing secret, encrypted with the deployment's secret key (kit.sealed); None: deliveries go unsigned
    # (only the settings' subscription when TIERDESK_NOTIFICATION_WEBHOOK_SECRET is unset).
    secret_sealed: Mapped[str | None] = mapped_column(sa.Text)
    events: Mapped[list[str]] = mapped_column(JsonData)  # WebhookEvent values
    queue_ids: Mapped[list[int]] = mapped_column(JsonData)  # only tickets in these queues; empty: any queue
    departments: Mapped[list[str]] = mapped_column(JsonData)  # only tickets of these departments; empty: any
    from_settings: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(sa.Text)
    # Deliveries in a row that failed for good (reset by any delivered one).
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event sent to one subscription: written with the change that caused it (and its outbox row), posted by
    the worker, retried with backoff. Its id goes with every attempt, so a receiver can drop a duplicate."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),
        sa.Index("ix_webhook_deliveries_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    brand_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"))
    event: Mapped[WebhookEvent] = mapped_column(str_enum(WebhookEvent, "webhook_event"))
    ticket_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="SET NULL"))
    # What happened, as captured in the transaction (the body sent wraps it: webhooks.signing.body_of).
    payload: Mapped[dict[str, Any]] = mapped_column(JsonData)
    status: Mapped[WebhookDeliveryStatus] = mapped_column(
        str_enum(WebhookDeliveryStatus, "webhook_status"), default=WebhookDeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_response_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    # For writing: a delivery captured with a new ticket gets the ticket's id in the same flush. Never loaded.
    ticket: Mapped[Ticket | None] = relationship(lazy="raise")


class WebhookAttempt(Base):
    """One POST of a delivery: the log a person reads when a receiver misbehaves."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.Index("ix_webhook_attempts_delivery_id_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(sa.Integer)  # 1 for the first attempt of the delivery, redeliveries go on
    status: Mapped[WebhookDeliveryStatus] = mapped_column(str_enum(WebhookDeliveryStatus, "webhook_status"))
    response_code: Mapped[int | None] = mapped_column(sa.Integer)  # None: no answer (refused, timed out)
    duration_ms: Mapped[int] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
