from __future__ import annotations

from fastapi import APIRouter, status

from tierdesk.brands.service import resolve_brand
from tierdesk.deps import CurrentPrincipal, Db
from tierdesk.kit.input import PathId
from tierdesk.routing import repository, service
from tierdesk.routing.schemas import QueueCreate, QueueOut, QueueUpdate

router = APIRouter(prefix="/queues", tags=["queues"])


@router.get("", response_model=list[QueueOut])
def list_queues(db: Db, principal: CurrentPrincipal, brand: str | None = None):
    brand_id = resolve_brand(db, principal, brand).id if brand else None
    queues = repository.list_visible(db, principal, brand_id)
    waiting = repository.waiting_counts(db, [q.id for q in queues])
    return [QueueOut.of(q, waiting.get(q.id, 0)) for q in queues]


@router.get("/{queue_id}", response_model=QueueOut)
def get_queue(queue_id: PathId, db: Db, principal: CurrentPrincipal):
    queue = repository.get_visible(db, principal, queue_id)
    return QueueOut.of(queue, repository.waiting_counts(db, [queue.id]).get(queue.id, 0))


@router.post("", response_model=QueueOut, status_code=status.HTTP_201_CREATED)
def create_queue(data: QueueCreate, db: Db, principal: CurrentPrincipal):
    return QueueOut.of(service.create_queue(db, principal, data), 0)


@router.patch("/{queue_id}", response_model=QueueOut)
def update_queue(queue_id: PathId, data: QueueUpdate, db: Db, principal: CurrentPrincipal):
    queue = service.update_queue(db, principal, queue_id, data)
    return QueueOut.of(queue, repository.waiting_counts(db, [queue.id]).get(queue.id, 0))
