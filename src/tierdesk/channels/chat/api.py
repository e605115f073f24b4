"""The chat's admin API: a brand's chat settings (the origins allowed to embed the widget, the pre-chat form, the
business calendar). The chat itself runs over the WebSockets of sockets.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator

from tierdesk.brands.service import resolve_brand
from tierdesk.channels.chat import service
from tierdesk.deps import CurrentPrincipal, Db
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.input import Input
from tierdesk.kit.origins import normalise_origins
from tierdesk.sla import repository as calendars

router = APIRouter(prefix="/chat", tags=["chat"])


class ChatSettingsIn(Input):
    """Fields left out stay as they are."""

    allowed_origins: Annotated[list[str], Field(max_length=100)] | None = Field(
        default=None, description="origins (https://shop.example) of the pages that may embed the widget")
    pre_chat_form: bool | None = Field(default=None, description="ask for a name and an email before the chat")
    calendar: str | None = Field(default=None, max_length=64,
                                 description="slug of the brand's business calendar; outside its hours the "
                                 "widget offers email. Empty string: always open")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else normalise_origins(value)


class ChatSettingsOut(BaseModel):
    brand: str
    allowed_origins: list[str]
    pre_chat_form: bool
    calendar_id: int | None


@router.get("/settings/{brand}", response_model=ChatSettingsOut)
def get_chat_settings(brand: str, db: Db, principal: CurrentPrincipal) -> ChatSettingsOut:
    found = resolve_brand(db, principal, brand)
    row = service.chat_settings(db, found.id)
    return ChatSettingsOut(brand=found.slug, allowed_origins=list(row.allowed_origins) if row else [],
                           pre_chat_form=bool(row and row.pre_chat_form), calendar_id=row.calendar_id if row else None)


@router.put("/settings/{brand}", response_model=ChatSettingsOut)
def put_chat_settings(brand: str, data: ChatSettingsIn, db: Db, principal: CurrentPrincipal) -> ChatSettingsOut:
    """Admins only."""
    principal.require_admin()
    found = resolve_brand(db, principal, brand)
    calendar_id = None
    if data.calendar:
        calendar_id = calendars.calendar_in_brand(db, found.id, data.calendar, None)
        if calendar_id is None:
            raise InvalidInput(f"brand '{found.slug}' has no business calendar '{data.calendar}'", field="calendar")
    row = service.set_settings(db, principal, found, data.allowed_origins, data.pre_chat_form, calendar_id,
                               data.calendar is not None)
    return ChatSettingsOut(brand=found.slug, allowed_origins=list(row.allowed_origins),
                           pre_chat_form=row.pre_chat_form, calendar_id=row.calendar_id)


class IdentitySecretOut(BaseModel):
    brand: str
    identity_secret: str = Field(description="shown once: the brand's site signs its signed-in customers' ids "
                                 "with it (hex HMAC-SHA256 of the id) for the widget's data-customer-signature")


@router.post("/settings/{brand}/identity-secret", response_model=IdentitySecretOut, status_code=201)
def new_identity_secret(brand: str, request: Request, db: Db, principal: CurrentPrincipal) -> IdentitySecretOut:
    """Admins only. A new secret replaces the old one at once."""
    principal.require_admin()
    found = resolve_brand(db, principal, brand)
    secret = service.new_identity_secret(db, principal, request.app.state.secret_key, found)
    return IdentitySecretOut(brand=found.slug, identity_secret=secret)
