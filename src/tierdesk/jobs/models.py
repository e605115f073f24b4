"""The outbox: side effects that leave the process, written with the change that caused them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tierdesk.db import Base, BigId, JsonData, UTCDateTime
from tierdesk.kit.time import utcnow


class OutboxMessage(Base):
    """A side effect that leaves the process (a webhook notification), written in the transaction that caused it
    and delivered by the worker after commit, with retries."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index(
            "ix_outbox_next_attempt_at",
            "next_attempt_at",
            postgresql_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
            sqlite_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    topic: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonData)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # gave up after the last retry
