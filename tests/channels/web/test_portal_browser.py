"""The customer's journey on the portal in a real browser (headless Chromium): sign in with the mailed code, submit a
request through the brand's form with a file, read the agent's reply, reply back, and rate the solved request; with
no script or CSP error on any page. Saves the portal's screenshot for the README (docs/screenshots/portal.png)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.browser import launch, serving
from tests.channels.web.helpers import png
from tests.channels.web.portal_helpers import API, code_and_link, mail_of, notices, open_ticket
from tierdesk.app import create_app
from tierdesk.kit.vocabulary import NoticeKind, TicketStatus
from tierdesk.surveys.models import SurveyResponse
from tierdesk.tickets.models import Ticket

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "portal.png"
MARIA = "maria@example.com"


@pytest.fixture
def live_server(database, form_settings, form_app):
    with serving(create_app(database, form_settings)) as served:
        yield served.url


def test_a_customer_submits_reads_replies_and_rates(live_server, form_app, world, database):
    admin = world.auth("admin")
    with TestClient(form_app) as api:
        open_ticket(api, admin, MARIA, subject="Where is my order?")  # Maria wrote before, by email
        r = api.patch(f"{API}/brands/{world.brands['acme']}", headers=admin,
                      json={"brand_colour": "#7a1f5c", "accent_colour": "#0b5cad"})
        assert r.status_code == 200, r.text
        problems: list[str] = []
        with sync_playwright() as p:
            browser = launch(p)
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 900})
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

                # Sign in with the code from the mail.
                page.goto(f"{live_server}/portal/acme/requests")
                expect(page.get_by_role("heading", name="Sign in to Acme support")).to_be_visible()
                page.get_by_label("Email address").fill(MARIA)
                page.get_by_role("button", name="Email me a code").click()
                expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
                mail = mail_of(database, notices(database, NoticeKind.PORTAL_SIGN_IN)[-1])
                assert mail is not None
                code, _link = code_and_link(mail)
                page.get_by_label("Code").fill(code)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("heading", name="My requests")).to_be_visible()
                expect(page.get_by_role("link", name="Where is my order?")).to_be_visible()

                # A new request, through the brand's form, with a file.
                page.get_by_role("link", name="New request").first.click()
                page.get_by_label("Subject").fill("My modem <b>restarts</b> every hour")
                page.get_by_label("How can we help?").fill("Since Monday the modem restarts every hour.")
                page.get_by_label("Order number").fill("A-4242")
                page.get_by_label("Attachments").set_input_files(
                    files=[{"name": "lights.png", "mimeType": "image/png", "buffer": png(6, 6)}])
                page.get_by_role("button", name="Send").click()
                expect(page.get_by_text("Thank you: we have your request.")).to_be_visible()
                expect(page.get_by_role("heading", level=1)).to_contain_text("My modem <b>restarts</b> every hour")
                expect(page.get_by_role("link", name="lights.png")).to_be_visible()
                ticket_id = int(page.url.split("/requests/")[1].split("?")[0])

                # An agent answers (through the API); the customer reads it.
                r = api.post(f"{API}/tickets/{ticket_id}/messages", headers=admin,
                             json={"body": "Sorry about that! Please send us a photo of the lights."})
                assert r.status_code == 201, r.text
                page.reload()
                expect(page.get_by_text("Please send us a photo of the lights.")).to_be_visible()

                # The customer replies back.
                page.get_by_label("Your message").fill("Here it is: all four lights blink orange.")
                page.get_by_role("button", name="Send reply").click()
                expect(page.get_by_text("all four lights blink orange")).to_be_visible()

                # The agent solves it; the customer rates it.
                r = api.post(f"{API}/tickets/{ticket_id}/messages", headers=admin,
                             json={"body": "A firmware update is on its way to your modem; it fixes the restarts."})
                assert r.status_code == 201, r.text
                r = api.patch(f"{API}/tickets/{ticket_id}", headers=admin, json={"status": "solved"})
                assert r.status_code == 200, r.text
                page.reload()
                expect(page.locator(".pill").first).to_have_text("Solved")
                page.get_by_role("link", name="Rate this request").click()
                page.get_by_label("5 · Very satisfied").check()
                page.get_by_label("Anything to add? (optional)").fill("Fast and friendly, thank you!")
                page.get_by_role("button", name="Send my rating").click()
                expect(page.get_by_text("Thank you for rating this request.")).to_be_visible()
                expect(page.locator(".portal-rating")).to_contain_text("5/5")
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT), full_page=True)

                page.get_by_role("link", name="My requests").first.click()
                expect(page.get_by_text("rated 5/5")).to_be_visible()
                page.get_by_role("button", name="Sign out").click()
                expect(page.get_by_role("heading", name="Sign in to Acme support")).to_be_visible()
            finally:
                browser.close()
    assert problems == []
    with database.transaction(write=False) as db:
        ticket = db.get(Ticket, ticket_id)
        assert ticket is not None and ticket.status is TicketStatus.SOLVED and ticket.message_count == 4
        answer = db.scalars(sa.select(SurveyResponse)).one()
        assert (answer.ticket_id, answer.score, answer.comment) == (ticket_id, 5, "Fast and friendly, thank you!")
