"""Counting the SQL statements something runs: the tests that keep every page's queries bounded use it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event


@dataclass
class Statements:
    """The statements run inside the block, in order (BEGIN on SQLite included: tierdesk issues it itself)."""

    sql: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.sql)

    def __str__(self) -> str:
        return "\n".join(f"  {i + 1:>3}. {' '.join(s.split())[:220]}" for i, s in enumerate(self.sql))


@contextmanager
def counting(engine: sa.Engine) -> Iterator[Statements]:
    """Every statement `engine` runs while the block runs, from any thread (a TestClient's requests run in the app's
    threads, on the same engine)."""
    seen = Statements()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.sql.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
