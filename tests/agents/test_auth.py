"""Agents, roles and brand scope, API tokens, passwords, and the unauthenticated service endpoints."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from tierdesk.agents import service as agents_service
from tierdesk.agents.auth import hash_password, verify_password
from tierdesk.agents.models import Agent, ApiToken
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.time import utcnow

API = "/api/v1"


def token_ids(database, agent_id: int) -> list[int]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(ApiToken.id).where(ApiToken.agent_id == agent_id).order_by(ApiToken.id)))


def agent_emails(client, world, who: str = "admin") -> list[str]:
    r = client.get(f"{API}/agents", params={"limit": 200}, headers=world.auth(who))
    assert r.status_code == 200, r.text
    return [a["email"] for a in r.json()["items"]]


def assert_401(r) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthenticated"
    assert r.headers.get("www-authenticate") == "Bearer"


NEW_AGENT = {
    "email": "newbie@example.com",
    "display_name": "Newbie",
    "role": "lead",
    "tier": 2,
    "skills": [{"skill": "routers", "level": 4}, {"skill": "billing", "level": 2}],
    "brands": ["globex", "acme"],
}
NEW_QUEUE = {
    "brand": "acme",
    "slug": "ts-fibre",
    "name": "Fibre specialists",
    "department": "TS",
    "tier": 3,
    "required_skills": [{"skill": "fibre", "min_level": 4}, {"skill": "connectivity", "min_level": 3}],
}
NEW_BRAND = {"slug": "initech", "name": "Initech"}


# ---- roles ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "lead", "globex_agent"])
def test_non_admins_cannot_create_agents(client, world, who):
    r = client.post(f"{API}/agents", json=NEW_AGENT, headers=world.auth(who))
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"
    assert "newbie@example.com" not in agent_emails(client, world)


@pytest.mark.parametrize("who", ["agent", "lead"])
def test_non_admins_cannot_create_queues(client, world, who):
    r = client.post(f"{API}/queues", json=NEW_QUEUE, headers=world.auth(who))
    assert r.status_code == 403, r.text
    slugs = [q["slug"] for q in client.get(f"{API}/queues", params={"brand": "acme"},
                                           headers=world.auth("admin")).json()]
    assert "ts-fibre" not in slugs
    assert "ts-helpdesk" in slugs


@pytest.mark.parametrize("who", ["agent", "lead"])
def test_non_admins_cannot_create_brands(client, world, who):
    r = client.post(f"{API}/brands", json=NEW_BRAND, headers=world.auth(who))
    assert r.status_code == 403, r.text
    slugs = [b["slug"] for b in client.get(f"{API}/brands", headers=world.auth("admin")).json()]
    assert slugs == ["acme", "globex"]


@pytest.mark.parametrize("who", ["agent", "lead"])
def test_non_admins_cannot_update_agents(client, world, who):
    for target in ("agent", who):  # not even themselves: no self-promotion
        r = client.patch(f"{API}/agents/{world.agents[target]}", json={"role": "admin", "tier": 3},
                         headers=world.auth(who))
        assert r.status_code == 403, r.text
    me = client.get(f"{API}/agents/me", headers=world.auth(who)).json()
    assert me["role"] == ("agent" if who == "agent" else "lead")
    agent = client.get(f"{API}/agents/{world.agents['agent']}", headers=world.auth("admin")).json()
    assert (agent["role"], agent["tier"]) == ("agent", 1)


def test_admin_creates_an_agent(client, world):
    r = client.post(f"{API}/agents", json=NEW_AGENT, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["email"] == "newbie@example.com"
    assert (created["display_name"], created["role"], created["tier"], created["is_active"]) == (
        "Newbie", "lead", 2, True)
    assert sorted(created["brands"]) == ["acme", "globex"]
    assert sorted((s["skill"], s["level"]) for s in created["skills"]) == [("billing", 2), ("routers", 4)]
    fetched = client.get(f"{API}/agents/{created['id']}", headers=world.auth("admin")).json()
    assert fetched["brands"] == ["acme", "globex"]
    assert [(s["skill"], s["level"]) for s in fetched["skills"]] == [("billing", 2), ("routers", 4)]
    assert "password" not in fetched and "password_hash" not in fetched
    assert "newbie@example.com" in agent_emails(client, world)
    # an agent sharing a brand sees the newcomer
    assert "newbie@example.com" in agent_emails(client, world, "globex_agent")


def test_admin_creates_an_agent_with_a_password_stored_as_argon2(client, world, database):
    body = dict(NEW_AGENT, email="pw@example.com", password="correct horse battery")
    r = client.post(f"{API}/agents", json=body, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    assert "password" not in r.text
    with database.transaction(write=False) as db:
        stored = db.scalar(sa.select(Agent.password_hash).where(Agent.email == "pw@example.com"))
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")


def test_admin_creates_a_queue(client, world):
    r = client.post(f"{API}/queues", json=NEW_QUEUE, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    q = r.json()
    assert (q["slug"], q["name"], q["department"], q["tier"], q["kind"], q["is_active"]) == (
        "ts-fibre", "Fibre specialists", "TS", 3, "standard", True)
    assert q["brand_id"] == world.brands["acme"]
    assert q["waiting"] == 0
    assert sorted((s["skill"], s["min_level"]) for s in q["required_skills"]) == [("connectivity", 3), ("fibre", 4)]
    fetched = client.get(f"{API}/queues/{q['id']}", headers=world.auth("agent")).json()
    assert fetched["waiting"] == 0
    assert sorted((s["skill"], s["min_level"]) for s in fetched["required_skills"]) == [
        ("connectivity", 3), ("fibre", 4)]
    listed = client.get(f"{API}/queues", params={"brand": "acme"}, headers=world.auth("agent")).json()
    assert "ts-fibre" in [x["slug"] for x in listed]


def test_the_same_queue_slug_in_another_brand_is_fine(client, world):
    r = client.post(f"{API}/queues", json=dict(NEW_QUEUE, brand="globex", slug="ts-helpdesk"),
                    headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["brand_id"] == world.brands["globex"]


def test_admin_creates_a_brand_with_its_triage_and_entry_queues(client, world):
    r = client.post(f"{API}/brands", json=NEW_BRAND, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    brand = r.json()
    assert (brand["slug"], brand["name"]) == ("initech", "Initech")
    queues = client.get(f"{API}/queues", params={"brand": "initech"}, headers=world.auth("admin"))
    assert queues.status_code == 200, queues.text
    assert [(q["slug"], q["kind"], q["department"], q["tier"], q["brand_id"], q["waiting"]) for q in queues.json()] \
        == [("cs", "standard", "CS", 1, brand["id"], 0), ("triage", "triage", None, 1, brand["id"], 0),
            ("ts", "standard", "TS", 1, brand["id"], 0)]
    assert [b["slug"] for b in client.get(f"{API}/brands", headers=world.auth("admin")).json()] == [
        "acme", "globex", "initech"]
    # nobody else works the new brand yet
    assert [b["slug"] for b in client.get(f"{API}/brands", headers=world.auth("agent")).json()] == ["acme"]


def test_admin_updates_an_agent(client, world):
    r = client.patch(f"{API}/agents/{world.agents['agent']}",
                     json={"display_name": "Promoted", "tier": 2, "brands": ["acme", "globex"],
                           "skills": [{"skill": "fibre", "level": 5}]},
                     headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["display_name"], body["tier"], body["brands"]) == ("Promoted", 2, ["acme", "globex"])
    assert [(s["skill"], s["level"]) for s in body["skills"]] == [("fibre", 5)]
    me = client.get(f"{API}/agents/me", headers=world.auth("agent")).json()
    assert (me["display_name"], me["tier"]) == ("Promoted", 2)
    # the new brand applies to the agent's own token straight away
    assert [b["slug"] for b in client.get(f"{API}/brands", headers=world.auth("agent")).json()] == ["acme", "globex"]


# ---- validation -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change,status,field", [
    ({"email": "not-an-email"}, 422, "email"),
    ({"tier": 7}, 422, "tier"),
    ({"tier": -1}, 422, "tier"),
    ({"role": "overlord"}, 422, "role"),
    ({"skills": [{"skill": "billing", "level": 2}, {"skill": "billing", "level": 4}]}, 422, "skills"),
    ({"skills": [{"skill": "billing", "level": 9}]}, 422, "skills.0.level"),
    ({"skills": [{"skill": "Bad Skill", "level": 2}]}, 422, "skills.0.skill"),
    ({"brands": ["acme", "nope"]}, 422, "brands"),
    ({"email": "agent@example.com"}, 409, "email"),
    ({"email": "AGENT@Example.com"}, 409, "email"),
    ({"display_name": ""}, 422, "display_name"),
    ({"password": "short"}, 422, "password"),
    ({"colour": "blue"}, 422, "colour"),
])
def test_create_agent_validation(client, world, change, status, field):
    body = dict(NEW_AGENT, **change)
    before = agent_emails(client, world)
    r = client.post(f"{API}/agents", json=body, headers=world.auth("admin"))
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["field"] == field
    assert err["message"]
    assert agent_emails(client, world) == before


@pytest.mark.parametrize("change,status,field", [
    ({"slug": "Bad Slug!"}, 422, "slug"),
    ({"slug": "-leading-dash"}, 422, "slug"),
    ({"slug": "ts-helpdesk"}, 409, "slug"),
    ({"brand": "nope"}, 422, "brand"),
    ({"department": "HR"}, 422, "department"),
    ({"tier": 4}, 422, "tier"),
    ({"required_skills": [{"skill": "fibre"}, {"skill": "fibre", "min_level": 2}]}, 422, "required_skills"),
])
def test_create_queue_validation(client, world, change, status, field):
    before = client.get(f"{API}/queues", headers=world.auth("admin")).json()
    r = client.post(f"{API}/queues", json=dict(NEW_QUEUE, **change), headers=world.auth("admin"))
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field
    assert client.get(f"{API}/queues", headers=world.auth("admin")).json() == before


def test_create_brand_validation(client, world):
    r = client.post(f"{API}/brands", json={"slug": "Not OK", "name": "x"}, headers=world.auth("admin"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "slug"
    r = client.post(f"{API}/brands", json={"slug": "acme", "name": "Acme again"}, headers=world.auth("admin"))
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "slug"
    assert [b["name"] for b in client.get(f"{API}/brands", headers=world.auth("admin")).json()] == ["Acme", "Globex"]


# ---- who am I, and who do I see --------------------------------------------------------------------------------


def test_me(client, world):
    r = client.get(f"{API}/agents/me", headers=world.auth("agent"))
    assert r.status_code == 200, r.text
    me = r.json()
    assert (me["id"], me["email"], me["role"], me["tier"], me["brands"]) == (
        world.agents["agent"], "agent@example.com", "agent", 1, ["acme"])
    assert me["skills"] == [{"skill": "billing", "level": 3}]
    assert client.get(f"{API}/agents/me", headers=world.auth("admin")).json()["role"] == "admin"


def test_agent_listing_is_brand_scoped(client, world):
    assert sorted(agent_emails(client, world, "admin")) == [
        "admin@example.com", "agent@example.com", "globex_agent@example.com", "lead@example.com"]
    assert sorted(agent_emails(client, world, "agent")) == ["agent@example.com", "lead@example.com"]
    assert agent_emails(client, world, "globex_agent") == ["globex_agent@example.com"]
    r = client.get(f"{API}/agents/{world.agents['agent']}", headers=world.auth("globex_agent"))
    assert r.status_code == 404
    r = client.get(f"{API}/agents/{world.agents['globex_agent']}", headers=world.auth("agent"))
    assert r.status_code == 404


def test_agent_listing_paginates(client, world):
    seen, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"{API}/agents", params=params, headers=world.auth("admin")).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(world.agents.values())


def test_brand_listing_is_scoped(client, world):
    def slugs(who):
        r = client.get(f"{API}/brands", headers=world.auth(who))
        assert r.status_code == 200, r.text
        return [b["slug"] for b in r.json()]

    assert slugs("admin") == ["acme", "globex"]
    assert slugs("agent") == ["acme"]
    assert slugs("lead") == ["acme"]
    assert slugs("globex_agent") == ["globex"]
    assert client.get(f"{API}/brands/{world.brands['acme']}", headers=world.auth("globex_agent")).status_code == 404
    assert client.get(f"{API}/brands/{world.brands['acme']}", headers=world.auth("agent")).status_code == 200


def test_queue_listing_is_scoped(client, world):
    r = client.get(f"{API}/queues", headers=world.auth("globex_agent"))
    assert r.status_code == 200
    assert {q["brand_id"] for q in r.json()} == {world.brands["globex"]}
    assert client.get(f"{API}/queues/{world.queues['acme/cs-billing']}",
                      headers=world.auth("globex_agent")).status_code == 404


# ---- tokens ---------------------------------------------------------------------------------------------------


def test_no_or_malformed_credentials_are_401(client, world):
    assert_401(client.get(f"{API}/agents/me"))
    assert_401(client.get(f"{API}/agents/me", headers={"Authorization": "Bearer tdk_not-a-real-token"}))
    assert_401(client.get(f"{API}/agents/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}))
    assert_401(client.get(f"{API}/tickets", headers={"Authorization": "Bearer"}))
    assert_401(client.post(f"{API}/brands", json=NEW_BRAND))


def test_a_revoked_token_is_401(client, world, database):
    assert client.get(f"{API}/agents/me", headers=world.auth("agent")).status_code == 200
    [token_id] = token_ids(database, world.agents["agent"])
    with database.transaction() as db:
        row = agents_service.revoke_token(db, token_id)
        assert row.revoked_at is not None
    assert_401(client.get(f"{API}/agents/me", headers=world.auth("agent")))
    assert_401(client.get(f"{API}/tickets", headers=world.auth("agent")))
    # revoking twice is harmless; other agents are unaffected
    with database.transaction() as db:
        agents_service.revoke_token(db, token_id)
    assert client.get(f"{API}/agents/me", headers=world.auth("lead")).status_code == 200


def test_an_expired_token_is_401(client, world, database, settings):
    with database.transaction() as db:
        agent = db.get(Agent, world.agents["agent"])
        _row, expired = agents_service.create_token(db, agent, "old", settings.effective_secret_key(),
                                                    expires_at=utcnow() - dt.timedelta(minutes=1))
        _row, fresh = agents_service.create_token(db, agent, "new", settings.effective_secret_key(),
                                                  expires_at=utcnow() + dt.timedelta(days=1))
    assert_401(client.get(f"{API}/agents/me", headers={"Authorization": f"Bearer {expired}"}))
    r = client.get(f"{API}/agents/me", headers={"Authorization": f"Bearer {fresh}"})
    assert r.status_code == 200
    assert r.json()["id"] == world.agents["agent"]


def test_a_token_made_with_another_secret_is_401(client, world, database):
    with database.transaction() as db:
        agent = db.get(Agent, world.agents["agent"])
        _row, token = agents_service.create_token(db, agent, "other", "some-other-secret")
    assert_401(client.get(f"{API}/agents/me", headers={"Authorization": f"Bearer {token}"}))


def test_a_deactivated_agent_is_401(client, world, database, settings):
    r = client.patch(f"{API}/agents/{world.agents['agent']}", json={"is_active": False}, headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["is_active"] is False
    assert_401(client.get(f"{API}/agents/me", headers=world.auth("agent")))
    assert_401(client.get(f"{API}/tickets", headers=world.auth("agent")))
    # no new token for a deactivated agent
    with database.transaction() as db:
        agent = db.get(Agent, world.agents["agent"])
        with pytest.raises(InvalidInput):
            agents_service.create_token(db, agent, "again", settings.effective_secret_key())
    # reactivated, the old token stays dead (deactivation revoked it for good); a new one works
    r = client.patch(f"{API}/agents/{world.agents['agent']}", json={"is_active": True}, headers=world.auth("admin"))
    assert r.status_code == 200
    assert_401(client.get(f"{API}/agents/me", headers=world.auth("agent")))
    with database.transaction(write=False) as db:
        assert all(t.revoked_at is not None
                   for t in db.scalars(sa.select(ApiToken).where(ApiToken.agent_id == world.agents["agent"])))
    with database.transaction() as db:
        agent = db.get(Agent, world.agents["agent"])
        _row, fresh = agents_service.create_token(db, agent, "after", settings.effective_secret_key())
    r = client.get(f"{API}/agents/me", headers={"Authorization": f"Bearer {fresh}"})
    assert r.status_code == 200 and r.json()["id"] == world.agents["agent"]
    # other agents' tokens were left alone
    assert client.get(f"{API}/agents/me", headers=world.auth("lead")).status_code == 200


def test_a_token_is_stored_only_as_a_digest(world, database):
    with database.transaction(write=False) as db:
        rows = list(db.scalars(sa.select(ApiToken)))
    assert len(rows) == 4
    tokens = set(world.tokens.values())
    for row in rows:
        assert row.digest not in tokens
        assert len(row.digest) == 64
        assert any(t.startswith(row.prefix) for t in tokens)
    assert all(t.startswith("tdk_") for t in tokens)


# ---- passwords ------------------------------------------------------------------------------------------------


def test_passwords_hash_with_argon2id():
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert verify_password(hashed, "correct horse battery staple") is True
    assert verify_password(hashed, "correct horse battery stapler") is False
    assert verify_password(hashed, "") is False
    assert hash_password("correct horse battery staple") != hashed  # salted


def test_verify_password_refuses_missing_or_garbage_hashes():
    assert verify_password(None, "anything") is False
    assert verify_password("", "anything") is False
    assert verify_password("not-a-hash", "anything") is False


# ---- service endpoints ----------------------------------------------------------------------------------------


def test_healthz_needs_no_auth(client, database):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] == database.dialect


def test_openapi_lists_the_api(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/v1/contacts" in paths
    assert "/api/v1/tickets" in paths
    assert "/api/v1/tickets/{ticket_id}" in paths
    assert "patch" in paths["/api/v1/tickets/{ticket_id}"]


def test_docs_page(client):
    r = client.get("/docs")
    assert r.status_code == 200
    assert "swagger" in r.text.lower()


def test_patch_refuses_null_for_a_list_that_cannot_be_empty(client, world):
    """`skills: null` is not "leave as is" (that is leaving the field out) nor "none" (that is [])."""
    r = client.patch(f"/api/v1/agents/{world.agents['agent']}", json={"skills": None}, headers=world.auth("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "skills"
    me = client.get("/api/v1/agents/me", headers=world.auth("agent")).json()
    assert me["skills"] == [{"skill": "billing", "level": 3}]
