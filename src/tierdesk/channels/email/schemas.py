from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from tierdesk.kit.input import Input
from tierdesk.kit.vocabulary import DeliveryStatus, EmailOutcome, MessageDirection


class EmailAddressIn(Input):
    brand: str = Field(description="slug of the brand")
    address: str = Field(max_length=320, description="e.g. support@acme.example; support+anything@ reaches it too")


class EmailAddressOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    address: str
    is_default: bool = Field(description="the From address of the brand's replies")


class EmailRecordOut(BaseModel):
    """The email side of a message: its headers, what was repaired while reading it, and for a reply whether it
    was delivered."""

    model_config = ConfigDict(from_attributes=True)
    message_id: int
    ticket_id: int
    direction: MessageDirection
    rfc_message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    from_address: str | None
    to_addresses: list[str]
    cc_addresses: list[str]
    subject: str
    raw_size: int | None
    auto_submitted: str | None
    defects: list[str]
    has_remote_images: bool = Field(description="the HTML loads images from the internet: blocked until asked for")
    delivery_status: DeliveryStatus | None
    delivery_error: str | None
    sent_at: dt.datetime | None
    created_at: dt.datetime


class QuarantinedEmailOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int | None
    reason: str
    source: str
    recipients: list[str]
    from_address: str | None
    subject: str | None
    raw_size: int
    received_at: dt.datetime
    released_at: dt.datetime | None
    outcome: str | None
    ticket_id: int | None


class InboundResultOut(BaseModel):
    outcome: EmailOutcome
    ticket_id: int | None
    message_id: int | None
    customer_id: int | None
    reason: str | None
