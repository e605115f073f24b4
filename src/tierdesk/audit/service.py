"""Writing the audit of configuration changes (see the package's docstring)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from tierdesk.audit.models import AuditEntry
from tierdesk.kit.actors import Actor

SECRET = "(changed)"  # what the audit shows of a secret that changed


def plain(value: Any) -> Any:
    """A value as JSON keeps it: enums by value, times in ISO 8601, lists and dicts walked."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def snapshot(record: object, fields: Iterable[str]) -> dict[str, Any]:
    """These fields of a record, as the audit keeps them."""
    return {f: plain(getattr(record, f)) for f in fields}


def record(db: Session, actor: Actor, entity: str, entity_id: object, action: str, *,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           brand_id: int | None = None) -> AuditEntry | None:
    """One entry, in the caller's transaction. An update that changed nothing is not written; for updates only the
    fields that differ are kept."""
    if before is not None and after is not None:
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        if not changed:
            return None
        before = {k: v for k, v in before.items() if k in changed}
        after = {k: v for k, v in after.items() if k in changed}
    entry = AuditEntry(actor_kind=actor.kind, actor_agent_id=actor.agent_id,
                       actor_integration_id=actor.integration_id, brand_id=brand_id, entity=entity,
                       entity_id=str(entity_id), action=action, before=plain(before), after=plain(after))
    db.add(entry)
    return entry
