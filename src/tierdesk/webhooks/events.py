"""Which webhook events a ticket event is, and what a delivery says about it.

One ticket event may be two webhook events: a status change to solved is both `status_changed` and `solved`; a
subscriber of both receives both. Ticket events missing here (triage's reading, retriage, call started) are no
webhook event.
"""

from __future__ import annotations

from typing import Any

from tierdesk.kit.vocabulary import EventKind, TicketStatus, WebhookEvent
from tierdesk.tickets.models import Ticket
from tierdesk.tickets.observers import RecordedEvent

_UPDATED = (WebhookEvent.TICKET_UPDATED,)

BY_KIND: dict[EventKind, tuple[WebhookEvent, ...]] = {
    EventKind.CREATED: (WebhookEvent.TICKET_CREATED,),
    EventKind.ASSIGNEE_CHANGED: (WebhookEvent.TICKET_ASSIGNED,),
    EventKind.STATUS_CHANGED: (WebhookEvent.STATUS_CHANGED,),
    EventKind.ESCALATED: (WebhookEvent.ESCALATED,),
    EventKind.SLA_WARNING: (WebhookEvent.SLA_WARNING,),
    EventKind.SLA_BREACH: (WebhookEvent.SLA_BREACH,),
    EventKind.SURVEY_ANSWERED: (WebhookEvent.SURVEY_ANSWERED,),
    EventKind.CHAT_STARTED: (WebhookEvent.CHAT_STARTED,),
    EventKind.CHAT_ENDED: (WebhookEvent.CHAT_ENDED,),
    EventKind.CALL_ENDED: (WebhookEvent.CALL_ENDED,),
    # Every other change to the ticket, its messages included.
    EventKind.PRIORITY_CHANGED: _UPDATED,
    EventKind.TAGS_CHANGED: _UPDATED,
    EventKind.SUBJECT_CHANGED: _UPDATED,
    EventKind.INTENT_CHANGED: _UPDATED,
    EventKind.DEPARTMENT_CHANGED: _UPDATED,
    EventKind.QUEUE_CHANGED: _UPDATED,
    EventKind.TIER_CHANGED: _UPDATED,
    EventKind.DISPOSITION_CHANGED: _UPDATED,
    EventKind.MESSAGE_RECEIVED: _UPDATED,
    EventKind.REPLY_SENT: _UPDATED,
    EventKind.NOTE_ADDED: _UPDATED,
    EventKind.DE_ESCALATED: _UPDATED,
    EventKind.TRANSFERRED: _UPDATED,
    EventKind.CUSTOMER_MERGED: _UPDATED,
    EventKind.PARTICIPANT_ADDED: _UPDATED,
    EventKind.TICKET_LINKED: _UPDATED,
    EventKind.DELIVERY_FAILED: _UPDATED,
}


def webhook_events(event: RecordedEvent) -> tuple[WebhookEvent, ...]:
    found = BY_KIND.get(event.kind, ())
    if event.kind is EventKind.STATUS_CHANGED and (event.after or {}).get("status") == TicketStatus.SOLVED:
        found = (*found, WebhookEvent.SOLVED)
    return found


# What a delivery tells of the ticket: its state right after the change (its id is added when the body is made,
# as a new ticket has none yet when its `created` event is captured).
TICKET_FIELDS = ("brand_id", "customer_id", "subject", "status", "priority", "department", "intent", "queue_id",
                 "tier", "assignee_id", "channel")


def ticket_snapshot(ticket: Ticket | Any) -> dict[str, Any]:
    """The ticket's fields from a Ticket or a row with the same names (the bulk form loads rows)."""
    return {name: _plain(getattr(ticket, name)) for name in TICKET_FIELDS}


def change_of(event: RecordedEvent) -> dict[str, Any]:
    return {
        "kind": event.kind.value,
        "at": event.at.isoformat(),
        "actor": {"kind": event.actor_kind.value, "agent_id": event.actor_agent_id},
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
    }


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value
