"""What every request body and id must satisfy before a service sees it."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tierdesk.kit.errors import InvalidInput

# Ids are BIGINT on PostgreSQL and INTEGER (64-bit) on SQLite: anything larger cannot name a row.
MAX_ID = 2**63 - 1
_ID_TEXT = re.compile(r"^[0-9]{1,18}$")
# What a slug (brand, queue, calendar, policy) may be: lower-case letters, digits and dashes.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"

# A ticket's tag: lower-case letters, digits and - _ : (written in any case; stored lower-case).
TAG_PATTERN = r"^[a-z0-9][a-z0-9_:-]{0,63}$"
MAX_TAGS = 50


def normal_tag(value: str) -> str:
    tag = value.strip().lower()
    if not re.match(TAG_PATTERN, tag):
        raise ValueError(f"{value!r} is not a tag: use 1 to 64 letters, digits, '-', '_' or ':'")
    return tag


RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def id_from_text(ref: str) -> int | None:
    """An id written as text ("42"), or None when the text cannot be one."""
    return int(ref) if _ID_TEXT.match(ref) else None


def slug_or_id(ref: str | int, slug_pattern: str) -> tuple[str | None, int | None]:
    """How a reference written by a caller can name a record: as a slug, as an id, or both ("123")."""
    if isinstance(ref, int):
        return None, ref
    return (ref if re.match(slug_pattern, ref) else None), id_from_text(ref)


NUL_MESSAGE = "contains a NUL character (\\u0000)"


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul(value: str | None, field: str) -> None:
    """For text that arrives outside a request body (query parameters): PostgreSQL cannot store NUL."""
    if value is not None and _has_nul(value):
        raise InvalidInput(NUL_MESSAGE, field=field)


class Input(BaseModel):
    """Base of every request body: unknown fields are refused, and so is the NUL character, which PostgreSQL
    cannot store and no person types."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if _has_nul(value):
            raise ValueError(NUL_MESSAGE)
        return value


def patch_values(data: BaseModel, *, nullable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields a PATCH body set, in the order of the model; null is refused where a value cannot be empty."""
    values = {f: getattr(data, f) for f in type(data).model_fields if f in data.model_fields_set}
    for field, value in values.items():
        if value is None and field not in nullable:
            raise InvalidInput(f"{field} cannot be null", field=field)
    return values
