"""Any sequence of status changes, legal or not, keeps a ticket's timestamps and audit trail consistent."""

from __future__ import annotations

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import contact
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.vocabulary import TicketStatus
from tierdesk.tickets.lifecycle import TRANSITIONS
from tierdesk.tickets.models import Ticket, TicketEvent
from tierdesk.tickets.schemas import TicketUpdate
from tierdesk.tickets.service import update_ticket

statuses = st.sampled_from(list(TicketStatus))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(statuses, min_size=1, max_size=12))
def test_random_status_sequences_keep_the_ticket_consistent(database, world, steps):
    with database.transaction() as db:
        ticket_id = default_pipeline().receive(db, SYSTEM, ContactIn(**contact())).ticket.id
    expected = TicketStatus.NEW
    changes = 0
    for target in steps:
        try:
            with database.transaction() as db:
                update_ticket(db, SYSTEM, ticket_id, TicketUpdate(status=target))
        except InvalidInput:
            assert target != expected and target not in TRANSITIONS[expected]
            continue
        assert target == expected or target in TRANSITIONS[expected]
        changes += target != expected
        expected = target

    with database.transaction(write=False) as db:
        ticket = db.get(Ticket, ticket_id)
        events = db.scalars(
            sa.select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "status_changed")
            .order_by(TicketEvent.id)  # without it, rows come in whatever order the plan reads them
        ).all()
    assert ticket.status == expected
    assert len(events) == changes  # one event per real change, none for refused or no-op ones
    chain = [TicketStatus.NEW] + [TicketStatus(e.after["status"]) for e in events]
    assert all(TicketStatus(e.before["status"]) == chain[i] for i, e in enumerate(events))
    assert (ticket.solved_at is not None) == (ticket.status in (TicketStatus.SOLVED, TicketStatus.CLOSED))
    assert (ticket.closed_at is not None) == (ticket.status is TicketStatus.CLOSED)
