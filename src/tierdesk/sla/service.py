"""SLA policies and business calendars (admin), and a ticket's SLA status."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.brands.service import resolve_brand
from tierdesk.kit import business_hours as bh
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import Conflict, InvalidInput, NotFound
from tierdesk.kit.input import SLUG_PATTERN, patch_values, slug_or_id
from tierdesk.kit.scope import scoped
from tierdesk.kit.time import utcnow
from tierdesk.sla import clocks
from tierdesk.sla.models import BusinessCalendar, SlaPolicy
from tierdesk.sla.schemas import CalendarCreate, ClockOut, PolicyCreate, PolicyUpdate, TicketSlaOut

TARGETS = ("first_response_minutes", "next_response_minutes", "resolution_minutes")


def create_calendar(db: Session, principal: Principal, data: CalendarCreate) -> BusinessCalendar:
    principal.require_admin()
    brand = resolve_brand(db, principal, data.brand)
    try:
        spec = bh.BusinessCalendar.from_spec(data.timezone, data.weekly_hours, data.holidays).to_spec()
    except ValueError as exc:
        raise InvalidInput(f"calendar: {exc}", field="weekly_hours") from None
    if db.scalar(sa.select(BusinessCalendar.id).where(BusinessCalendar.brand_id == brand.id,
                                                      BusinessCalendar.slug == data.slug)):
        raise Conflict(f"brand '{brand.slug}' has a calendar '{data.slug}' already", field="slug")
    calendar = BusinessCalendar(brand_id=brand.id, slug=data.slug, name=data.name, timezone=spec["timezone"],
                                weekly_hours=spec["weekly_hours"], holidays=spec["holidays"])
    db.add(calendar)
    db.flush()
    return calendar


def list_calendars(db: Session, principal: Principal) -> list[BusinessCalendar]:
    stmt = scoped(sa.select(BusinessCalendar), BusinessCalendar.brand_id, principal)
    return list(db.scalars(stmt.order_by(BusinessCalendar.brand_id, BusinessCalendar.slug)))


def _calendar_in_brand(db: Session, brand_id: int, ref: str | None) -> int | None:
    if ref is None:
        return None
    slug, calendar_id = slug_or_id(ref, SLUG_PATTERN)
    stmt = sa.select(BusinessCalendar.id).where(BusinessCalendar.brand_id == brand_id)
    found = db.scalar(stmt.where(BusinessCalendar.slug == slug)) if slug else None
    if found is None and calendar_id is not None:
        found = db.scalar(stmt.where(BusinessCalendar.id == calendar_id))
    if found is None:
        raise InvalidInput(f"no business calendar '{ref}' in this brand", field="calendar")
    return found


def _needs_a_target(policy: SlaPolicy) -> None:
    if all(getattr(policy, t) is None for t in TARGETS):
        raise InvalidInput("give at least one target (first_response_minutes, next_response_minutes, "
                           "resolution_minutes)", field="first_response_minutes")


def create_policy(db: Session, principal: Principal, data: PolicyCreate) -> SlaPolicy:
    principal.require_admin()
    brand = resolve_brand(db, principal, data.brand)
    if db.scalar(sa.select(SlaPolicy.id).where(SlaPolicy.brand_id == brand.id, SlaPolicy.slug == data.slug)):
        raise Conflict(f"brand '{brand.slug}' has an SLA policy '{data.slug}' already", field="slug")
    policy = SlaPolicy(
        brand_id=brand.id, slug=data.slug, name=data.name, department=data.department, priority=data.priority,
        calendar_id=_calendar_in_brand(db, brand.id, data.calendar),
        first_response_minutes=data.first_response_minutes, next_response_minutes=data.next_response_minutes,
        resolution_minutes=data.resolution_minutes, warn_before_minutes=data.warn_before_minutes,
        escalate_on_breach=data.escalate_on_breach, is_active=True,
    )
    _needs_a_target(policy)
    db.add(policy)
    db.flush()
    return policy


def get_policy(db: Session, principal: Principal, policy_id: int) -> SlaPolicy:
    policy = db.scalar(scoped(sa.select(SlaPolicy).where(SlaPolicy.id == policy_id), SlaPolicy.brand_id, principal))
    if policy is None:
        raise NotFound(f"SLA policy {policy_id} not found")
    return policy


def update_policy(db: Session, principal: Principal, policy_id: int, data: PolicyUpdate) -> SlaPolicy:
    """Changes apply to clocks started from now on; running clocks keep the targets they started with."""
    principal.require_admin()
    policy = get_policy(db, principal, policy_id)
    changes = patch_values(data, nullable=frozenset({"calendar", *TARGETS}))
    for field, value in changes.items():
        if field == "calendar":
            policy.calendar_id = _calendar_in_brand(db, policy.brand_id, value)
        else:
            setattr(policy, field, value)
    _needs_a_target(policy)
    db.flush()
    return policy


def list_policies(db: Session, principal: Principal) -> list[SlaPolicy]:
    stmt = scoped(sa.select(SlaPolicy), SlaPolicy.brand_id, principal)
    return list(db.scalars(stmt.order_by(SlaPolicy.brand_id, SlaPolicy.slug)))


def clock_report(db: Session, ticket: clocks.ClockedTicket) -> TicketSlaOut:
    """A ticket's SLA clocks as an agent reads them (the tickets domain checks who may see the ticket)."""
    now = utcnow()
    out = []
    for c in clocks.clocks_of(db, ticket, live_only=False):
        used = c.elapsed_seconds
        if c.running_since is not None:
            policy = db.get_one(SlaPolicy, c.policy_id)
            cal = clocks.calendar_of(db, policy.calendar_id)
            used += bh.business_time_between(cal, c.running_since, now).total_seconds()
        out.append(ClockOut(id=c.id, metric=c.metric, policy_id=c.policy_id, status=clocks.status_of(c, now),
                            target_minutes=c.target_seconds / 60, business_minutes_used=round(used / 60, 2),
                            started_at=c.started_at, due_at=c.due_at, warned_at=c.warned_at,
                            breached_at=c.breached_at, stopped_at=c.stopped_at))
    policy_id = out[-1].policy_id if out else None
    assert ticket.id is not None  # the report is of a stored ticket
    return TicketSlaOut(ticket_id=ticket.id, policy_id=policy_id, due_at=ticket.sla_due_at, clocks=out)
