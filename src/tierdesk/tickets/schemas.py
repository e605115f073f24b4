from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tierdesk.kit.input import MAX_TAGS, Input, RecordId, normal_tag
from tierdesk.kit.vocabulary import ActorKind, Channel, Department, MessageDirection, Priority, TicketStatus


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    customer_id: int
    subject: str
    status: TicketStatus
    priority: Priority
    department: Department | None
    intent: str | None
    queue_id: int
    tier: int
    assignee_id: int | None
    channel: Channel
    disposition_id: int | None
    message_count: int
    created_at: dt.datetime
    updated_at: dt.datetime
    last_inbound_at: dt.datetime | None
    first_response_at: dt.datetime | None
    solved_at: dt.datetime | None
    closed_at: dt.datetime | None
    waiting_since: dt.datetime | None = Field(validation_alias="routable_since",
                                              description="waiting for an agent since (unassigned, new or open)")
    sla_due_at: dt.datetime | None = Field(description="the nearest due time of its running SLA clocks")
    reopen_count: int


class TicketUpdate(Input):
    """Fields to change; those left out stay as they are. `assignee_id: null` unassigns."""

    status: TicketStatus | None = None
    priority: Priority | None = None
    queue_id: RecordId | None = None
    assignee_id: RecordId | None = None
    department: Department | None = None
    intent: str | None = Field(default=None, max_length=100)
    subject: str | None = Field(default=None, min_length=1, max_length=500)
    disposition: str | None = Field(default=None, max_length=64, description="disposition code, when solving")
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS,
                                   description="the ticket's whole set of tags (lower-case letters, digits, - _ :)")
    reason: str | None = Field(default=None, max_length=2000, description="why: recorded with the change")

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        return sorted({normal_tag(t) for t in v}) if v is not None else None


class MessageCreate(Input):
    """An agent's public reply or internal note. Customer messages come in through POST /contacts."""

    direction: Literal["outbound", "note"] = "outbound"
    body: str | None = Field(default=None, max_length=200_000)
    body_html: str | None = Field(default=None, max_length=1_000_000)


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ticket_id: int
    direction: MessageDirection
    channel: Channel
    author_agent_id: int | None
    author_customer_id: int | None
    body_text: str
    body_html: str
    external_id: str | None
    thread_ref: str | None
    flag: str | None = Field(default=None, description="shown beside the message, e.g. a reply from a stranger")
    created_at: dt.datetime


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    message_id: int
    filename: str | None
    content_type: str
    size: int
    sha256: str
    content_id: str | None = Field(description="what a cid: reference in the message's HTML names")
    inline: bool


class EventOut(BaseModel):
    id: int
    ticket_id: int
    kind: str
    actor_kind: ActorKind
    actor_agent_id: int | None
    actor_integration_id: int | None = None  # the channel gateway, when actor_kind is integration
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    created_at: dt.datetime
    message: MessageOut | None = None


class DispositionCreate(Input):
    brand: str
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    label: str = Field(min_length=1, max_length=200)
    department: Department | None = None


class DispositionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    code: str
    label: str
    department: Department | None
    is_active: bool


# -- canned responses and macros (tickets/macros.py) --------------------------------------------------------------
PLACEHOLDERS = ("customer_name", "agent_name", "ticket_id", "brand_name")
TEXT_MAX = 20_000


def _tag_list(values: list[str]) -> list[str]:
    return sorted({normal_tag(t) for t in values})


class CannedResponseCreate(Input):
    brand: str = Field(description="slug or id of the brand it belongs to")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=TEXT_MAX,
                      description="plain text; {customer_name}, {agent_name}, {ticket_id}, {brand_name} are filled in")
    shared: bool = Field(default=True, description="shared with the brand (admins and leads), or personal to you")
    is_active: bool = True

    @field_validator("title", "body")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("cannot be blank")
        return v.strip()


class CannedResponseUpdate(Input):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=TEXT_MAX)
    is_active: bool | None = None

    @field_validator("title", "body")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("cannot be blank")
        return v.strip() if v is not None else None


class CannedResponseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    owner_agent_id: int | None = Field(description="the agent it is personal to; null when shared with the brand")
    title: str
    body: str
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class MacroFields(Input):
    """What a macro does, as created and as changed (PATCH: only the fields given)."""

    description: str = Field(default="", max_length=2000)
    department: Department | None = Field(default=None, description="offered only on tickets of this department")
    set_status: TicketStatus | None = None
    set_priority: Priority | None = None
    add_tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    remove_tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    disposition: str | None = Field(default=None, max_length=64, description="a disposition code of the brand")
    assign_to_me: bool = Field(default=False, description="assign the ticket to the agent who applies it")
    text: str = Field(default="", max_length=TEXT_MAX, description="inserted into the reply or the note; "
                      "{customer_name}, {agent_name}, {ticket_id}, {brand_name} are filled in")
    text_into: Literal["outbound", "note"] = Field(default="outbound", description="the reply or the internal note")
    is_active: bool = True

    @field_validator("add_tags", "remove_tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return _tag_list(v)

    @field_validator("disposition")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None


class MacroCreate(MacroFields):
    brand: str = Field(description="slug or id of the brand it belongs to")
    name: str = Field(min_length=1, max_length=200)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("cannot be blank")
        return v.strip()


class MacroUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    department: Department | None = None
    set_status: TicketStatus | None = None
    set_priority: Priority | None = None
    add_tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    remove_tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    disposition: str | None = Field(default=None, max_length=64)
    assign_to_me: bool | None = None
    text: str | None = Field(default=None, max_length=TEXT_MAX)
    text_into: Literal["outbound", "note"] | None = None
    is_active: bool | None = None

    @field_validator("add_tags", "remove_tags")
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        return _tag_list(v) if v is not None else None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("cannot be blank")
        return v.strip() if v is not None else None

    @field_validator("disposition")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None


class MacroOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    name: str
    description: str
    department: Department | None
    set_status: TicketStatus | None
    set_priority: Priority | None
    add_tags: list[str]
    remove_tags: list[str]
    disposition: str | None
    assign_to_me: bool
    text: str
    text_into: MessageDirection
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class MacroApplied(BaseModel):
    ticket: TicketOut
    text: str = Field(description="the macro's text with its placeholders filled, to insert into the reply or note")
    text_into: MessageDirection
