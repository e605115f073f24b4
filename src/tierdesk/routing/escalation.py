"""Moving a ticket between queues and tiers: escalation (up a tier, with what was tried), de-escalation, transfer.

Every move needs a reason. An escalation also needs a summary of what was tried: it goes into the ticket as an internal
note, so the next tier reads the diagnostic history instead of asking the customer the same questions again. The ticket
leaves its assignee and waits in the new queue for the router.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.html import html_from_text
from tierdesk.kit.vocabulary import TOP_TIER, EventKind, MessageDirection, TicketStatus
from tierdesk.queues import repository as queues
from tierdesk.queues.models import Queue
from tierdesk.tickets import mutations
from tierdesk.tickets import repository as tickets
from tierdesk.tickets.models import Ticket


class Move(StrEnum):
    """The three moves, named by the event each records."""

    ESCALATE = EventKind.ESCALATED.value
    DE_ESCALATE = EventKind.DE_ESCALATED.value
    TRANSFER = EventKind.TRANSFERRED.value


def _target(db: Session, ticket: Ticket, move: Move, queue_ref: str | None) -> Queue:
    if queue_ref:
        queue = queues.in_brand(db, ticket.brand_id, queue_ref)
        if queue is None or not queue.is_active:
            raise InvalidInput(f"no active queue '{queue_ref}' in this ticket's brand", field="queue")
        if queue.id == ticket.queue_id:
            raise InvalidInput(f"the ticket is in queue '{queue.slug}' already", field="queue")
        if move is Move.ESCALATE and queue.tier <= ticket.tier:
            raise InvalidInput(f"queue '{queue.slug}' is tier {queue.tier}, not above the ticket's tier {ticket.tier}",
                               field="queue")
        if move is Move.DE_ESCALATE and queue.tier >= ticket.tier:
            raise InvalidInput(f"queue '{queue.slug}' is tier {queue.tier}, not below the ticket's tier {ticket.tier}",
                               field="queue")
        return queue
    if move is Move.TRANSFER:
        raise InvalidInput("name the queue to transfer to", field="queue")
    if move is Move.ESCALATE:
        if ticket.tier >= TOP_TIER:
            raise InvalidInput("the ticket is at tier 3 already: transfer it to a named queue", field="queue")
        queue = queues.next_tier(db, ticket.brand_id, ticket.department, ticket.tier)
        where = "above"
    else:
        queue = queues.lower_tier(db, ticket.brand_id, ticket.department, ticket.tier)
        where = "below"
    if queue is None:
        dept = ticket.department.value + " " if ticket.department else ""
        raise InvalidInput(f"this brand has no active {dept}queue {where} tier {ticket.tier}", field="queue")
    return queue


def move_ticket(
    db: Session,
    ticket: Ticket,
    move: Move,
    actor: Actor,
    *,
    reason: str,
    summary: str | None = None,
    queue_ref: str | None = None,
) -> Ticket:
    """Move a ticket (locked by the caller) to another queue; see the module's docstring."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why the ticket moves (reason)", field="reason")
    summary = (summary or "").strip()
    if move is Move.ESCALATE and not summary:
        raise InvalidInput("an escalation carries a summary of what was tried (summary)", field="summary")
    if ticket.status is TicketStatus.CLOSED:
        raise InvalidInput("a closed ticket cannot be moved", field="ticket_id")
    queue = _target(db, ticket, move, queue_ref)
    note = None
    if summary:
        text = f"{move.value.replace('_', '-').capitalize()} to {queue.name} (tier {queue.tier}): {reason}\n\n" \
               f"What was tried:\n{summary}"
        note = mutations.add_message(db, ticket, direction=MessageDirection.NOTE, channel=ticket.channel,
                                     body_text=text, body_html=html_from_text(text), actor=actor,
                                     author_agent_id=actor.agent_id)
    mutations.move_to_queue(db, ticket, queue, actor, reason=reason, kind=EventKind(move.value), unassign=True,
                            note=note, detail={"summary": summary} if summary else None)
    db.flush()
    return ticket


def move_by_request(
    db: Session, principal: Principal, ticket_id: int, move: Move, *, reason: str, summary: str | None,
    queue_ref: str | None,
) -> Ticket:
    ticket = tickets.get_visible(db, principal, ticket_id, for_update=True)
    return move_ticket(db, ticket, move, Actor.of(principal), reason=reason, summary=summary, queue_ref=queue_ref)
