"""The outbox: notifications written in the transaction that caused them, delivered by the worker after commit.

Delivery claims a batch (compare-and-set on the attempt time, SKIP LOCKED on PostgreSQL), commits, posts each message
outside any transaction, then records the outcome. A failed post is retried with exponential backoff; after
MAX_ATTEMPTS it is marked failed and kept for a person to look at; a sender that knows retrying cannot help (a mail
server's permanent refusal) raises PermanentFailure to mark it failed at once, and one that cannot send yet for want
of configuration raises Postpone to wait without spending an attempt. A process that dies mid-delivery leaves its claim
to expire, so the message is tried again: delivery is at least once, and each carries its id for the receiver to
drop a duplicate.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from tierdesk.db import Database
from tierdesk.jobs import repository
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit.time import utcnow

log = logging.getLogger("tierdesk.outbox")

BATCH = 50
MAX_ATTEMPTS = 10
CLAIM_FOR = dt.timedelta(seconds=60)  # a claimed message is retried after this if its deliverer disappears


class PermanentFailure(Exception):
    """The far side refused for good (a 5xx answer, an undeliverable address): failed now, never retried."""


class Postpone(Exception):
    """Nothing can be sent yet (no mail relay configured): tried again after `after`, the attempt not counted, never
    failed for it."""

    def __init__(self, reason: str, after: dt.timedelta = dt.timedelta(minutes=5)):
        super().__init__(reason)
        self.after = after


def enqueue(db: Session, topic: str, payload: dict[str, Any]) -> OutboxMessage:
    message = OutboxMessage(topic=topic, payload=payload, next_attempt_at=utcnow(), attempts=0)
    db.add(message)
    return message


def backoff(attempts: int) -> dt.timedelta:
    """5 s, 10 s, 20 s, ... up to an hour between tries."""
    return dt.timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def due(db: Session) -> bool:
    return repository.any_due(db, utcnow())


def deliver_due(database: Database, send: Callable[[OutboxMessage], None]) -> int:
    """One round: claim, send outside the transaction, record. Returns how many were delivered."""
    now = utcnow()
    with database.transaction() as db:
        claimed = [(m.id, m.topic, m.payload, m.attempts + 1) for m in repository.claim(db, now, BATCH, CLAIM_FOR)]
    outcomes: list[tuple[int, int, Exception | None]] = []
    for message_id, topic, payload, attempts in claimed:
        try:
            send(OutboxMessage(id=message_id, topic=topic, payload=payload, attempts=attempts))
            outcomes.append((message_id, attempts, None))
        except Exception as exc:  # any failure of the far side: retried later (unless it says otherwise)
            outcomes.append((message_id, attempts, exc))
    if not outcomes:
        return 0
    done = utcnow()
    with database.transaction() as db:
        for message_id, attempts, failure in outcomes:
            error = f"{type(failure).__name__}: {failure}"[:1000] if failure is not None else None
            if failure is None:
                values: dict[str, Any] = {"delivered_at": done, "last_error": None}
            elif isinstance(failure, Postpone):
                values = {"next_attempt_at": done + failure.after, "attempts": attempts - 1, "last_error": error}
            elif isinstance(failure, PermanentFailure) or attempts >= MAX_ATTEMPTS:
                values = {"failed_at": done, "last_error": error}
                log.warning("outbox message %s failed for good after %s attempts: %s", message_id, attempts, error)
            else:
                values = {"next_attempt_at": done + backoff(attempts), "last_error": error}
            repository.record_outcome(db, message_id, values)
    return sum(1 for _, _, failure in outcomes if failure is None)
