"""Cursor (keyset) pagination: stable under inserts, constant cost per page at any depth."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.input import MAX_ID

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# A list operation's ?limit=: one declaration, so every list refuses the same out-of-range values the same way.
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(position: dict[str, int]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, keys: tuple[str, ...]) -> dict[str, int] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this API returned", field="cursor") from None
    if (
        not isinstance(position, dict)
        or set(position) != set(keys)
        or not all(type(v) is int and 0 <= v <= MAX_ID for v in position.values())
    ):
        raise InvalidInput("cursor is not one this API returned", field="cursor")
    return position


def page_of(rows: list[T], limit: int, position_of: Callable[[T], dict[str, int]]) -> tuple[list[T], str | None]:
    """Rows were fetched with limit + 1: the extra row only tells whether another page exists."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(position_of(rows[-1]))
    return rows, None
