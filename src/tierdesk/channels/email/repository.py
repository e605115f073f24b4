"""The email channel's queries (all of them: tests/test_queries_live_in_repositories.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.brands.models import Brand
from tierdesk.channels.email.models import ImapMailbox

# --- IMAP mailboxes ---------------------------------------------------------------------------------------------


def imap_mailbox_named(db: Session, brand_id: int, name: str) -> ImapMailbox | None:
    return db.scalar(sa.select(ImapMailbox).where(ImapMailbox.brand_id == brand_id, ImapMailbox.name == name))


def imap_mailboxes(db: Session) -> list[tuple[ImapMailbox, str]]:
    """Every mailbox with its brand's slug, by brand then name."""
    rows = db.execute(sa.select(ImapMailbox, Brand.slug).join(Brand, Brand.id == ImapMailbox.brand_id)
                      .order_by(Brand.slug, ImapMailbox.name))
    return [(row[0], row[1]) for row in rows]


def delete_imap_mailbox(db: Session, mailbox_id: int) -> None:
    db.execute(sa.delete(ImapMailbox).where(ImapMailbox.id == mailbox_id))


def _free(now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.or_(ImapMailbox.claimed_until.is_(None), ImapMailbox.claimed_until < now)


def _due(now: dt.datetime, polled_before: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(ImapMailbox.is_active.is_(True), _free(now),
                   sa.or_(ImapMailbox.last_polled_at.is_(None), ImapMailbox.last_polled_at <= polled_before))


def imap_poll_due(db: Session, now: dt.datetime, polled_before: dt.datetime) -> bool:
    """Is an active, unclaimed mailbox not polled since `polled_before`? (The worker's cheap look.)"""
    return db.scalar(sa.select(sa.exists().where(_due(now, polled_before)))) or False


def imap_mailboxes_due(db: Session, now: dt.datetime, polled_before: dt.datetime) -> list[int]:
    return list(db.scalars(sa.select(ImapMailbox.id).where(_due(now, polled_before))
                           .order_by(sa.func.coalesce(ImapMailbox.last_polled_at, ImapMailbox.created_at))))


def active_imap_mailbox_ids(db: Session) -> list[int]:
    return list(db.scalars(sa.select(ImapMailbox.id).where(ImapMailbox.is_active.is_(True)).order_by(ImapMailbox.id)))


def claim_imap_mailbox(db: Session, mailbox_id: int, now: dt.datetime, until: dt.datetime) -> bool:
    """Take the mailbox's lease if it is free (compare-and-set): False when another poller holds it."""
    taken = db.execute(sa.update(ImapMailbox)
                       .where(ImapMailbox.id == mailbox_id, ImapMailbox.is_active.is_(True), _free(now))
                       .values(claimed_until=until))
    return _one_row(taken)


def update_claimed_imap_mailbox(db: Session, mailbox_id: int, held_until: dt.datetime, **values: Any) -> bool:
    """Write the poller's progress (and its renewed or released lease) only while it still holds the lease it took:
    False when it lost it (it expired and another poller took the mailbox)."""
    done = db.execute(sa.update(ImapMailbox)
                      .where(ImapMailbox.id == mailbox_id, ImapMailbox.claimed_until == held_until)
                      .values(**values))
    return _one_row(done)


def _one_row(result: sa.Result[Any]) -> bool:
    return getattr(result, "rowcount", 0) == 1
