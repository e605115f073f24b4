from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tierdesk.brands.models import Brand
from tierdesk.db import Base, BigId, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow


class AgentRole(StrEnum):
    ADMIN = "admin"  # manages agents, queues, brands; sees every brand
    LEAD = "lead"  # team lead: works tickets, merges customers, in the brands assigned
    AGENT = "agent"  # works tickets in the brands assigned


agent_brands = sa.Table(
    "agent_brands",
    Base.metadata,
    sa.Column("agent_id", BigId, sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("brand_id", BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True),
)


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (sa.CheckConstraint("tier BETWEEN 0 AND 3", name="tier_range"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[AgentRole] = mapped_column(str_enum(AgentRole, "agent_role"), default=AgentRole.AGENT)
    tier: Mapped[int] = mapped_column(sa.SmallInteger, default=1)
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))  # argon2id
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    skills: Mapped[list[AgentSkill]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="AgentSkill.skill"
    )
    brands: Mapped[list[Brand]] = relationship(secondary=agent_brands, lazy="raise", order_by=Brand.slug)


class AgentSkill(Base):
    """A skill an agent has, at a level from 1 (basic) to 5 (expert); queues require minimum levels."""

    __tablename__ = "agent_skills"
    __table_args__ = (sa.CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),)

    agent_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    skill: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    level: Mapped[int] = mapped_column(sa.SmallInteger, default=3)


class ApiToken(Base):
    """A bearer token. Only a keyed digest is stored; the token itself is shown once, when created."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    prefix: Mapped[str] = mapped_column(sa.String(16))  # first characters, to tell tokens apart in listings
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
