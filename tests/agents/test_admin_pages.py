"""The admin's pages for agents, their API tokens and the integrations: forms checked like the API (each field's
message beside it, 422, nothing written), the API's roles (a lead: the agents of their brands, capacities only),
CSRF, and every change audited."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.pages import PASSWORD, csrf_of, set_password, sign_in
from tierdesk.agents.auth import verify_password
from tierdesk.agents.models import Agent, AgentCapacity, ApiToken, Integration
from tierdesk.audit.models import AuditEntry


def _admin(web, world, database) -> str:
    set_password(database, world.agents["admin"])
    return sign_in(web, "admin@example.com")


def _lead(web, world, database) -> str:
    set_password(database, world.agents["lead"])
    return sign_in(web, "lead@example.com")


def _count(database, model) -> int:
    with database.transaction(write=False) as db:
        return db.scalar(sa.select(sa.func.count()).select_from(model))


def _audit(database, entity: str, entity_id) -> list[AuditEntry]:
    """The entries of changes people made (the world's own set-up is the system's)."""
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(AuditEntry).where(AuditEntry.entity == entity,
                                                           AuditEntry.entity_id == str(entity_id),
                                                           AuditEntry.actor_agent_id.is_not(None))
                               .order_by(AuditEntry.id)))


NEW_AGENT = {"email": "nadia@example.com", "display_name": "Nadia", "role": "agent", "tier": "2",
             "brands": ["acme"], "skill": ["routers", "billing", ""], "level": ["4", "2", "3"],
             "password": "a long enough password"}


def test_an_admin_creates_an_agent_with_skills_and_brands(web, world, database):
    token = _admin(web, world, database)
    page = web.get("/admin/agents/new")
    assert page.status_code == 200 and 'name="skill"' in page.text
    answer = web.post("/admin/agents", data={**NEW_AGENT, "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    agent_id = int(answer.headers["location"].split("/")[3].split("?")[0])
    shown = web.get(answer.headers["location"])
    assert "Agent created." in shown.text and "Nadia" in shown.text
    with database.transaction(write=False) as db:
        agent = db.get(Agent, agent_id)
        assert agent.tier == 2 and verify_password(agent.password_hash, "a long enough password")
    listing = web.get("/admin/agents").text
    assert "nadia@example.com" in listing and "routers 4" in listing
    [entry] = _audit(database, "agent", agent_id)
    assert entry.action == "created" and entry.actor_agent_id == world.agents["admin"]
    assert entry.after["skills"] == {"routers": 4, "billing": 2} and entry.after["brands"] == ["acme"]
    assert entry.after["password"] == "(changed)" and "argon" not in str(entry.after)


def test_bad_input_comes_back_with_each_fields_message_and_writes_nothing(web, world, database):
    token = _admin(web, world, database)
    before = _count(database, Agent), _count(database, AuditEntry)
    bad = {**NEW_AGENT, "email": "not-an-email", "level": ["9", "2", "3"], "password": "short",
           "csrf_token": token}
    answer = web.post("/admin/agents", data=bad)
    assert answer.status_code == 422
    assert 'id="email-error"' in answer.text and 'id="level-0-error"' in answer.text
    assert 'id="password-error"' in answer.text and "at least 10 characters" in answer.text
    assert 'value="Nadia"' in answer.text and "a long enough" not in answer.text  # kept, but never the password
    # The service's refusals too: an unknown brand, an email taken.
    answer = web.post("/admin/agents", data={**NEW_AGENT, "brands": ["nope"], "csrf_token": token})
    assert answer.status_code == 422 and 'id="brands-error"' in answer.text and "no brand with slug" in answer.text
    answer = web.post("/admin/agents", data={**NEW_AGENT, "email": "agent@example.com", "csrf_token": token})
    assert answer.status_code == 422 and "exists already" in answer.text
    assert (_count(database, Agent), _count(database, AuditEntry)) == before


def test_an_admin_edits_role_tier_skills_and_brands(web, world, database):
    token = _admin(web, world, database)
    agent_id = world.agents["agent"]
    page = web.get(f"/admin/agents/{agent_id}")
    assert page.status_code == 200 and "billing" in page.text
    answer = web.post(f"/admin/agents/{agent_id}", data={
        "display_name": "Agent Smith", "role": "lead", "tier": "2", "brands": ["acme", "globex"],
        "skill": ["billing", "routers"], "level": ["5", "3"], "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    with database.transaction(write=False) as db:
        from tierdesk.agents.repository import get_visible
        from tierdesk.kit.actors import SYSTEM
        agent = get_visible(db, SYSTEM, agent_id)
        assert (agent.role.value, agent.tier, agent.display_name) == ("lead", 2, "Agent Smith")
        assert {s.skill: s.level for s in agent.skills} == {"billing": 5, "routers": 3}
        assert [b.slug for b in agent.brands] == ["acme", "globex"]
    [entry] = _audit(database, "agent", agent_id)
    assert entry.before == {"display_name": "agent", "role": "agent", "tier": 1, "skills": {"billing": 3},
                            "brands": ["acme"]}
    assert entry.after["skills"] == {"billing": 5, "routers": 3}
    # A refused edit: the tier out of range and a skill listed twice; nothing changes.
    answer = web.post(f"/admin/agents/{agent_id}", data={
        "display_name": "X", "role": "agent", "tier": "7", "brands": ["acme"], "skill": ["billing"],
        "level": ["2"], "csrf_token": token})
    assert answer.status_code == 422 and 'id="tier-error"' in answer.text
    answer = web.post(f"/admin/agents/{agent_id}", data={
        "display_name": "X", "role": "agent", "tier": "1", "brands": ["acme"], "skill": ["billing", "billing"],
        "level": ["2", "3"], "csrf_token": token})
    assert answer.status_code == 422 and "listed twice" in answer.text
    assert len(_audit(database, "agent", agent_id)) == 1


def test_capacity_password_deactivation_and_tokens(web, world, database):
    token = _admin(web, world, database)
    agent_id = world.agents["agent"]
    answer = web.post(f"/admin/agents/{agent_id}/capacity", data={"phone": "0", "chat": "5", "email": "",
                                                                  "csrf_token": token})
    assert answer.status_code == 200 and "Capacities saved." in answer.text
    with database.transaction(write=False) as db:
        caps = {c.work_kind.value: c.max_active for c in db.scalars(sa.select(AgentCapacity))}
    assert caps == {"phone": 0, "chat": 5}
    answer = web.post(f"/admin/agents/{agent_id}/capacity", data={"phone": "-1", "csrf_token": token})
    assert answer.status_code == 422 and 'id="capacity-phone-error"' in answer.text

    answer = web.post(f"/admin/agents/{agent_id}/password", data={"password": "short", "csrf_token": token})
    assert answer.status_code == 422 and 'id="new-password-error"' in answer.text
    answer = web.post(f"/admin/agents/{agent_id}/password", data={"password": PASSWORD + "!", "csrf_token": token})
    assert answer.status_code == 200 and "Password set" in answer.text

    answer = web.post(f"/admin/agents/{agent_id}/tokens", data={"name": "", "csrf_token": token})
    assert answer.status_code == 422 and 'id="token-name-error"' in answer.text
    answer = web.post(f"/admin/agents/{agent_id}/tokens", data={"name": "zapier", "expires_days": "30",
                                                                "csrf_token": token})
    assert answer.status_code == 200
    shown = re.search(r'id="new-token" class="token" readonly value="([^"]+)"', answer.text).group(1)
    assert web.get("/api/v1/agents/me", headers={"Authorization": f"Bearer {shown}"}).status_code == 200
    with database.transaction(write=False) as db:
        row = db.scalars(sa.select(ApiToken).where(ApiToken.name == "zapier")).one()
    assert shown not in web.get(f"/admin/agents/{agent_id}").text  # shown once only
    answer = web.post(f"/admin/agents/{agent_id}/tokens/{row.id}/revoke", data={"csrf_token": token})
    assert answer.status_code == 200 and "Token revoked." in answer.text
    assert web.get("/api/v1/agents/me", headers={"Authorization": f"Bearer {shown}"}).status_code == 401

    answer = web.post(f"/admin/agents/{agent_id}/active", data={"active": "false", "csrf_token": token})
    assert "Agent deactivated" in answer.text
    assert web.get("/api/v1/agents/me", headers=world.auth("agent")).status_code == 401
    actions = [(e.entity, e.action) for e in _audit(database, "agent", agent_id)]
    assert actions == [("agent", "capacity_set"), ("agent", "password_set"), ("agent", "deactivated")]
    assert [e.action for e in _audit(database, "api_token", row.id)] == ["created", "revoked"]
    for entry in _audit(database, "api_token", row.id) + _audit(database, "agent", agent_id):
        assert shown not in str(entry.after) and "$argon2" not in str(entry.after)
    # nobody deactivates themselves
    answer = web.post(f"/admin/agents/{world.agents['admin']}/active", data={"active": "false", "csrf_token": token})
    assert answer.status_code == 422


def test_voice_device(web, world, database):
    token = _admin(web, world, database)
    agent_id = world.agents["agent"]
    answer = web.post(f"/admin/agents/{agent_id}/device", data={"device": "sip:bad", "csrf_token": token})
    assert answer.status_code == 422 and 'id="device-error"' in answer.text
    answer = web.post(f"/admin/agents/{agent_id}/device", data={"device": "sip:alice@pbx.example.com",
                                                                "csrf_token": token})
    assert answer.status_code == 200 and "sip:alice@pbx.example.com" in answer.text
    [entry] = _audit(database, "agent", agent_id)
    assert entry.after == {"voice_device": "sip:alice@pbx.example.com"}


def test_integrations(web, world, database):
    token = _admin(web, world, database)
    assert web.get("/admin/integrations").status_code == 200
    answer = web.post("/admin/integrations", data={"name": "mail bridge", "csrf_token": token})
    assert answer.status_code == 422 and 'id="brands-error"' in answer.text
    assert _count(database, Integration) == 0
    answer = web.post("/admin/integrations", data={"name": "mail bridge", "brands": ["acme"], "csrf_token": token})
    assert answer.status_code == 200 and "shown only this once" in answer.text
    with database.transaction(write=False) as db:
        row = db.scalars(sa.select(Integration)).one()
    answer = web.post(f"/admin/integrations/{row.id}/revoke", data={"csrf_token": token})
    assert "Integration revoked." in answer.text
    assert [e.action for e in _audit(database, "integration", row.id)] == ["created", "revoked"]


def test_a_lead_sees_the_agents_of_their_brands_and_sets_only_capacities(web, world, database):
    token = _lead(web, world, database)
    listing = web.get("/admin/agents")
    assert listing.status_code == 200 and "agent@example.com" in listing.text
    assert "globex_agent@example.com" not in listing.text
    assert web.get(f"/admin/agents/{world.agents['globex_agent']}").status_code == 404
    page = web.get(f"/admin/agents/{world.agents['agent']}")
    assert page.status_code == 200 and "Save capacity" in page.text and "Save profile" not in page.text
    answer = web.post(f"/admin/agents/{world.agents['agent']}/capacity", data={"chat": "2", "csrf_token": token})
    assert answer.status_code == 200
    for path, data in ((f"/admin/agents/{world.agents['agent']}", {"display_name": "x", "role": "admin"}),
                       ("/admin/agents", NEW_AGENT),
                       (f"/admin/agents/{world.agents['agent']}/password", {"password": "0123456789ab"})):
        assert web.post(path, data={**data, "csrf_token": token}).status_code == 403
    assert web.get("/admin/agents/new").status_code == 403
    assert web.get("/admin/integrations").status_code == 403


def test_an_agent_gets_403_and_a_form_without_csrf_is_refused(web, world, database):
    set_password(database, world.agents["agent"])
    sign_in(web, "agent@example.com")
    for path in ("/admin", "/admin/agents", f"/admin/agents/{world.agents['agent']}", "/admin/brands",
                 "/admin/audit", "/admin/dispositions", "/admin/triage", "/admin/integrations"):
        assert web.get(path).status_code == 403, path
    web.cookies.clear()
    token = _admin(web, world, database)
    assert token
    before = _count(database, Agent)
    assert web.post("/admin/agents", data=NEW_AGENT).status_code == 403
    assert _count(database, Agent) == before


def test_a_display_name_with_markup_renders_as_text(web, world, database):
    token = _admin(web, world, database)
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    answer = web.post("/admin/agents", data={**NEW_AGENT, "display_name": payload, "csrf_token": token})
    assert answer.status_code == 200
    for path in ("/admin/agents", answer.url.path, "/admin/audit"):
        html = web.get(path).text
        assert "<script>alert(2)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(2)" in html


def test_the_agents_list_pages(web, world, database):
    _admin(web, world, database)
    from tierdesk.agents.admin_views import PAGE_SIZE
    from tierdesk.agents.schemas import AgentCreate
    from tierdesk.agents.service import create_agent
    from tierdesk.kit.actors import SYSTEM

    with database.transaction() as db:
        for i in range(PAGE_SIZE):
            create_agent(db, SYSTEM, AgentCreate(email=f"a{i:03}@example.com", display_name=f"A{i}"))
    first = web.get("/admin/agents").text
    more = re.search(r'href="(/admin/agents\?after=\d+)"', first)
    assert more and "a049@example.com" not in first
    assert "a049@example.com" in web.get(more.group(1)).text
    assert csrf_of(first)
