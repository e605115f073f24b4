"""Forms on the admin pages: a posted form is turned into the API's own pydantic schema and checked by it and by the
service, so a page refuses exactly what the API refuses; each refusal is kept under its field ("email",
"skills.1.level") to be shown beside that field, or under FORM when it belongs to no field."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tierdesk.kit.errors import DomainError

FORM = "_form"  # the key of a refusal that belongs to the whole form
Errors = dict[str, str]
_M = TypeVar("_M", bound=BaseModel)


async def _posted(request: Request) -> FormData:
    return await request.form()  # parsed once: csrf_protect read it already


Posted = Annotated[FormData, Depends(_posted)]


class Refused(Exception):
    """A form the schema or the service refused, with the message of each field."""

    def __init__(self, errors: Errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def field_of(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or FORM


def errors_of(exc: ValidationError) -> Errors:
    errors: Errors = {}
    for err in exc.errors():
        message = str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        errors.setdefault(field_of(tuple(err.get("loc", ()))), message)
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


def field_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    """A text field where empty means 'none'."""
    return field_text(form, name) or None


def field_texts(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str)]
