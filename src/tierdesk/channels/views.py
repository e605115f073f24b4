"""Admin pages for each brand's channel settings: email (the addresses it receives mail at, its own SMTP relay, whose
password is never shown back), chat, the web form and voice. Each change goes through its channel's own service
with the API's schema, so a page refuses what the API refuses; secrets are written, never read back ("set")."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from tierdesk.brands import repository as brands
from tierdesk.brands.models import Brand
from tierdesk.brands.service import resolve_brand
from tierdesk.channels.chat import service as chat
from tierdesk.channels.chat.schemas import ChatSettingsIn
from tierdesk.channels.email import addresses
from tierdesk.channels.email import repository as email
from tierdesk.channels.email.relay import DEFAULT_PORTS, set_handling, set_relay
from tierdesk.channels.voice import menu as ivr_menu
from tierdesk.channels.voice import repository as voice_repository
from tierdesk.channels.voice import service as voice
from tierdesk.channels.voice.schemas import VoiceSettingsIn
from tierdesk.channels.voice.webhooks import PREFIX as VOICE_PREFIX
from tierdesk.channels.voice.webhooks import public_base
from tierdesk.channels.web.forms import settings_row, update_form
from tierdesk.channels.web.schemas import WebFormSettingsIn
from tierdesk.deps import AppSettings, Db, SignedInAgent
from tierdesk.kit import forms
from tierdesk.kit.actors import Actor
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.pages import csrf_protect, render
from tierdesk.kit.vocabulary import AgentRole, MailSecurity, StrangerReplyPolicy
from tierdesk.sla import repository as calendars

router = APIRouter(dependencies=[Depends(csrf_protect)])

CHANNELS = (("email", "Email"), ("chat", "Chat"), ("web", "Web form"), ("voice", "Voice"))


def _brand(db: Db, who: SignedInAgent, brand: str) -> Brand:
    """Channel settings are for leads and admins, in the brands they work (another brand: as if missing)."""
    who.principal.require_role(AgentRole.LEAD)
    return resolve_brand(db, who.principal, brand)


def _back(brand: Brand, channel: str, done: str) -> Response:
    return RedirectResponse(f"/admin/channels/{brand.slug}/{channel}?done={done}", status_code=303)


@router.get("/admin/channels", response_class=HTMLResponse)
def channels_page(request: Request, db: Db, who: SignedInAgent) -> Response:
    """Each brand the lead or admin works, with a line on each channel's state."""
    who.principal.require_role(AgentRole.LEAD)
    shown = brands.list_visible(db, who.principal)
    mail = email.addresses_visible(db, who.principal, None)
    return render(request, "channels/index.html", who=who, section="admin", brands=shown, channels=CHANNELS,
                  addresses={b.id: [a.address for a in mail if a.brand_id == b.id] for b in shown})


def _channel_page(request: Request, who: SignedInAgent, brand: Brand, channel: str, errors: dict[str, str] | None,
                  status_code: int | None = None, **context: Any) -> Response:
    return render(request, f"channels/{channel}.html", status_code=status_code or (422 if errors else 200), who=who,
                  section="admin", brand=brand, channel=channel, channels=CHANNELS, errors=errors or {},
                  done=request.query_params.get("done"), **context)


# -- email -----------------------------------------------------------------------------------------------------------
def _email_page(request: Request, db: Db, who: SignedInAgent, brand: Brand, form: FormData | None = None,
                errors: dict[str, str] | None = None, status_code: int | None = None) -> Response:
    row = email.settings_of(db, brand.id)
    relay = {"host": row.relay_host if row else "", "port": str(row.relay_port or "") if row else "",
             "security": (row.relay_security or MailSecurity.STARTTLS).value if row else "starttls",
             "username": row.relay_username if row else "",
             "password_set": bool(row and row.relay_password_sealed)}
    handling = {"stranger_policy": (row.stranger_policy if row else StrangerReplyPolicy.NEW_LINKED_TICKET).value,
                "acknowledge_new_tickets": bool(row and row.acknowledge_new_tickets),
                "max_attachment_bytes": str(row.max_attachment_bytes if row else 25 * 1024 * 1024),
                "subject_window_days": str(row.subject_window_days if row else 7)}
    if form is not None and forms.field_text(form, "host"):
        relay |= {k: forms.field_text(form, k) for k in ("host", "port", "security", "username")}
    if form is not None and "stranger_policy" in form:
        handling = {k: forms.field_text(form, k) for k in handling} | {
            "acknowledge_new_tickets": forms.checked(form, "acknowledge_new_tickets")}
    return _channel_page(request, who, brand, "email", errors, status_code,
                         addresses=email.addresses_of_brand(db, brand.id), relay=relay, handling=handling,
                         policies=list(StrangerReplyPolicy),
                         new_address=forms.field_text(form, "address") if form is not None else "",
                         securities=list(MailSecurity), default_ports=DEFAULT_PORTS)


@router.get("/admin/channels/{brand}/email", response_class=HTMLResponse)
def email_page(request: Request, brand: str, db: Db, who: SignedInAgent) -> Response:
    return _email_page(request, db, who, _brand(db, who, brand))


@router.post("/admin/channels/{brand}/email/addresses", response_class=HTMLResponse)
def add_address(request: Request, brand: str, db: Db, who: SignedInAgent, form: forms.Posted) -> Response:
    found = _brand(db, who, brand)
    added, errors = forms.attempt(db, lambda: addresses.add_address(db, who.principal, found,
                                                                    forms.field_text(form, "address")))
    if added is None:
        return _email_page(request, db, who, found, form, {"address": next(iter(errors.values()))})
    return _back(found, "email", "address-added")


@router.post("/admin/channels/{brand}/email/addresses/remove", response_class=HTMLResponse)
def remove_address(request: Request, brand: str, db: Db, who: SignedInAgent, form: forms.Posted) -> Response:
    found = _brand(db, who, brand)
    addresses.remove_address(db, who.principal, found, forms.field_text(form, "address"))
    return _back(found, "email", "address-removed")


@router.post("/admin/channels/{brand}/email/relay", response_class=HTMLResponse)
def save_relay(request: Request, brand: str, db: Db, who: SignedInAgent, form: forms.Posted,
               settings: AppSettings) -> Response:
    found = _brand(db, who, brand)
    who.principal.require_admin()  # the relay's login is the deployment's business, as the CLI's

    def change() -> object:
        port_text = forms.field_text(form, "port")
        if port_text and not port_text.isdigit():
            raise InvalidInput(f"port {port_text!r} is not a number", field="port")
        try:
            security = MailSecurity(forms.field_text(form, "security"))
        except ValueError:
            raise InvalidInput("choose tls, starttls or plain", field="security") from None
        return set_relay(db, settings.effective_secret_key(), found.slug, host=forms.field_text(form, "host"),
                         port=int(port_text) if port_text else None, security=security,
                         username=forms.optional(form, "username"), password=forms.optional(form, "password"),
                         keep_password=not forms.checked(form, "clear_password"), actor=Actor.of(who.principal))

    saved, errors = forms.attempt(db, change)
    if saved is None:
        db.expire_all()
        return _email_page(request, db, who, found, form, errors)
    return _back(found, "email", "relay-saved")


@router.post("/admin/channels/{brand}/email/handling", response_class=HTMLResponse)
def save_handling(request: Request, brand: str, db: Db, who: SignedInAgent, form: forms.Posted) -> Response:
    found = _brand(db, who, brand)
    who.principal.require_admin()  # as the CLI's `tierdesk email settings`

    def number(name: str) -> int:
        value = forms.field_text(form, name)
        if not value.isdigit():
            raise InvalidInput(f"{value!r} is not a whole number", field=name)
        return int(value)

    def change() -> object:
        try:
            policy = StrangerReplyPolicy(forms.field_text(form, "stranger_policy"))
        except ValueError:
            raise InvalidInput("choose what happens to a stranger's reply", field="stranger_policy") from None
        return set_handling(db, found.slug, stranger_policy=policy,
                            acknowledge_new_tickets=forms.checked(form, "acknowledge_new_tickets"),
                            max_attachment_bytes=number("max_attachment_bytes"),
                            subject_window_days=number("subject_window_days"), actor=Actor.of(who.principal))

    saved, errors = forms.attempt(db, change)
    if saved is None:
        db.expire_all()
        return _email_page(request, db, who, found, form, errors)
    return _back(found, "email", "handling-saved")


# -- chat ------------------------------------------------------------------------------------------------------------
def _chat_page(request: Request, db: Db, who: SignedInAgent, brand: Brand, form: FormData | None = None,
               errors: dict[str, str] | None = None, secret: str | None = None) -> Response:
    row = chat.chat_settings(db, brand.id)
    brand_calendars = [c for c in calendars.calendars_visible(db, who.principal) if c.brand_id == brand.id]
    current = next((c.slug for c in brand_calendars if row and c.id == row.calendar_id), "")
    values = {"allowed_origins": "\n".join(row.allowed_origins) if row else "",
              "pre_chat_form": bool(row and row.pre_chat_form), "calendar": current,
              "identity_secret_set": bool(row and row.identity_secret_sealed)}
    if form is not None:
        values |= {"allowed_origins": forms.field_text(form, "allowed_origins"),
                   "pre_chat_form": forms.checked(form, "pre_chat_form"),
                   "calendar": forms.field_text(form, "calendar")}
    return _channel_page(request, who, brand, "chat", errors, 201 if secret else None, values=values,
                         calendars=brand_calendars, secret=secret)


@router.get("/admin/channels/{brand}/chat", response_class=HTMLResponse)
def chat_page(request: Request, brand: str, db: Db, who: SignedInAgent) -> Response:
    return _chat_page(request, db, who, _brand(db, who, brand))


@router.post("/admin/channels/{brand}/chat", response_class=HTMLResponse)
def save_chat(request: Request, brand: str, db: Db, who: SignedInAgent, form: forms.Posted) -> Response:
    found = _brand(db, who, brand)

    def change() -> object:
        data = ChatSettingsIn.model_validate({"allowed_origins": forms.lines(form, "allowed_origins"),
                                              "pre_chat_form": forms.checked(form, "pre_chat_form"),
                                              "calendar": forms.field_text(form, "calendar")})
        return chat.update_settings(db, who.principal, found, data)

    saved, errors = forms.attempt(db, change)
    if saved is None:
        return _chat_page(request, db, who, found, form, errors)
    return _back(found, "chat", "saved")


@router.post("/admin/channels/{brand}/chat/identity-secret", response_class=HTMLResponse)
def new_identity_secret(request: Request, brand: str, db: Db, who: SignedInAgent) -> Response:
    found = _brand(db, who, brand)
    secret = chat.new_identity_secret(db, who.principal, request.app.state.secret_key, found)
    return _chat_page(request, db, who, found, secret=secret)  # shown on this answer only


# -- web form --------------------------------------------------------------------------------------------------------
def _web_page(request: Request, db: Db, who: SignedInAgent, brand: Brand, form: FormData | None = None,
              errors: dict[str, str] | None = None) -> Response:
    row = settings_row(db, brand)
    values = {"enabled": row.enabled, "acknowledge": row.acknowledge,
              "fields": json.dumps(row.fields, indent=2, ensure_ascii=False) if row.fields else "",
              "max_attachment_bytes": str(row.max_attachment_bytes), "max_attachments": str(row.max_attachments),
              "allowed_types": "\n".join(row.allowed_types), "allowed_origins": "\n".join(row.allowed_origins),
              "thank_you_text": row.thank_you_text or ""}
    if form is not None:
        values = {name: forms.checked(form, name) if name in ("enabled", "acknowledge") else form.get(name, "")
                  for name in values}
    base = str(request.base_url).rstrip("/")
    return _channel_page(request, who, brand, "web", errors, values=values,
                         form_url=f"{base}/channels/web/{brand.slug}/form",
                         embed_snippet=f'<script src="{base}/static/web/form.js" data-brand="{brand.slug}" '
                                       'async></script>')


@router.get("/admin/channels/{brand}/web", response_class=HTMLResponse)
def web_page(request: Request, brand: str, db: Db, who: SignedInAgent) -> Response:
    return _web_page(request, db, who, _brand(db, who, brand))


@router.post("/admin/channels/{brand}/web", response_class=HTMLResponse)
def save_web(request: Request, brand: str, db: Db, who: SignedInAgent, form: forms.Posted) -> Response:
    found = _brand(db, who, brand)

    def change() -> object:
        fields_text = forms.field_text(form, "fields")
        try:
            fields = json.loads(fields_text) if fields_text else []
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"not JSON: {exc.msg} (line {exc.lineno})", field="fields") from None
        data = WebFormSettingsIn.model_validate({
            "enabled": forms.checked(form, "enabled"), "acknowledge": forms.checked(form, "acknowledge"),
            "fields": fields, "max_attachment_bytes": forms.field_text(form, "max_attachment_bytes"),
            "max_attachments": forms.field_text(form, "max_attachments"),
            "allowed_types": forms.lines(form, "allowed_types"),
            "allowed_origins": forms.lines(form, "allowed_origins"),
            "thank_you_text": forms.optional(form, "thank_you_text")})
        return update_form(db, who.principal, found, data)

    saved, errors = forms.attempt(db, change)
    if saved is None:
        db.expire_all()
        return _web_page(request, db, who, found, form, errors)
    return _back(found, "web", "saved")


# -- voice -----------------------------------------------------------------------------------------------------------
VOICE_FIELDS = ("hold_music_url", "wait_poll_seconds", "callback_digit", "wrap_up_seconds", "ring_seconds",
                "language")
VOICE_SWITCHES = ("offer_callback", "record_calls")


def _voice_page(request: Request, db: Db, who: SignedInAgent, brand: Brand, settings: AppSettings,
                form: FormData | None = None, errors: dict[str, str] | None = None) -> Response:
    config = voice.config_of(db, brand.id)
    values: dict[str, Any] = {name: getattr(config, name) for name in (*VOICE_FIELDS, *VOICE_SWITCHES)}
    menu_row = voice_repository.menu_of(db, brand.id)
    values["menu"] = ivr_menu.to_yaml(ivr_menu.readable(menu_row.definition)) if menu_row else ""
    if form is not None:
        values |= {name: form.get(name, "") for name in (*VOICE_FIELDS, "menu") if name in form}
        if "menu" not in form:
            values |= {name: forms.checked(form, name) for name in VOICE_SWITCHES}
    hooks = f"{public_base(request, settings)}{VOICE_PREFIX}/{brand.slug}"
    return _channel_page(request, who, brand, "voice", errors, values=values,
                         has_auth_token=config.auth_token_sealed is not None,
                         incoming_url=f"{hooks}/incoming", status_url=f"{hooks}/status",
                         menu_updated_at=menu_row.updated_at if menu_row else None)


@router.get("/admin/channels/{brand}/voice", response_class=HTMLResponse)
def voice_page(request: Request, brand: str, db: Db, who: SignedInAgent, settings: AppSettings) -> Response:
    return _voice_page(request, db, who, _brand(db, who, brand), settings)


@router.post("/admin/channels/{brand}/voice", response_class=HTMLResponse)
def save_voice(request: Request, brand: str, db: Db, who: SignedInAgent, form: forms.Posted,
               settings: AppSettings) -> Response:
    found = _brand(db, who, brand)

    def change() -> object:
        body: dict[str, Any] = {name: forms.field_text(form, name) for name in VOICE_FIELDS}
        body |= {name: forms.checked(form, name) for name in VOICE_SWITCHES}
        token = forms.optional(form, "auth_token")
        if token is not None:  # empty: the stored token stays
            body["auth_token"] = token
        return voice.set_settings(db, who.principal, found, VoiceSettingsIn.model_validate(body),
                                  request.app.state.secret_key)

    saved, errors = forms.attempt(db, change)
    if saved is None:
        db.expire_all()
        return _voice_page(request, db, who, found, settings, form, errors)
    return _back(found, "voice", "saved")


@router.post("/admin/channels/{brand}/voice/menu", response_class=HTMLResponse)
def save_menu(request: Request, brand: str, db: Db, who: SignedInAgent, form: forms.Posted,
              settings: AppSettings) -> Response:
    found = _brand(db, who, brand)
    saved, errors = forms.attempt(db, lambda: voice.set_menu(db, who.principal, found, forms.field_text(form, "menu")))
    if saved is None:
        db.expire_all()
        return _voice_page(request, db, who, found, settings, form,
                           {"menu": next(iter(errors.values()))})
    return _back(found, "voice", "menu-saved")
