"""Admin forms on the web UI: a posted form read once, the change made through the domain's own schema and service
inside a savepoint, and what was refused mapped to the field it concerns, so the page re-renders with each error
beside its field (422) and nothing of the refused change is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tierdesk.kit.errors import Conflict, InvalidInput

T = TypeVar("T")
FORM = "form"  # the key of an error that belongs to no one field


async def form_data(request: Request) -> FormData:
    """The posted form (Starlette keeps it parsed: csrf_protect has read it already)."""
    return await request.form()


Posted = Annotated[FormData, Depends(form_data)]


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    """A field left empty is no value (the schema's default, or null where null clears it)."""
    return field(form, name) or None


def texts(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str)]


def checked(form: FormData, name: str) -> bool:
    return name in form


def lines(form: FormData, name: str) -> list[str]:
    """A textarea of one item a line (or comma-separated), blanks dropped."""
    return [item.strip() for line in field(form, name).splitlines() for item in line.split(",") if item.strip()]


def field_errors(exc: ValidationError) -> dict[str, str]:
    """A schema's refusal as {field: message}; a nested field (a required skill's level) reports on its list."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = loc[0] if loc else FORM
        message = err["msg"].removeprefix("Value error, ")
        if len(loc) > 1:
            message = " ".join(f"row {int(p) + 1}:" if p.isdigit() else f"{p}:" for p in loc[1:]) + " " + message
        errors.setdefault(key, message)
    return errors


def attempt(db: Session, change: Callable[[], T]) -> tuple[T | None, dict[str, str]]:
    """Run `change` (build the schema, call the service) in a savepoint: (its result, {}) or (None, the errors by
    field) with the savepoint rolled back. Forbidden and NotFound pass through: the page answers 403/404."""
    try:
        with db.begin_nested():
            return change(), {}
    except ValidationError as exc:
        return None, field_errors(exc)
    except (InvalidInput, Conflict) as exc:
        return None, {exc.field or FORM: exc.message}
