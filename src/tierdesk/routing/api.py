from __future__ import annotations

from fastapi import APIRouter, status

from tierdesk.brands.service import resolve_brand
from tierdesk.deps import AppSettings, CurrentPrincipal, Db
from tierdesk.kit.input import PathId
from tierdesk.queues import repository
from tierdesk.routing import router, service
from tierdesk.routing.escalation import Move, move_by_request
from tierdesk.routing.schemas import QueueAgentOut, QueueCreate, QueueOut, QueueUpdate, TicketMove, WaitingTicketOut
from tierdesk.tickets.schemas import TicketOut

api = APIRouter(prefix="/queues", tags=["queues"])


@api.get("", response_model=list[QueueOut])
def list_queues(db: Db, principal: CurrentPrincipal, brand: str | None = None):
    brand_id = resolve_brand(db, principal, brand).id if brand else None
    queues = repository.list_visible(db, principal, brand_id)
    waiting = repository.waiting_counts(db, [q.id for q in queues])
    return [QueueOut.of(q, waiting.get(q.id, 0)) for q in queues]


@api.get("/{queue_id}", response_model=QueueOut)
def get_queue(queue_id: PathId, db: Db, principal: CurrentPrincipal):
    queue = repository.get_visible(db, principal, queue_id)
    return QueueOut.of(queue, repository.waiting_counts(db, [queue.id]).get(queue.id, 0))


@api.post("", response_model=QueueOut, status_code=status.HTTP_201_CREATED)
def create_queue(data: QueueCreate, db: Db, principal: CurrentPrincipal):
    return QueueOut.of(service.create_queue(db, principal, data), 0)


@api.patch("/{queue_id}", response_model=QueueOut)
def update_queue(queue_id: PathId, data: QueueUpdate, db: Db, principal: CurrentPrincipal):
    queue = service.update_queue(db, principal, queue_id, data)
    return QueueOut.of(queue, repository.waiting_counts(db, [queue.id]).get(queue.id, 0))


@api.get("/{queue_id}/waiting", response_model=list[WaitingTicketOut])
def waiting(queue_id: PathId, db: Db, principal: CurrentPrincipal, settings: AppSettings):
    """The tickets waiting for an agent, in the order they will be offered, each with why it still waits."""
    return service.waiting_tickets(db, principal, queue_id, router.default_capacity(settings))


@api.get("/{queue_id}/agents", response_model=list[QueueAgentOut])
def eligible_agents(queue_id: PathId, db: Db, principal: CurrentPrincipal, settings: AppSettings):
    """The agents who could take this queue's work (brand, tier and skills), with presence, capacity and load."""
    queue = repository.get_visible(db, principal, queue_id)
    team = service.eligible_agents(db, queue, router.default_capacity(settings))
    return [QueueAgentOut(agent_id=a.id, display_name=a.display_name, tier=a.tier, status=a.presence,
                          idle_since=a.idle_since, capacity=c.capacity, load=dict(c.load)) for a, c in team]


ticket_moves = APIRouter(prefix="/tickets", tags=["tickets"])


def _move(ticket_id: int, move: Move, data: TicketMove, db, principal) -> TicketOut:
    ticket = move_by_request(db, principal, ticket_id, move, reason=data.reason, summary=data.summary,
                             queue_ref=data.queue)
    return TicketOut.model_validate(ticket)


@ticket_moves.post("/{ticket_id}/escalate", response_model=TicketOut)
def escalate(ticket_id: PathId, data: TicketMove, db: Db, principal: CurrentPrincipal):
    """Up to the next tier of the ticket's department (or a named queue above), with the reason and what was
    tried; the ticket waits there for the router."""
    return _move(ticket_id, Move.ESCALATE, data, db, principal)


@ticket_moves.post("/{ticket_id}/de-escalate", response_model=TicketOut)
def de_escalate(ticket_id: PathId, data: TicketMove, db: Db, principal: CurrentPrincipal):
    return _move(ticket_id, Move.DE_ESCALATE, data, db, principal)


@ticket_moves.post("/{ticket_id}/transfer", response_model=TicketOut)
def transfer(ticket_id: PathId, data: TicketMove, db: Db, principal: CurrentPrincipal):
    """To a named queue at any tier."""
    return _move(ticket_id, Move.TRANSFER, data, db, principal)
