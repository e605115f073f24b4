from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from tierdesk.kit.input import Input
from tierdesk.kit.vocabulary import AgentRole, PresenceStatus, TokenScope, WorkKind

if TYPE_CHECKING:
    from tierdesk.agents.models import Agent, Integration

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


class PasswordSet(Input):
    """A new password an admin sets for an agent (AgentCreate's rules)."""

    password: str = Field(min_length=10, max_length=200, repr=False)


class TokenCreate(Input):
    """A new API token for an agent: a name to tell it apart, and how many days it lasts (none: until revoked)."""

    name: str = Field(min_length=1, max_length=100)
    expires_days: int | None = Field(default=None, ge=1, le=3650)


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
    def of(cls, agent: Agent) -> AgentOut:
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


class PresenceSet(Input):
    status: PresenceStatus
    reason: str | None = Field(default=None, max_length=500)


class CapacitySet(Input):
    """Tickets the agent works at once per kind of work; kinds left out keep their current value."""

    phone: int | None = Field(default=None, ge=0, le=1000)
    chat: int | None = Field(default=None, ge=0, le=1000)
    email: int | None = Field(default=None, ge=0, le=1000, description="email, web form and API contacts")


class PresenceOut(BaseModel):
    agent_id: int
    status: PresenceStatus
    since: dt.datetime
    idle_since: dt.datetime
    capacity: dict[WorkKind, int]
    load: dict[WorkKind, int] = Field(description="tickets assigned and new or open, per kind of work")


class PresenceChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    agent_id: int
    before: PresenceStatus
    after: PresenceStatus
    changed_by_agent_id: int | None
    reason: str | None
    created_at: dt.datetime


class IntegrationCreate(Input):
    name: str = Field(min_length=1, max_length=100, description="what it is, e.g. 'email gateway'")
    brands: list[str] = Field(min_length=1, description="slugs of the brands it posts contacts for")


class IntegrationOut(BaseModel):
    id: int
    name: str
    scope: TokenScope = Field(description="intake: may only post contacts (POST /api/v1/contacts)")
    brands: list[str]
    prefix: str = Field(description="the token's first characters, to tell tokens apart")
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, row: Integration) -> IntegrationOut:
        return cls(id=row.id, name=row.name, scope=row.scope, brands=[b.slug for b in row.brands], prefix=row.prefix,
                   created_at=row.created_at, revoked_at=row.revoked_at)


class IntegrationCreated(IntegrationOut):
    token: str = Field(description="the API token, shown only now")
