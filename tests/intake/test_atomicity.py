"""A contact is accepted whole or not at all, and "accepted" is only said once it is committed."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.conftest import contact
from tierdesk.customers.models import Customer, CustomerIdentity
from tierdesk.tickets.models import Message, Ticket, TicketEvent


def _counts(database) -> dict[str, int]:
    with database.transaction(write=False) as db:
        return {m.__tablename__: db.scalar(sa.select(sa.func.count()).select_from(m))
                for m in (Customer, CustomerIdentity, Ticket, Message, TicketEvent)}


def test_failure_in_a_late_step_leaves_nothing_behind(client, world, database):
    before = _counts(database)

    def broken_step(db, ctx):
        raise RuntimeError("the routing step fell over")

    client.app.state.intake.after.append(broken_step)
    r = client.post("/api/v1/contacts", json=contact(sender={"email": "new.person@example.com"}),
                    headers=world.auth("agent"))
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "Traceback" not in r.text and "routing step" not in r.text  # no internals leak to the client
    assert _counts(database) == before


def test_a_failed_commit_is_never_reported_as_accepted(client, world, database, monkeypatch):
    before = _counts(database)

    def failing_commit(self):
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    with monkeypatch.context() as patch:
        patch.setattr(Session, "commit", failing_commit)
        r = client.post("/api/v1/contacts", json=contact(sender={"email": "lost@example.com"}),
                        headers=world.auth("agent"))
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "unavailable"
    assert _counts(database) == before


def test_an_accepted_contact_is_readable_by_the_next_request(client, world):
    r = client.post("/api/v1/contacts", json=contact(), headers=world.auth("agent"))
    assert r.status_code == 201
    ticket_id = r.json()["ticket"]["id"]
    again = client.get(f"/api/v1/tickets/{ticket_id}", headers=world.auth("agent"))
    assert again.status_code == 200
    assert again.json()["message_count"] == 1
