"""Setting the phone channel up: signatures, the menu's validation, settings, devices, the CLI, the OpenAPI."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from tests.channels.voice.conftest import AUTH_TOKEN, MENU, Phone
from tests.test_cli_process import _environment, ok, one_line_error, run
from tierdesk.channels.voice.models import VoiceSettings


def test_every_webhook_needs_the_providers_signature(client, world, voice):
    params = {"CallSid": "CA" + "1" * 32, "From": "+14155550123", "To": "+18005550100", "CallStatus": "ringing"}
    url = voice.url("incoming")
    good = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    post = lambda hook, sig, data=params, brand="acme": client.post(  # noqa: E731
        f"/channels/voice/{brand}/{hook}", data=data, headers={"X-Twilio-Signature": sig} if sig else {})
    assert post("incoming", None).status_code == 403  # unsigned
    assert post("incoming", RequestValidator("another-token").compute_signature(url, params)).status_code == 403
    assert post("incoming", good, {**params, "From": "+14155550999"}).status_code == 403  # a parameter changed
    assert post("gather", good).status_code == 403  # signed for another URL
    assert post("incoming", good, brand="globex").status_code == 403  # a brand without a token
    assert post("incoming", good, brand="nosuchbrand").status_code == 403
    for hook in ("gather", "wait", "callback", "dial-ended", "agent-status", "status", "recording", "transcription"):
        assert post(hook, None).status_code == 403, hook
    refused = post("incoming", None)
    assert "X-Twilio-Signature" in refused.json()["error"]["message"]
    assert client.get("/api/v1/voice/calls", headers=world.auth("admin")).json()["items"] == []  # nothing recorded
    ok_ = post("incoming", good)
    assert ok_.status_code == 200 and ok_.headers["content-type"].startswith("application/xml")


def test_behind_a_proxy_the_signature_is_over_the_public_url(client, world, voice, settings):
    client.app.state.settings = settings.model_copy(update={"voice_public_url": "https://support.example.com/"})
    inside = voice.call()  # signed for http://testserver/...: not what the provider requested
    assert inside.phone.post("incoming", CallSid=inside.sid, From=inside.caller).status_code == 403
    public = Phone(client, base="https://support.example.com")
    call = public.call()
    answer = call.post("incoming", CallStatus="ringing")
    # The answer's own webhooks are under the public URL too.
    assert 'action="https://support.example.com/channels/voice/acme/gather"' in answer
    # A provider that writes the default port in the URL it signs is accepted as well.
    ported = Phone(client, base="https://support.example.com:443").call()
    assert ported.post("incoming", CallStatus="ringing")


def test_the_menu_is_checked_whole_and_errors_name_the_bad_step(client, world):
    admin = world.auth("admin")

    def put(menu):
        return client.put("/api/v1/voice/menu/acme", json={"menu": menu}, headers=admin)

    bad_queue = {"start": {"menu": {"prompt": "p", "options": [
        {"digit": "1", "queue": "cs-billing"},
        {"digit": "2", "menu": {"prompt": "q", "options": [{"digit": "1", "queue": "cs-bilin"}]}}]}}}
    r = put(bad_queue)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "menu.start.menu.options[1].menu.options[0].queue"
    assert "no active queue 'cs-bilin'" in r.json()["error"]["message"]
    r = put({"start": {"menu": {"prompt": "p", "options": [{"digit": "12", "hangup": True}]}}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "menu.start.menu.options[0].digit"
    r = put({"start": {"menu": {"prompt": "p", "options": [{"digit": "1", "hangup": True},
                                                            {"digit": "1", "queue": "cs-billing"}]}}})
    assert r.status_code == 422 and "digit 1 chooses more than one option" in r.json()["error"]["message"]
    r = put({"start": {"say": "Hello."}})
    assert r.status_code == 422 and "says what happens next" in r.json()["error"]["message"]
    r = put({"start": {"queue": "cs-billing", "intent": "connectivity"}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "menu.start.intent"
    r = put({"start": {"hours": {"calendar": "nope", "open": {"queue": "cs-billing"}, "closed": {"hangup": True}}}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "menu.start.hours.calendar"
    r = put("start: [unclosed")
    assert r.status_code == 422 and "line 1" in r.json()["error"]["message"]
    assert client.get("/api/v1/voice/menu/acme", headers=admin).json()["menu"] is None  # nothing half-stored
    r = put("greeting: Hi & welcome <to> Acme\nstart:\n  queue: cs-billing\n")  # YAML text
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/voice/menu/acme", headers=admin).json()["menu"]["start"] == {"queue": "cs-billing"}
    assert put(MENU).status_code == 200
    # An agent may not change the menu; nobody may touch another brand's.
    assert client.put("/api/v1/voice/menu/acme", json={"menu": MENU}, headers=world.auth("agent")).status_code == 403
    assert client.put("/api/v1/voice/menu/globex", json={"menu": MENU},
                      headers=world.auth("lead")).status_code == 422


def test_text_in_the_answers_is_escaped(client, world, voice):
    admin = world.auth("admin")
    menu = {"greeting": "Hi & welcome <to> \"Acme\"\u0001", "start": {"queue": "cs-billing"}}
    assert client.put("/api/v1/voice/menu/acme", json={"menu": menu}, headers=admin).status_code == 200
    answer = voice.call().post("incoming", CallStatus="ringing")
    assert "Hi &amp; welcome &lt;to&gt; \"Acme\"</Say>" in answer


def test_settings_keep_the_auth_token_sealed_and_never_show_it(client, world, database):
    admin = world.auth("admin")
    r = client.put("/api/v1/voice/settings/acme", headers=admin, json={
        "auth_token": AUTH_TOKEN, "hold_music_url": "https://cdn.example.com/hold.mp3", "wait_poll_seconds": 20,
        "offer_callback": False, "wrap_up_seconds": 0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["has_auth_token"] is True and AUTH_TOKEN not in r.text
    assert body["incoming_url"] == "http://testserver/channels/voice/acme/incoming"
    assert body["status_url"] == "http://testserver/channels/voice/acme/status"
    with database.transaction(write=False) as db:
        stored = db.scalar(sa.select(VoiceSettings.auth_token_sealed))
    assert stored and AUTH_TOKEN not in stored
    assert client.put("/api/v1/voice/settings/acme", headers=admin,
                      json={"wait_poll_seconds": 1}).status_code == 422
    assert client.put("/api/v1/voice/settings/acme", headers=admin,
                      json={"hold_music_url": "ftp://x"}).status_code == 422
    assert client.put("/api/v1/voice/settings/acme", headers=world.auth("agent"),
                      json={"offer_callback": True}).status_code == 403
    # No callback offer, hold music instead of silence.
    phone = Phone(client)
    assert client.put("/api/v1/voice/menu/acme", headers=admin,
                      json={"menu": {"start": {"queue": "cs-billing"}}}).status_code == 200
    held = phone.call().post("incoming", CallStatus="ringing")
    assert "<Play>https://cdn.example.com/hold.mp3</Play>" in held and "callback" not in held


def test_agents_devices(client, world):
    admin, agent = world.auth("admin"), world.agents["agent"]

    def put(device, who=admin, agent_id=agent):
        return client.put(f"/api/v1/voice/agents/{agent_id}/device", json={"device": device}, headers=who)

    assert put("sip:agent@pbx.example.com").json() == {"device": "sip:agent@pbx.example.com"}
    assert put("client:agent_7").json() == {"device": "client:agent_7"}
    assert put("+1 (415) 555-0100").json() == {"device": "+14155550100"}
    assert client.get(f"/api/v1/voice/agents/{agent}/device", headers=world.auth("agent")).json() == {
        "device": "+14155550100"}
    assert put(None).json() == {"device": None}
    for bad in ("sip:nohost", "client:", "call me maybe"):
        r = put(bad)
        assert r.status_code == 422 and r.json()["error"]["field"] == "device", bad
    assert put("client:me", who=world.auth("agent")).status_code == 200  # their own
    assert put("client:x", who=world.auth("agent"), agent_id=world.agents["lead"]).status_code in (403, 404)


def test_the_webhooks_are_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    for hook in ("incoming", "gather", "wait", "callback", "dial-ended", "agent-status", "status", "recording",
                 "transcription"):
        operation = paths[f"/channels/voice/{{brand}}/{hook}"]["post"]
        assert "application/x-www-form-urlencoded" in operation["requestBody"]["content"]
        assert "application/xml" in operation["responses"]["200"]["content"]
    assert "/api/v1/voice/menu/{brand}" in paths and "/api/v1/voice/calls" in paths


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_voice_commands(tmp_path, database_url):
    env = _environment(tmp_path / "data", database_url, TIERDESK_VOICE_PUBLIC_URL="https://support.example.com")
    ok(run(env, "db", "upgrade"))
    ok(run(env, "brands", "create", "acme", "--name", "Acme"))
    ok(run(env, "agents", "create", "sam@acme.example", "--name", "Sam", "--brand", "acme"))
    menu = tmp_path / "menu.yaml"
    menu.write_text("greeting: Hello.\nstart:\n  menu:\n    prompt: Press 1.\n    options:\n"
                    "      - {digit: '1', keywords: [billing], department: CS}\n")
    assert "IVR menu set" in ok(run(env, "voice", "menu", "set", "acme", str(menu))).out
    shown = ok(run(env, "voice", "menu", "show", "acme")).out
    assert "greeting: Hello." in shown and "- digit: '1'\n      keywords:\n      - billing" in shown
    assert '"department": "CS"' in ok(run(env, "voice", "menu", "show", "acme", "--json")).out
    menu.write_text("start:\n  menu:\n    prompt: x\n    options:\n      - {digit: '1', queue: nowhere}\n")
    one_line_error(run(env, "voice", "menu", "set", "acme", str(menu)), "start.menu.options[0].queue", "nowhere")
    done = subprocess.run([sys.executable, "-m", "tierdesk", "voice", "settings", "acme", "--auth-token-stdin",
                           "--wrap-up-seconds", "45", "--no-callback"], env=env, input=AUTH_TOKEN + "\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "auth token set" in done.stdout and "wrap-up 45 s" in done.stdout and AUTH_TOKEN not in done.stdout
    assert "POST https://support.example.com/channels/voice/acme/incoming" in done.stdout
    assert "sip:sam@pbx.example.com" in ok(run(env, "voice", "device", "sam@acme.example",
                                                "sip:sam@pbx.example.com")).out
    one_line_error(run(env, "voice", "device", "sam@acme.example", "not a device"), "device")
    assert "outcome" in ok(run(env, "voice", "calls", "--brand", "acme")).out


def test_a_webhook_signed_with_the_algorithm_its_settings_header_names(client, world, voice):
    params = {"CallSid": "CA" + "2" * 32, "From": "+14155550123", "To": "+18005550100"}
    url = voice.url("incoming")
    sha256 = RequestValidator(AUTH_TOKEN).compute_signature(url, params, algorithm="HMAC_SHA256")

    def post(signature, settings_header):
        return client.post("/channels/voice/acme/incoming", data=params, headers={
            "X-Twilio-Signature": signature, "X-Twilio-Webhooks-Signature-Settings": settings_header})

    assert post(sha256, "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256").status_code == 200
    assert post(sha256, "key=webhooks_sharedkey_1").status_code == 403  # without it: HMAC-SHA1
    assert post(sha256, "key=webhooks_sharedkey_1,algorithm=HMAC_MD5").status_code == 403


def test_odd_provider_parameters_get_clear_answers(client, world, voice):
    call = voice.call()
    call.post("incoming", CallStatus="ringing")
    answer = call.post("gather", Digits="1" * 500, SpeechResult="blah " * 50_000)
    assert "Please hold" in answer  # the key pressed counts; the rest is cut, not refused
    missing = voice.post("incoming", From="+14155550123")
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "CallSid"
    assert client.post("/api/v1/voice/wrap-up/end", json={"agent_id": 10**20},
                       headers=world.auth("admin")).status_code == 422
