"""What the web form's admin API and its public API take and give."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tierdesk.kit.input import Input
from tierdesk.kit.origins import normalise_origins
from tierdesk.kit.vocabulary import WebFieldType

# The form's own fields and the honeypot: a brand's field may not take their names.
BUILT_IN_FIELDS = frozenset({"subject", "message", "email", "name", "attachments", "website", "form_token"})
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9.+-]*/(?:\*|[a-z0-9][a-z0-9.+-]*)$")
MAX_FIELDS = 20
MAX_CHOICES = 50
DEFAULT_MAX_LENGTH = {WebFieldType.TEXT: 200, WebFieldType.TEXTAREA: 5000, WebFieldType.SELECT: 200,
                      WebFieldType.CHECKBOX: 3}
MAX_ATTACHMENT_BYTES = 1024**3
MAX_ATTACHMENTS = 20


class WebFormField(Input):
    """One optional field a brand adds to its form."""

    name: str = Field(description="how the answer is stored and posted: lower-case letters, digits and _, "
                                  "starting with a letter (not subject, message, email, name, attachments)")
    label: str = Field(min_length=1, max_length=100, description="what the customer reads beside it")
    type: WebFieldType = WebFieldType.TEXT
    required: bool = False
    choices: list[str] | None = Field(default=None, description="the options of a select field (1 to 50)")
    max_length: int | None = Field(default=None, ge=1, le=10_000,
                                   description="the longest answer taken (default 200; 5000 for a textarea)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not FIELD_NAME.match(value):
            raise ValueError("must be lower-case letters, digits and _, starting with a letter, at most 40 long")
        if value in BUILT_IN_FIELDS:
            raise ValueError(f"{value!r} is one of the form's own fields")
        return value

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("cannot be blank")
        return value.strip()

    @model_validator(mode="after")
    def _choices_fit_the_type(self) -> WebFormField:
        if self.type is WebFieldType.SELECT:
            choices = [c.strip() for c in self.choices or []]
            if not 1 <= len(choices) <= MAX_CHOICES:
                raise ValueError(f"a select field needs 1 to {MAX_CHOICES} choices")
            if any(not c or len(c) > 200 for c in choices):
                raise ValueError("each choice must be 1 to 200 characters")
            if len(set(choices)) != len(choices):
                raise ValueError("the choices must differ from each other")
            self.choices = choices
        elif self.choices is not None:
            raise ValueError(f"only a select field has choices, not a {self.type.value} field")
        if self.type is WebFieldType.CHECKBOX and self.max_length is not None:
            raise ValueError("a checkbox has no max_length")
        return self

    @property
    def longest(self) -> int:
        return self.max_length or DEFAULT_MAX_LENGTH[self.type]


class WebFormSettingsIn(Input):
    """A change to a brand's web form; what is not given stays as it is."""

    enabled: bool | None = None
    fields: list[WebFormField] | None = Field(default=None, max_length=MAX_FIELDS)
    max_attachment_bytes: int | None = Field(default=None, ge=1, le=MAX_ATTACHMENT_BYTES)
    max_attachments: int | None = Field(default=None, ge=0, le=MAX_ATTACHMENTS, description="0: no attachments")
    allowed_types: list[str] | None = Field(default=None, max_length=50,
                                            description='MIME types or families: ["image/*", "application/pdf"]')
    allowed_origins: list[str] | None = Field(default=None, max_length=20,
                                              description="sites that may show the form in an iframe")
    thank_you_text: str | None = Field(default=None, max_length=2000)
    acknowledge: bool | None = Field(default=None, description="email the customer an acknowledgement")

    @field_validator("fields")
    @classmethod
    def _unique_names(cls, value: list[WebFormField] | None) -> list[WebFormField] | None:
        if value is not None:
            names = [f.name for f in value]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"two fields are named {twice[0]!r}")
        return value

    @field_validator("allowed_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = []
        for item in value:
            media = item.strip().lower()
            if not MEDIA_TYPE.match(media) or media.startswith("*"):
                raise ValueError(f"{item!r} is not a MIME type like image/png or image/*")
            if media not in cleaned:
                cleaned.append(media)
        return cleaned

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else normalise_origins(value)


class WebFormSettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    brand: str
    enabled: bool
    fields: list[dict[str, Any]]
    max_attachment_bytes: int
    max_attachments: int
    allowed_types: list[str]
    allowed_origins: list[str]
    thank_you_text: str | None
    acknowledge: bool
    form_url: str = Field(description="the form's page (also what the iframe shows)")
    embed_snippet: str = Field(description="the script tag that puts the form on a site")


class WebSubmissionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ticket_id: int
    message_id: int
    email: str
    client_ip: str
    fields: dict[str, Any]
    via: str
    user_agent: str | None
    created_at: dt.datetime


class RequestAccepted(BaseModel):
    """A request the web form channel accepted."""

    ticket_id: int
    reference: str = Field(description="what the customer quotes: the ticket number")
    duplicate: bool = Field(default=False, description="the same post arrived before (a double click): nothing new")
    message: str = Field(description="the brand's thank-you text")


class FormTokenOut(BaseModel):
    form_token: str = Field(description="send it back as form_token; valid after the minimum fill time")
    honeypot_field: str = Field(description="a field that must be sent empty (or not at all)")
    min_fill_seconds: float
    expires_in_seconds: float
