"""A ticket's SLA clocks, moved by what happens to the ticket. Called by the tickets service in the transaction of
the change, so a clock never disagrees with its ticket.

First response runs from creation to the first public reply; next response from a customer's message (once the first
reply is given) to the reply after it; resolution from creation to solved, paused while the ticket is pending on the
customer or on hold, resumed when it opens again (also after a reopen). Every clock counts business time in its
policy's calendar (kit.business_hours); its due and warning instants are stored so the worker finds them by index.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy.orm import Session

from tierdesk.kit import business_hours as bh
from tierdesk.kit.vocabulary import Department, Priority, SlaMetric, TicketStatus
from tierdesk.sla import repository
from tierdesk.sla.models import BusinessCalendar, SlaClock, SlaPolicy

PAUSED_STATUSES = frozenset({TicketStatus.PENDING, TicketStatus.ON_HOLD})


class ClockedTicket(Protocol):
    """What the clocks read and write of a ticket (the tickets domain, above this one, passes its Ticket)."""

    @property
    def id(self) -> int | None: ...  # None before the ticket's first flush

    brand_id: int
    department: Department | None
    priority: Priority
    status: TicketStatus
    first_response_at: dt.datetime | None
    sla_due_at: dt.datetime | None

_TARGET_FIELD = {
    SlaMetric.FIRST_RESPONSE: "first_response_minutes",
    SlaMetric.NEXT_RESPONSE: "next_response_minutes",
    SlaMetric.RESOLUTION: "resolution_minutes",
}


def calendar_of(db: Session, calendar_id: int | None) -> bh.BusinessCalendar:
    if calendar_id is None:
        return bh.BusinessCalendar.always_open()
    row = db.get_one(BusinessCalendar, calendar_id)
    return _parsed(row.timezone, _frozen(row.weekly_hours), tuple(row.holidays))


_Weekly = tuple[tuple[str, tuple[str, ...]], ...]
_calendar_cache: dict[tuple[str, _Weekly, tuple[str, ...]], bh.BusinessCalendar] = {}


def _frozen(weekly: dict[str, list[str]]) -> _Weekly:
    return tuple(sorted((day, tuple(spans)) for day, spans in weekly.items()))


def _parsed(timezone: str, weekly: _Weekly, holidays: tuple[str, ...]) -> bh.BusinessCalendar:
    """Calendars are parsed once per content (rows are validated when saved, so parsing here cannot fail)."""
    key = (timezone, weekly, holidays)
    cal = _calendar_cache.get(key)
    if cal is None:
        if len(_calendar_cache) > 1000:
            _calendar_cache.clear()
        cal = _calendar_cache[key] = bh.BusinessCalendar.from_spec(
            timezone, {day: list(spans) for day, spans in weekly}, list(holidays)
        )
    return cal


def policy_for(db: Session, ticket: ClockedTicket, *, existing_at: dt.datetime | None = None,
               or_id: int | None = None) -> SlaPolicy | None:
    """The brand's most specific active policy for the ticket: department and priority, then either, then neither.
    With existing_at, only policies that existed then (or the one of id or_id) are considered."""
    candidates = repository.policies_matching(db, ticket.brand_id, ticket.department, ticket.priority,
                                              existing_at=existing_at, or_id=or_id)
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.department is not None and p.priority is not None,
                                          p.priority is not None, p.department is not None, -p.id))


def running_policy_id(clocks: list[SlaClock]) -> int | None:
    """The policy a ticket runs under, as its own clocks record it: the policy its live clocks were last set from
    (at opening, or by the latest retargeting), else its latest clock's. None for a ticket with no clock."""
    live = [c for c in clocks if c.stopped_at is None]
    latest = max(live or clocks, key=lambda c: (c.id is None, c.id or 0), default=None)
    return latest.policy_id if latest else None


def ticket_policy(db: Session, ticket: ClockedTicket) -> SlaPolicy | None:
    """The policy a new clock of a running ticket starts from. A policy created after the ticket's clocks started
    does not apply to it (its other clocks run under the one chosen then, and `GET .../sla` reports that one), so
    this is the most specific of the policies that existed when they started, or the one they were last retargeted
    to; a ticket with no clock yet takes the policy that applies now."""
    clocks = clocks_of(db, ticket, live_only=False)
    if not clocks:
        return policy_for(db, ticket)
    started = min(c.started_at for c in clocks)
    return policy_for(db, ticket, existing_at=started, or_id=running_policy_id(clocks))


def _target_seconds(policy: SlaPolicy, metric: SlaMetric) -> int | None:
    minutes = getattr(policy, _TARGET_FIELD[metric])
    return None if minutes is None else int(minutes) * 60


def _schedule(db: Session, clock: SlaClock, policy: SlaPolicy, now: dt.datetime) -> None:
    """Set a running clock's due and warning instants from what is left of its target."""
    cal = calendar_of(db, policy.calendar_id)
    left = dt.timedelta(seconds=clock.target_seconds - clock.elapsed_seconds)
    if left <= dt.timedelta(0):  # used up while it was paused or retargeted: due now (breached if not yet)
        clock.due_at = clock.due_at if clock.breached_at else now
        clock.warn_at = None
        return
    clock.due_at = bh.add_business_time(cal, now, left)
    warn = dt.timedelta(minutes=policy.warn_before_minutes)
    if clock.warned_at or not warn:
        clock.warn_at = None
    else:
        clock.warn_at = bh.add_business_time(cal, now, max(left - warn, dt.timedelta(0)))


def _start(
    db: Session, ticket: ClockedTicket, policy: SlaPolicy, metric: SlaMetric, now: dt.datetime
) -> SlaClock | None:
    target = _target_seconds(policy, metric)
    if target is None:
        return None
    clock = SlaClock(ticket=ticket, brand_id=ticket.brand_id, policy_id=policy.id, metric=metric,
                     target_seconds=target, started_at=now, elapsed_seconds=0.0, running_since=now)
    _schedule(db, clock, policy, now)
    db.add(clock)
    return clock


def _pause(db: Session, clock: SlaClock, now: dt.datetime) -> None:
    if clock.running_since is None:
        return
    policy = db.get_one(SlaPolicy, clock.policy_id)
    used = bh.business_time_between(calendar_of(db, policy.calendar_id), clock.running_since, now)
    clock.elapsed_seconds += used.total_seconds()
    clock.running_since = None
    clock.due_at = None if clock.breached_at is None else clock.due_at
    clock.warn_at = None


def _resume(db: Session, clock: SlaClock, now: dt.datetime) -> None:
    if clock.running_since is not None:
        return
    clock.running_since = now
    clock.stopped_at = None
    _schedule(db, clock, db.get_one(SlaPolicy, clock.policy_id), now)


def _stop(db: Session, clock: SlaClock, now: dt.datetime) -> None:
    _pause(db, clock, now)
    clock.stopped_at = now
    clock.due_at = clock.due_at if clock.breached_at else None


def clocks_of(db: Session, ticket: ClockedTicket, *, live_only: bool = True) -> list[SlaClock]:
    if ticket.id is None:  # a ticket being opened: its clocks are not in the database yet
        return [c for c in db.new if isinstance(c, SlaClock) and c.ticket is ticket]
    return repository.clocks_of_ticket(db, ticket.id, live_only=live_only)


def _refresh_ticket_due(ticket: ClockedTicket, clocks: list[SlaClock]) -> None:
    dues = [c.due_at for c in clocks if c.due_at is not None and c.stopped_at is None]
    ticket.sla_due_at = min(dues) if dues else None


# -- hooks the tickets service calls ----------------------------------------------------------------------------
def ticket_opened(db: Session, ticket: ClockedTicket, now: dt.datetime) -> None:
    policy = policy_for(db, ticket)
    if policy is None:
        return
    clocks = [c for c in (_start(db, ticket, policy, m, now) for m in (SlaMetric.FIRST_RESPONSE,
                                                                       SlaMetric.RESOLUTION)) if c]
    _refresh_ticket_due(ticket, clocks)


def customer_wrote(db: Session, ticket: ClockedTicket, now: dt.datetime) -> None:
    """Once the first reply is given, a customer's message starts a next-response clock (unless one runs)."""
    if ticket.first_response_at is None:
        return  # the first-response clock covers it; nothing moves (and intake's hot path reads no clock)
    clocks = clocks_of(db, ticket)
    if not any(c.metric is SlaMetric.NEXT_RESPONSE for c in clocks):
        # The ticket's own policy, not the brand's most specific one now: a policy created since must not stop
        # (or change) the ticket's next-response clock while its other clocks run under the old one.
        policy = ticket_policy(db, ticket)
        started = policy and _start(db, ticket, policy, SlaMetric.NEXT_RESPONSE, now)
        if started:
            clocks.append(started)
    _refresh_ticket_due(ticket, clocks)


def agent_replied(db: Session, ticket: ClockedTicket, now: dt.datetime) -> None:
    """A public reply meets the first- and next-response clocks."""
    clocks = clocks_of(db, ticket)
    for c in clocks:
        if c.metric in (SlaMetric.FIRST_RESPONSE, SlaMetric.NEXT_RESPONSE):
            _stop(db, c, now)
    _refresh_ticket_due(ticket, clocks)


def status_changed(db: Session, ticket: ClockedTicket, now: dt.datetime) -> None:
    """The ticket's new status moves its clocks: closed stops them all; pending, on hold and solved pause
    resolution (a reopen resumes it: full resolution time), and solved also stops the response clocks, as a solved
    ticket owes the customer no reply; back to new or open resumes resolution."""
    after = ticket.status
    clocks = clocks_of(db, ticket)
    for c in clocks:
        if after is TicketStatus.CLOSED or (after is TicketStatus.SOLVED and c.metric is not SlaMetric.RESOLUTION):
            _stop(db, c, now)
        elif c.metric is SlaMetric.RESOLUTION:
            if after is TicketStatus.SOLVED or after in PAUSED_STATUSES:
                _pause(db, c, now)
            else:
                _resume(db, c, now)
    _refresh_ticket_due(ticket, clocks)


def targets_changed(db: Session, ticket: ClockedTicket, now: dt.datetime) -> None:
    """Priority or department changed: live clocks take the targets of the policy that now applies."""
    policy = policy_for(db, ticket)
    clocks = clocks_of(db, ticket)
    for c in clocks:
        target = _target_seconds(policy, c.metric) if policy else None
        if target is None:
            _stop(db, c, now)
            continue
        assert policy is not None  # a target comes from a policy
        if c.policy_id == policy.id and c.target_seconds == target:
            continue
        running = c.running_since is not None
        _pause(db, c, now)
        c.policy_id, c.target_seconds = policy.id, target
        if running:
            _resume(db, c, now)
    _refresh_ticket_due(ticket, [c for c in clocks if c.stopped_at is None])


def status_of(clock: SlaClock, now: dt.datetime) -> str:
    """What an agent reads: running, paused, warned, breached, met."""
    if clock.breached_at is not None:
        return "breached"
    if clock.stopped_at is not None:
        return "met"
    if clock.running_since is None:
        return "paused"
    return "warning" if clock.warned_at is not None else "running"
