"""Integrations: channel gateways post contacts with tokens of their own, only contacts, only in their brands, and
the audit trail names them (not an agent)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import contact
from tierdesk.agents.models import Integration

API = "/api/v1"
TIERDESK = str(Path(sys.executable).parent / "tierdesk")


def run_cli(database_url: str, settings, *args: str) -> subprocess.CompletedProcess:
    """The real command, in a process of its own, on the test's database and secret."""
    env = os.environ | {"TIERDESK_DATABASE_URL": database_url, "TIERDESK_SECRET_KEY": settings.secret_key,
                        "TIERDESK_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([TIERDESK, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def gateway(world, database_url, settings) -> str:
    done = run_cli(database_url, settings, "integrations", "create", "mail-gateway", "--brand", "acme")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("tdi_") and "\n" not in token
    assert "shown only now" in done.stderr and "mail-gateway" in done.stderr
    return token


def integration_id(database, name: str) -> int:
    with database.transaction(write=False) as db:
        return db.scalar(sa.select(Integration.id).where(Integration.name == name))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_contact_posted_by_an_integration_is_recorded_as_the_integration(client, world, gateway, database,
                                                                           database_url, settings):
    r = client.post(f"{API}/contacts", json=contact(), headers=bearer(gateway))
    assert r.status_code == 201, r.text
    ticket_id = r.json()["ticket"]["id"]
    events = client.get(f"{API}/tickets/{ticket_id}/timeline", headers=world.auth("admin")).json()["items"]
    created = next(e for e in events if e["kind"] == "created")
    listed = run_cli(database_url, settings, "integrations", "list")
    assert listed.returncode == 0, listed.stderr
    assert "mail-gateway" in listed.stdout and "intake" in listed.stdout and "acme" in listed.stdout
    assert (created["actor_kind"], created["actor_agent_id"], created["actor_integration_id"]) == (
        "integration", None, integration_id(database, "mail-gateway"))
    assert not any(e["actor_kind"] == "agent" for e in events)
    # an agent's contact is still the agent's
    r = client.post(f"{API}/contacts", json=contact(sender={"email": "o@example.com"}), headers=world.auth("agent"))
    events = client.get(f"{API}/tickets/{r.json()['ticket']['id']}/timeline", headers=world.auth("admin")).json()
    created = next(e for e in events["items"] if e["kind"] == "created")
    assert (created["actor_kind"], created["actor_agent_id"]) == ("agent", world.agents["agent"])


def test_an_intake_token_may_post_contacts_and_nothing_else(client, world, gateway):
    ticket = client.post(f"{API}/contacts", json=contact(), headers=bearer(gateway)).json()["ticket"]["id"]
    for method, path, body in [
        ("GET", f"{API}/tickets", None),
        ("GET", f"{API}/tickets/{ticket}", None),
        ("PATCH", f"{API}/tickets/{ticket}", {"priority": "urgent"}),
        ("POST", f"{API}/tickets/{ticket}/messages", {"direction": "outbound", "body": "hi"}),
        ("GET", f"{API}/agents/me", None),
        ("GET", f"{API}/customers", None),
        ("GET", f"{API}/brands", None),
        ("POST", f"{API}/triage", {"text": "my router blinks"}),
        ("GET", f"{API}/integrations", None),
    ]:
        r = client.request(method, path, json=body, headers=bearer(gateway))
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["code"] == "forbidden"
    ticket_now = client.get(f"{API}/tickets/{ticket}", headers=world.auth("admin")).json()
    assert ticket_now["priority"] != "urgent"


def test_an_integration_posts_only_for_its_brands(client, world, gateway):
    r = client.post(f"{API}/contacts", json=contact(brand="globex"), headers=bearer(gateway))
    assert r.status_code == 422 and r.json()["error"]["field"] == "brand", r.text


def test_a_revoked_integration_is_401(client, world, gateway, database, database_url, settings):
    assert client.post(f"{API}/contacts", json=contact(), headers=bearer(gateway)).status_code == 201
    done = run_cli(database_url, settings, "integrations", "revoke", str(integration_id(database, "mail-gateway")))
    assert done.returncode == 0, done.stderr
    r = client.post(f"{API}/contacts", json=contact(external_id="again"), headers=bearer(gateway))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    with database.transaction(write=False) as db:
        assert db.scalar(sa.select(Integration.revoked_at)) is not None
    missing = run_cli(database_url, settings, "integrations", "revoke", "999")
    assert missing.returncode == 2 and "integration 999 not found" in missing.stderr


def test_the_cli_refuses_bad_integrations_in_one_line(world, database_url, settings):
    done = run_cli(database_url, settings, "integrations", "create", "gw", "--brand", "nope")
    assert done.returncode == 2 and "no brand with slug 'nope'" in done.stderr and "Traceback" not in done.stderr
    assert run_cli(database_url, settings, "integrations", "create", "gw", "--brand", "acme").returncode == 0
    again = run_cli(database_url, settings, "integrations", "create", "gw", "--brand", "acme")
    assert again.returncode == 2 and "exists already" in again.stderr


def test_admins_manage_integrations_over_the_api(client, world):
    r = client.post(f"{API}/integrations", json={"name": "chat", "brands": ["globex"]}, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["name"], created["scope"], created["brands"]) == ("chat", "intake", ["globex"])
    token = created["token"]
    assert token.startswith(created["prefix"])
    assert client.post(f"{API}/contacts", json=contact(brand="globex"), headers=bearer(token)).status_code == 201
    listed = client.get(f"{API}/integrations", headers=world.auth("admin")).json()
    assert [i["name"] for i in listed] == ["chat"] and "token" not in listed[0]
    for who in ("lead", "agent"):
        assert client.get(f"{API}/integrations", headers=world.auth(who)).status_code == 403
        r = client.post(f"{API}/integrations", json={"name": "x", "brands": ["acme"]}, headers=world.auth(who))
        assert r.status_code == 403
    r = client.post(f"{API}/integrations/{created['id']}/revoke", headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None and r.json()["brands"] == ["globex"]
    assert client.post(f"{API}/contacts", json=contact(brand="globex"), headers=bearer(token)).status_code == 401
    r = client.post(f"{API}/integrations", json={"name": "none", "brands": []}, headers=world.auth("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "brands"
