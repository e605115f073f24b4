from __future__ import annotations

from collections import Counter

from sqlalchemy.orm import Session

from tierdesk.agents import repository as agents_repository
from tierdesk.agents.models import Agent
from tierdesk.audit import service as audit
from tierdesk.brands.service import resolve_brand
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import Conflict, InvalidInput
from tierdesk.kit.input import patch_values
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import WORK_KIND, PresenceStatus, QueueKind, WorkKind
from tierdesk.queues import repository
from tierdesk.queues.models import Queue, QueueSkill
from tierdesk.queues.rules import QueueRule
from tierdesk.routing import repository as repository_routing
from tierdesk.routing import router
from tierdesk.routing.schemas import QueueCreate, QueueUpdate, RequiredSkill, WaitingTicketOut


def _required(skills: list[RequiredSkill]) -> list[QueueSkill]:
    names = [s.skill for s in skills]
    if len(set(names)) != len(names):
        raise InvalidInput("a skill is listed twice", field="required_skills")
    return [QueueSkill(skill=s.skill, min_level=s.min_level) for s in skills]


def _overflow_target(db: Session, brand_id: int, ref: str | None, queue_id: int | None) -> int | None:
    if ref is None:
        return None
    target = repository.in_brand(db, brand_id, ref)
    if target is None:
        raise InvalidInput(f"no queue '{ref}' in this brand", field="overflow_queue")
    if target.id == queue_id:
        raise InvalidInput("a queue cannot overflow into itself", field="overflow_queue")
    return target.id


def _check_overflow(queue: Queue) -> None:
    if (queue.overflow_queue_id is None) != (queue.overflow_after_seconds is None):
        field = "overflow_after_seconds" if queue.overflow_after_seconds is None else "overflow_queue"
        raise InvalidInput("overflow needs both a queue and a wait (overflow_queue, overflow_after_seconds)",
                           field=field)


AUDITED = ("slug", "name", "department", "tier", "is_active", "routing_policy", "overflow_queue_id",
           "overflow_after_seconds")


def audited(queue: Queue) -> dict[str, object]:
    """What the audit keeps of a queue (its required skills as {skill: minimum level})."""
    return {**audit.snapshot(queue, AUDITED),
            "required_skills": {s.skill: s.min_level for s in queue.required_skills}}


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
        routing_policy=data.routing_policy,
        overflow_queue_id=_overflow_target(db, brand.id, data.overflow_queue, None),
        overflow_after_seconds=data.overflow_after_seconds,
    )
    _check_overflow(queue)
    db.add(queue)
    db.flush()
    audit.record(db, Actor.of(principal), "queue", queue.id, "created", after=audited(queue), brand_id=brand.id)
    return queue


def update_queue(db: Session, principal: Principal, queue_id: int, data: QueueUpdate) -> Queue:
    principal.require_admin()
    queue = repository.get_visible(db, principal, queue_id)
    before = audited(queue)
    changes = patch_values(data, nullable=frozenset({"overflow_queue", "overflow_after_seconds"}))
    for field in ("name", "department", "tier", "is_active", "routing_policy"):
        if field in changes:
            if queue.kind is QueueKind.TRIAGE and field in ("department", "is_active"):
                raise InvalidInput(f"the triage queue's {field} cannot be changed", field=field)
            setattr(queue, field, changes[field])
    if "required_skills" in changes:
        queue.required_skills = _required(changes["required_skills"])
    if "overflow_queue" in changes:
        queue.overflow_queue_id = _overflow_target(db, queue.brand_id, data.overflow_queue, queue.id)
    if "overflow_after_seconds" in changes:
        queue.overflow_after_seconds = data.overflow_after_seconds
    _check_overflow(queue)
    db.flush()
    audit.record(db, Actor.of(principal), "queue", queue.id, "updated", before=before, after=audited(queue),
                 brand_id=queue.brand_id)
    return queue


def waiting_tickets(
    db: Session, principal: Principal, queue_id: int, defaults: dict[WorkKind, int], limit: int = 100
) -> list[WaitingTicketOut]:
    """The queue's waiting tickets in the order the router serves them, each with why it still waits."""
    queue = repository.get_visible(db, principal, queue_id)
    rows = repository_routing.waiting_in_queue(db, queue.id, limit)
    if not rows:
        return []
    rule = QueueRule.of(queue) if queue.is_active else None
    team = eligible_agents(db, queue, defaults)
    now = utcnow()
    return [
        WaitingTicketOut(
            ticket_id=r.id, subject=r.subject, priority=r.priority, channel=r.channel,
            waiting_since=r.routable_since, waited_seconds=round((now - r.routable_since).total_seconds(), 3),
            sla_due_at=r.sla_due_at, reason=wait_reason(queue, rule, team, WORK_KIND[r.channel]),
        )
        for r in rows
    ]


def eligible_agents(db: Session, queue: Queue, defaults: dict[WorkKind, int]) -> list[tuple[Agent, router.Candidate]]:
    """Every active agent who could take this queue's work (brand, tier, skills), whatever their presence,
    longest idle first."""
    rule = QueueRule.of(queue)
    team = router.brand_team(db, queue.brand_id, defaults)
    fit = sorted((c for c in team.values() if rule.accepts(c)), key=lambda c: (c.idle_since, c.id))
    agents = agents_repository.by_ids(db, [c.id for c in fit])
    return [(agents[c.id], c) for c in fit]


def wait_reason(
    queue: Queue, rule: QueueRule | None, team: list[tuple[Agent, router.Candidate]], kind: WorkKind
) -> str:
    if rule is None:
        return f"queue '{queue.slug}' is inactive: nobody is routed from it"
    if not team:
        needs = ", ".join(f"{s}>={lvl}" for s, lvl in sorted(rule.required.items())) or "no skills"
        return f"no active agent of this brand at tier {rule.tier} or above has the skills it needs ({needs})"
    available = [c for a, c in team if a.presence is PresenceStatus.AVAILABLE]
    if not available:
        counts = Counter(a.presence.value for a, _ in team)
        return "no eligible agent is available (" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")"
    if not any(c.has_room(kind) for c in available):
        return f"every available eligible agent is at capacity for {kind.value} work ({len(available)} available)"
    return "an agent has room: the next routing pass assigns it"
