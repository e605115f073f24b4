"""Forms on the admin pages: a posted form is read once and turned into the API's own pydantic schema, and the
change is made through the domain's service (inside a savepoint where the page goes on to render), so a page refuses
exactly what the API refuses and writes nothing of a refused change. Each refusal is kept under its field ("email",
"skills.1.level", or for `field_errors` the list it is in) to be shown beside that field (422), or under FORM when it
belongs to no field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tierdesk.kit.errors import Conflict, DomainError, InvalidInput

T = TypeVar("T")
_M = TypeVar("_M", bound=BaseModel)
FORM = "_form"  # the key of a refusal that belongs to the whole form
Errors = dict[str, str]


async def form_data(request: Request) -> FormData:
    """The posted form (Starlette keeps it parsed: csrf_protect has read it already)."""
    return await request.form()


Posted = Annotated[FormData, Depends(form_data)]


# -- reading fields --------------------------------------------------------------------------------------------------
def field_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    """A field left empty is no value (the schema's default, or null where null clears it)."""
    return field_text(form, name) or None


def field_texts(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str)]


def checked(form: FormData, name: str) -> bool:
    return name in form


def lines(form: FormData, name: str) -> list[str]:
    """A textarea of one item a line (or comma-separated), blanks dropped."""
    return [item.strip() for line in field_text(form, name).splitlines() for item in line.split(",") if item.strip()]


# -- refusals --------------------------------------------------------------------------------------------------------
class Refused(Exception):
    """A form the schema or the service refused, with the message of each field."""

    def __init__(self, errors: Errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def field_of(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or FORM


def errors_of(exc: ValidationError) -> Errors:
    """A schema's refusal as {dotted field: message} ("skills.1.level")."""
    errors: Errors = {}
    for err in exc.errors():
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        errors.setdefault(field_of(tuple(err.get("loc", ()))), message)
    return errors


def field_errors(exc: ValidationError) -> Errors:
    """A schema's refusal as {field: message}, a nested field (a required skill's level) reported on its list with
    the row it is in."""
    errors: Errors = {}
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = loc[0] if loc else FORM
        message = err["msg"].removeprefix("Value error, ")
        if len(loc) > 1:
            message = " ".join(f"row {int(p) + 1}:" if p.isdigit() else f"{p}:" for p in loc[1:]) + " " + message
        errors.setdefault(key, message)
    return errors


def parse(schema: type[_M], values: dict[str, Any]) -> _M:
    """The schema of the API filled from a form; Refused with each field's message when it does not fit."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        raise Refused(errors_of(exc)) from exc


def refusal(db: Session, exc: Refused | DomainError) -> Errors:
    """What to show for a refused form, after undoing whatever the request wrote (nothing half-written stays)."""
    db.rollback()
    if isinstance(exc, Refused):
        return exc.errors
    return {exc.field or FORM: exc.message}


def attempt(db: Session, change: Callable[[], T]) -> tuple[T | None, Errors]:
    """Run `change` (build the schema, call the service) in a savepoint: (its result, {}) or (None, the errors by
    field) with the savepoint rolled back. Forbidden and NotFound pass through: the page answers 403/404."""
    try:
        with db.begin_nested():
            return change(), {}
    except ValidationError as exc:
        return None, field_errors(exc)
    except (InvalidInput, Conflict) as exc:
        return None, {exc.field or FORM: exc.message}
