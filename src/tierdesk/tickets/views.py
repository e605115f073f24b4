"""Shaping events for reading: the ticket timeline and the customer timeline embed their messages."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tierdesk.tickets import repository
from tierdesk.tickets.models import TicketEvent
from tierdesk.tickets.schemas import EventOut, MessageOut


def events_with_messages(db: Session, events: list[TicketEvent]) -> list[EventOut]:
    messages = repository.messages_by_id(db, [e.message_id for e in events if e.message_id])
    return [
        EventOut(
            id=e.id,
            ticket_id=e.ticket_id,
            kind=e.kind,
            actor_kind=e.actor_kind,
            actor_agent_id=e.actor_agent_id,
            actor_integration_id=e.actor_integration_id,
            before=e.before,
            after=e.after,
            reason=e.reason,
            created_at=e.created_at,
            message=MessageOut.model_validate(messages[e.message_id]) if e.message_id in messages else None,
        )
        for e in events
    ]
