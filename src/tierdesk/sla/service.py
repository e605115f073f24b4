"""SLA policies and business calendars (admin), and a ticket's SLA status."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tierdesk.audit import service as audit
from tierdesk.brands.service import resolve_brand
from tierdesk.kit import business_hours as bh
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import Conflict, InvalidInput, NotFound
from tierdesk.kit.input import SLUG_PATTERN, patch_values, slug_or_id
from tierdesk.kit.time import utcnow
from tierdesk.sla import clocks, repository
from tierdesk.sla.models import BusinessCalendar, SlaPolicy
from tierdesk.sla.schemas import CalendarCreate, CalendarUpdate, ClockOut, PolicyCreate, PolicyUpdate, TicketSlaOut

TARGETS = ("first_response_minutes", "next_response_minutes", "resolution_minutes")
CALENDAR_AUDITED = ("slug", "name", "timezone", "weekly_hours", "holidays")
POLICY_AUDITED = ("slug", "name", "department", "priority", "calendar_id", *TARGETS, "warn_before_minutes",
                  "escalate_on_breach", "is_active")


def _calendar_spec(timezone: str, weekly_hours: dict[str, list[str]], holidays: list[str]) -> dict[str, Any]:
    """The calendar as stored (intervals sorted, holidays in order), or the reason it is no calendar, on the field
    it concerns."""
    try:
        return bh.BusinessCalendar.from_spec(timezone, weekly_hours, holidays).to_spec()
    except ValueError as exc:
        text = str(exc)
        field = "timezone" if "time zone" in text else "holidays" if "holiday" in text else "weekly_hours"
        raise InvalidInput(f"calendar: {text}", field=field) from None


def create_calendar(db: Session, principal: Principal, data: CalendarCreate) -> BusinessCalendar:
    principal.require_admin()
    brand = resolve_brand(db, principal, data.brand)
    spec = _calendar_spec(data.timezone, data.weekly_hours, data.holidays)
    if repository.calendar_slug_taken(db, brand.id, data.slug):
        raise Conflict(f"brand '{brand.slug}' has a calendar '{data.slug}' already", field="slug")
    calendar = BusinessCalendar(brand_id=brand.id, slug=data.slug, name=data.name, timezone=spec["timezone"],
                                weekly_hours=spec["weekly_hours"], holidays=spec["holidays"])
    db.add(calendar)
    db.flush()
    audit.record(db, Actor.of(principal), "business_calendar", calendar.id, "created",
                 after=audit.snapshot(calendar, CALENDAR_AUDITED), brand_id=brand.id)
    return calendar


def get_calendar(db: Session, principal: Principal, calendar_id: int) -> BusinessCalendar:
    calendar = repository.calendar_visible(db, principal, calendar_id)
    if calendar is None:
        raise NotFound(f"business calendar {calendar_id} not found")
    return calendar


def update_calendar(db: Session, principal: Principal, calendar_id: int, data: CalendarUpdate) -> BusinessCalendar:
    """Running clocks keep the due times they have; clocks started or resumed from now on count in the new hours."""
    principal.require_admin()
    calendar = get_calendar(db, principal, calendar_id)
    before = audit.snapshot(calendar, CALENDAR_AUDITED)
    changes = patch_values(data)
    spec = _calendar_spec(changes.get("timezone", calendar.timezone),
                          changes.get("weekly_hours", calendar.weekly_hours),
                          changes.get("holidays", calendar.holidays))
    calendar.name = changes.get("name", calendar.name)
    calendar.timezone, calendar.weekly_hours, calendar.holidays = (spec["timezone"], spec["weekly_hours"],
                                                                   spec["holidays"])
    db.flush()
    audit.record(db, Actor.of(principal), "business_calendar", calendar.id, "updated", before=before,
                 after=audit.snapshot(calendar, CALENDAR_AUDITED), brand_id=calendar.brand_id)
    return calendar


def list_calendars(db: Session, principal: Principal) -> list[BusinessCalendar]:
    return repository.calendars_visible(db, principal)


def _calendar_in_brand(db: Session, brand_id: int, ref: str | None) -> int | None:
    if ref is None:
        return None
    slug, calendar_id = slug_or_id(ref, SLUG_PATTERN)
    found = repository.calendar_in_brand(db, brand_id, slug, calendar_id)
    if found is None:
        raise InvalidInput(f"no business calendar '{ref}' in this brand", field="calendar")
    return found


def _needs_a_target(policy: SlaPolicy) -> None:
    if all(getattr(policy, t) is None for t in TARGETS):
        raise InvalidInput("give at least one target (first_response_minutes, next_response_minutes, "
                           "resolution_minutes)", field="first_response_minutes")


def _warns_before_its_targets(policy: SlaPolicy) -> None:
    # A warning at or past a target would fire the moment the clock starts (every ticket "in warning" at creation).
    for target in TARGETS:
        minutes = getattr(policy, target)
        if minutes is not None and policy.warn_before_minutes >= minutes:
            raise InvalidInput(
                f"warn_before_minutes ({policy.warn_before_minutes}) must be less than {target} ({minutes}): "
                "a warning that early fires as soon as the clock starts (0: no warning)",
                field="warn_before_minutes",
            )


def create_policy(db: Session, principal: Principal, data: PolicyCreate) -> SlaPolicy:
    principal.require_admin()
    brand = resolve_brand(db, principal, data.brand)
    if repository.policy_slug_taken(db, brand.id, data.slug):
        raise Conflict(f"brand '{brand.slug}' has an SLA policy '{data.slug}' already", field="slug")
    policy = SlaPolicy(
        brand_id=brand.id, slug=data.slug, name=data.name, department=data.department, priority=data.priority,
        calendar_id=_calendar_in_brand(db, brand.id, data.calendar),
        first_response_minutes=data.first_response_minutes, next_response_minutes=data.next_response_minutes,
        resolution_minutes=data.resolution_minutes, warn_before_minutes=data.warn_before_minutes,
        escalate_on_breach=data.escalate_on_breach, is_active=True,
    )
    _needs_a_target(policy)
    _warns_before_its_targets(policy)
    db.add(policy)
    db.flush()
    audit.record(db, Actor.of(principal), "sla_policy", policy.id, "created",
                 after=audit.snapshot(policy, POLICY_AUDITED), brand_id=brand.id)
    return policy


def get_policy(db: Session, principal: Principal, policy_id: int) -> SlaPolicy:
    policy = repository.policy_visible(db, principal, policy_id)
    if policy is None:
        raise NotFound(f"SLA policy {policy_id} not found")
    return policy


def update_policy(db: Session, principal: Principal, policy_id: int, data: PolicyUpdate) -> SlaPolicy:
    """Changes apply to clocks started from now on; running clocks keep the targets they started with."""
    principal.require_admin()
    policy = get_policy(db, principal, policy_id)
    before = audit.snapshot(policy, POLICY_AUDITED)
    changes = patch_values(data, nullable=frozenset({"calendar", *TARGETS}))
    for field, value in changes.items():
        if field == "calendar":
            policy.calendar_id = _calendar_in_brand(db, policy.brand_id, value)
        else:
            setattr(policy, field, value)
    _needs_a_target(policy)
    _warns_before_its_targets(policy)
    db.flush()
    audit.record(db, Actor.of(principal), "sla_policy", policy.id, "updated", before=before,
                 after=audit.snapshot(policy, POLICY_AUDITED), brand_id=policy.brand_id)
    return policy


def list_policies(db: Session, principal: Principal) -> list[SlaPolicy]:
    return repository.policies_visible(db, principal)


def clock_report(db: Session, ticket: clocks.ClockedTicket) -> TicketSlaOut:
    """A ticket's SLA clocks as an agent reads them (the tickets domain checks who may see the ticket)."""
    now = utcnow()
    out = []
    rows = clocks.clocks_of(db, ticket, live_only=False)
    for c in rows:
        used = c.elapsed_seconds
        if c.running_since is not None:
            policy = db.get_one(SlaPolicy, c.policy_id)
            cal = clocks.calendar_of(db, policy.calendar_id)
            used += bh.business_time_between(cal, c.running_since, now).total_seconds()
        out.append(ClockOut(id=c.id, metric=c.metric, policy_id=c.policy_id, status=clocks.status_of(c, now),
                            target_minutes=c.target_seconds / 60, business_minutes_used=round(used / 60, 2),
                            started_at=c.started_at, due_at=c.due_at, warned_at=c.warned_at,
                            breached_at=c.breached_at, stopped_at=c.stopped_at))
    policy_id = clocks.running_policy_id(rows)
    return TicketSlaOut(ticket_id=ticket.id, policy_id=policy_id, due_at=ticket.sla_due_at, clocks=out)
