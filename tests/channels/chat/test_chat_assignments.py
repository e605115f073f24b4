"""The worker's chat jobs in process: assignments by the router or by a person become "agent joined/left" in the
chat's log, each once; the waiting customer's place in the queue."""

from __future__ import annotations

import sqlalchemy as sa

from tierdesk.brands.repository import by_slug
from tierdesk.channels.chat import repository, service
from tierdesk.channels.chat.models import ChatConversation, ChatEvent
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.kit.actors import SYSTEM
from tierdesk.tickets import service as tickets
from tierdesk.tickets.schemas import TicketUpdate

SECRET = "test-secret-key"


def _chat(database, visitor: str) -> tuple[int, int]:
    with database.transaction() as db:
        started = service.start(db, SECRET, by_slug(db, "acme"), visitor=visitor, name=None, email=None)
    with database.transaction() as db:
        done = service.customer_message(db, default_pipeline(), started.conversation_id, "refund please", "m1")
    return started.conversation_id, done.ticket_id


def _log(database, conversation_id: int) -> list[tuple[int, str, int | None]]:
    with database.transaction(write=False) as db:
        return [(e.seq, e.kind.value, e.data.get("agent_id")) for e in db.scalars(
            sa.select(ChatEvent).where(ChatEvent.conversation_id == conversation_id).order_by(ChatEvent.seq))]


def test_assignments_become_agent_joined_and_left_once(database, world):
    conversation, ticket_id = _chat(database, "visitor-assign-1")
    with database.transaction(write=False) as db:
        assert not service.follow_assignments_due(db)
        where = service.waiting(db, conversation)
    assert where is not None and where.position == 1
    with database.transaction() as db:
        tickets.update_ticket(db, SYSTEM, ticket_id, TicketUpdate(assignee_id=world.agents["agent"]))
    with database.transaction() as db:
        assert service.follow_assignments(db) == 1
    with database.transaction() as db:
        assert service.follow_assignments(db) == 0  # once
        tickets.update_ticket(db, SYSTEM, ticket_id, TicketUpdate(assignee_id=world.agents["lead"]))
    with database.transaction() as db:
        assert service.follow_assignments(db) == 1
        tickets.update_ticket(db, SYSTEM, ticket_id, TicketUpdate(assignee_id=None))
    with database.transaction() as db:
        assert service.follow_assignments(db) == 1
    agent, lead = world.agents["agent"], world.agents["lead"]
    assert _log(database, conversation) == [
        (1, "message", None), (2, "agent_joined", agent), (3, "agent_left", agent), (4, "agent_joined", lead),
        (5, "agent_left", lead)]
    with database.transaction(write=False) as db:
        chat = db.get_one(ChatConversation, conversation)
        assert chat.status == "waiting" and chat.agent_id is None and chat.answered_at is not None
        assert repository.open_of_agent(db, lead) == []
