"""The phone channel's tables: each brand's voice settings and IVR menu, and one record per call with its figures
(wait, talk, hold, after-call work, handle time) for the ticket, the customer's timeline and analytics."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tierdesk.db import Base, BigId, JsonData, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import CallOutcome, CallStatus


class VoiceSettings(Base):
    """A brand's phone settings. Without a row (or without an auth token) the brand's voice webhooks refuse every
    request: a signature cannot be checked without the token."""

    __tablename__ = "voice_settings"

    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    # The provider account's auth token, which signs its webhook requests (Fernet, kit.sealed: tierdesk needs it
    # in clear to compute the signature).
    auth_token_sealed: Mapped[str | None] = mapped_column(sa.Text)
    hold_music_url: Mapped[str | None] = mapped_column(sa.String(1000))  # a short clip; None: silence
    # How often the provider asks tierdesk again while a caller waits (the length of one hold turn).
    wait_poll_seconds: Mapped[int] = mapped_column(sa.Integer, default=15)
    offer_callback: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    callback_digit: Mapped[str] = mapped_column(sa.String(1), default="1")
    # After-call work: the agent is in wrap-up this long after a call unless they end it sooner.
    wrap_up_seconds: Mapped[int] = mapped_column(sa.Integer, default=60)
    record_calls: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Agents' phones ring this long before the call goes back to the queue for another agent.
    ring_seconds: Mapped[int] = mapped_column(sa.Integer, default=20)
    language: Mapped[str] = mapped_column(sa.String(16), default="en-US")  # <Say> and speech recognition
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IvrMenu(Base):
    """A brand's IVR menu, stored as the validated definition (channels/voice/menu.py)."""

    __tablename__ = "ivr_menus"

    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JsonData)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_agent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="SET NULL"))


class Call(Base):
    """One phone call, from the provider's first webhook to its end. Times are UTC; figures in whole seconds."""

    __tablename__ = "calls"
    __table_args__ = (
        sa.Index("ix_calls_brand_started", "brand_id", "started_at"),
        # The worker's after-call-work timer: only calls whose wrap-up is still running.
        sa.Index("ix_calls_wrap_up_due", "wrap_up_due_at",
                 postgresql_where=sa.text("wrap_up_due_at IS NOT NULL"),
                 sqlite_where=sa.text("wrap_up_due_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    call_sid: Mapped[str] = mapped_column(sa.String(64), unique=True)  # the provider's id of the call
    ticket_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("customers.id", ondelete="SET NULL"),
                                                    index=True)
    agent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="SET NULL"))
    from_number: Mapped[str] = mapped_column(sa.String(40))  # E.164 when it could be read, else as given
    to_number: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[CallStatus] = mapped_column(str_enum(CallStatus, "call_status"), default=CallStatus.IN_IVR)
    outcome: Mapped[CallOutcome | None] = mapped_column(str_enum(CallOutcome, "call_outcome"))
    # Where the caller is in the menu (menu.py's path of the node) and how often it was asked there.
    ivr_position: Mapped[str] = mapped_column(sa.String(500), default="")
    ivr_attempts: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    ivr_trail: Mapped[list[Any]] = mapped_column(JsonData, default=list)  # what the caller chose, step by step
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(sa.Integer)  # the provider's CallDuration
    wait_seconds: Mapped[int | None] = mapped_column(sa.Integer)  # in the queue, until answered or hung up
    talk_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    hold_seconds: Mapped[int] = mapped_column(sa.Integer, default=0)
    wrap_up_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    handle_seconds: Mapped[int | None] = mapped_column(sa.Integer)  # talk + hold + wrap-up, once wrap-up ended
    wrap_up_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # a timer: the worker ends wrap-up
    recording_sid: Mapped[str | None] = mapped_column(sa.String(64))
    recording_url: Mapped[str | None] = mapped_column(sa.String(1000))
    recording_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    transcript: Mapped[str | None] = mapped_column(sa.Text)
    callback_number: Mapped[str | None] = mapped_column(sa.String(40))

    def settle_handle_time(self) -> None:
        """Handle time = talk + hold + after-call work, once all three are known."""
        if self.talk_seconds is not None and self.wrap_up_seconds is not None:
            self.handle_seconds = self.talk_seconds + (self.hold_seconds or 0) + self.wrap_up_seconds
