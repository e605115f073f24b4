"""What the agents' live pages hear of (workspace.live): an observer of ticket events (tickets.observers, registered
by tierdesk.hooks) that publishes on the live bus, in the event's transaction, so a notification goes out only for
what committed.

Topics: `agent:<id>` (work offered to the agent, customer messages and SLA alarms on their tickets) and
`ticket:<id>` (customer messages and SLA alarms on one ticket, for whoever has it open). The payload is a small JSON
object (`type`, `ticket_id`, ...) with nothing from outside in it: the page reads the rest from the database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy.orm import Session

from tierdesk.jobs import live
from tierdesk.kit.vocabulary import EventKind
from tierdesk.tickets.observers import RecordedEvent

_SLA = {EventKind.SLA_WARNING: "warning", EventKind.SLA_BREACH: "breach"}
_HEARD = frozenset({EventKind.ASSIGNEE_CHANGED, EventKind.MESSAGE_RECEIVED, *_SLA})


def agent_topic(agent_id: int) -> str:
    return f"agent:{agent_id}"


def ticket_topic(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def publish_ticket_events(db: Session, events: Sequence[RecordedEvent]) -> None:
    for e in events:
        if e.kind not in _HEARD:
            continue  # the hot paths record many events: stay cheap for the rest
        ticket_id = e.ticket.id if e.ticket is not None else e.ticket_id
        if ticket_id is None:
            continue  # a ticket still being built (its first message): nobody has it yet
        if e.kind is EventKind.ASSIGNEE_CHANGED:
            agent_id = (e.after or {}).get("assignee_id")
            if isinstance(agent_id, int) and agent_id != e.actor_agent_id:  # taking a ticket yourself is no offer
                by = "router" if e.actor_agent_id is None else "agent"
                _send(db, agent_topic(agent_id), {"type": "offer", "ticket_id": ticket_id, "by": by,
                                                  "at": e.at.isoformat()})
            continue
        payload: dict[str, object] = {"type": "message", "ticket_id": ticket_id, "at": e.at.isoformat()}
        if e.kind in _SLA:
            payload = {"type": "sla", "ticket_id": ticket_id, "level": _SLA[e.kind], "at": e.at.isoformat()}
            metric = (e.after or {}).get("metric")
            if isinstance(metric, str):
                payload["metric"] = metric
        _send(db, ticket_topic(ticket_id), payload)
        assignee = e.ticket.assignee_id if e.ticket is not None else None
        if assignee is not None:
            _send(db, agent_topic(assignee), payload)


def _send(db: Session, topic: str, payload: dict[str, object]) -> None:
    live.publish(db, topic, json.dumps(payload, separators=(",", ":")))
