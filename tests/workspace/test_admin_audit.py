"""The admin's index and the audit of who changed what: entries written alike for the API, the CLI's services and
the pages; newest first, filtered by entity and by agent, paginated; a lead sees only their brands' entries."""

from __future__ import annotations

import re

from tests.pages import set_password, sign_in
from tierdesk.agents.schemas import AgentUpdate
from tierdesk.agents.service import update_agent
from tierdesk.audit.service import record
from tierdesk.kit.actors import SYSTEM, Actor


def test_the_index_links_every_admin_area(web, world, database):
    set_password(database, world.agents["admin"])
    sign_in(web, "admin@example.com")
    page = web.get("/admin")
    assert page.status_code == 200
    for path in ("/admin/brands", "/admin/agents", "/admin/queues", "/admin/sla", "/admin/webhooks",
                 "/admin/channels", "/admin/canned-responses", "/admin/macros", "/admin/dispositions",
                 "/admin/triage", "/admin/integrations", "/admin/audit"):
        assert f'href="{path}"' in page.text, path
    assert 'aria-current="page"' in page.text  # the Admin section is marked in the bar


def test_the_audit_shows_api_and_page_changes_newest_first_with_filters(web, client, world, database):
    set_password(database, world.agents["admin"])
    token = sign_in(web, "admin@example.com")
    r = client.patch(f"/api/v1/agents/{world.agents['agent']}", json={"tier": 2}, headers=world.auth("admin"))
    assert r.status_code == 200
    web.post(f"/admin/brands/{world.brands['globex']}", data={"name": "Globex Corp", "csrf_token": token})
    page = web.get("/admin/audit").text
    assert page.index("Globex Corp") < page.index("agent " + str(world.agents["agent"]))  # newest first
    assert "admin" in page and "tier" in page
    only_agents = web.get("/admin/audit", params={"entity": "agent"}).text
    assert "Globex Corp" not in only_agents and "tier" in only_agents
    by_admin = web.get("/admin/audit", params={"agent": "admin@example.com"}).text
    assert "Globex Corp" in by_admin and "created" not in by_admin  # the world's set-up was the system's
    unknown = web.get("/admin/audit", params={"agent": "nobody@example.com"})
    assert unknown.status_code == 200 and 'id="agent-error"' in unknown.text


def test_the_audit_pages_and_a_lead_sees_only_their_brands(web, world, database):
    with database.transaction() as db:
        for i in range(60):
            record(db, Actor.of(SYSTEM), "queue", i, "updated", before={"n": i}, after={"n": i + 1},
                   brand_id=world.brands["acme" if i % 2 else "globex"])
        update_agent(db, SYSTEM, world.agents["agent"], AgentUpdate(tier=2))
    set_password(database, world.agents["admin"])
    sign_in(web, "admin@example.com")
    first = web.get("/admin/audit", params={"entity": "queue"}).text
    older = re.search(r'href="(/admin/audit\?[^"]*before=\d+)"', first)
    assert older
    assert web.get(older.group(1).replace("&amp;", "&")).status_code == 200
    web.cookies.clear()
    set_password(database, world.agents["lead"])
    sign_in(web, "lead@example.com")
    page = web.get("/admin/audit")
    assert page.status_code == 200
    assert "Globex" not in page.text and "Acme" in page.text
    assert f"agent {world.agents['agent']}" not in page.text  # agents' entries belong to no brand: admins only
