"""The full-text search index's DDL on SQLite (migration 2026-12-02-1230 creates it; migrate.upgrade restores it).

FTS5 tables with external content, kept in step by triggers on the tables they index. SQLite drops a table's triggers
with the table, and a later migration that alters one of these tables in batch mode (copy, drop, rename) would drop
them silently, leaving the index behind the data: so every `tierdesk db upgrade` checks they are all there, and
puts back any that is missing and rebuilds that index.
"""

from __future__ import annotations

import sqlalchemy as sa

# (FTS table, content table, indexed column): the content table's rowid is its integer primary key `id`.
SQLITE_INDEXES = (
    ("search_messages", "messages", "body_text"),
    ("search_tickets", "tickets", "subject"),
    ("search_customers", "customers", "display_name"),
)
# Porter stemming ("refunds" finds "refunded"), like PostgreSQL's english configuration; accents folded.
SQLITE_TOKENIZER = "porter unicode61 remove_diacritics 2"


def sqlite_table(fts: str, table: str, column: str) -> str:
    return (f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{table}', content_rowid='id', "
            f"tokenize='{SQLITE_TOKENIZER}')")


def sqlite_triggers(fts: str, table: str, column: str) -> dict[str, str]:
    """Trigger name -> its DDL."""
    return {
        f"{fts}_insert": f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
                         f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        f"{fts}_delete": f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
                         f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); END",
        f"{fts}_update": f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {column} ON {table} BEGIN "
                         f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); "
                         f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
    }


def sqlite_rebuild(fts: str) -> str:
    return f"INSERT INTO {fts}({fts}) VALUES ('rebuild')"


def restore_sqlite_triggers(conn: sa.Connection) -> list[str]:
    """Put back the triggers a batch migration dropped, and rebuild those indexes; returns the FTS tables rebuilt."""
    present = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type IN "
                                                      "('trigger', 'table') AND name LIKE 'search%'")}
    rebuilt = []
    for fts, table, column in SQLITE_INDEXES:
        if fts not in present:
            continue  # not migrated that far
        missing = {name: ddl for name, ddl in sqlite_triggers(fts, table, column).items() if name not in present}
        for ddl in missing.values():
            conn.exec_driver_sql(ddl)
        if missing:
            conn.exec_driver_sql(sqlite_rebuild(fts))
            rebuilt.append(fts)
    return rebuilt
