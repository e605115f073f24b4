from __future__ import annotations

from fastapi import APIRouter, Request, status

from tierdesk.agents import repository, service
from tierdesk.agents.schemas import (
    AgentCreate,
    AgentOut,
    AgentUpdate,
    IntegrationCreate,
    IntegrationCreated,
    IntegrationOut,
)
from tierdesk.deps import CurrentPrincipal, Db
from tierdesk.kit.input import PathId
from tierdesk.kit.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page_of

router = APIRouter(prefix="/agents", tags=["agents"])
integrations_router = APIRouter(prefix="/integrations", tags=["integrations"])


@router.get("", response_model=Page[AgentOut])
def list_agents(
    db: Db,
    principal: CurrentPrincipal,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[AgentOut]:
    position = decode_cursor(cursor, keys=("id",))
    rows = repository.list_visible(db, principal, after_id=position["id"] if position else None, limit=limit)
    rows, next_cursor = page_of(rows, limit, lambda a: {"id": a.id})
    return Page(items=[AgentOut.of(a) for a in rows], next_cursor=next_cursor)


@router.get("/me", response_model=AgentOut)
def me(db: Db, principal: CurrentPrincipal) -> AgentOut:
    return AgentOut.of(repository.get_visible(db, principal, principal.agent_id))


@router.get("/{agent_id}", response_model=AgentOut)
def get_agent(agent_id: PathId, db: Db, principal: CurrentPrincipal) -> AgentOut:
    return AgentOut.of(repository.get_visible(db, principal, agent_id))


@router.post("", response_model=AgentOut, status_code=status.HTTP_201_CREATED)
def create_agent(data: AgentCreate, db: Db, principal: CurrentPrincipal) -> AgentOut:
    return AgentOut.of(service.create_agent(db, principal, data))


@router.patch("/{agent_id}", response_model=AgentOut)
def update_agent(agent_id: PathId, data: AgentUpdate, db: Db, principal: CurrentPrincipal) -> AgentOut:
    return AgentOut.of(service.update_agent(db, principal, agent_id, data))


@integrations_router.get("", response_model=list[IntegrationOut])
def list_integrations(db: Db, principal: CurrentPrincipal) -> list[IntegrationOut]:
    """Channel gateways with tokens of their own (admins only)."""
    principal.require_admin()
    return [IntegrationOut.of(i) for i in repository.integrations(db)]


@integrations_router.post("", response_model=IntegrationCreated, status_code=status.HTTP_201_CREATED)
def create_integration(
    data: IntegrationCreate, request: Request, db: Db, principal: CurrentPrincipal
) -> IntegrationCreated:
    """A channel gateway and its intake token, which may only post contacts in the integration's brands. The token
    is in this answer only; only a digest is stored."""
    row, token = service.create_integration(db, principal, data.name, data.brands, request.app.state.secret_key)
    return IntegrationCreated(**IntegrationOut.of(row).model_dump(), token=token)


@integrations_router.post("/{integration_id}/revoke", response_model=IntegrationOut)
def revoke_integration(integration_id: PathId, db: Db, principal: CurrentPrincipal) -> IntegrationOut:
    """Revoke the integration's token for good."""
    row = service.revoke_integration(db, principal, integration_id)
    return IntegrationOut.of(repository.integration(db, row.id))
