"""Database engine and sessions, the declarative Base, and the column types shared by every domain.

SQLite is the embedded default: WAL journal, a busy timeout, foreign keys on, and write transactions that take the
write lock up front (BEGIN IMMEDIATE) so two writers queue on the busy timeout instead of failing on a lock upgrade.
PostgreSQL is the scale-out engine; nothing here is specific to it beyond pool sizes.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from tierdesk.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


# The full-text search index (migration 2026-12-02-1230): FTS5 tables and their triggers on SQLite, a tsvector
# column and GIN indexes on PostgreSQL. Dialect-specific, so not in the models: the schema comparison
# (migrations/env.py, migrate.schema_drift) leaves out every table, column and index whose name starts so.
SEARCH_OBJECTS_PREFIXES = ("search_", "ix_search_")


def compared_name(name: str | None, type_: str, _parents: object = None) -> bool:
    """Alembic's include_name hook (what is reflected): False for the search index's objects."""
    return not (name and type_ in ("table", "column", "index") and name.startswith(SEARCH_OBJECTS_PREFIXES))


def compared_object(_obj: object, name: str | None, type_: str, *_: object) -> bool:
    """Alembic's include_object hook: False for the search index's objects."""
    return compared_name(name, type_)


# Integer keys: BIGINT on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" is the fast rowid alias.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JsonData = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC in and out, on both engines (SQLite keeps no offset, so it stores naive UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def str_enum(enum_cls, name: str) -> sa.Enum:
    """A string column limited to an enum's values, with a CHECK constraint (no native PostgreSQL enum to migrate)."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not pysqlite, emit BEGIN (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("tierdesk_write", False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _private_file(path: Path) -> None:
    """The SQLite file holds customers' messages and token digests: only its owner may read it. A directory made
    here is 0700 and a new file 0600 (SQLite gives its -wal and -shm files the database file's mode)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def make_engine(url: str | None = None, *, pool_size: int | None = None) -> Engine:
    settings = get_settings()
    url = url or settings.effective_database_url
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=pool_size or settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        if path and path != ":memory:":
            # At the first connection, not before: a command that only checks for a schema creates no file.
            event.listen(engine, "do_connect", lambda *_: _private_file(Path(path)))
        _sqlite_pragmas(engine)
        return engine
    # No pre-ping (it would cost a round trip per request): a connection broken by a server restart fails one
    # request with 503, SQLAlchemy then discards the whole pool, and the next request reconnects.
    return sa.create_engine(
        url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=1800,
        connect_args={"options": PG_SESSION_OPTIONS},
    )


# Plans made for the parameters of each execution. psycopg prepares a statement after its fifth run on a connection,
# and PostgreSQL then switches to one generic plan if that looks no dearer: chosen while the tables were empty, such a
# plan stays while they grow (intake's duplicate check read every message of the brand on each contact, until the
# next ANALYZE, and this kind of deployment may run without autovacuum). A custom plan sees the table's current size
# each time. Planning every time costs the server tens of microseconds a statement (bench/intake.py: about 0.8 ms of
# PostgreSQL CPU per contact more at the start; without it, 11 ms more per contact once 100,000 messages were in).
PG_SESSION_OPTIONS = "-c plan_cache_mode=force_custom_plan"


# Waking the workers on PostgreSQL: a transaction that makes work (a ticket starts waiting, an agent's capacity frees
# up, an agent becomes available) calls wake_workers; at commit it sends NOTIFY (dropped on rollback), and idle
# workers LISTEN on this channel (jobs.wakeup) instead of sleeping out their poll. Polling stays the safety net.
WAKE_CHANNEL = "tierdesk_work"
_WAKE = "tierdesk_wake"


def wake_workers(session: Session) -> None:
    """Say that this transaction makes work for the workers (the NOTIFY goes out with its commit)."""
    session.info[_WAKE] = True


def _notify_at_commit(session: Session) -> None:
    if session.info.pop(_WAKE, False) and session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"SELECT pg_notify('{WAKE_CHANNEL}', '')")


def _forget_wake(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WAKE, None)


class Database:
    """One engine and its two session factories: read sessions and write sessions (which lock early on SQLite)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.read_sessions = sessionmaker(engine, expire_on_commit=False)
        self.write_sessions = sessionmaker(engine.execution_options(tierdesk_write=True), expire_on_commit=False)
        for factory in (self.read_sessions, self.write_sessions):
            event.listen(factory, "before_commit", _notify_at_commit)
            event.listen(factory, "after_transaction_end", _forget_wake)
        # SQLite has one writer at a time. Jobs and commands of this process queue on a fair lock instead of SQLite's
        # busy handler, which sleeps in growing steps and turns contention into second-long stalls. (Requests queue
        # in the event loop instead: deps.get_db.)
        self._writer = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, *, write: bool) -> Session:
        return (self.write_sessions if write else self.read_sessions)()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A unit of work of a job or a CLI command: committed on success, rolled back on any error.
        (Requests have their own, with the same ending: deps.get_db.)"""
        with self._writer if write else nullcontext():
            session = self.session(write=write)
            try:
                yield session
            except BaseException:
                finish(session, commit=False)
                raise
            finish(session, commit=True)

    def dispose(self) -> None:
        self.engine.dispose()


def finish(session: Session, *, commit: bool) -> None:
    """End a unit of work: commit (or roll back), and give the connection back to the pool."""
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


@lru_cache
def get_database() -> Database:
    return Database(make_engine())
