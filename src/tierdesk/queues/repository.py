from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import NotFound
from tierdesk.kit.input import SLUG_PATTERN, slug_or_id
from tierdesk.kit.scope import scoped
from tierdesk.kit.vocabulary import Department, QueueKind
from tierdesk.queues.models import Queue


def get_visible(db: Session, principal: Principal, queue_id: int) -> Queue:
    queue = db.scalar(
        scoped(sa.select(Queue).where(Queue.id == queue_id), Queue.brand_id, principal).options(
            selectinload(Queue.required_skills)
        )
    )
    if queue is None:
        raise NotFound(f"queue {queue_id} not found")
    return queue


def list_visible(db: Session, principal: Principal, brand_id: int | None = None) -> list[Queue]:
    stmt = scoped(sa.select(Queue), Queue.brand_id, principal).options(selectinload(Queue.required_skills))
    if brand_id is not None:
        stmt = stmt.where(Queue.brand_id == brand_id)
    return list(db.scalars(stmt.order_by(Queue.brand_id, Queue.tier, Queue.slug)))



def in_brand(db: Session, brand_id: int, ref: str | int) -> Queue | None:
    """A queue of the brand by slug or id (a slug of digits wins over an id)."""
    stmt = sa.select(Queue).where(Queue.brand_id == brand_id)
    slug, queue_id = slug_or_id(ref, SLUG_PATTERN)
    queue = db.scalar(stmt.where(Queue.slug == slug)) if slug else None
    if queue is None and queue_id is not None:
        queue = db.scalar(stmt.where(Queue.id == queue_id))
    return queue


def default_for_department(db: Session, brand_id: int, department: Department) -> Queue | None:
    """The entry queue of a department: its active standard queue of the lowest tier."""
    return db.scalar(
        sa.select(Queue)
        .where(
            Queue.brand_id == brand_id,
            Queue.department == department,
            Queue.kind == QueueKind.STANDARD,
            Queue.is_active.is_(True),
        )
        .order_by(Queue.tier, Queue.id)
        .limit(1)
    )


def triage_queue(db: Session, brand_id: int) -> Queue:
    queue = db.scalar(
        sa.select(Queue).where(Queue.brand_id == brand_id, Queue.kind == QueueKind.TRIAGE).order_by(Queue.id).limit(1)
    )
    if queue is None:  # created with every brand; missing only if someone deleted it by hand
        raise NotFound(f"brand {brand_id} has no triage queue")
    return queue


def with_skills(db: Session, queue: Queue) -> Queue:
    """The queue with its required skills loaded (they load explicitly: lazy="raise")."""
    return db.scalars(sa.select(Queue).where(Queue.id == queue.id).options(selectinload(Queue.required_skills))).one()


def next_tier(db: Session, brand_id: int, department: Department | None, above: int) -> Queue | None:
    """The entry queue of the lowest tier above `above` in the department (the ticket's own department first)."""
    stmt = sa.select(Queue).where(
        Queue.brand_id == brand_id, Queue.kind == QueueKind.STANDARD, Queue.is_active.is_(True), Queue.tier > above
    )
    if department is not None:
        stmt = stmt.where(Queue.department == department)
    return db.scalar(stmt.order_by(Queue.tier, Queue.id).limit(1))


def lower_tier(db: Session, brand_id: int, department: Department | None, below: int) -> Queue | None:
    """The entry queue of the highest tier below `below` in the department."""
    stmt = sa.select(Queue).where(
        Queue.brand_id == brand_id, Queue.kind == QueueKind.STANDARD, Queue.is_active.is_(True), Queue.tier < below
    )
    if department is not None:
        stmt = stmt.where(Queue.department == department)
    return db.scalar(stmt.order_by(Queue.tier.desc(), Queue.id).limit(1))
