"""The admin journey in a real browser: an admin creates a queue with required skills and an SLA policy through the
pages, and the next ticket follows them: a contact posted (API) to that queue is routed only to the agent with those
skills, and carries the policy's SLA clocks with their due times. No JavaScript error on the way; the queue page is
screenshotted for the README."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.browser import launch, serving
from tests.conftest import contact
from tests.pages import PASSWORD, set_password
from tests.routing.helpers import add_agent, assignees, route
from tierdesk.app import create_app

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def live_server(database, settings, world):
    # Plain http on loopback: the session cookie cannot be Secure there.
    with serving(create_app(database, settings.model_copy(update={"secure_cookies": False}))) as served:
        yield served.url


def test_an_admin_sets_up_a_queue_and_an_sla_and_the_next_ticket_follows_them(live_server, database, world,
                                                                                  client):
    fibre = add_agent(database, "fibre@example.com", skills={"fibre": 4, "connectivity": 3}, tier=2)
    no_fibre = add_agent(database, "copper@example.com", skills={"connectivity": 5}, tier=3)
    weak_fibre = add_agent(database, "trainee@example.com", skills={"fibre": 2}, tier=2)
    set_password(database, world.agents["admin"])
    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # Console errors, except the browser's note of a failed load: those are checked by their address below
            # (the refused form's 422 is expected).
            page.on("console", lambda m: problems.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not (r.status == 422 and "/admin/queues/new" in r.url) else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{live_server}/admin/queues")
            page.get_by_label("Email").fill("admin@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Queues and routing")).to_be_visible()

            page.get_by_role("link", name="New queue in Acme").click()
            page.get_by_label("Slug").fill("ts-fibre")
            page.get_by_label("Name").fill("Fibre specialists")
            page.get_by_label("Department").select_option("TS")
            page.get_by_label("Tier", exact=True).select_option("2")
            # First a mistake: the page says what is wrong beside the field, keeping what was typed.
            page.get_by_label("Overflow after (seconds)").fill("600")
            page.get_by_label("Skill 1", exact=True).fill("fibre")
            page.get_by_label("Minimum level of skill 1").select_option("3")
            page.get_by_role("button", name="Create queue").click()
            expect(page.locator("#error-overflow_queue, #error-overflow_after_seconds")).to_contain_text(
                "overflow needs both")
            expect(page.get_by_label("Skill 1", exact=True)).to_have_value("fibre")
            page.get_by_label("Overflow after (seconds)").fill("")
            page.get_by_role("button", name="Create queue").click()
            expect(page.get_by_role("status").filter(has_text="ts-fibre")).to_be_visible()
            row = page.get_by_role("row").filter(has_text="Fibre specialists")
            expect(row).to_contain_text("fibre ≥ 3")
            expect(row).to_contain_text("Tier 2")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "admin-queues.png"), full_page=True)

            page.goto(f"{live_server}/admin/sla")
            page.get_by_role("link", name="New SLA policy in Acme").click()
            page.get_by_label("Slug").fill("ts-fibre-sla")
            page.get_by_label("Name").fill("Fibre SLA")
            page.get_by_label("Department").select_option("TS")
            page.get_by_label("First response (minutes)").fill("45")
            page.get_by_label("Resolution (minutes)").fill("480")
            page.get_by_label("Escalate the ticket").check()
            page.get_by_role("button", name="Create policy").click()
            expect(page.get_by_role("row").filter(has_text="Fibre SLA")).to_contain_text("45 min")
        finally:
            browser.close()
    assert problems == []

    # The next ticket: posted to the new queue through the API, routed by the worker's pass.
    r = client.post("/api/v1/contacts", headers=world.auth("admin"),
                    json=contact(queue="ts-fibre", subject="The fibre box shows LOS", priority="normal"))
    assert r.status_code in (200, 201), r.text
    ticket_id = r.json()["ticket"]["id"]
    route(database)
    assert assignees(database, [ticket_id])[ticket_id] == fibre
    assert fibre not in (no_fibre, weak_fibre)
    sla = client.get(f"/api/v1/tickets/{ticket_id}/sla", headers=world.auth("admin")).json()
    policies = client.get("/api/v1/sla/policies", headers=world.auth("admin")).json()
    policy = next(p for p in policies if p["slug"] == "ts-fibre-sla")
    assert sla["policy_id"] == policy["id"]
    clocks = {c["metric"]: c for c in sla["clocks"]}
    assert set(clocks) == {"first_response", "resolution"}
    for metric, minutes in (("first_response", 45), ("resolution", 480)):
        clock = clocks[metric]
        started = dt.datetime.fromisoformat(clock["started_at"])
        due = dt.datetime.fromisoformat(clock["due_at"])
        assert clock["target_minutes"] == minutes
        assert abs((due - started) - dt.timedelta(minutes=minutes)) < dt.timedelta(seconds=5)


def test_every_admin_page_of_this_slice_passes_axe(live_server, database, world, client):
    """Each page (and a form that came back with errors) in Chromium: no axe-core violation of serious or critical
    impact, no console error, every request < 400 (the refused forms' 422 aside)."""
    from tests.browser import axe_source, axe_violations, describe_violations

    axe_source()
    admin = world.auth("admin")
    sub = client.post("/api/v1/webhooks", headers=admin, json={
        "brand": "acme", "url": "https://hooks.example.com/", "events": ["ticket_created"]}).json()
    client.post(f"/api/v1/webhooks/{sub['id']}/ping", headers=admin)
    calendar = client.post("/api/v1/sla/calendars", headers=admin, json={
        "brand": "acme", "slug": "office", "name": "Office", "timezone": "Europe/Berlin",
        "weekly_hours": {"mon": ["09:00-17:00"]}, "holidays": ["2026-12-25"]}).json()
    policy = client.post("/api/v1/sla/policies", headers=admin, json={
        "brand": "acme", "slug": "std", "name": "Standard", "first_response_minutes": 60,
        "calendar": "office"}).json()
    paths = ["/admin/queues", "/admin/queues/new?brand=acme", f"/admin/queues/{world.queues['acme/ts-helpdesk']}",
             "/admin/sla", "/admin/sla/policies/new?brand=acme", f"/admin/sla/policies/{policy['id']}",
             "/admin/sla/calendars/new?brand=acme", f"/admin/sla/calendars/{calendar['id']}", "/admin/webhooks",
             "/admin/webhooks/new?brand=acme", f"/admin/webhooks/{sub['id']}", "/admin/channels",
             "/admin/channels/acme/email", "/admin/channels/acme/chat", "/admin/channels/acme/web",
             "/admin/channels/acme/voice"]
    set_password(database, world.agents["admin"])
    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(f"{page.url}: {m.text}")
                    if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and r.status != 422 else None)
            page.goto(f"{live_server}/sign-in")
            page.get_by_label("Email").fill("admin@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server}/")
            for path in paths:
                page.goto(live_server + path)
                found = axe_violations(page)
                if found:
                    problems.append(f"{path}:\n{describe_violations(found)}")
            # Forms that came back with their errors beside the fields.
            for path, label, value, button in (
                    ("/admin/queues/new?brand=acme", "Slug", "Bad Slug", "Create queue"),
                    ("/admin/sla/calendars/new?brand=acme", "Time zone", "Mars/Base", "Create calendar"),
                    ("/admin/webhooks/new?brand=acme", "Receiver URL", "ftp://x", "Create webhook")):
                page.goto(live_server + path)
                page.get_by_label(label, exact=True).fill(value)
                page.get_by_role("button", name=button).click()
                expect(page.get_by_role("alert").first).to_be_visible()
                found = axe_violations(page)
                if found:
                    problems.append(f"{path} with errors:\n{describe_violations(found)}")
        finally:
            browser.close()
    assert problems == [], "\n".join(problems)
