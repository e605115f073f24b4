"""The worker's phone job: after-call work whose time is over ends (the agent takes calls again)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tierdesk.channels.voice import repository
from tierdesk.channels.voice.calls import end_wrap_up
from tierdesk.kit.time import utcnow

BATCH = 200


def wrap_ups_due(db: Session) -> bool:
    return repository.any_wrap_up_due(db, utcnow())


def end_due_wrap_ups(db: Session) -> int:
    """End the after-call work of every call whose wrap-up deadline passed. The rows are locked SKIP LOCKED and the
    deadline is cleared in the same transaction, so two workers never end one twice."""
    now = utcnow()
    due = repository.wrap_ups_due(db, now, BATCH)
    for call in due:
        end_wrap_up(db, call, now, "after-call work time over")
    return len(due)
