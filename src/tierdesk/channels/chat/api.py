"""The chat's admin API: a brand's chat settings (the origins allowed to embed the widget, the pre-chat form, the
business calendar). The chat itself runs over the WebSockets of sockets.py."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tierdesk.brands.service import resolve_brand
from tierdesk.channels.chat import service
from tierdesk.channels.chat.schemas import ChatSettingsIn
from tierdesk.deps import CurrentPrincipal, Db

router = APIRouter(prefix="/chat", tags=["chat"])


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
    row = service.update_settings(db, principal, found, data)
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
