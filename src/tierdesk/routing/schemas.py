from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from tierdesk.agents.schemas import SKILL_PATTERN
from tierdesk.brands.schemas import SLUG_PATTERN
from tierdesk.kit.input import Input
from tierdesk.kit.vocabulary import Department
from tierdesk.routing.models import QueueKind


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


class QueueUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    department: Department | None = None
    tier: int | None = Field(default=None, ge=0, le=3)
    required_skills: list[RequiredSkill] | None = None
    is_active: bool | None = None


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
    waiting: int = Field(description="unassigned tickets in status new or open")
    created_at: dt.datetime

    @classmethod
    def of(cls, queue, waiting: int) -> QueueOut:
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
            waiting=waiting,
            created_at=queue.created_at,
        )
