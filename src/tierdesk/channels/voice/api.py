"""The phone channel's API: a brand's voice settings and IVR menu, the call records, agents' devices and the end of
their after-call work. (The provider's own webhooks are in webhooks.py.)"""

from __future__ import annotations

from fastapi import APIRouter, Request

from tierdesk.agents import repository as agents
from tierdesk.brands.models import Brand
from tierdesk.brands.service import resolve_brand
from tierdesk.channels.voice import calls, repository, service
from tierdesk.channels.voice.menu import readable
from tierdesk.channels.voice.models import Call
from tierdesk.channels.voice.schemas import (
    CallOut,
    DeviceIn,
    MenuIn,
    MenuOut,
    VoiceSettingsIn,
    VoiceSettingsOut,
    WrapUpEnd,
)
from tierdesk.channels.voice.service import VoiceConfig
from tierdesk.channels.voice.webhooks import PREFIX, public_base
from tierdesk.deps import AppSettings, CurrentPrincipal, Db
from tierdesk.kit.errors import NotFound
from tierdesk.kit.input import PathId, QueryId
from tierdesk.kit.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page_of

router = APIRouter(tags=["voice"])


def settings_out(brand: Brand, config: VoiceConfig, base: str) -> VoiceSettingsOut:
    hooks = f"{base}{PREFIX}/{brand.slug}"
    return VoiceSettingsOut(
        brand=brand.slug, has_auth_token=config.auth_token_sealed is not None, hold_music_url=config.hold_music_url,
        wait_poll_seconds=config.wait_poll_seconds, offer_callback=config.offer_callback,
        callback_digit=config.callback_digit, wrap_up_seconds=config.wrap_up_seconds,
        record_calls=config.record_calls, ring_seconds=config.ring_seconds, language=config.language,
        incoming_url=f"{hooks}/incoming", status_url=f"{hooks}/status")


@router.get("/voice/settings/{brand}", response_model=VoiceSettingsOut)
def get_settings(brand: str, request: Request, db: Db, principal: CurrentPrincipal,
                 settings: AppSettings) -> VoiceSettingsOut:
    """The brand's phone settings, and the two URLs to give the provider's phone number."""
    found = resolve_brand(db, principal, brand)
    return settings_out(found, service.config_of(db, found.id), public_base(request, settings))


@router.put("/voice/settings/{brand}", response_model=VoiceSettingsOut)
def put_settings(brand: str, data: VoiceSettingsIn, request: Request, db: Db, principal: CurrentPrincipal,
                 settings: AppSettings) -> VoiceSettingsOut:
    """Change the settings given (the auth token is stored encrypted and never shown again). Leads and admins."""
    found = resolve_brand(db, principal, brand)
    config = service.set_settings(db, principal, found, data, request.app.state.secret_key)
    return settings_out(found, config, public_base(request, settings))


@router.get("/voice/menu/{brand}", response_model=MenuOut)
def get_menu(brand: str, db: Db, principal: CurrentPrincipal) -> MenuOut:
    found = resolve_brand(db, principal, brand)
    row = repository.menu_of(db, found.id)
    return MenuOut(brand=found.slug, menu=readable(row.definition) if row else None,
                   updated_at=row.updated_at if row else None)


@router.put("/voice/menu/{brand}", response_model=MenuOut)
def put_menu(brand: str, data: MenuIn, db: Db, principal: CurrentPrincipal) -> MenuOut:
    """Replace the brand's IVR menu: JSON, or YAML text in `menu`. Checked whole before it is stored: an error
    names the path of the bad step (menu.start.menu.options[1].queue). Leads and admins."""
    found = resolve_brand(db, principal, brand)
    row = service.set_menu(db, principal, found, data.menu)
    return MenuOut(brand=found.slug, menu=row.definition, updated_at=row.updated_at)


@router.get("/voice/calls", response_model=Page[CallOut])
def list_calls(db: Db, principal: CurrentPrincipal, brand: str | None = None, ticket_id: QueryId = None,
               cursor: str | None = None, limit: Limit = DEFAULT_LIMIT) -> Page[CallOut]:
    """Call records, newest first: wait, talk, hold, after-call work and handle time, outcome, recording."""
    brand_id = resolve_brand(db, principal, brand).id if brand else None
    position = decode_cursor(cursor, keys=("id",))
    rows = repository.calls_visible(db, principal, brand_id=brand_id, ticket_id=ticket_id,
                                    after_id=position["id"] if position else None, limit=limit)
    rows, next_cursor = page_of(rows, limit, lambda c: {"id": c.id})
    return Page(items=[CallOut.model_validate(c) for c in rows], next_cursor=next_cursor)


@router.get("/voice/calls/{call_id}", response_model=CallOut)
def get_call(call_id: PathId, db: Db, principal: CurrentPrincipal) -> Call:
    call = repository.call_visible(db, principal, call_id)
    if call is None:
        raise NotFound(f"call {call_id} not found")
    return call


@router.get("/voice/agents/{agent_id}/device", response_model=DeviceIn)
def get_device(agent_id: PathId, db: Db, principal: CurrentPrincipal) -> DeviceIn:
    return DeviceIn(device=agents.get_visible(db, principal, agent_id).voice_device)


@router.put("/voice/agents/{agent_id}/device", response_model=DeviceIn)
def put_device(agent_id: PathId, data: DeviceIn, db: Db, principal: CurrentPrincipal,
               settings: AppSettings) -> DeviceIn:
    """Where the agent's calls ring: sip:user@host, client:name (a browser or app client) or an E.164 number."""
    agent = service.set_device(db, principal, agent_id, data.device, settings.default_phone_region)
    return DeviceIn(device=agent.voice_device)


@router.post("/voice/wrap-up/end", response_model=CallOut)
def end_wrap_up(data: WrapUpEnd, db: Db, principal: CurrentPrincipal) -> Call:
    """The agent's after-call work is done: they take calls again. The call gets its wrap-up and handle time."""
    agent_id = data.agent_id or principal.agent_id
    if agent_id is None:
        raise NotFound("give agent_id: this token is not an agent's")
    return calls.agent_ends_wrap_up(db, principal, agent_id)
