from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from tierdesk.agents.models import AgentRole
from tierdesk.kit.input import Input

SKILL_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class SkillLevel(Input):
    model_config = ConfigDict(extra="forbid", from_attributes=True)
    skill: str = Field(pattern=SKILL_PATTERN, description="lower-case name, e.g. 'billing', 'routers', 'de'")
    level: int = Field(default=3, ge=1, le=5)


class AgentCreate(Input):
    email: EmailStr
    display_name: str = Field(min_length=1, max_length=200)
    role: AgentRole = AgentRole.AGENT
    tier: int = Field(default=1, ge=0, le=3)
    skills: list[SkillLevel] = Field(default_factory=list)
    brands: list[str] = Field(default_factory=list, description="slugs of the brands this agent works")
    password: str | None = Field(default=None, min_length=10, max_length=200, repr=False)


class AgentUpdate(Input):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: AgentRole | None = None
    tier: int | None = Field(default=None, ge=0, le=3)
    skills: list[SkillLevel] | None = None
    brands: list[str] | None = None
    is_active: bool | None = None


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    display_name: str
    role: AgentRole
    tier: int
    is_active: bool
    skills: list[SkillLevel]
    brands: list[str]
    created_at: dt.datetime

    @classmethod
    def of(cls, agent) -> AgentOut:
        return cls(
            id=agent.id,
            email=agent.email,
            display_name=agent.display_name,
            role=agent.role,
            tier=agent.tier,
            is_active=agent.is_active,
            skills=[SkillLevel.model_validate(s) for s in agent.skills],
            brands=[b.slug for b in agent.brands],
            created_at=agent.created_at,
        )

