from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from tierdesk.agents.schemas import SKILL_PATTERN
from tierdesk.kit.input import SLUG_PATTERN, Input
from tierdesk.kit.vocabulary import Channel, Department, PresenceStatus, Priority, QueueKind, RoutingPolicy, WorkKind

if TYPE_CHECKING:
    from tierdesk.queues.models import Queue


class RequiredSkill(Input):
    model_config = ConfigDict(extra="forbid", from_attributes=True)
    skill: str = Field(pattern=SKILL_PATTERN)
    min_level: int = Field(default=1, ge=1, le=5)


class QueueCreate(Input):
    brand: str = Field(description="slug of the brand the queue belongs to")
    slug: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    department: Department
    tier: int = Field(default=1, ge=0, le=3)
    required_skills: list[RequiredSkill] = Field(default_factory=list)
    routing_policy: RoutingPolicy = RoutingPolicy.LONGEST_IDLE
    overflow_queue: str | None = Field(default=None, description="slug or id of the queue that takes long waiters")
    overflow_after_seconds: int | None = Field(default=None, ge=1, le=30 * 86400)


class QueueUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    department: Department | None = None
    tier: int | None = Field(default=None, ge=0, le=3)
    required_skills: list[RequiredSkill] | None = None
    is_active: bool | None = None
    routing_policy: RoutingPolicy | None = None
    overflow_queue: str | None = Field(default=None, description="slug or id; null turns overflow off")
    overflow_after_seconds: int | None = Field(default=None, ge=1, le=30 * 86400)


class QueueOut(BaseModel):
    id: int
    brand_id: int
    slug: str
    name: str
    kind: QueueKind
    department: Department | None
    tier: int
    is_active: bool
    required_skills: list[RequiredSkill]
    routing_policy: RoutingPolicy
    overflow_queue_id: int | None
    overflow_after_seconds: int | None
    waiting: int = Field(description="unassigned tickets in status new or open")
    created_at: dt.datetime

    @classmethod
    def of(cls, queue: Queue, waiting: int) -> QueueOut:
        return cls(
            id=queue.id,
            brand_id=queue.brand_id,
            slug=queue.slug,
            name=queue.name,
            kind=queue.kind,
            department=queue.department,
            tier=queue.tier,
            is_active=queue.is_active,
            required_skills=[RequiredSkill.model_validate(s) for s in queue.required_skills],
            routing_policy=queue.routing_policy,
            overflow_queue_id=queue.overflow_queue_id,
            overflow_after_seconds=queue.overflow_after_seconds,
            waiting=waiting,
            created_at=queue.created_at,
        )


class WaitingTicketOut(BaseModel):
    ticket_id: int
    subject: str
    priority: Priority
    channel: Channel
    waiting_since: dt.datetime
    waited_seconds: float
    sla_due_at: dt.datetime | None
    reason: str = Field(description="why no agent has it yet")


class QueueAgentOut(BaseModel):
    agent_id: int
    display_name: str
    tier: int
    status: PresenceStatus
    idle_since: dt.datetime
    capacity: dict[WorkKind, int]
    load: dict[WorkKind, int]


class TicketMove(Input):
    reason: str = Field(min_length=1, max_length=2000, description="why the ticket moves")
    summary: str | None = Field(default=None, max_length=20000,
                                description="what was tried (required to escalate); kept as an internal note")
    queue: str | None = Field(default=None, description="slug or id of the queue; default: the next tier up or down")
