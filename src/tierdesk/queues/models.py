from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tierdesk.db import Base, BigId, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import Department, QueueKind, RoutingPolicy


class Queue(Base):
    __tablename__ = "queues"
    __table_args__ = (
        sa.UniqueConstraint("brand_id", "slug"),
        sa.CheckConstraint("tier BETWEEN 0 AND 3", name="tier_range"),
        sa.CheckConstraint("kind = 'triage' OR department IS NOT NULL", name="department_set"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    slug: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[QueueKind] = mapped_column(str_enum(QueueKind, "queue_kind"), default=QueueKind.STANDARD)
    department: Mapped[Department | None] = mapped_column(str_enum(Department, "department"))
    tier: Mapped[int] = mapped_column(sa.SmallInteger, default=1)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    routing_policy: Mapped[RoutingPolicy] = mapped_column(
        str_enum(RoutingPolicy, "routing_policy"), default=RoutingPolicy.LONGEST_IDLE
    )
    # Round-robin's place: the id of the agent who had the last turn.
    round_robin_last_agent_id: Mapped[int | None] = mapped_column(BigId)
    # Tickets that wait longer than this for an agent move to the overflow queue.
    overflow_queue_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("queues.id", ondelete="SET NULL"))
    overflow_after_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    required_skills: Mapped[list[QueueSkill]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="QueueSkill.skill"
    )


class QueueSkill(Base):
    """A skill a queue requires of its agents, with the minimum level (1-5)."""

    __tablename__ = "queue_skills"
    __table_args__ = (sa.CheckConstraint("min_level BETWEEN 1 AND 5", name="min_level_range"),)

    queue_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    skill: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    min_level: Mapped[int] = mapped_column(sa.SmallInteger, default=1)
