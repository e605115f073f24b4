"""Alembic environment: the URL comes from tierdesk's settings unless the caller hands over a connection."""

from __future__ import annotations

from alembic import context

import tierdesk.models  # noqa: F401  (registers every table)
from tierdesk.db import Base, compared_name, compared_object, make_engine

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        include_name=compared_name,  # the search index is dialect-specific DDL (db.py)
        include_object=compared_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or None, pool_size=1)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("tierdesk migrations run online only: use `tierdesk db upgrade`")
run_migrations_online()
