"""Shaping events for reading: the ticket timeline and the customer timeline embed their messages."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tierdesk.tickets import repository
from tierdesk.tickets.models import TicketEvent
from tierdesk.tickets.schemas import EventOut, MessageOut


def events_with_messages(db: Session, events: list[TicketEvent]) -> list[EventOut]:
    messages = repository.messages_by_id(db, [e.message_id for e in events if e.message_id])
    out = []
    for e in events:
        item = EventOut.model_validate(e)
        if e.message_id in messages:
            item.message = MessageOut.model_validate(messages[e.message_id])
        out.append(item)
    return out
