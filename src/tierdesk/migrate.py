"""Schema migrations for the service itself (`tierdesk db upgrade`, and `tierdesk serve` on start)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import tierdesk.models  # noqa: F401
from tierdesk.db import Base, make_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: several processes starting at once on PostgreSQL migrate one after the other.
_PG_MIGRATION_LOCK = 7_303_001


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
            try:
                before = MigrationContext.configure(conn).get_current_revision()
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
                after = MigrationContext.configure(conn).get_current_revision()
                if conn.dialect.name == "postgresql" and after != before:
                    analyze(conn)
            finally:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                    conn.commit()
    finally:
        engine.dispose()


def analyze(conn: sa.Connection) -> None:
    """Fresh planner statistics after the schema changed (a migration may rewrite a table or add an index; this
    deployment may run without autovacuum, which would otherwise gather them). PostgreSQL only: SQLite does not scale
    its statistics by a table's current size, so statistics of a new, empty database would mislead it for good; its
    hot queries are written to fit their indexes whatever the statistics say."""
    conn.exec_driver_sql("ANALYZE")
    conn.commit()


def current_revision(url: str | None = None) -> str | None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_drift(url: str | None = None) -> list:
    """Differences between the models and a database migrated to head: empty when the migrations match."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
