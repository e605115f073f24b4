from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from tierdesk.kit.input import SLUG_PATTERN, Input
from tierdesk.kit.vocabulary import Department, Priority, SlaMetric

Minutes = Field(default=None, ge=1, le=366 * 24 * 60)


class CalendarCreate(Input):
    brand: str = Field(description="slug of the brand")
    slug: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(min_length=1, max_length=64, examples=["Europe/Berlin"])
    weekly_hours: dict[str, list[str]] = Field(
        description='opening hours per day, local time: {"mon": ["09:00-17:00"], ...}; "24:00" ends at midnight',
        examples=[{"mon": ["09:00-17:00"], "tue": ["09:00-17:00"]}],
    )
    holidays: list[str] = Field(default_factory=list, description="ISO dates with no business hours")


class CalendarUpdate(Input):
    """Fields left out stay. Changes apply to clocks started or resumed from now on."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    weekly_hours: dict[str, list[str]] | None = None
    holidays: list[str] | None = None


class CalendarOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    slug: str
    name: str
    timezone: str
    weekly_hours: dict[str, list[str]]
    holidays: list[str]
    created_at: dt.datetime


class PolicyCreate(Input):
    brand: str = Field(description="slug of the brand")
    slug: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    department: Department | None = Field(default=None, description="None: any department")
    priority: Priority | None = Field(default=None, description="None: any priority")
    calendar: str | None = Field(default=None, description="slug or id of a business calendar; None: 24x7")
    first_response_minutes: int | None = Minutes
    next_response_minutes: int | None = Minutes
    resolution_minutes: int | None = Minutes
    warn_before_minutes: int = Field(default=15, ge=0, le=7 * 24 * 60)
    escalate_on_breach: bool = False


class PolicyUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    calendar: str | None = None
    first_response_minutes: int | None = Minutes
    next_response_minutes: int | None = Minutes
    resolution_minutes: int | None = Minutes
    warn_before_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    escalate_on_breach: bool | None = None
    is_active: bool | None = None


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    slug: str
    name: str
    department: Department | None
    priority: Priority | None
    calendar_id: int | None
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    warn_before_minutes: int
    escalate_on_breach: bool
    is_active: bool
    created_at: dt.datetime


class ClockOut(BaseModel):
    id: int
    metric: SlaMetric
    policy_id: int
    status: str = Field(description="running, warning, paused, met or breached")
    target_minutes: float
    business_minutes_used: float
    started_at: dt.datetime
    due_at: dt.datetime | None
    warned_at: dt.datetime | None
    breached_at: dt.datetime | None
    stopped_at: dt.datetime | None


class TicketSlaOut(BaseModel):
    ticket_id: int
    policy_id: int | None
    due_at: dt.datetime | None = Field(description="the nearest due time of the running clocks")
    clocks: list[ClockOut]
