"""What the workspace's tests share: tickets through intake (assigned, tagged and given an SLA due time where a test
needs them so), tickets opened through the API or by email, and agents signed in."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.channels.email.helpers import add_addresses, inbound_for, mail
from tests.conftest import contact
from tests.pages import set_password, sign_in
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.kit.actors import CUSTOMER_ACTOR, SYSTEM, SYSTEM_ACTOR
from tierdesk.kit.errors import Conflict
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import MessageDirection
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


def open_ticket(web: TestClient, world, **overrides) -> int:
    overrides.setdefault("department", "TS")
    overrides.setdefault("priority", "normal")
    r = web.post("/api/v1/contacts", json=contact(**overrides), headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    return r.json()["ticket"]["id"]


def email_ticket(database, settings, raw: bytes | None = None) -> int:
    """A ticket opened by a real email (triaged on the way in; its original MIME kept)."""
    try:
        add_addresses(database, acme="support@acme.example")
    except Conflict:
        pass  # the test's second email ticket
    result = inbound_for(database, settings).receive(raw or mail(), recipients=["support@acme.example"],
                                                     source="test")
    assert result.ticket_id is not None
    return result.ticket_id


def sla_policy(web: TestClient, world) -> None:
    r = web.post("/api/v1/sla/policies", json={"brand": "acme", "slug": "std", "name": "Standard",
                                                "first_response_minutes": 60, "resolution_minutes": 600},
                 headers=world.auth("admin"))
    assert r.status_code == 201, r.text


def customer_writes(database, ticket_id: int, n: int = 1, text: str = "More detail") -> None:
    with database.transaction() as db:
        ticket = db.get_one(Ticket, ticket_id)
        for i in range(n):
            body = f"{text} {i}"
            mutations.add_message(db, ticket, direction=MessageDirection.INBOUND, channel=ticket.channel,
                                  body_text=body, body_html=f"<p>{body}</p>", actor=CUSTOMER_ACTOR,
                                  author_customer_id=ticket.customer_id)


def signed_in(web: TestClient, database, world, who: str = "agent") -> str:
    set_password(database, world.agents[who])
    return sign_in(web, f"{who}@example.com")


def seen_message_id(html: str) -> int:
    found = re.search(r'name="seen_message_id" value="(\d+)"', html)
    assert found
    return int(found.group(1))
