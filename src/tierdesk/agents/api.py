from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from tierdesk.agents import presence, repository, service
from tierdesk.agents.schemas import (
    AgentCreate,
    AgentOut,
    AgentUpdate,
    CapacitySet,
    IntegrationCreate,
    IntegrationCreated,
    IntegrationOut,
    PresenceChangeOut,
    PresenceOut,
    PresenceSet,
)
from tierdesk.deps import AppSettings, CurrentPrincipal, Db
from tierdesk.kit.input import PathId
from tierdesk.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, page_of
from tierdesk.kit.vocabulary import WorkKind
from tierdesk.routing.router import default_capacity, workload

router = APIRouter(prefix="/agents", tags=["agents"])
integrations_router = APIRouter(prefix="/integrations", tags=["integrations"])


@router.get("", response_model=Page[AgentOut])
def list_agents(
    db: Db,
    principal: CurrentPrincipal,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
):
    position = decode_cursor(cursor, keys=("id",))
    rows = repository.list_visible(db, principal, after_id=position and position["id"], limit=limit)
    rows, next_cursor = page_of(rows, limit, lambda a: {"id": a.id})
    return Page(items=[AgentOut.of(a) for a in rows], next_cursor=next_cursor)


@router.get("/me", response_model=AgentOut)
def me(db: Db, principal: CurrentPrincipal):
    return AgentOut.of(repository.get_visible(db, principal, principal.agent_id))


@router.get("/{agent_id}", response_model=AgentOut)
def get_agent(agent_id: PathId, db: Db, principal: CurrentPrincipal):
    return AgentOut.of(repository.get_visible(db, principal, agent_id))


@router.post("", response_model=AgentOut, status_code=status.HTTP_201_CREATED)
def create_agent(data: AgentCreate, db: Db, principal: CurrentPrincipal):
    return AgentOut.of(service.create_agent(db, principal, data))


@router.patch("/{agent_id}", response_model=AgentOut)
def update_agent(agent_id: PathId, data: AgentUpdate, db: Db, principal: CurrentPrincipal):
    return AgentOut.of(service.update_agent(db, principal, agent_id, data))


def _presence(db, settings, agent) -> PresenceOut:
    defaults = default_capacity(settings)
    seen = workload(db, agent.id, defaults)
    return PresenceOut(agent_id=agent.id, status=agent.presence, since=agent.presence_since,
                       idle_since=agent.idle_since, capacity=seen.capacity if seen else defaults,
                       load=dict(seen.load) if seen else dict.fromkeys(WorkKind, 0))


@router.get("/{agent_id}/presence", response_model=PresenceOut)
def get_presence(agent_id: PathId, db: Db, principal: CurrentPrincipal, settings: AppSettings):
    return _presence(db, settings, repository.get_visible(db, principal, agent_id))


@router.put("/{agent_id}/presence", response_model=PresenceOut)
def set_presence(agent_id: PathId, data: PresenceSet, db: Db, principal: CurrentPrincipal, settings: AppSettings):
    agent = presence.set_presence(db, principal, agent_id, data.status, data.reason)
    return _presence(db, settings, agent)


@router.get("/{agent_id}/presence/history", response_model=list[PresenceChangeOut])
def presence_history(
    agent_id: PathId, db: Db, principal: CurrentPrincipal, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100
):
    return presence.history(db, principal, agent_id, limit)


@router.put("/{agent_id}/capacity", response_model=PresenceOut)
def set_capacity(agent_id: PathId, data: CapacitySet, db: Db, principal: CurrentPrincipal, settings: AppSettings):
    given = {WorkKind(k): v for k, v in data.model_dump(exclude_none=True).items()}
    agent = presence.set_capacity(db, principal, agent_id, given)
    return _presence(db, settings, agent)


@integrations_router.get("", response_model=list[IntegrationOut])
def list_integrations(db: Db, principal: CurrentPrincipal):
    """Channel gateways with tokens of their own (admins only)."""
    principal.require_admin()
    return [IntegrationOut.of(i) for i in repository.integrations(db)]


@integrations_router.post("", response_model=IntegrationCreated, status_code=status.HTTP_201_CREATED)
def create_integration(data: IntegrationCreate, request: Request, db: Db, principal: CurrentPrincipal):
    """A channel gateway and its intake token, which may only post contacts in the integration's brands. The token
    is in this answer only; only a digest is stored."""
    row, token = service.create_integration(db, principal, data.name, data.brands, request.app.state.secret_key)
    return IntegrationCreated(**IntegrationOut.of(row).model_dump(), token=token)


@integrations_router.post("/{integration_id}/revoke", response_model=IntegrationOut)
def revoke_integration(integration_id: PathId, db: Db, principal: CurrentPrincipal):
    """Revoke the integration's token for good."""
    row = service.revoke_integration(db, principal, integration_id)
    return IntegrationOut.of(repository.integration(db, row.id))
