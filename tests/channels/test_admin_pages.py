"""The channel admin pages of a brand: email addresses and relay (the password never shown back, only "set"), chat,
web form and voice settings, each through its channel's service and schema; refusals beside their fields (422,
nothing written); agents 403, another brand 422/404 for a lead; every change audited, secrets only "(changed)"."""

from __future__ import annotations

import sqlalchemy as sa

from tests.pages import set_password, sign_in
from tierdesk.audit.models import AuditEntry
from tierdesk.channels.chat.models import ChatSettings
from tierdesk.channels.email.models import EmailAddress, EmailSettings
from tierdesk.channels.voice.models import IvrMenu, VoiceSettings
from tierdesk.channels.web.models import WebFormSettings


def _signed_in(web, database, world, who: str = "admin") -> str:
    set_password(database, world.agents[who])
    return sign_in(web, f"{who}@example.com")


def _audit(database, entity: str) -> list[AuditEntry]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id)))


def _get(database, model, brand_id: int):
    with database.transaction(write=False) as db:
        return db.get(model, brand_id)


def _relay(token: str, **fields) -> dict:
    body = {"csrf_token": token, "host": "smtp.acme.example", "port": "587", "security": "starttls",
            "username": "support@acme.example", "password": "s3cret-relay-pass"}
    body.update(fields)
    return body


def test_every_channel_page_renders(web, database, world):
    _signed_in(web, database, world)
    page = web.get("/admin/channels")
    assert page.status_code == 200 and "Globex" in page.text
    for channel in ("email", "chat", "web", "voice"):
        r = web.get(f"/admin/channels/acme/{channel}")
        assert r.status_code == 200, (channel, r.text)
        assert 'aria-current="page">' in r.text
    assert "/channels/voice/acme/incoming" in web.get("/admin/channels/acme/voice").text


def test_email_addresses_and_the_relay(web, database, world):
    token = _signed_in(web, database, world)
    brand = world.brands["acme"]
    r = web.post("/admin/channels/acme/email/addresses", data={"csrf_token": token, "address": "Help@Acme.example"},
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    r = web.post("/admin/channels/acme/email/addresses", data={"csrf_token": token, "address": "help+x@acme.example"})
    assert r.status_code == 422 and 'id="error-address"' in r.text and "without its +tag" in r.text
    r = web.post("/admin/channels/acme/email/relay", data=_relay(token), follow_redirects=False)
    assert r.status_code == 303, r.text
    row = _get(database, EmailSettings, brand)
    assert row.relay_host == "smtp.acme.example" and row.relay_password_sealed
    page = web.get("/admin/channels/acme/email")
    assert "help@acme.example" in page.text and "s3cret-relay-pass" not in page.text
    assert "set: leave empty to keep it" in page.text
    # Saved again without a password: the stored one stays.
    sealed = row.relay_password_sealed
    assert web.post("/admin/channels/acme/email/relay", data=_relay(token, password="", port="2525"),
                    follow_redirects=False).status_code == 303
    row = _get(database, EmailSettings, brand)
    assert row.relay_port == 2525 and row.relay_password_sealed == sealed
    r = web.post("/admin/channels/acme/email/relay", data=_relay(token, host="smtp acme", port="2526"))
    assert r.status_code == 422 and 'id="error-host"' in r.text
    r = web.post("/admin/channels/acme/email/relay", data=_relay(token, port="99999"))
    assert r.status_code == 422 and 'id="error-port"' in r.text
    assert _get(database, EmailSettings, brand).relay_port == 2525
    assert web.post("/admin/channels/acme/email/addresses/remove",
                    data={"csrf_token": token, "address": "help@acme.example"},
                    follow_redirects=False).status_code == 303
    with database.transaction(write=False) as db:
        assert db.scalar(sa.select(EmailAddress)) is None
    assert [e.action for e in _audit(database, "email_address")] == ["created", "deleted"]
    relay = _audit(database, "email_settings")
    assert len(relay) == 2 and relay[0].after["relay_password"] == "(changed)"
    assert "s3cret" not in str([(e.before, e.after) for e in relay]) and "relay_password" not in relay[1].after


def test_how_incoming_mail_is_handled(web, database, world):
    token = _signed_in(web, database, world)
    body = {"csrf_token": token, "stranger_policy": "add_flagged", "acknowledge_new_tickets": "1",
            "max_attachment_bytes": "1048576", "subject_window_days": "3"}
    assert web.post("/admin/channels/acme/email/handling", data=body, follow_redirects=False).status_code == 303
    row = _get(database, EmailSettings, world.brands["acme"])
    assert row.stranger_policy.value == "add_flagged" and row.acknowledge_new_tickets
    assert (row.max_attachment_bytes, row.subject_window_days) == (1048576, 3)
    r = web.post("/admin/channels/acme/email/handling", data={**body, "subject_window_days": "400"})
    assert r.status_code == 422 and 'id="error-subject_window_days"' in r.text
    r = web.post("/admin/channels/acme/email/handling", data={**body, "max_attachment_bytes": "lots"})
    assert r.status_code == 422 and 'id="error-max_attachment_bytes"' in r.text
    assert _get(database, EmailSettings, world.brands["acme"]).subject_window_days == 3
    [entry] = _audit(database, "email_settings")
    assert entry.after["stranger_policy"] == "add_flagged" and entry.actor_agent_id == world.agents["admin"]


def test_chat_settings_and_a_new_identity_secret(web, database, world):
    token = _signed_in(web, database, world)
    r = web.post("/admin/channels/acme/chat", data={"csrf_token": token, "allowed_origins": "https://shop.acme.example",
                                                    "pre_chat_form": "1", "calendar": ""}, follow_redirects=False)
    assert r.status_code == 303, r.text
    row = _get(database, ChatSettings, world.brands["acme"])
    assert row.allowed_origins == ["https://shop.acme.example"] and row.pre_chat_form
    r = web.post("/admin/channels/acme/chat", data={"csrf_token": token, "allowed_origins": "not an origin"})
    assert r.status_code == 422 and 'id="error-allowed_origins"' in r.text
    r = web.post("/admin/channels/acme/chat", data={"csrf_token": token, "calendar": "nope"})
    assert r.status_code == 422 and 'id="error-calendar"' in r.text
    assert _get(database, ChatSettings, world.brands["acme"]).allowed_origins == ["https://shop.acme.example"]
    r = web.post("/admin/channels/acme/chat/identity-secret", data={"csrf_token": token})
    assert r.status_code == 201 and 'id="identity-secret"' in r.text
    secret = r.text.split('id="identity-secret">')[1].split("<")[0]
    assert secret not in web.get("/admin/channels/acme/chat").text
    entries = _audit(database, "chat_settings")
    assert len(entries) == 2 and entries[1].after == {"identity_secret": "(changed)"}


def test_web_form_settings(web, database, world):
    token = _signed_in(web, database, world, "lead")  # leads may, in their brands
    body = {"csrf_token": token, "enabled": "1", "acknowledge": "1", "thank_you_text": "Thanks!",
            "max_attachments": "3", "max_attachment_bytes": "1048576", "allowed_types": "image/*\napplication/pdf",
            "allowed_origins": "", "fields": '[{"name": "order_number", "label": "Order number", "required": true}]'}
    r = web.post("/admin/channels/acme/web", data=body, follow_redirects=False)
    assert r.status_code == 303, r.text
    row = _get(database, WebFormSettings, world.brands["acme"])
    assert row.enabled and row.max_attachments == 3 and row.fields[0]["name"] == "order_number"
    r = web.post("/admin/channels/acme/web", data={**body, "fields": '[{"name": "subject", "label": "x"}]',
                                                   "max_attachments": "2"})
    assert r.status_code == 422 and 'id="error-fields"' in r.text and "one of the form&#39;s own fields" in r.text
    r = web.post("/admin/channels/acme/web", data={**body, "fields": "[{", "max_attachments": "2"})
    assert r.status_code == 422 and "not JSON" in r.text
    r = web.post("/admin/channels/acme/web", data={**body, "allowed_types": "pictures", "max_attachments": "2"})
    assert r.status_code == 422 and 'id="error-allowed_types"' in r.text
    assert _get(database, WebFormSettings, world.brands["acme"]).max_attachments == 3
    assert web.post("/admin/channels/globex/web", data=body).status_code == 422  # not the lead's brand
    [entry] = _audit(database, "web_form_settings")
    assert entry.actor_agent_id == world.agents["lead"] and entry.after["enabled"] is True


def test_voice_settings_and_menu(web, database, world):
    token = _signed_in(web, database, world)
    body = {"csrf_token": token, "auth_token": "provider-token-123", "hold_music_url": "", "wait_poll_seconds": "20",
            "ring_seconds": "25", "wrap_up_seconds": "30", "language": "de-DE", "callback_digit": "1",
            "offer_callback": "1"}
    assert web.post("/admin/channels/acme/voice", data=body, follow_redirects=False).status_code == 303
    row = _get(database, VoiceSettings, world.brands["acme"])
    assert row.ring_seconds == 25 and row.language == "de-DE" and row.auth_token_sealed and not row.record_calls
    page = web.get("/admin/channels/acme/voice")
    assert "provider-token-123" not in page.text and "set: leave empty to keep it" in page.text
    r = web.post("/admin/channels/acme/voice", data={**body, "auth_token": "", "ring_seconds": "500"})
    assert r.status_code == 422 and 'id="error-ring_seconds"' in r.text
    assert _get(database, VoiceSettings, world.brands["acme"]).ring_seconds == 25
    r = web.post("/admin/channels/acme/voice/menu", data={"csrf_token": token, "menu": "start:\n  queue: nowhere\n"})
    assert r.status_code == 422 and 'id="error-menu"' in r.text
    assert _get(database, IvrMenu, world.brands["acme"]) is None
    entries = _audit(database, "voice_settings")
    assert len(entries) == 1 and entries[0].after["auth_token"] == "(changed)"
    assert "provider-token" not in str(entries[0].after)


def test_agents_may_not_and_forms_need_csrf(web, database, world):
    token = _signed_in(web, database, world, "agent")
    assert web.get("/admin/channels").status_code == 403
    assert web.get("/admin/channels/acme/email").status_code == 403
    assert web.post("/admin/channels/acme/voice", data={"csrf_token": token, "ring_seconds": "30"}).status_code == 403
    web.post("/sign-out", data={"csrf_token": token})
    token = _signed_in(web, database, world, "lead")
    # The relay and the addresses are admins' (as the API and the CLI).
    assert web.post("/admin/channels/acme/email/relay", data=_relay(token)).status_code == 403
    assert web.post("/admin/channels/acme/voice", data={"ring_seconds": "30"}).status_code == 403  # no CSRF token
    assert _get(database, EmailSettings, world.brands["acme"]) is None
    assert _get(database, VoiceSettings, world.brands["acme"]) is None


def _statements(database, web, path: str) -> int:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", count)
    try:
        assert web.get(path).status_code == 200
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", count)
    return len(seen)


def test_the_admin_lists_take_as_many_statements_whatever_they_list(web, client, database, world):
    """The queue, SLA, webhook and channel lists load in a fixed number of statements (no query per row)."""
    _signed_in(web, database, world)
    pages = ("/admin/queues", "/admin/sla", "/admin/webhooks", "/admin/channels")
    web.get("/admin/queues")  # a first request warms what is read once per session
    few = {p: _statements(database, web, p) for p in pages}
    admin = world.auth("admin")
    for i in range(6):
        assert client.post("/api/v1/queues", headers=admin, json={
            "brand": "acme", "slug": f"q-{i}", "name": f"Q {i}", "department": "TS",
            "required_skills": [{"skill": f"s{i}", "min_level": 2}]}).status_code == 201
        assert client.post("/api/v1/sla/calendars", headers=admin, json={
            "brand": "acme", "slug": f"c-{i}", "name": f"C {i}", "timezone": "UTC",
            "weekly_hours": {"mon": ["09:00-17:00"]}}).status_code == 201
        assert client.post("/api/v1/sla/policies", headers=admin, json={
            "brand": "acme", "slug": f"p-{i}", "name": f"P {i}", "resolution_minutes": 60,
            "calendar": f"c-{i}"}).status_code == 201
        assert client.post("/api/v1/webhooks", headers=admin, json={
            "brand": "acme", "url": f"https://h{i}.example.com/", "events": ["ticket_created"],
            "queues": [f"q-{i}"]}).status_code == 201
        assert client.post("/api/v1/email/addresses", headers=admin, json={
            "brand": "acme", "address": f"help{i}@acme.example"}).status_code == 201
    many = {p: _statements(database, web, p) for p in pages}
    assert many == few


def test_names_from_outside_render_as_text(web, client, database, world):
    _signed_in(web, database, world)
    payload = '<img src=x onerror="alert(1)">'
    assert client.post("/api/v1/queues", headers=world.auth("admin"), json={
        "brand": "acme", "slug": "xss", "name": payload, "department": "TS"}).status_code == 201
    assert client.post("/api/v1/webhooks", headers=world.auth("admin"), json={
        "brand": "acme", "url": "https://h.example.com/", "name": payload,
        "events": ["ticket_created"]}).status_code == 201
    for path in ("/admin/queues", "/admin/webhooks"):
        page = web.get(path).text
        assert payload not in page and "&lt;img src=x onerror=" in page
