"""The ACD: offers waiting tickets to the best eligible agents with room for them.

One routing pass, in one transaction:
1. the queues that have waiting tickets and the available agents who could serve them (agents locked FOR UPDATE
   SKIP LOCKED: an agent being routed by another worker is simply left to it this pass);
2. those agents' work in progress per kind of work (counted after the lock, so it is exact) and their capacities;
3. the waiting tickets of the queues someone can serve, most urgent first (priority, then the nearest SLA due time,
   then the longest wait), locked FOR UPDATE SKIP LOCKED;
4. each ticket goes to the agent the queue's policy picks among the eligible ones with room; every assignment is a
   compare-and-set update (still unassigned and waiting) with its events.
No ticket is assigned twice (the row lock and the compare-and-set), and no agent goes over capacity (their row lock
serialises every pass that could add to their load).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from tierdesk.agents.models import Agent, AgentCapacity, AgentSkill, agent_brands
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import (
    CHANNELS_OF,
    WORK_KIND,
    PresenceStatus,
    RoutingPolicy,
    TicketStatus,
    WorkKind,
)
from tierdesk.queues.models import Queue
from tierdesk.queues.rules import QueueRule
from tierdesk.routing.repository import PRIORITY_RANK
from tierdesk.tickets import mutations
from tierdesk.tickets.lifecycle import WORKABLE
from tierdesk.tickets.models import Ticket
from tierdesk.tickets.mutations import RoutedAssignment

if TYPE_CHECKING:
    from tierdesk.config import Settings


@dataclass
class Candidate:
    """An available agent as the router sees them in one pass."""

    id: int
    tier: int
    idle_since: dt.datetime
    brand_ids: set[int] = field(default_factory=set)
    skills: dict[str, int] = field(default_factory=dict)
    capacity: dict[WorkKind, int] = field(default_factory=dict)
    load: dict[WorkKind, int] = field(default_factory=lambda: dict.fromkeys(WorkKind, 0))

    def has_room(self, kind: WorkKind) -> bool:
        return self.load[kind] < self.capacity[kind]

    def load_share(self) -> float:
        total = sum(self.capacity.values())
        return sum(self.load.values()) / total if total else 1.0


def default_capacity(settings: Settings) -> dict[WorkKind, int]:
    """The capacities of agents who have none of their own (TIERDESK_CAPACITY_*)."""
    return {WorkKind.PHONE: settings.capacity_phone, WorkKind.CHAT: settings.capacity_chat,
            WorkKind.EMAIL: settings.capacity_email}


def queue_rules(db: Session, queue_ids: list[int]) -> dict[int, QueueRule]:
    """The active queues among `queue_ids`, as rules."""
    queues = db.scalars(
        sa.select(Queue).where(Queue.id.in_(queue_ids), Queue.is_active.is_(True))
        .options(selectinload(Queue.required_skills))
    )
    return {q.id: QueueRule.of(q) for q in queues}


def _in_brands(brand_ids: set[int]) -> sa.Select[int]:
    member = sa.select(agent_brands.c.agent_id).where(agent_brands.c.brand_id.in_(brand_ids))
    return sa.select(Agent.id).where(Agent.is_active.is_(True), Agent.id.in_(member))


def candidates(db: Session, brand_ids: set[int], defaults: dict[WorkKind, int], *, lock: bool) -> dict[int, Candidate]:
    """The available agents of the brands, as a routing pass sees them. With `lock`, their rows are locked (SKIP
    LOCKED) before their load is counted."""
    # Only available agents take new work: busy, away, offline and wrap_up (after-call work) never do.
    return _described(db, _in_brands(brand_ids).where(Agent.presence == PresenceStatus.AVAILABLE), defaults, lock=lock)


def brand_team(db: Session, brand_id: int, defaults: dict[WorkKind, int]) -> dict[int, Candidate]:
    """Every active agent of the brand, whatever their presence (read only)."""
    return _described(db, _in_brands({brand_id}), defaults, lock=False)


def workload(db: Session, agent_id: int, defaults: dict[WorkKind, int]) -> Candidate | None:
    """One active agent's skills, capacity and work in progress (read only); None for an inactive agent."""
    pool = sa.select(Agent.id).where(Agent.is_active.is_(True), Agent.id == agent_id)
    return _described(db, pool, defaults, lock=False).get(agent_id)


def _described(db: Session, pool: sa.Select[int], defaults: dict[WorkKind, int], *, lock: bool) -> dict[int, Candidate]:
    """The agents `pool` selects (a SELECT of Agent.id), with their brands, skills, capacities and load."""
    stmt = pool.add_columns(Agent.tier, Agent.idle_since)
    if lock:
        stmt = stmt.order_by(Agent.id).with_for_update(skip_locked=True, of=Agent)
    found = {a.id: Candidate(a.id, a.tier, a.idle_since) for a in db.execute(stmt)}
    if not found:
        return found
    # The details are selected by the same condition rather than a list of ids (a list of hundreds of parameters
    # costs more to send than the rows); rows of agents another worker holds are dropped here.
    for agent_id, brand_id in db.execute(
        sa.select(agent_brands.c.agent_id, agent_brands.c.brand_id).where(agent_brands.c.agent_id.in_(pool))
    ):
        if agent_id in found:
            found[agent_id].brand_ids.add(brand_id)
    for agent_id, skill, level in db.execute(
        sa.select(AgentSkill.agent_id, AgentSkill.skill, AgentSkill.level).where(AgentSkill.agent_id.in_(pool))
    ):
        if agent_id in found:
            found[agent_id].skills[skill] = level
    for agent in found.values():
        agent.capacity = dict(defaults)
    for agent_id, kind, max_active in db.execute(
        sa.select(AgentCapacity.agent_id, AgentCapacity.work_kind, AgentCapacity.max_active)
        .where(AgentCapacity.agent_id.in_(pool))
    ):
        if agent_id in found:
            found[agent_id].capacity[kind] = max_active
    for agent_id, channel, count in db.execute(
        sa.select(Ticket.assignee_id, Ticket.channel, sa.func.count())
        .where(Ticket.assignee_id.in_(pool), Ticket.status.in_(WORKABLE))
        .group_by(Ticket.assignee_id, Ticket.channel)
    ):
        if agent_id in found:
            found[agent_id].load[WORK_KIND[channel]] += count
    return found


def _pick(rule: QueueRule, eligible: list[Candidate]) -> Candidate:
    if rule.policy is RoutingPolicy.LEAST_LOADED:
        return min(eligible, key=lambda a: (a.load_share(), a.idle_since, a.id))
    if rule.policy is RoutingPolicy.ROUND_ROBIN:
        ordered = sorted(eligible, key=lambda a: a.id)
        after = [a for a in ordered if rule.round_robin_last is not None and a.id > rule.round_robin_last]
        return after[0] if after else ordered[0]
    return min(eligible, key=lambda a: (a.idle_since, a.id))  # longest idle


_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)


def _urgency(t: sa.Row[*tuple[Any, ...]]) -> tuple[Any, ...]:
    """The serving order of PRIORITY_RANK's query, for tickets fetched queue by queue."""
    return (t.priority.rank, t.sla_due_at is None, t.sla_due_at or _NEVER, t.routable_since, t.id)


def route_waiting(
    db: Session, defaults: dict[WorkKind, int], *, batch: int = 1000, apply: bool = True
) -> list[RoutedAssignment]:
    """One routing pass (see the module's docstring). Returns the assignments made; with `apply` False, the ones it
    would make, reading only (the worker's cheap look before it takes a write transaction)."""
    now = utcnow()
    waiting = db.execute(
        sa.select(Ticket.queue_id, Ticket.brand_id, Ticket.channel).where(Ticket.routable_since.is_not(None))
        .distinct()
    ).all()
    if not waiting:
        return []
    kinds_waiting: dict[int, set[WorkKind]] = defaultdict(set)
    for queue_id, _, channel in waiting:
        kinds_waiting[queue_id].add(WORK_KIND[channel])
    rules = queue_rules(db, list(kinds_waiting))
    agents = candidates(db, {b for _, b, _ in waiting}, defaults, lock=apply)
    servable = {qid: [a for a in agents.values() if rule.accepts(a)] for qid, rule in rules.items()}
    servable = {qid: agents_ for qid, agents_ in servable.items() if agents_}
    if not servable:
        return []
    # Per queue and kind of work, only as many of its most urgent tickets as its eligible agents have room for
    # (tickets nobody can take yet are neither read nor locked, so a long backlog costs nothing, and calls waiting
    # for a free line never hold back the emails behind them); then all of them in one order, most urgent first,
    # because an agent of several queues takes the most urgent ticket of any.
    tickets: list[sa.Row[*tuple[Any, ...]]] = []
    for queue_id, team in servable.items():
        for kind in kinds_waiting[queue_id]:
            channels = CHANNELS_OF[kind]
            room = sum(max(a.capacity[kind] - a.load[kind], 0) for a in team)
            if room <= 0:
                continue
            stmt = (
                sa.select(Ticket.id, Ticket.queue_id, Ticket.channel, Ticket.status, Ticket.routable_since,
                          Ticket.priority, Ticket.sla_due_at)
                .where(Ticket.queue_id == queue_id, Ticket.routable_since.is_not(None), Ticket.channel.in_(channels))
                .order_by(PRIORITY_RANK, Ticket.sla_due_at.is_(None), Ticket.sla_due_at, Ticket.routable_since,
                          Ticket.id)
                .limit(min(room, batch))
            )
            tickets += db.execute(stmt.with_for_update(skip_locked=True, of=Ticket) if apply else stmt).all()
    tickets.sort(key=_urgency)
    made: list[RoutedAssignment] = []
    for t in tickets:
        rule = rules[t.queue_id]
        kind = WORK_KIND[t.channel]
        eligible = [a for a in servable[t.queue_id] if a.has_room(kind)]
        if not eligible:
            continue
        agent = _pick(rule, eligible)
        agent.load[kind] += 1
        agent.idle_since = now
        rule.round_robin_last = agent.id
        made.append(RoutedAssignment(
            t.id, agent.id, rule.brand_id, t.queue_id, (now - t.routable_since).total_seconds(),
            f"routed from queue '{rule.slug}' ({rule.policy.value.replace('_', ' ')})",
            was_new=t.status is TicketStatus.NEW))
        if not apply:
            return made  # one is enough to know a write transaction is worth taking
    if made and apply:
        _write(db, made, rules, now)
    return made


def _write(db: Session, made: list[RoutedAssignment], rules: dict[int, QueueRule], now: dt.datetime) -> None:
    """Apply a pass's assignments through the tickets domain's bulk form (one compare-and-set statement for every
    ticket, events in bulk), then the agents' idle times and the round-robin places."""
    applied = mutations.assign_routed(db, made, now)
    if not applied:
        return
    assigned_agents = sorted({a.agent_id for a in applied})
    db.execute(sa.update(Agent).where(Agent.id.in_(assigned_agents)).values(idle_since=now)
               .execution_options(synchronize_session=False))
    for queue_id in sorted({a.queue_id for a in applied}):  # in id order: two passes never wait on each other
        rule = rules[queue_id]
        if rule.policy is RoutingPolicy.ROUND_ROBIN:
            db.execute(sa.update(Queue).where(Queue.id == queue_id)
                       .values(round_robin_last_agent_id=rule.round_robin_last)
                       .execution_options(synchronize_session=False))
