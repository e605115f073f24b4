"""The phone side of the voice tests: requests signed by the provider's own library (twilio's RequestValidator),
expected answers built with its TwiML builder (VoiceResponse), compared as canonical XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from itertools import count

import pytest
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from tierdesk.routing import tasks as routing
from tierdesk.routing.router import default_capacity

AUTH_TOKEN = "9f86d081884c7d659a2feaa0c55ad015"
_sids = count(1)

MENU = {
    "greeting": "Thanks for calling Acme.",
    "start": {
        "menu": {
            "prompt": "For billing press 1 or say billing. For technical support press 2 or say technical.",
            "options": [
                {"digit": "1", "keywords": ["billing", "invoice"], "label": "Billing", "queue": "cs-billing"},
                {"digit": "2", "keywords": ["technical"], "label": "Technical",
                 "menu": {"prompt": "Internet problems press 1. Anything else press 2.",
                          "options": [
                              {"digit": "1", "keywords": ["internet"], "label": "Internet",
                               "intent": "connectivity"},
                              {"digit": "2", "label": "Other", "department": "TS"},
                          ]}},
            ],
        },
    },
}


def canonical(xml: str | bytes) -> str:
    text = xml.decode() if isinstance(xml, bytes) else xml
    return ET.canonicalize(text, strip_text=True)


@dataclass
class Phone:
    """The provider: posts signed webhooks for one brand, and remembers the calls it made."""

    client: object
    brand: str = "acme"
    base: str = "http://testserver"
    token: str = AUTH_TOKEN
    sids: list[str] = field(default_factory=list)

    def url(self, hook: str) -> str:
        return f"{self.base}/channels/voice/{self.brand}/{hook}"

    def post(self, hook: str, **params: str):
        signature = RequestValidator(self.token).compute_signature(self.url(hook), params)
        return self.client.post(f"/channels/voice/{self.brand}/{hook}", data=params,
                                headers={"X-Twilio-Signature": signature})

    def call(self, caller: str = "+14155550123") -> Call:
        sid = f"CA{next(_sids):032d}"
        return Call(self, sid, caller)


@dataclass
class Call:
    phone: Phone
    sid: str
    caller: str

    def post(self, hook: str, **params: str):
        response = self.phone.post(hook, CallSid=self.sid, AccountSid="AC" + "0" * 32, From=self.caller,
                                   To="+18005550100", **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        return response.text

    def hang_up(self, duration: int) -> None:
        self.post("status", CallStatus="completed", CallDuration=str(duration))


def expected(build) -> str:
    response = VoiceResponse()
    build(response)
    return canonical(str(response))


def hold_turn(phone: Phone, r: VoiceResponse, *, digit: str = "1", pause: int = 15) -> None:
    g = r.gather(action=phone.url("callback"), method="POST", input="dtmf", num_digits=1, timeout=1)
    g.say(f"To be called back instead of waiting, press {digit}.", language="en-US")
    g.pause(length=pause)
    r.redirect(phone.url("wait"), method="POST")


@pytest.fixture
def voice(client, world):
    """acme with an auth token, the menu above, and agent 'agent' available on a SIP phone."""
    admin = world.auth("admin")
    assert client.put("/api/v1/voice/settings/acme", json={"auth_token": AUTH_TOKEN, "wrap_up_seconds": 30},
                      headers=admin).status_code == 200
    assert client.put("/api/v1/voice/menu/acme", json={"menu": MENU}, headers=admin).status_code == 200
    agent = world.agents["agent"]
    assert client.put(f"/api/v1/voice/agents/{agent}/device", json={"device": "sip:agent@pbx.example.com"},
                      headers=admin).status_code == 200
    assert client.put(f"/api/v1/agents/{agent}/presence", json={"status": "available"},
                      headers=world.auth("agent")).status_code == 200
    return Phone(client)


def route(database, settings) -> int:
    """One pass of the ACD, as the worker runs it."""
    with database.transaction() as db:
        return routing.route(db, default_capacity(settings))
