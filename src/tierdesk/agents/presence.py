"""Agents' presence (available, busy, away, offline, with history) and their capacity per kind of work."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tierdesk.agents import repository
from tierdesk.agents.models import Agent, AgentCapacity, PresenceChange
from tierdesk.audit import service as audit
from tierdesk.db import wake_workers
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import Forbidden
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import AgentRole, PresenceStatus, WorkKind


def _may_manage(principal: Principal, agent: Agent) -> None:
    """Agents set their own presence; a lead sets that of the agents (role agent) in their brands, never an admin's
    or another lead's; an admin sets anyone's."""
    if principal.agent_id == agent.id or principal.is_admin:
        return
    if (principal.role is AgentRole.LEAD and agent.role is AgentRole.AGENT
            and any(principal.sees_brand(b.id) for b in agent.brands)):
        return
    raise Forbidden("only the agent, their team lead or an admin may change this", field="agent_id")


def set_presence(
    db: Session, principal: Principal, agent_id: int, status: PresenceStatus, reason: str | None = None
) -> Agent:
    agent = repository.get_visible(db, principal, agent_id, for_update=True)
    _may_manage(principal, agent)
    if agent.presence is status:
        return agent
    now = utcnow()
    db.add(PresenceChange(agent_id=agent.id, before=agent.presence, after=status, reason=reason,
                          changed_by_agent_id=principal.agent_id, created_at=now))
    agent.presence, agent.presence_since = status, now
    if status is PresenceStatus.AVAILABLE:
        agent.idle_since = now  # waiting for work from now: longest-idle routing counts from here
        wake_workers(db)
    db.flush()
    return agent


def history(db: Session, principal: Principal, agent_id: int, limit: int = 100) -> list[PresenceChange]:
    agent = repository.get_visible(db, principal, agent_id)
    return repository.presence_history(db, agent.id, limit)


def set_capacity(db: Session, principal: Principal, agent_id: int, capacity: dict[WorkKind, int]) -> Agent:
    """Set the agent's capacity for the kinds given (the others keep theirs); admins and leads only."""
    principal.require_role(AgentRole.ADMIN, AgentRole.LEAD)
    agent = repository.get_visible(db, principal, agent_id, for_update=True)
    _may_manage(principal, agent)
    existing = {c.work_kind: c for c in repository.capacities(db, agent.id)}
    before = {kind.value: existing[kind].max_active if kind in existing else None for kind in capacity}
    for kind, max_active in capacity.items():
        if kind in existing:
            existing[kind].max_active = max_active
        else:
            db.add(AgentCapacity(agent_id=agent.id, work_kind=kind, max_active=max_active))
    db.flush()
    audit.record(db, Actor.of(principal), "agent", agent.id, "capacity_set", before=before,
                 after={kind.value: max_active for kind, max_active in capacity.items()})
    return agent
