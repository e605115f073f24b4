"""Who else hears of each recorded ticket event, inside the transaction that records it.

Ticket events are recorded in two places only (mutations.record_event, and the bulk insert of
mutations.assign_routed); both hand what they recorded to the observers registered here, in the caller's
transaction, so whatever an observer writes commits or rolls back with the change. The tickets domain knows nothing
of its observers: the composition root tierdesk.hooks registers them (the webhooks capture).

An observer runs on every hot path (intake, routing, the SLA watch): it must stay cheap when it has nothing to do,
and it must not flush the session (a new ticket is still being built when its `created` event is recorded).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tierdesk.kit.vocabulary import ActorKind, EventKind
from tierdesk.tickets.models import Ticket


@dataclass(frozen=True)
class RecordedEvent:
    """A ticket event as it was recorded. `ticket` is the ticket in the session when the event came from
    record_event (it may have no id yet: a new ticket before its flush); the bulk form gives only `ticket_id`."""

    brand_id: int
    kind: EventKind
    actor_kind: ActorKind
    actor_agent_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    at: dt.datetime
    ticket: Ticket | None = None
    ticket_id: int | None = None


Observer = Callable[[Session, Sequence[RecordedEvent]], None]

_observers: list[Observer] = []


def observe(observer: Observer) -> None:
    """Register an observer for every ticket event recorded from now on in this process (once: registering the
    same one again changes nothing)."""
    if observer not in _observers:
        _observers.append(observer)


def forget(observer: Observer) -> None:
    if observer in _observers:
        _observers.remove(observer)


def recorded(db: Session, events: Sequence[RecordedEvent]) -> None:
    """Called by the mutations with what they just recorded."""
    for observer in _observers:
        observer(db, events)
