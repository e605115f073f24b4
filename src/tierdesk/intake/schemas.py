from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field, field_validator

from tierdesk.customers.schemas import Sender
from tierdesk.kit.input import Input
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import Channel, Department, Priority
from tierdesk.tickets.schemas import TicketOut

# How far ahead of this server's clock a channel's received_at may be: the clocks of mail servers and gateways drift
# by seconds, sometimes a minute or two; a time further ahead is a wrong clock or made up, and would become the
# ticket's last inbound time (and skew its SLA and auto-close) for as long as it lies in the future.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
# Nothing tierdesk receives was received before this (older dates are wrong clocks or defaults like 0001-01-01).
EARLIEST_RECEIVED_AT = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)


class ContactIn(Input):
    """One inbound contact, as every channel adapter hands it to intake."""

    brand: str = Field(description="slug of the brand the contact is for")
    channel: Channel
    sender: Sender
    subject: str | None = Field(default=None, max_length=500, description="default: the body's first line")
    body: str | None = Field(default=None, max_length=200_000, description="plain text")
    body_html: str | None = Field(default=None, max_length=1_000_000, description="HTML; sanitised before storing")
    thread_ref: str | None = Field(
        default=None,
        max_length=500,
        description="what this continues: an earlier message's external_id (email In-Reply-To), a conversation id "
        "shared by all its messages (chat), or 'ticket:<id>'",
    )
    external_id: str | None = Field(
        default=None,
        max_length=500,
        description="the channel's own id of this message (email Message-ID); a second delivery of the same id is "
        "recognised and not recorded twice",
    )
    received_at: dt.datetime | None = Field(default=None, description="when the channel received it; default now")
    department: Department | None = Field(default=None, description="until triage decides: CS or TS")
    queue: str | None = Field(default=None, description="slug or id of a queue of the brand")
    priority: Priority | None = None
    intent: str | None = Field(default=None, max_length=100)

    @field_validator("received_at")
    @classmethod
    def _aware_utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("needs a time zone offset, e.g. 2026-11-23T14:00:00Z")
        try:
            value = value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("is outside the range of dates that can be stored") from None
        if value > utcnow() + MAX_CLOCK_SKEW:
            minutes = int(MAX_CLOCK_SKEW.total_seconds() // 60)
            raise ValueError(f"is in the future (more than {minutes} minutes ahead of this server's clock, "
                             f"{utcnow():%Y-%m-%dT%H:%M:%SZ})")
        if value < EARLIEST_RECEIVED_AT:
            raise ValueError(f"is before {EARLIEST_RECEIVED_AT:%Y-%m-%d}: not a real receiving time")
        return value

    @field_validator("external_id", "thread_ref", "queue", "intent")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        # A channel that sends "" means "none": stored as "", it would collide with the next "" (unique ids).
        if value is None:
            return None
        return value.strip() or None


class ContactResult(BaseModel):
    ticket: TicketOut
    customer_id: int
    message_id: int
    threaded: bool = Field(description="true when the message continued an existing ticket")
    customer_created: bool
    duplicate: bool = Field(default=False, description="true when this external_id was received before")
    possible_duplicate_customers: list[int] = Field(
        default_factory=list, description="other customers holding one of the sender's identities: a merge to review"
    )
