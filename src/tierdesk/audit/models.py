from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tierdesk.db import Base, BigId, JsonData, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import ActorKind


class AuditEntry(Base):
    """One change of configuration: who, when, what (entity and its id), and the fields before and after (secrets
    are never written here: only that they changed)."""

    __tablename__ = "audit_entries"
    __table_args__ = (sa.Index("ix_audit_entries_entity", "entity", "entity_id", "id"),
                      # the admin's audit page, filtered by who made the changes
                      sa.Index("ix_audit_entries_actor_agent_id_id", "actor_agent_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_kind: Mapped[ActorKind] = mapped_column(str_enum(ActorKind, "audit_actor_kind"))
    actor_agent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="SET NULL"))
    actor_integration_id: Mapped[int | None] = mapped_column(
        BigId, sa.ForeignKey("integrations.id", ondelete="SET NULL"))
    brand_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="SET NULL"), index=True)
    entity: Mapped[str] = mapped_column(sa.String(40))  # "brand", "agent", "queue", "sla_policy", ...
    entity_id: Mapped[str] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(40))  # "created", "updated", "deleted", "revoked", ...
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonData)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonData)
