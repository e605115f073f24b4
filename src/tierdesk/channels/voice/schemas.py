from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tierdesk.kit.input import Input, RecordId
from tierdesk.kit.vocabulary import CallOutcome, CallStatus


class VoiceSettingsIn(Input):
    """A brand's phone settings; fields left out keep their value."""

    auth_token: str | None = Field(default=None, min_length=1, max_length=200, repr=False,
                                   description="the provider account's auth token: it signs the webhooks")
    hold_music_url: str | None = Field(default=None, max_length=1000, pattern=r"^(https?://\S+)?$",
                                       description="a short audio clip played while callers wait; '' for silence")
    wait_poll_seconds: int | None = Field(default=None, ge=5, le=120,
                                          description="how often the provider asks again while a caller waits")
    offer_callback: bool | None = None
    callback_digit: str | None = Field(default=None, pattern=r"^[0-9*#]$")
    wrap_up_seconds: int | None = Field(default=None, ge=0, le=3600, description="after-call work time; 0: none")
    record_calls: bool | None = None
    ring_seconds: int | None = Field(default=None, ge=5, le=120,
                                     description="an agent's phone rings this long before the call goes back")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class VoiceSettingsOut(BaseModel):
    brand: str
    has_auth_token: bool
    hold_music_url: str | None
    wait_poll_seconds: int
    offer_callback: bool
    callback_digit: str
    wrap_up_seconds: int
    record_calls: bool
    ring_seconds: int
    language: str
    incoming_url: str = Field(description="where the provider's number sends incoming calls (POST)")
    status_url: str = Field(description="the number's call status callback (POST)")


class MenuIn(Input):
    menu: dict[str, Any] | str = Field(description="the menu definition, as JSON or as YAML text")


class MenuOut(BaseModel):
    brand: str
    menu: dict[str, Any] | None
    updated_at: dt.datetime | None


class DeviceIn(Input):
    device: str | None = Field(max_length=320, description="sip:user@host, client:name or an E.164 number; "
                               "null removes it")


class WrapUpEnd(Input):
    agent_id: RecordId | None = Field(default=None, description="default: yourself")


class CallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    brand_id: int
    call_sid: str
    ticket_id: int | None
    customer_id: int | None
    agent_id: int | None
    from_number: str
    to_number: str
    status: CallStatus
    outcome: CallOutcome | None
    ivr_trail: list[Any]
    started_at: dt.datetime
    queued_at: dt.datetime | None
    answered_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_seconds: int | None
    wait_seconds: int | None
    talk_seconds: int | None
    hold_seconds: int
    wrap_up_seconds: int | None
    handle_seconds: int | None = Field(description="talk + hold + after-call work, once the wrap-up ended")
    wrap_up_due_at: dt.datetime | None
    recording_url: str | None
    recording_seconds: int | None
    transcript: str | None
    callback_number: str | None
