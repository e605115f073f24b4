from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, status

from tierdesk.agents import presence
from tierdesk.agents import repository as agents
from tierdesk.agents.models import PresenceChange
from tierdesk.agents.schemas import CapacitySet, PresenceChangeOut, PresenceOut, PresenceSet
from tierdesk.brands.service import resolve_brand
from tierdesk.deps import AppSettings, CurrentPrincipal, Db
from tierdesk.kit.input import PathId
from tierdesk.kit.pagination import Limit
from tierdesk.kit.vocabulary import WorkKind
from tierdesk.queues import repository
from tierdesk.routing import router, service
from tierdesk.routing.escalation import Move, move_by_request
from tierdesk.routing.router import default_capacity, workload
from tierdesk.routing.schemas import QueueAgentOut, QueueCreate, QueueOut, QueueUpdate, TicketMove, WaitingTicketOut
from tierdesk.tickets import repository as tickets
from tierdesk.tickets.schemas import TicketOut

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tierdesk.agents.models import Agent
    from tierdesk.config import Settings
    from tierdesk.kit.actors import Principal

api = APIRouter(prefix="/queues", tags=["queues"])
# An agent's presence and capacity with the load the router counts (the agents domain sits below routing).
presence_api = APIRouter(prefix="/agents", tags=["agents"])


@api.get("", response_model=list[QueueOut])
def list_queues(db: Db, principal: CurrentPrincipal, brand: str | None = None) -> list[QueueOut]:
    brand_id = resolve_brand(db, principal, brand).id if brand else None
    queues = repository.list_visible(db, principal, brand_id)
    waiting = tickets.waiting_counts(db, [q.id for q in queues])
    return [QueueOut.of(q, waiting.get(q.id, 0)) for q in queues]


@api.get("/{queue_id}", response_model=QueueOut)
def get_queue(queue_id: PathId, db: Db, principal: CurrentPrincipal) -> QueueOut:
    queue = repository.get_visible(db, principal, queue_id)
    return QueueOut.of(queue, tickets.waiting_counts(db, [queue.id]).get(queue.id, 0))


@api.post("", response_model=QueueOut, status_code=status.HTTP_201_CREATED)
def create_queue(data: QueueCreate, db: Db, principal: CurrentPrincipal) -> QueueOut:
    return QueueOut.of(service.create_queue(db, principal, data), 0)


@api.patch("/{queue_id}", response_model=QueueOut)
def update_queue(queue_id: PathId, data: QueueUpdate, db: Db, principal: CurrentPrincipal) -> QueueOut:
    queue = service.update_queue(db, principal, queue_id, data)
    return QueueOut.of(queue, tickets.waiting_counts(db, [queue.id]).get(queue.id, 0))


@api.get("/{queue_id}/waiting", response_model=list[WaitingTicketOut])
def waiting(queue_id: PathId, db: Db, principal: CurrentPrincipal, settings: AppSettings) -> list[WaitingTicketOut]:
    """The tickets waiting for an agent, in the order they will be offered, each with why it still waits."""
    return service.waiting_tickets(db, principal, queue_id, router.default_capacity(settings))


@api.get("/{queue_id}/agents", response_model=list[QueueAgentOut])
def eligible_agents(
    queue_id: PathId, db: Db, principal: CurrentPrincipal, settings: AppSettings
) -> list[QueueAgentOut]:
    """The agents who could take this queue's work (brand, tier and skills), with presence, capacity and load."""
    queue = repository.get_visible(db, principal, queue_id)
    team = service.eligible_agents(db, queue, router.default_capacity(settings))
    return [QueueAgentOut(agent_id=a.id, display_name=a.display_name, tier=a.tier, status=a.presence,
                          idle_since=a.idle_since, capacity=c.capacity, load=dict(c.load)) for a, c in team]


ticket_moves = APIRouter(prefix="/tickets", tags=["tickets"])


def _move(ticket_id: int, move: Move, data: TicketMove, db: Session, principal: Principal) -> TicketOut:
    ticket = move_by_request(db, principal, ticket_id, move, reason=data.reason, summary=data.summary,
                             queue_ref=data.queue)
    return TicketOut.model_validate(ticket)


@ticket_moves.post("/{ticket_id}/escalate", response_model=TicketOut)
def escalate(ticket_id: PathId, data: TicketMove, db: Db, principal: CurrentPrincipal) -> TicketOut:
    """Up to the next tier of the ticket's department (or a named queue above), with the reason and what was
    tried; the ticket waits there for the router."""
    return _move(ticket_id, Move.ESCALATE, data, db, principal)


@ticket_moves.post("/{ticket_id}/de-escalate", response_model=TicketOut)
def de_escalate(ticket_id: PathId, data: TicketMove, db: Db, principal: CurrentPrincipal) -> TicketOut:
    return _move(ticket_id, Move.DE_ESCALATE, data, db, principal)


@ticket_moves.post("/{ticket_id}/transfer", response_model=TicketOut)
def transfer(ticket_id: PathId, data: TicketMove, db: Db, principal: CurrentPrincipal) -> TicketOut:
    """To a named queue at any tier."""
    return _move(ticket_id, Move.TRANSFER, data, db, principal)


def _presence(db: Session, settings: Settings, agent: Agent) -> PresenceOut:
    defaults = default_capacity(settings)
    seen = workload(db, agent.id, defaults)
    return PresenceOut(agent_id=agent.id, status=agent.presence, since=agent.presence_since,
                       idle_since=agent.idle_since, capacity=seen.capacity if seen else defaults,
                       load=dict(seen.load) if seen else dict.fromkeys(WorkKind, 0))


@presence_api.get("/{agent_id}/presence", response_model=PresenceOut)
def get_presence(agent_id: PathId, db: Db, principal: CurrentPrincipal, settings: AppSettings) -> PresenceOut:
    return _presence(db, settings, agents.get_visible(db, principal, agent_id))


@presence_api.put("/{agent_id}/presence", response_model=PresenceOut)
def set_presence(
    agent_id: PathId, data: PresenceSet, db: Db, principal: CurrentPrincipal, settings: AppSettings
) -> PresenceOut:
    agent = presence.set_presence(db, principal, agent_id, data.status, data.reason)
    return _presence(db, settings, agent)


@presence_api.get("/{agent_id}/presence/history", response_model=list[PresenceChangeOut])
def presence_history(
    agent_id: PathId, db: Db, principal: CurrentPrincipal, limit: Limit = 100
) -> list[PresenceChange]:
    return presence.history(db, principal, agent_id, limit)


@presence_api.put("/{agent_id}/capacity", response_model=PresenceOut)
def set_capacity(
    agent_id: PathId, data: CapacitySet, db: Db, principal: CurrentPrincipal, settings: AppSettings
) -> PresenceOut:
    given = {WorkKind(k): v for k, v in data.model_dump(exclude_none=True).items()}
    agent = presence.set_capacity(db, principal, agent_id, given)
    return _presence(db, settings, agent)
