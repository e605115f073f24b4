from __future__ import annotations

from sqlalchemy.orm import Session

from tierdesk.agents.auth import Principal
from tierdesk.brands.service import resolve_brand
from tierdesk.kit.errors import Conflict, InvalidInput
from tierdesk.kit.input import patch_values
from tierdesk.routing import repository
from tierdesk.routing.models import Queue, QueueKind, QueueSkill
from tierdesk.routing.schemas import QueueCreate, QueueUpdate, RequiredSkill


def _required(skills: list[RequiredSkill]) -> list[QueueSkill]:
    names = [s.skill for s in skills]
    if len(set(names)) != len(names):
        raise InvalidInput("a skill is listed twice", field="required_skills")
    return [QueueSkill(skill=s.skill, min_level=s.min_level) for s in skills]


def create_queue(db: Session, principal: Principal, data: QueueCreate) -> Queue:
    principal.require_admin()
    brand = resolve_brand(db, principal, data.brand)
    if repository.in_brand(db, brand.id, data.slug):
        raise Conflict(f"brand '{brand.slug}' has a queue '{data.slug}' already", field="slug")
    queue = Queue(
        brand_id=brand.id,
        slug=data.slug,
        name=data.name,
        kind=QueueKind.STANDARD,
        department=data.department,
        tier=data.tier,
        required_skills=_required(data.required_skills),
    )
    db.add(queue)
    db.flush()
    return queue


def update_queue(db: Session, principal: Principal, queue_id: int, data: QueueUpdate) -> Queue:
    principal.require_admin()
    queue = repository.get_visible(db, principal, queue_id)
    changes = patch_values(data)
    for field in ("name", "department", "tier", "is_active"):
        if field in changes:
            if queue.kind is QueueKind.TRIAGE and field in ("department", "is_active"):
                raise InvalidInput(f"the triage queue's {field} cannot be changed", field=field)
            setattr(queue, field, changes[field])
    if "required_skills" in changes:
        queue.required_skills = _required(data.required_skills)
    db.flush()
    return queue
