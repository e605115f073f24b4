"""The ticket page in a real browser (headless Chromium on a real server): an agent works a ticket from reading to
escalation and a tier-2 agent picks it up; two agents on the same ticket see each other. No script or CSP error on
the way. The screenshot for the README is taken here (docs/screenshots/ticket.png)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.browser import launch, serving
from tests.pages import PASSWORD, set_password
from tests.workspace.helpers import customer_writes, open_ticket, sla_policy
from tierdesk.agents import service as agents_service
from tierdesk.agents.schemas import AgentCreate, SkillLevel
from tierdesk.app import create_app
from tierdesk.config import Settings
from tierdesk.kit.actors import SYSTEM
from tierdesk.routing.router import default_capacity
from tierdesk.routing.tasks import route
from tierdesk.tickets.models import Ticket

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    # Plain HTTP on loopback: the browser would not send Secure cookies back.
    return Settings(data_dir=tmp_path / "data", database_url=database_url, secret_key="test-secret-key",
                    secure_cookies=False)


@pytest.fixture
def app(database, settings):
    return create_app(database, settings)


@pytest.fixture
def server(app):
    with serving(app) as served:
        yield served.url


def _watch(page, problems: list[str]) -> None:
    def console(message) -> None:
        # The browser logs every 404 it loads: the site has no favicon (not this page's business), and the macro panel
        # (another part of the workspace) answers 404 until it exists; the page itself stays quiet about it. A reply
        # held back for a newer message is a page answered 409 (Conflict), on purpose.
        url = (message.location or {}).get("url", "")
        held_back = url.endswith("/messages") and "status of 409" in message.text
        if message.type == "error" and not url.endswith(("/favicon.ico", "/macros")) and not held_back:
            problems.append(f"{message.text} @ {(message.location or {}).get('url')}")
    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))


def _sign_in(page, server: str, email: str) -> None:
    page.goto(f"{server}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/")


def test_an_agent_works_a_ticket_up_to_tier_two(server, app, world, database, settings):
    with TestClient(app, base_url="https://testserver") as api:
        sla_policy(api, world)
        ticket_id = open_ticket(api, world, department="CS", subject="Router blinks red after the update",
                                sender={"email": "maria@example.com", "name": "Maria Lopez"})
        open_ticket(api, world, channel="chat", subject="Earlier chat about my invoice")
    customer_writes(database, ticket_id, 3, text="It still blinks")
    with database.transaction() as db:
        specialist = agents_service.create_agent(db, SYSTEM, AgentCreate(
            email="specialist@example.com", display_name="Sam Specialist", role="agent", tier=2, brands=["acme"],
            skills=[SkillLevel(skill="connectivity", level=4)])).id
    for who in (world.agents["agent"], specialist):
        set_password(database, who)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            _watch(page, problems)
            _sign_in(page, server, "agent@example.com")
            page.goto(f"{server}/tickets/{ticket_id}")
            expect(page.get_by_role("heading", level=1)).to_have_text("Router blinks red after the update")
            expect(page.locator("#timeline-items")).to_contain_text("It still blinks 2")
            expect(page.locator(".other-tickets")).to_contain_text("Earlier chat about my invoice")
            expect(page.locator("#reply-route")).to_contain_text("email")

            page.keyboard.press("r")  # the shortcut focuses the reply
            expect(page.locator("#reply-body")).to_be_focused()
            page.keyboard.type("Hello Maria, please hold the reset button for ten seconds.")
            page.get_by_role("button", name="Send reply").click()
            expect(page.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()
            expect(page.locator(".message-outbound").last).to_contain_text("hold the reset button")

            page.locator("#retriage summary").click()
            page.get_by_label("Department").select_option("TS")
            page.get_by_label("Intent").select_option("connectivity")
            page.get_by_label("Reason (required").fill("A product problem: the router, not the bill")
            page.get_by_role("button", name="Re-triage").click()
            expect(page.locator(".notice")).to_have_text("Re-triaged.")
            expect(page.locator("#timeline-items")).to_contain_text("A product problem: the router, not the bill")

            page.goto(f"{server}/tickets/{ticket_id}")
            page.get_by_role("button", name="Escalate to the next tier").click()  # no summary: refused by the form
            expect(page.locator("#escalate-summary")).to_have_attribute("required", "")
            page.get_by_label("Reason", exact=True).fill("Line fault suspected")
            page.locator("#escalate-reason").blur()
            page.keyboard.press("e")
            expect(page.locator("#escalate-summary")).to_be_focused()
            page.keyboard.type("Reset, cable swapped, firmware reinstalled: still red.")
            page.get_by_role("button", name="Escalate to the next tier").click()
            expect(page.locator(".notice")).to_contain_text("Escalated")
            expect(page.locator("#ticket-facts")).to_contain_text("ts-specialists")

            assert api_presence(app, world, specialist) == 200
            with database.transaction() as db:
                route(db, default_capacity(settings))
            with database.transaction(write=False) as db:
                assert db.get_one(Ticket, ticket_id).assignee_id == specialist

            other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            _watch(other, problems)
            _sign_in(other, server, "specialist@example.com")
            other.goto(f"{server}/tickets/{ticket_id}")
            expect(other.locator("#ticket-facts")).to_contain_text("Sam Specialist")
            expect(other.locator(".message-note").last).to_contain_text("firmware reinstalled")
            expect(other.locator("#collision")).to_contain_text("agent is viewing this ticket", timeout=15000)
        finally:
            browser.close()
    assert problems == []


def api_presence(app, world, agent_id: int) -> int:
    with TestClient(app, base_url="https://testserver") as api:
        return api.put(f"/api/v1/agents/{agent_id}/presence", json={"status": "available"},
                       headers=world.auth("admin")).status_code


def test_two_agents_on_one_ticket_see_each_other(server, app, world, database):
    with TestClient(app, base_url="https://testserver") as api:
        sla_policy(api, world)
        ticket_id = open_ticket(api, world, subject="The app crashes on start",
                                sender={"email": "li@example.com", "name": "Li Wei"},
                                body="Since the last update the app crashes as soon as I open it.")
    customer_writes(database, ticket_id, 2, text="Here is what I see")
    for who in ("agent", "lead"):
        set_password(database, world.agents[who])
    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            first = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
            second = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
            for page, email in ((first, "agent@example.com"), (second, "lead@example.com")):
                _watch(page, problems)
                _sign_in(page, server, email)
                page.goto(f"{server}/tickets/{ticket_id}")
            expect(first.locator("#collision")).to_contain_text("lead is viewing this ticket", timeout=15000)
            expect(second.locator("#collision")).to_contain_text("agent is viewing this ticket", timeout=15000)
            second.locator("#reply-body").fill("Could you send a screenshot?")
            expect(first.locator("#collision")).to_contain_text("lead is replying this ticket", timeout=15000)

            # A message arrives while the first agent reads: the collision bar says so, and the page shows it.
            customer_writes(database, ticket_id, 1, text="The screen goes black")
            expect(first.locator(".new-messages")).to_contain_text("1 new message", timeout=15000)
            first.locator(".new-messages button").click()
            expect(first.locator("#timeline-items")).to_contain_text("The screen goes black 0")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            first.screenshot(path=str(SCREENSHOTS / "ticket.png"), full_page=True)

            # The second agent sends without having seen it: held back, shown, then sent on confirmation.
            second.get_by_role("button", name="Send reply").click()
            expect(second.locator("#newer")).to_contain_text("The screen goes black 0")
            expect(second.locator("#reply-body")).to_have_value("Could you send a screenshot?")
            second.get_by_role("button", name="Send anyway").click()
            expect(second.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()
        finally:
            browser.close()
    assert problems == []
