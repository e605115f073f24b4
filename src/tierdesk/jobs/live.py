"""The live-notification bus: "something changed in <topic>", from a transaction to the processes whose clients
watch it (chat sockets today, the web UI's live pages tomorrow).

A notification carries only a topic and a short text (a chat conversation and its new seq); the receiver reads the
rows from the database, which stays the truth. So a lost notification costs latency, never data: a receiver that
reconnects reads everything after what it last sent.

`publish(db, topic, text)` announces a change from inside its transaction, in any process (a server, a worker).
Two implementations of the receiving side, one interface:
- `LocalBus` (SQLite: one process): published notifications go to this process's subscribers after the commit.
- `PostgresBus` (several `serve` processes): NOTIFY in the publishing transaction (PostgreSQL sends it at commit,
  drops it on rollback); each process LISTENs on one connection in a thread and hands what arrives to its
  subscribers. After the listening connection broke and came back, every subscriber is told to re-read
  (`RESYNC`), as notifications may have been missed meanwhile.

Subscribers are plain callables called from any thread (the committing one, or the listener); an asyncio receiver
passes them to its loop with `loop.call_soon_threadsafe`.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from tierdesk.db import Database

log = logging.getLogger("tierdesk.live")

CHANNEL = "tierdesk_live"
RESYNC = "*"  # the topic every subscriber hears when notifications may have been lost
_PENDING = "tierdesk_live_pending"
MAX_PAYLOAD = 7900  # PostgreSQL's NOTIFY payload limit is 8000 bytes

Subscriber = Callable[[str, str], None]  # (topic, text)


class LiveBus:
    """The interface, and the subscriber registry both implementations share."""

    def __init__(self, database: Database):
        self.database = database
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._lock = threading.Lock()

    # -- publishing (in a transaction: the module's `publish`) -----------------------------------------------------
    def publish_now(self, topic: str, text: str = "") -> None:
        """An ephemeral notification that belongs to no transaction (typing indicators)."""
        _check(topic, text)
        self._dispatch(topic, text)

    # -- receiving ---------------------------------------------------------------------------------------------------
    def subscribe(self, topic: str, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber(topic, text)` for each notification of `topic` (and RESYNC); returns the unsubscribe."""
        with self._lock:
            self._subscribers[topic].add(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                found = self._subscribers.get(topic)
                if found is not None:
                    found.discard(subscriber)
                    if not found:
                        del self._subscribers[topic]

        return unsubscribe

    def _dispatch(self, topic: str, text: str) -> None:
        with self._lock:
            if topic == RESYNC:
                targets = [(t, s) for t, subs in self._subscribers.items() for s in subs]
            else:
                targets = [(topic, s) for s in self._subscribers.get(topic, ())]
        for subscribed, subscriber in targets:
            try:
                subscriber(subscribed if topic == RESYNC else topic, text if topic != RESYNC else RESYNC)
            except Exception:  # one broken receiver must not stop the others
                log.exception("live subscriber failed")

    def start(self) -> None:
        """Begin delivering (hooks on the database's sessions; the listener thread on PostgreSQL)."""

    def stop(self) -> None:
        pass


class LocalBus(LiveBus):
    """One process: notifications go from the committing thread straight to the subscribers."""

    def start(self) -> None:
        for factory in (self.database.read_sessions, self.database.write_sessions):
            if not event.contains(factory, "after_commit", self._after_commit):
                event.listen(factory, "after_commit", self._after_commit)
                event.listen(factory, "after_rollback", _forget)

    def stop(self) -> None:
        for factory in (self.database.read_sessions, self.database.write_sessions):
            if event.contains(factory, "after_commit", self._after_commit):
                event.remove(factory, "after_commit", self._after_commit)
                event.remove(factory, "after_rollback", _forget)

    def _after_commit(self, session: Session) -> None:
        for topic, text in session.info.pop(_PENDING, []):
            self._dispatch(topic, text)


class PostgresBus(LiveBus):
    """Several processes: NOTIFY at commit, LISTEN in a thread of each process."""

    def __init__(self, database: Database, retry_seconds: float = 1.0):
        super().__init__(database)
        self.retry_seconds = retry_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while the LISTEN connection is up

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._listen, name="tierdesk-live", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def publish_now(self, topic: str, text: str = "") -> None:
        _check(topic, text)
        with self.database.engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_notify(%s, %s)", (CHANNEL, f"{topic}|{text}"))
            conn.commit()

    def _listen(self) -> None:
        first = True
        while not self._stopping.is_set():
            raw = None
            try:
                raw = self.database.engine.raw_connection()
                conn: Any = raw.driver_connection  # psycopg's Connection
                conn.autocommit = True
                conn.execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                if not first:
                    self._dispatch(RESYNC, "")  # what was published while we were away is in the database
                first = False
                while not self._stopping.is_set():
                    for note in conn.notifies(timeout=0.5):
                        topic, _, text = note.payload.partition("|")
                        self._dispatch(topic, text)
            except Exception:
                log.exception("live LISTEN connection failed; reconnecting")
                self.listening.clear()
                self._stopping.wait(self.retry_seconds)
            finally:
                if raw is not None:
                    try:
                        raw.invalidate()  # never back to the pool: it LISTENs
                    except Exception:  # noqa: BLE001 (already broken)
                        pass
        self.listening.clear()


def _check(topic: str, text: str) -> None:
    if "|" in topic or len(topic) + len(text) + 1 > MAX_PAYLOAD:
        raise ValueError(f"a live notification is a topic without '|' and a short text: {topic!r}")


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def publish(db: Session, topic: str, text: str = "") -> None:
    """Announce that `topic` changed, once this transaction commits (nothing if it rolls back). On PostgreSQL a
    NOTIFY in the transaction (the server sends it at commit, to every process); elsewhere kept on the session for
    this process's LocalBus to hand out after the commit."""
    _check(topic, text)
    if db.get_bind().dialect.name == "postgresql":
        db.connection().exec_driver_sql("SELECT pg_notify(%s, %s)", (CHANNEL, f"{topic}|{text}"))
    else:
        db.info.setdefault(_PENDING, []).append((topic, text))


def acquire(database: Database) -> LiveBus:
    """The bus of this process for this database, started on first use: LISTEN/NOTIFY on PostgreSQL, in-process on
    SQLite. One per database, so every server app and the in-process worker of a process share it; each user
    gives it back with `release` (the last one stops it, closing its LISTEN connection)."""
    with _lock:
        bus, users = _buses.get(id(database), (None, 0))
        if bus is None or bus.database is not database:
            bus, users = (PostgresBus(database) if database.dialect == "postgresql" else LocalBus(database)), 0
            bus.start()
        _buses[id(database)] = (bus, users + 1)
        return bus


def release(bus: LiveBus) -> None:
    with _lock:
        found, users = _buses.get(id(bus.database), (None, 0))
        if found is not bus:
            return
        if users > 1:
            _buses[id(bus.database)] = (bus, users - 1)
            return
        del _buses[id(bus.database)]
    bus.stop()


_buses: dict[int, tuple[LiveBus, int]] = {}
_lock = threading.Lock()
