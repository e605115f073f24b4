"""Canned responses and macros in a real browser: a lead creates a macro through the admin form (a mistake first,
shown beside its field), and on an agent's page the ticket panel inserts a canned response's filled text into the
reply and applies a macro, whose text lands in the note; no script or CSP error on the way. Takes the README's
screenshot of the macros admin page (docs/screenshots/macros.png)."""

from __future__ import annotations

import pathlib

import pytest

from tests.browser import launch, serving
from tests.conftest import contact
from tests.pages import PASSWORD, set_password
from tierdesk.app import create_app

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

SCREENSHOTS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The panel's place on the ticket page, built for this test (the ticket page itself is another page's work).
TICKET_PAGE_PARTS = """() => {
  const main = document.querySelector("main");
  main.insertAdjacentHTML("beforeend",
    '<label for="reply-body">Reply</label><textarea id="reply-body"></textarea>' +
    '<label for="note-body">Note</label><textarea id="note-body"></textarea><section id="macro-panel"></section>');
}"""


@pytest.fixture
def live(database, settings):
    # Plain http on loopback: the session cookie cannot be Secure there.
    with serving(create_app(database, settings.model_copy(update={"secure_cookies": False}))) as served:
        yield served.url


def sign_in(page, url: str, who: str) -> None:
    page.goto(url + "/sign-in")
    page.get_by_label("Email").fill(f"{who}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My work")).to_be_visible()


def test_a_lead_creates_a_macro_and_an_agent_uses_the_panel(live, database, world, client):
    for who in ("lead", "agent"):
        set_password(database, world.agents[who])
    r = client.post("/api/v1/contacts", headers=world.auth("agent"),
                    json=contact(sender={"email": "maria@example.com", "name": "Maria <b>Rossi</b>"}))
    ticket = r.json()["ticket"]["id"]
    r = client.post("/api/v1/canned-responses", headers=world.auth("lead"), json={
        "brand": "acme", "title": "Restart the router", "body": "Hello {customer_name}, please restart the router."})
    assert r.status_code == 201, r.text
    problems: list[str] = []
    missing: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
            sign_in(page, live, "lead")
            page.goto(live + "/admin/macros")
            page.get_by_role("link", name="New macro").click()
            page.get_by_label("Brand").select_option("acme")
            page.get_by_label("Name", exact=True).fill("Waiting on the vendor")
            page.get_by_label("Description").fill("The part is ordered; nothing to do until it ships")
            page.get_by_label("Status").select_option("on_hold")
            page.get_by_label("Tags to add").fill("vendor, Parts!")
            page.get_by_label("Text").fill("Vendor asked for {customer_name} (ticket {ticket_id}).")
            page.get_by_label("the internal note").check()
            page.get_by_role("button", name="Create").click()
            # The mistake is shown beside its field, with what was typed kept.
            expect(page.locator("#error-add_tags")).to_contain_text("is not a tag")
            expect(page.get_by_label("Tags to add")).to_have_attribute("aria-invalid", "true")
            expect(page.get_by_label("Name", exact=True)).to_have_value("Waiting on the vendor")
            page.get_by_label("Tags to add").fill("vendor, parts")
            page.get_by_role("button", name="Create").click()
            expect(page.get_by_role("status").filter(has_text="created")).to_be_visible()
            expect(page.get_by_role("link", name="Waiting on the vendor")).to_be_visible()
            client.post("/api/v1/macros", headers=world.auth("lead"), json={
                "brand": "acme", "name": "Urgent outage", "department": "TS", "set_priority": "urgent",
                "add_tags": ["outage"], "assign_to_me": True, "text": "We know about the outage, {customer_name}."})
            page.goto(live + "/admin/macros")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "macros.png"), full_page=True)
            # Deleting asks first: declined, the macro stays; confirmed, it goes.
            delete = page.get_by_role("button", name="Delete macro Urgent outage")
            page.once("dialog", lambda d: d.dismiss())
            delete.click()
            expect(page.get_by_role("link", name="Urgent outage")).to_be_visible()
            page.once("dialog", lambda d: d.accept())
            delete.click()
            expect(page.get_by_role("status").filter(has_text="deleted")).to_be_visible()
            expect(page.get_by_role("link", name="Urgent outage")).to_have_count(0)

            page.context.clear_cookies()
            sign_in(page, live, "agent")
            page.goto(live + "/admin/macros")  # an agent's page that loads macros.js, as the ticket page does
            page.evaluate(TICKET_PAGE_PARTS)
            page.evaluate(f"() => htmx.ajax('GET', '/tickets/{ticket}/macros', '#macro-panel')")
            panel = page.locator("#macro-panel")
            expect(panel.get_by_role("heading", name="Canned responses and macros")).to_be_visible()
            # Search narrows the list; Enter inserts the first match into the reply, placeholders filled.
            panel.get_by_label("Search canned responses").fill("nothing like it")
            expect(panel.get_by_text("No canned response matches.")).to_be_visible()
            panel.get_by_label("Search canned responses").fill("restart")
            panel.get_by_label("Search canned responses").press("Enter")
            expect(page.locator("#reply-body")).to_have_value(
                "Hello Maria <b>Rossi</b>, please restart the router.")
            # Applying a macro: the ticket changes and its text lands in the note.
            panel.get_by_role("button", name="Waiting on the vendor").click()
            expect(panel.get_by_role("status")).to_contain_text("applied")
            expect(page.locator("#note-body")).to_have_value(f"Vendor asked for Maria <b>Rossi</b> (ticket {ticket}).")
        finally:
            browser.close()
    state = client.get(f"/api/v1/tickets/{ticket}", headers=world.auth("agent")).json()
    assert state["status"] == "on_hold"
    assert client.get(f"/api/v1/tickets/{ticket}/tags", headers=world.auth("agent")).json() == ["parts", "vendor"]
    # The form's refusal (422) is expected; every other failure is a problem, and no link or asset is missing
    # (but the favicon Chromium asks for by itself).
    assert [p for p in problems if "status of 422" not in p and "status of 404" not in p] == []
    assert [u for u in missing if not u.endswith("/favicon.ico")] == []
