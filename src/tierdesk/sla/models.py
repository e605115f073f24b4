"""SLA policies, the business calendars they count in, and each ticket's SLA clocks."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tierdesk.db import Base, BigId, JsonData, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import Department, Priority, SlaMetric


class BusinessCalendar(Base):
    """Opening hours in a time zone, with holidays (kit.business_hours does the arithmetic)."""

    __tablename__ = "business_calendars"
    __table_args__ = (sa.UniqueConstraint("brand_id", "slug"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    slug: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64))
    weekly_hours: Mapped[dict[str, list[str]]] = mapped_column(JsonData)  # {"mon": ["09:00-17:00"], ...}
    holidays: Mapped[list[str]] = mapped_column(JsonData)  # ["2026-12-25", ...]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlaPolicy(Base):
    """Targets for a brand's tickets of a department and priority (None matches any); the most specific applies."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        sa.UniqueConstraint("brand_id", "slug"),
        sa.CheckConstraint("warn_before_minutes >= 0", name="warn_before_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    slug: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    department: Mapped[Department | None] = mapped_column(str_enum(Department, "department"))
    priority: Mapped[Priority | None] = mapped_column(str_enum(Priority, "priority"))
    calendar_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("business_calendars.id"))  # None: 24x7
    # Targets in business minutes; None: the policy does not track that metric.
    first_response_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    warn_before_minutes: Mapped[int] = mapped_column(sa.Integer, default=15)
    escalate_on_breach: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlaClock(Base):
    """One run of one metric on one ticket. Business time is counted in segments: `elapsed_seconds` holds what
    earlier segments used, `running_since` starts the current one (None while paused), and `due_at`/`warn_at` are
    the wall-clock instants the worker watches (None while paused or stopped)."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        sa.Index("ix_sla_clocks_ticket_id_id", "ticket_id", "id"),
        # The worker's two worklists: clocks whose breach or warning is still to be detected.
        sa.Index(
            "ix_sla_clocks_due_unbreached",
            "due_at",
            postgresql_where=sa.text("breached_at IS NULL AND due_at IS NOT NULL"),
            sqlite_where=sa.text("breached_at IS NULL AND due_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_sla_clocks_warn_unwarned",
            "warn_at",
            postgresql_where=sa.text("warned_at IS NULL AND warn_at IS NOT NULL"),
            sqlite_where=sa.text("warned_at IS NULL AND warn_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    policy_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("sla_policies.id", ondelete="CASCADE"))
    metric: Mapped[SlaMetric] = mapped_column(str_enum(SlaMetric, "sla_metric"))
    target_seconds: Mapped[int] = mapped_column(sa.Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    elapsed_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    running_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    warn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    warned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # met (or breached and then done)

    # For writing: a clock is inserted with its new ticket in one flush. Never loaded implicitly.
    # For writing only (a new clock with its new ticket); by name, as the tickets domain sits above this one.
    ticket = relationship("Ticket", lazy="raise")
