from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tierdesk.kit.input import Input, RecordId
from tierdesk.kit.vocabulary import IdentityKind
from tierdesk.tickets.schemas import TicketOut


class Sender(Input):
    """Who a contact is from: at least one of email, phone or the brand's account id."""

    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    external_id: str | None = Field(default=None, max_length=200, description="the brand's account or customer id")
    name: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _some_identity(self) -> Sender:
        if not (self.email or self.phone or self.external_id):
            raise ValueError("give at least one of email, phone or external_id")
        return self


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: IdentityKind
    value: str
    undeliverable_since: dt.datetime | None = Field(
        default=None, description="mail to this address bounced for good since then: replies are not sent to it")
    undeliverable_reason: str | None = None


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    display_name: str | None
    merged_into_id: int | None
    identities: list[IdentityOut]
    created_at: dt.datetime


class CustomerHistory(CustomerOut):
    """A customer with every ticket they opened, on any channel: what an agent reads before answering."""

    channels: list[str]
    open_tickets: int
    tickets: list[TicketOut]


class CustomerMerge(Input):
    source_id: RecordId = Field(description="the customer merged away; its identities and tickets move to this one")


class SearchPart(BaseModel):
    """A piece of a snippet: plain text, `match` when it is a word the search matched (render it highlighted)."""

    text: str
    match: bool


class SearchHitOut(BaseModel):
    ticket: TicketOut
    brand: str = Field(description="the brand's name")
    customer_name: str | None
    customer_identity: str | None = Field(description="the customer's identity that matched, else their first")
    score: float = Field(description="higher is better; only comparable within one search")
    matched_in: list[str] = Field(description="where it matched: number, customer, subject, message")
    subject: list[SearchPart] = Field(description="the subject, its matched words marked")
    snippet: list[SearchPart] = Field(description="a passage of the best matching message, its matched words marked")


class SearchPage(BaseModel):
    items: list[SearchHitOut]
    next_cursor: str | None = None
    message: str | None = Field(default=None, description="why there is nothing to search for, or why the list "
                                                          "stops (refine the search)")
