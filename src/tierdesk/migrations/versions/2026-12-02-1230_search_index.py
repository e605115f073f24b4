"""full-text search over ticket subjects, message bodies and customers (names, email addresses, phone numbers)

SQLite (the DDL is in tierdesk/search_schema.py): FTS5 tables with external content (the text stays in its own table, the index holds only the terms), kept
in step by triggers, so a message is searchable as soon as the transaction that added it commits. PostgreSQL: a
stored tsvector column on messages (the search reads it instead of parsing every candidate body again) and
expression GIN indexes on ticket subjects and customer names. Both: an index on identity values for exact and
prefix lookups of addresses and numbers. Existing rows are indexed here.

None of this is in the models (it is dialect-specific): migrations/env.py and migrate.schema_drift leave the
`search_*` tables, columns and indexes out of the comparison (db.SEARCH_OBJECTS_PREFIX).

Revision ID: 5c3e9a71d0f4
Revises: 8c0c6a4d7b48
Create Date: 2026-12-02 12:30:00
"""
from __future__ import annotations

from alembic import op

from tierdesk import search_schema

revision = '5c3e9a71d0f4'
down_revision = '8c0c6a4d7b48'
branch_labels = None
depends_on = None


def _sqlite_upgrade() -> None:
    for fts, table, column in search_schema.SQLITE_INDEXES:
        op.execute(search_schema.sqlite_table(fts, table, column))
        for ddl in search_schema.sqlite_triggers(fts, table, column).values():
            op.execute(ddl)
        op.execute(search_schema.sqlite_rebuild(fts))  # index the rows already there
    op.execute("CREATE INDEX ix_search_identity_value ON customer_identities (value)")


def _postgresql_upgrade() -> None:
    # Stored: the newest-first scan of a common word tests each candidate's vector, which is then a read, not a parse.
    # The first 100,000 characters: a tsvector holds at most 1 MB, and a longer body must still be stored.
    op.execute("ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
               "(to_tsvector('english'::regconfig, left(body_text, 100000))) STORED")
    op.execute("CREATE INDEX ix_search_messages ON messages USING gin (search_vector)")
    op.execute("CREATE INDEX ix_search_tickets_subject ON tickets USING gin "
               "(to_tsvector('english'::regconfig, subject))")
    op.execute("CREATE INDEX ix_search_customers_name ON customers USING gin "
               "(to_tsvector('simple'::regconfig, coalesce(display_name, '')))")
    # text_pattern_ops: serves = and LIKE 'prefix%' whatever the database's collation.
    op.execute("CREATE INDEX ix_search_identity_value ON customer_identities (value text_pattern_ops)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    op.execute("DROP INDEX ix_search_identity_value")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_search_customers_name")
        op.execute("DROP INDEX ix_search_tickets_subject")
        op.execute("DROP INDEX ix_search_messages")
        op.execute("ALTER TABLE messages DROP COLUMN search_vector")
        return
    for fts, table, column in search_schema.SQLITE_INDEXES:
        for name in search_schema.sqlite_triggers(fts, table, column):
            op.execute(f"DROP TRIGGER {name}")
        op.execute(f"DROP TABLE {fts}")
