from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from tierdesk.agents import repository, service
from tierdesk.agents.schemas import (
    AgentCreate,
    AgentOut,
    AgentUpdate,
)
from tierdesk.deps import CurrentPrincipal, Db
from tierdesk.kit.input import PathId
from tierdesk.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, page_of

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("", response_model=Page[AgentOut])
def list_agents(
    db: Db,
    principal: CurrentPrincipal,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
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
