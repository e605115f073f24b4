"""The capture: every recorded ticket event of a subscribed type becomes a delivery and its outbox row, in the
transaction of the change (a change that rolls back sends nothing; one that commits is delivered at least once).

It runs as an observer of the tickets domain (tickets.observers; tierdesk.wiring registers it), on every hot path,
so it must cost next to nothing where no subscription listens: one indexed query per brand per transaction (the
answer, usually "none", is kept on the session until the transaction ends), and no flush. A delivery for a ticket
that is still being built gets the ticket's id in the ticket's own flush (through its relationship); its outbox row
follows right after that flush (it needs the delivery's id), still in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from tierdesk.jobs import outbox
from tierdesk.kit.vocabulary import OutboxTopic, WebhookEvent
from tierdesk.tickets.observers import RecordedEvent
from tierdesk.webhooks import repository
from tierdesk.webhooks.events import change_of, ticket_snapshot, webhook_events
from tierdesk.webhooks.models import WebhookDelivery

_LISTENERS = "tierdesk_webhooks"  # session.info: the transaction's cached subscriptions and pending deliveries


@dataclass(frozen=True)
class Listener:
    """A subscription as the capture matches it."""

    subscription_id: int
    events: frozenset[str]
    queue_ids: frozenset[int]
    departments: frozenset[str]

    def takes(self, kind: WebhookEvent, queue_id: int | None, department: str | None) -> bool:
        return (kind.value in self.events
                and (not self.queue_ids or queue_id in self.queue_ids)
                and (not self.departments or department in self.departments))


class _TransactionState:
    def __init__(self, transaction: object):
        self.transaction = transaction
        self.by_brand: dict[int, list[Listener]] = {}
        self.pending: list[WebhookDelivery] = []  # added, waiting for their ids (and then their outbox rows)


def _state(db: Session) -> _TransactionState:
    """This transaction's state; a new one when the session has moved on to another transaction."""
    transaction = db.get_transaction()
    if transaction is None:  # nothing has begun it yet (adding a row does not): the look will, so begin it now
        db.connection()
        transaction = db.get_transaction()
    state: _TransactionState | None = db.info.get(_LISTENERS)
    if state is None or state.transaction is not transaction:
        state = db.info[_LISTENERS] = _TransactionState(transaction)
    return state


def listeners(db: Session, brand_id: int) -> list[Listener]:
    """The active subscriptions hearing of the brand, looked up once per transaction (without a flush: a new
    ticket is half built when its first event is recorded)."""
    state = _state(db)
    found = state.by_brand.get(brand_id)
    if found is None:
        with db.no_autoflush:
            rows = repository.active_for_brand(db, brand_id)
        found = state.by_brand[brand_id] = [
            Listener(r.id, frozenset(r.events or ()), frozenset(r.queue_ids or ()), frozenset(r.departments or ()))
            for r in rows]
    return found


def capture(db: Session, events: Sequence[RecordedEvent]) -> None:
    """The observer: a delivery (and, after its flush, an outbox row) per subscription that takes the event."""
    loaded: dict[int, Any] | None = None
    for recorded in events:
        subscribed = listeners(db, recorded.brand_id)
        if not subscribed:
            continue
        kinds = webhook_events(recorded)
        if not kinds:
            continue
        ticket: Any = recorded.ticket
        if ticket is None:  # the bulk form: the pass's tickets, loaded once
            if loaded is None:
                ids = [e.ticket_id for e in events if e.ticket_id is not None]
                with db.no_autoflush:
                    loaded = repository.ticket_rows(db, ids)
            ticket = loaded.get(recorded.ticket_id) if recorded.ticket_id is not None else None
            if ticket is None:
                continue
        department = ticket.department.value if ticket.department is not None else None
        for kind in kinds:
            for listener in subscribed:
                if listener.takes(kind, ticket.queue_id, department):
                    _deliver(db, listener.subscription_id, kind, recorded, ticket)


def _deliver(db: Session, subscription_id: int, kind: WebhookEvent, recorded: RecordedEvent, ticket: Any) -> None:
    delivery = WebhookDelivery(
        subscription_id=subscription_id, brand_id=recorded.brand_id, event=kind,
        payload={"brand_id": recorded.brand_id, "ticket": ticket_snapshot(ticket), "change": change_of(recorded)},
        attempts=0, created_at=recorded.at,
    )
    if recorded.ticket is not None:
        delivery.ticket = recorded.ticket  # its id comes with the ticket's flush
    else:
        delivery.ticket_id = recorded.ticket_id
    add(db, delivery)


def add(db: Session, delivery: WebhookDelivery) -> None:
    """Add a delivery; its outbox row is written right after the flush that gives it its id (this transaction)."""
    db.add(delivery)
    _state(db).pending.append(delivery)


@event.listens_for(Session, "after_flush_postexec")
def _enqueue_flushed(db: Session, _flush_context: object) -> None:
    """After a flush: the outbox row of each delivery that now has its id (commit flushes them, as it flushes
    until nothing is left). A delivery that a rolled-back savepoint took away never got here, or leaves with it."""
    state: _TransactionState | None = db.info.get(_LISTENERS)
    if state is None or not state.pending or state.transaction is not db.get_transaction():
        return
    waiting: list[WebhookDelivery] = []
    for delivery in state.pending:
        if delivery.id is None:
            waiting.append(delivery)
        else:
            outbox.enqueue(db, OutboxTopic.WEBHOOK_DELIVER, {"delivery_id": delivery.id})
    state.pending = waiting
