"""Setting up the phone channel: a brand's voice settings and IVR menu, and where each agent's calls ring."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tierdesk.agents import repository as agents
from tierdesk.agents.models import Agent
from tierdesk.audit import service as audit
from tierdesk.brands.models import Brand
from tierdesk.channels.voice import menu as ivr_menu
from tierdesk.channels.voice import repository
from tierdesk.channels.voice.models import IvrMenu, VoiceSettings
from tierdesk.channels.voice.schemas import VoiceSettingsIn
from tierdesk.customers.identity import normalise_phone
from tierdesk.kit import sealed
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.intents import check_intent
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import AgentRole
from tierdesk.queues import repository as queues
from tierdesk.sla import repository as sla

# The purpose the auth tokens are sealed under (kit.sealed): a key of their own.
AUTH_TOKEN_PURPOSE = "voice-auth-token"
_SIP = re.compile(r"^sips?:[^\s<>\"@]+@[A-Za-z0-9.-]+(:\d{1,5})?(;[^\s<>\"]*)?$")
_CLIENT = re.compile(r"^client:[A-Za-z0-9_.@-]{1,120}$")


@dataclass(frozen=True)
class VoiceConfig:
    """A brand's voice settings with the defaults filled in (a brand without a row has only defaults)."""

    auth_token_sealed: str | None = None
    hold_music_url: str | None = None
    wait_poll_seconds: int = 15
    offer_callback: bool = True
    callback_digit: str = "1"
    wrap_up_seconds: int = 60
    record_calls: bool = False
    ring_seconds: int = 20
    language: str = "en-US"

    @classmethod
    def of(cls, row: VoiceSettings | None) -> VoiceConfig:
        if row is None:
            return cls()
        return cls(row.auth_token_sealed, row.hold_music_url, row.wait_poll_seconds, row.offer_callback,
                   row.callback_digit, row.wrap_up_seconds, row.record_calls, row.ring_seconds, row.language)

    def auth_token(self, secret_key: str) -> str | None:
        if self.auth_token_sealed is None:
            return None
        return sealed.unseal(secret_key, AUTH_TOKEN_PURPOSE, self.auth_token_sealed)


def config_of(db: Session, brand_id: int) -> VoiceConfig:
    return VoiceConfig.of(repository.settings_of(db, brand_id))


AUDITED = ("hold_music_url", "wait_poll_seconds", "offer_callback", "callback_digit", "wrap_up_seconds",
           "record_calls", "ring_seconds", "language")


def set_settings(db: Session, principal: Principal, brand: Brand, data: VoiceSettingsIn,
                 secret_key: str) -> VoiceConfig:
    principal.require_role(AgentRole.LEAD)
    row = repository.settings_of(db, brand.id)
    if row is None:
        defaults = VoiceConfig()
        row = VoiceSettings(brand_id=brand.id, wait_poll_seconds=defaults.wait_poll_seconds,
                            offer_callback=defaults.offer_callback, callback_digit=defaults.callback_digit,
                            wrap_up_seconds=defaults.wrap_up_seconds, record_calls=defaults.record_calls,
                            ring_seconds=defaults.ring_seconds, language=defaults.language)
        db.add(row)
    before = audit.snapshot(row, AUDITED)
    after_secret = {}
    given = data.model_dump(exclude_unset=True)
    if "auth_token" in given:
        after_secret = {"auth_token": audit.SECRET}
        token = given.pop("auth_token")
        row.auth_token_sealed = sealed.seal(secret_key, AUTH_TOKEN_PURPOSE, token) if token else None
    for name, value in given.items():
        if value is None and name != "hold_music_url":
            raise InvalidInput(f"{name} cannot be empty; leave it out to keep its value", field=name)
        setattr(row, name, value or None if name == "hold_music_url" else value)
    row.updated_at = utcnow()
    db.flush()
    audit.record(db, Actor.of(principal), "voice_settings", brand.id, "updated", before=before,
                 after={**audit.snapshot(row, AUDITED), **after_secret}, brand_id=brand.id)
    return VoiceConfig.of(row)


def check_menu(db: Session, brand: Brand, definition: ivr_menu.IvrDefinition) -> None:
    """What the schema alone cannot know: that the queues, calendars and intents the menu names exist in the
    brand, and agree with each other. Every error names the path of the step."""
    for path, step in ivr_menu.walk(definition):
        department = step.department
        if step.queue is not None:
            queue = queues.in_brand(db, brand.id, step.queue)
            if queue is None or not queue.is_active:
                raise InvalidInput(f"menu {path}.queue: brand '{brand.slug}' has no active queue '{step.queue}'",
                                   field=f"menu.{path}.queue")
            if department is not None and queue.department is not None and queue.department != department:
                raise InvalidInput(f"menu {path}: queue '{queue.slug}' belongs to {queue.department.value}, not "
                                   f"{department.value}", field=f"menu.{path}.department")
            department = department or queue.department
        if step.intent is not None:
            try:
                check_intent(step.intent, department, field=f"menu.{path}.intent")
            except InvalidInput as exc:
                raise InvalidInput(f"menu {path}.intent: {exc.message}", field=exc.field) from None
        if step.hours is not None and sla.calendar_in_brand(db, brand.id, step.hours.calendar, None) is None:
            raise InvalidInput(f"menu {path}.hours.calendar: brand '{brand.slug}' has no business calendar "
                               f"'{step.hours.calendar}' (tierdesk sla calendar-create)",
                               field=f"menu.{path}.hours.calendar")


def set_menu(db: Session, principal: Principal, brand: Brand, raw: str | dict[str, Any]) -> IvrMenu:
    principal.require_role(AgentRole.LEAD)
    definition = ivr_menu.parse(raw)
    check_menu(db, brand, definition)
    row = repository.menu_of(db, brand.id)
    if row is None:
        row = IvrMenu(brand_id=brand.id, definition={})
        db.add(row)
    before = {"definition": row.definition}
    row.definition = ivr_menu.dump(definition)
    audit.record(db, Actor.of(principal), "ivr_menu", brand.id, "updated", before=before,
                 after={"definition": row.definition}, brand_id=brand.id)
    row.updated_at = utcnow()
    row.updated_by_agent_id = principal.agent_id
    db.flush()
    return row


def menu_definition(db: Session, brand_id: int) -> ivr_menu.IvrDefinition | None:
    row = repository.menu_of(db, brand_id)
    return ivr_menu.IvrDefinition.model_validate(row.definition) if row is not None else None


def normalise_device(raw: str, phone_region: str | None) -> str:
    device = raw.strip()
    if device.startswith(("sip:", "sips:")):
        if not _SIP.match(device):
            raise InvalidInput(f"'{raw}' is not a SIP address like sip:alice@pbx.example.com", field="device")
        return device
    if device.startswith("client:"):
        if not _CLIENT.match(device):
            raise InvalidInput(f"'{raw}' is not a client name like client:alice (letters, digits, _ . @ -)",
                               field="device")
        return device
    return normalise_phone(device, phone_region, field="device")


def set_device(db: Session, principal: Principal, agent_id: int, raw: str | None,
               phone_region: str | None) -> Agent:
    """Where the agent's calls ring. Agents set their own; leads and admins anyone's they manage."""
    agent = agents.get_visible(db, principal, agent_id, for_update=True)
    if principal.agent_id != agent.id:
        principal.require_role(AgentRole.LEAD)
    before = agent.voice_device
    agent.voice_device = normalise_device(raw, phone_region) if raw else None
    db.flush()
    audit.record(db, Actor.of(principal), "agent", agent.id, "updated", before={"voice_device": before},
                 after={"voice_device": agent.voice_device})
    return agent
