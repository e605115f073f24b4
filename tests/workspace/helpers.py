"""Tickets for the workspace's tests: through intake (as a contact arrives), then assigned, tagged and given an SLA
due time where a test needs them so."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from tests.conftest import contact
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.kit.actors import SYSTEM, SYSTEM_ACTOR
from tierdesk.kit.time import utcnow
from tierdesk.tickets import mutations
from tierdesk.tickets.models import Ticket


def ticket(database, *, assignee: int | None = None, due_in: dt.timedelta | None = None, tags=(),
           brand: str = "acme", queue: str | None = "cs-billing", priority: str = "normal", **overrides) -> int:
    fields = {"brand": brand, "priority": priority, **overrides}
    if queue is not None:
        fields["queue"] = queue
    with database.transaction() as db:
        made = db.get(Ticket, default_pipeline().receive(db, SYSTEM, ContactIn(**contact(**fields))).ticket.id)
        assert made is not None
        if tags:
            mutations.set_tags(db, made, sorted(tags), SYSTEM_ACTOR, None)
        if assignee is not None:
            mutations.assign(db, made, assignee, SYSTEM_ACTOR)
        ticket_id = made.id
    if due_in is not None:
        with database.transaction() as db:
            db.execute(sa.update(Ticket).where(Ticket.id == ticket_id).values(sla_due_at=utcnow() + due_in))
    return ticket_id
