"""CLI for presence, capacity, queues (waiting tickets and eligible agents) and moving tickets between tiers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from tierdesk.config import get_settings
from tierdesk.kit.console import friendly_errors, out
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.vocabulary import EventKind

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tierdesk.agents.models import Agent
    from tierdesk.db import Database
    from tierdesk.queues.models import Queue

presence_app = typer.Typer(help="Agents' presence and capacity.", no_args_is_help=True)
queues_app = typer.Typer(help="Queues: routing, waiting tickets, eligible agents.", no_args_is_help=True)
tickets_app = typer.Typer(help="Tickets: escalate, de-escalate, transfer, SLA status.", no_args_is_help=True)


def _database() -> Database:
    """The configured database, every model imported and its schema checked (a readable error if it is missing)."""
    from tierdesk.migrate import database_for_command

    return database_for_command()


def _agent(db: Session, email: str) -> Agent:
    from tierdesk.agents.repository import by_email

    agent = by_email(db, email)
    if agent is None:
        raise InvalidInput(f"no agent with email {email}", field="email")
    return agent


def _queue(db: Session, ref: str) -> Queue:
    """BRAND/QUEUE (slugs) or a queue id."""
    from tierdesk.brands.repository import by_slug
    from tierdesk.queues.models import Queue
    from tierdesk.queues.repository import in_brand

    if ref.isdigit():
        queue = db.get(Queue, int(ref))
    else:
        brand_slug, _, queue_slug = ref.partition("/")
        brand = by_slug(db, brand_slug)
        queue = in_brand(db, brand.id, queue_slug) if brand and queue_slug else None
    if queue is None:
        raise InvalidInput(f"no queue {ref!r} (write BRAND/QUEUE or the queue's id)", field="queue")
    return queue


def _presence_row(db: Session, agent: Agent) -> str:
    from tierdesk.routing.router import default_capacity, workload

    seen = workload(db, agent.id, default_capacity(get_settings()))
    work = ", ".join(f"{k.value} {seen.load[k]}/{seen.capacity[k]}" for k in seen.capacity) if seen else "deactivated"
    return f"{agent.email}: {agent.presence.value} since {agent.presence_since:%Y-%m-%d %H:%M:%S} UTC; load {work}"


@presence_app.command("set")
@friendly_errors
def presence_set(email: str, status: Annotated[str, typer.Argument(help="available, busy, away or offline")],
                 reason: Annotated[str | None, typer.Option(help="why (kept in the history)")] = None) -> None:
    """Set an agent's presence."""
    from tierdesk.agents.presence import set_presence
    from tierdesk.agents.schemas import PresenceSet
    from tierdesk.kit.actors import SYSTEM

    data = PresenceSet(status=status, reason=reason)
    with _database().transaction() as db:
        agent = set_presence(db, SYSTEM, _agent(db, email).id, data.status, data.reason)
        out.print(_presence_row(db, agent))


@presence_app.command("show")
@friendly_errors
def presence_show(
    email: str, history: Annotated[int, typer.Option(help="changes of the history to show")] = 10
) -> None:
    """An agent's presence, load and capacity, with the latest changes."""
    from tierdesk.agents.presence import history as presence_history
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction(write=False) as db:
        agent = _agent(db, email)
        out.print(_presence_row(db, agent))
        table = Table("when (UTC)", "from", "to", "by agent", "reason")
        for c in presence_history(db, SYSTEM, agent.id, history):
            table.add_row(f"{c.created_at:%Y-%m-%d %H:%M:%S}", c.before.value, c.after.value,
                          str(c.changed_by_agent_id or "system"), c.reason or "")
        out.print(table)


@presence_app.command("capacity")
@friendly_errors
def presence_capacity(
    email: str,
    phone: Annotated[int | None, typer.Option(help="calls at once")] = None,
    chat: Annotated[int | None, typer.Option(help="chats at once")] = None,
    mail: Annotated[int | None, typer.Option("--email", help="email, web and API tickets at once")] = None,
) -> None:
    """Set how much work of each kind an agent takes at once."""
    from tierdesk.agents.presence import set_capacity
    from tierdesk.agents.schemas import CapacitySet
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.kit.vocabulary import WorkKind

    data = CapacitySet(phone=phone, chat=chat, email=mail)
    given = {WorkKind(k): v for k, v in data.model_dump(exclude_none=True).items()}
    if not given:
        raise InvalidInput("give --phone, --chat or --email", field="capacity")
    with _database().transaction() as db:
        agent = set_capacity(db, SYSTEM, _agent(db, email).id, given)
        out.print(_presence_row(db, agent))


@queues_app.command("create")
@friendly_errors
def queues_create(
    brand: Annotated[str, typer.Argument(help="slug of the brand")],
    slug: Annotated[str, typer.Argument(help="the queue's slug, e.g. cs-billing")],
    department: Annotated[str, typer.Option(help="CS or TS")],
    tier: Annotated[int, typer.Option(help="0-3")] = 1,
    skill: Annotated[list[str] | None, typer.Option(help="required SKILL or SKILL:LEVEL (1-5); repeat")] = None,
    name: Annotated[str | None, typer.Option(help="display name (default: the slug)")] = None,
    policy: Annotated[str, typer.Option(help="longest_idle, least_loaded or round_robin")] = "longest_idle",
) -> None:
    """Create a queue of a brand's department, at a tier, with the skills its agents need."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.routing.schemas import QueueCreate, RequiredSkill
    from tierdesk.routing.service import create_queue

    required = []
    for item in skill or []:
        skill_name, _, level = item.partition(":")
        if level and not level.isdigit():
            raise InvalidInput(f"'{item}' is not SKILL or SKILL:LEVEL (level 1-5)", field="skill")
        required.append(RequiredSkill(skill=skill_name, min_level=int(level or 1)))
    data = QueueCreate(brand=brand, slug=slug, name=name or slug, department=department, tier=tier,
                       required_skills=required, routing_policy=policy)
    with _database().transaction() as db:
        q = create_queue(db, SYSTEM, data)
        assert q.department is not None  # QueueCreate requires one
        skills = ", ".join(f"{s.skill}>={s.min_level}" for s in q.required_skills) or "no skills"
        out.print(f"queue {q.id} '{brand}/{q.slug}' created ({q.department.value}, tier {q.tier}, {skills})")


@queues_app.command("list")
@friendly_errors
def queues_list() -> None:
    """Every queue with its routing policy and how many tickets wait in it."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.queues.repository import list_visible
    from tierdesk.tickets.repository import waiting_counts

    with _database().transaction(write=False) as db:
        queues = list_visible(db, SYSTEM)
        waiting = waiting_counts(db, [q.id for q in queues])
        table = Table("id", "brand", "queue", "dept", "tier", "policy", "skills", "overflow", "waiting")
        for q in queues:
            overflow = f"-> {q.overflow_queue_id} after {q.overflow_after_seconds}s" if q.overflow_queue_id else ""
            table.add_row(str(q.id), str(q.brand_id), q.slug, q.department.value if q.department else "-",
                          str(q.tier), q.routing_policy.value,
                          ", ".join(f"{s.skill}>={s.min_level}" for s in q.required_skills), overflow,
                          str(waiting.get(q.id, 0)))
        out.print(table)


@queues_app.command("configure")
@friendly_errors
def queues_configure(
    queue: Annotated[str, typer.Argument(help="BRAND/QUEUE or the queue's id")],
    policy: Annotated[str | None, typer.Option(help="longest_idle, least_loaded or round_robin")] = None,
    overflow_to: Annotated[str | None, typer.Option(help="queue (slug) that takes long waiters")] = None,
    overflow_after: Annotated[int | None, typer.Option(help="seconds a ticket waits before it overflows")] = None,
    no_overflow: Annotated[bool, typer.Option("--no-overflow", help="turn overflow off")] = False,
) -> None:
    """Set a queue's routing policy and overflow."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.routing.schemas import QueueUpdate
    from tierdesk.routing.service import update_queue

    changes: dict[str, Any] = {}
    if policy is not None:
        changes["routing_policy"] = policy
    if no_overflow:
        changes.update(overflow_queue=None, overflow_after_seconds=None)
    else:
        if overflow_to is not None:
            changes["overflow_queue"] = overflow_to
        if overflow_after is not None:
            changes["overflow_after_seconds"] = overflow_after
    if not changes:
        raise InvalidInput("give --policy, --overflow-to/--overflow-after or --no-overflow", field="queue")
    data = QueueUpdate(**changes)
    with _database().transaction() as db:
        q = update_queue(db, SYSTEM, _queue(db, queue).id, data)
        overflow = f"overflow to queue {q.overflow_queue_id} after {q.overflow_after_seconds} s" \
            if q.overflow_queue_id else "no overflow"
        out.print(f"queue {q.slug}: {q.routing_policy.value}, {overflow}")


@queues_app.command("waiting")
@friendly_errors
def queues_waiting(queue: Annotated[str, typer.Argument(help="BRAND/QUEUE or the queue's id")]) -> None:
    """The tickets waiting in a queue, in the order they will be offered, and why each still waits."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.routing.router import default_capacity
    from tierdesk.routing.service import eligible_agents, waiting_tickets

    defaults = default_capacity(get_settings())
    with _database().transaction(write=False) as db:
        q = _queue(db, queue)
        table = Table("ticket", "priority", "channel", "waited", "SLA due (UTC)", "why it waits")
        for w in waiting_tickets(db, SYSTEM, q.id, defaults):
            due = f"{w.sla_due_at:%Y-%m-%d %H:%M}" if w.sla_due_at else ""
            table.add_row(str(w.ticket_id), w.priority.value, w.channel.value, f"{w.waited_seconds:.0f}s", due,
                          w.reason)
        out.print(table)
        team = Table("agent", "tier", "status", "load")
        for agent, seen in eligible_agents(db, q, defaults):
            team.add_row(agent.email, str(agent.tier), agent.presence.value,
                         ", ".join(f"{k.value} {seen.load[k]}/{seen.capacity[k]}" for k in seen.capacity))
        out.print(team)


def _move(ticket_id: int, move: str, reason: str, summary: str | None, queue: str | None) -> None:
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.routing.escalation import Move, move_by_request

    with _database().transaction() as db:
        ticket = move_by_request(db, SYSTEM, ticket_id, Move(move), reason=reason, summary=summary, queue_ref=queue)
        out.print(f"ticket {ticket.id} {move.replace('_', '-')}: now in queue {ticket.queue_id} (tier {ticket.tier}),"
                  " waiting for an agent")


Reason = Annotated[str, typer.Option(help="why the ticket moves")]
Summary = Annotated[str | None, typer.Option(help="what was tried (required to escalate)")]
QueueRef = Annotated[str | None, typer.Option(help="slug or id of the target queue")]


@tickets_app.command("escalate")
@friendly_errors
def tickets_escalate(ticket_id: int, reason: Reason, summary: Summary = None, queue: QueueRef = None) -> None:
    """Escalate a ticket to the next tier (or a named queue above)."""
    _move(ticket_id, EventKind.ESCALATED, reason, summary, queue)


@tickets_app.command("de-escalate")
@friendly_errors
def tickets_de_escalate(ticket_id: int, reason: Reason, summary: Summary = None, queue: QueueRef = None) -> None:
    """Send a ticket back down a tier (or to a named queue below)."""
    _move(ticket_id, EventKind.DE_ESCALATED, reason, summary, queue)


@tickets_app.command("transfer")
@friendly_errors
def tickets_transfer(ticket_id: int, reason: Reason, queue: Annotated[str, typer.Option(help="slug or id")],
                     summary: Summary = None) -> None:
    """Transfer a ticket to a named queue."""
    _move(ticket_id, EventKind.TRANSFERRED, reason, summary, queue)


@tickets_app.command("sla")
@friendly_errors
def tickets_sla(ticket_id: int) -> None:
    """A ticket's SLA clocks."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.tickets.service import ticket_sla

    with _database().transaction(write=False) as db:
        sla = ticket_sla(db, SYSTEM, ticket_id)
        table = Table("metric", "status", "target (min)", "used (business min)", "due (UTC)", "breached (UTC)")
        for c in sla.clocks:
            table.add_row(c.metric.value, c.status, f"{c.target_minutes:g}", f"{c.business_minutes_used:.1f}",
                          f"{c.due_at:%Y-%m-%d %H:%M:%S}" if c.due_at else "",
                          f"{c.breached_at:%Y-%m-%d %H:%M:%S}" if c.breached_at else "")
        out.print(table if sla.clocks else f"ticket {ticket_id} has no SLA policy")
