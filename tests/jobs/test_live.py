"""The live-notification bus: a notification reaches the subscribers of its topic once its transaction commits, never
for a transaction rolled back; on PostgreSQL also those of another process (here: another engine, as a second
`serve` process has)."""

from __future__ import annotations

import queue

import pytest

from tierdesk.db import Database, make_engine
from tierdesk.jobs import live

WAIT = 20.0


def _listening(bus: live.LiveBus, topic: str) -> queue.Queue[tuple[str, str]]:
    heard: queue.Queue[tuple[str, str]] = queue.Queue()
    bus.subscribe(topic, lambda t, text: heard.put((t, text)))
    if isinstance(bus, live.PostgresBus):
        assert bus.listening.wait(WAIT)
    return heard


def test_notifications_go_out_at_commit_and_not_on_rollback(database, database_url):
    # A second Database stands for a second server process (its own engine and connections).
    other = Database(make_engine(database_url)) if database.dialect == "postgresql" else database
    here, there = live.acquire(database), live.acquire(other)
    try:
        heard_here, heard_there = _listening(here, "chat:1"), _listening(there, "chat:1")
        _listening(here, "chat:2")
        with pytest.raises(RuntimeError), database.transaction() as db:
            live.publish(db, "chat:1", "1")
            raise RuntimeError("rolled back")
        with database.transaction() as db:
            live.publish(db, "chat:1", "2")
            live.publish(db, "chat:2", "1")
            assert heard_here.empty()  # not before the commit
        assert heard_here.get(timeout=WAIT) == ("chat:1", "2")
        assert heard_there.get(timeout=WAIT) == ("chat:1", "2")
        here.publish_now("chat:1", "typing")  # ephemeral: no transaction
        assert heard_there.get(timeout=WAIT) == ("chat:1", "typing")
        assert heard_here.get(timeout=WAIT) == ("chat:1", "typing")
        assert heard_here.empty()  # neither the rolled-back one nor another topic's
        with pytest.raises(ValueError):
            here.publish_now("a|b")
    finally:
        live.release(here)
        live.release(there)
        if other is not database:
            other.dispose()
