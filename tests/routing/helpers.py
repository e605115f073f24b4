"""Shared by the routing and SLA tests: agents with skills and presence, tickets through intake, worker passes."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from tests.conftest import contact
from tierdesk.agents import service as agents_service
from tierdesk.agents.models import Agent
from tierdesk.agents.presence import set_capacity, set_presence
from tierdesk.agents.schemas import AgentCreate, SkillLevel
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.vocabulary import PresenceStatus, WorkKind
from tierdesk.routing import router
from tierdesk.tickets.models import Ticket, TicketEvent
from tierdesk.tickets.mutations import RoutedAssignment

DEFAULTS = {WorkKind.PHONE: 1, WorkKind.CHAT: 3, WorkKind.EMAIL: 10}


def add_agent(database, email: str, *, skills: dict[str, int], brands=("acme",), tier: int = 1,
              status: str = "available", capacity: dict[str, int] | None = None) -> int:
    with database.transaction() as db:
        agent = agents_service.create_agent(db, SYSTEM, AgentCreate(
            email=email, display_name=email.split("@")[0], tier=tier, brands=list(brands),
            skills=[SkillLevel(skill=s, level=lvl) for s, lvl in skills.items()]))
        if capacity:
            set_capacity(db, SYSTEM, agent.id, {WorkKind(k): v for k, v in capacity.items()})
        if status != "offline":
            set_presence(db, SYSTEM, agent.id, PresenceStatus(status))
        return agent.id


def new_tickets(database, n: int, queue: str = "ts-helpdesk", **overrides) -> list[int]:
    pipeline = default_pipeline()
    ids = []
    with database.transaction() as db:
        for i in range(n):
            fields = {"subject": f"ticket {i}", "queue": queue, "priority": "normal", **overrides}
            ids.append(pipeline.receive(db, SYSTEM, ContactIn(**contact(**fields))).ticket.id)
    return ids


def route(database, defaults=DEFAULTS) -> list[RoutedAssignment]:
    with database.transaction() as db:
        return router.route_waiting(db, defaults)


def assignees(database, ids: list[int]) -> dict[int, int | None]:
    with database.transaction(write=False) as db:
        return dict(db.execute(sa.select(Ticket.id, Ticket.assignee_id).where(Ticket.id.in_(ids))).all())


def events(database, ticket_id: int, kind: str | None = None) -> list[TicketEvent]:
    with database.transaction(write=False) as db:
        stmt = sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        if kind:
            stmt = stmt.where(TicketEvent.kind == kind)
        return list(db.scalars(stmt))


def backdate(database, ids: list[int], ago: dt.timedelta, column: str = "routable_since") -> None:
    from tierdesk.kit.time import utcnow

    with database.transaction() as db:
        db.execute(sa.update(Ticket).where(Ticket.id.in_(ids)).values({column: utcnow() - ago}))


def set_idle_since(database, agent_id: int, ago: dt.timedelta) -> None:
    from tierdesk.kit.time import utcnow

    with database.transaction() as db:
        db.execute(sa.update(Agent).where(Agent.id == agent_id).values(idle_since=utcnow() - ago))
