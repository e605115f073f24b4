"""Domain errors: each carries its HTTP status and a message a person can act on.

Services raise these; the API turns them into `{"error": {...}}` responses and the CLI into a one-line message.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Unauthenticated(DomainError):
    status_code = 401
    code = "unauthenticated"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class InvalidInput(DomainError):
    """Input that is well-formed but not acceptable (an unknown queue, an illegal status change): 422 with the field."""

    status_code = 422
    code = "invalid"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "too_large"


class TooManyRequests(DomainError):
    """Too many failed attempts from one client: retry after `retry_after` seconds."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


# ---- what the API answers with an error, for the OpenAPI document -------------------------------------------

class FieldErrorOut(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable: not_found, forbidden, invalid, validation_error, ...")
    message: str = Field(description="what is wrong, for a person")
    field: str | None = Field(default=None, description="the field, query parameter or 'body' at fault")
    fields: list[FieldErrorOut] | None = Field(default=None, description="every field at fault (validation)")


class ErrorResponse(BaseModel):
    error: ErrorBody


def _described(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


# Every API operation may answer these; declared once on the routers so the OpenAPI document lists them all.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described("the request cannot be read"),
    401: _described("no API token, or one that is unknown, revoked or expired"),
    403: _described("the token may not do this (role, brand or scope)"),
    404: _described("no such record, or not one the token may see"),
    409: _described("conflicts with data that exists already or changed meanwhile"),
    413: _described("the request body is larger than TIERDESK_MAX_REQUEST_BYTES"),
    422: _described("invalid input: the field (or query parameter) and what is wrong with it"),
    429: _described("too many failed authentications from this client; see Retry-After"),
}
