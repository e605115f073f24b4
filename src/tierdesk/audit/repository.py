from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.audit.models import AuditEntry
from tierdesk.kit.actors import Principal
from tierdesk.kit.scope import scoped


def entries(db: Session, principal: Principal, *, entity: str | None = None, entity_id: str | None = None,
            actor_agent_id: int | None = None, before_id: int | None = None, limit: int = 50) -> list[AuditEntry]:
    """Newest first. A lead sees the entries of their brands; entries of no brand (agents, tokens) only admins."""
    stmt = scoped(sa.select(AuditEntry), AuditEntry.brand_id, principal)
    if entity is not None:
        stmt = stmt.where(AuditEntry.entity == entity)
    if entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if actor_agent_id is not None:
        stmt = stmt.where(AuditEntry.actor_agent_id == actor_agent_id)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list(db.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit + 1)))
