from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tierdesk.brands.models import Brand
from tierdesk.db import Base, BigId, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import AgentRole, PresenceStatus, TokenScope, WorkKind

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
    presence: Mapped[PresenceStatus] = mapped_column(
        str_enum(PresenceStatus, "presence_status"), default=PresenceStatus.OFFLINE
    )
    presence_since: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Since when the agent has waited for work: their last assignment or becoming available, whichever is later.
    idle_since: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where calls reach the agent (channels/voice): "sip:alice@pbx.example.com", "client:alice" or "+15551234567".
    voice_device: Mapped[str | None] = mapped_column(sa.String(320))
    # Signing in to the web UI (agents/sessions.py): failures in a row, and the lock-out they earned, doubled on
    # each lock-out in a row (strikes) up to an hour.
    failed_sign_ins: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    sign_in_strikes: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

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


class AgentCapacity(Base):
    """How many tickets of a kind of work an agent takes at once (the defaults apply where none is set)."""

    __tablename__ = "agent_capacities"
    __table_args__ = (sa.CheckConstraint("max_active BETWEEN 0 AND 1000", name="max_active_range"),)

    agent_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    work_kind: Mapped[WorkKind] = mapped_column(str_enum(WorkKind, "work_kind"), primary_key=True)
    max_active: Mapped[int] = mapped_column(sa.SmallInteger)


class PresenceChange(Base):
    """The history of an agent's presence: one row per change, with who made it."""

    __tablename__ = "presence_changes"
    __table_args__ = (sa.Index("ix_presence_changes_agent_id_id", "agent_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="CASCADE"))
    before: Mapped[PresenceStatus] = mapped_column(str_enum(PresenceStatus, "presence_before"))
    after: Mapped[PresenceStatus] = mapped_column(str_enum(PresenceStatus, "presence_after"))
    changed_by_agent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


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


integration_brands = sa.Table(
    "integration_brands",
    Base.metadata,
    sa.Column("integration_id", BigId, sa.ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("brand_id", BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True),
)


class Integration(Base):
    """A channel gateway (an email bridge, a chat or telephony platform) that posts contacts with a token of its own,
    so the audit trail names it rather than an agent. One token each, shown once; only a keyed digest is stored."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    scope: Mapped[TokenScope] = mapped_column(str_enum(TokenScope, "token_scope"), default=TokenScope.INTAKE)
    prefix: Mapped[str] = mapped_column(sa.String(16))  # first characters of the token, to tell them apart
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    brands: Mapped[list[Brand]] = relationship(secondary=integration_brands, lazy="raise", order_by=Brand.slug)


class AgentSession(Base):
    """A signed-in browser: the cookie holds a random token, the table only its keyed digest. Ends at sign-out, when
    it expires, or when the agent's password changes or the agent is deactivated."""

    __tablename__ = "agent_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))


class PasswordReset(Base):
    """A password reset asked for by email. The link's token is derived from `nonce` with the secret key (so neither
    this table nor the outbox row that mails it holds the token); used once, then dead."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
