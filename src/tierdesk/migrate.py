"""Schema migrations for the service itself (`tierdesk db upgrade`, and `tierdesk serve` on start)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import tierdesk.models  # noqa: F401  (every table, so foreign keys between domains resolve)
from tierdesk import search_schema
from tierdesk.db import Base, Database, compared_name, compared_object, get_database, make_engine
from tierdesk.kit.errors import DomainError

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
                if conn.dialect.name == "sqlite":
                    search_schema.restore_sqlite_triggers(conn)  # a batch migration may have dropped some
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


class SchemaMissing(DomainError):
    """The database has no tierdesk schema (or an older one): the command says which database and how to fix it."""

    status_code = 503
    code = "schema_missing"


def safe_url(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def require_schema(database: Database) -> None:
    """Raise SchemaMissing unless the database is migrated to this tierdesk's newest revision."""
    url = database.engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).exists():
        # Checked before connecting: connecting would create an empty file and hide the mistake.
        raise SchemaMissing(f"no tierdesk schema in {safe_url(str(url))} (the file does not exist): "
                            "run `tierdesk db upgrade`")
    with database.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current is None:
        raise SchemaMissing(f"no tierdesk schema in {safe_url(str(url))}: run `tierdesk db upgrade`")
    head = head_revision()
    if current != head:
        raise SchemaMissing(f"the schema in {safe_url(str(url))} is at {current}, this tierdesk needs {head}: "
                            "run `tierdesk db upgrade`")


def database_for_command() -> Database:
    """The configured database for a CLI command: every model imported (this module imports tierdesk.models) and
    the schema checked, so a command on an empty or missing database ends in one line that says how to fix it."""
    import tierdesk.hooks  # noqa: F401  (the observers of ticket events: a command's changes send their webhooks)

    database = get_database()
    require_schema(database)
    return database


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_drift(url: str | None = None) -> list:
    """Differences between the models and a database migrated to head: empty when the migrations match."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": compared_name,
                                                   "include_object": compared_object})
            return compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
