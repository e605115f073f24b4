"""My work in a real browser: an agent signs in, sets themselves available, a contact posted through the API is
routed to them by the worker, and it appears in My work without a reload, with a toast and an announcement; the
countdowns tick, the keyboard reaches the queues, and no script or CSP error occurs. Saves the README's screenshot."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.browser import launch, serving
from tests.conftest import contact
from tests.pages import PASSWORD, set_password
from tests.workspace.helpers import ticket
from tierdesk.app import create_app

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "my-work.png"


@pytest.fixture
def served(database, settings):
    plain = settings.model_copy(update={"secure_cookies": False, "worker_poll_seconds": 0.1})
    with serving(create_app(database, plain, run_worker=True)) as running:
        yield running.url


def test_new_work_appears_in_my_work_without_a_reload(served, world, database):
    set_password(database, world.agents["agent"])
    me = world.agents["agent"]
    ticket(database, assignee=me, subject="Refund for order A-1042", priority="high", tags=["refund"],
           sender={"email": "lena@example.com", "name": "Lena Hoffmann"}, due_in=dt.timedelta(minutes=9))
    ticket(database, assignee=me, subject="Wrong size delivered", tags=["returns", "vip"],
           sender={"email": "ade@example.com", "name": "Ade Okafor"}, due_in=-dt.timedelta(minutes=22))
    ticket(database, assignee=me, subject="Change my delivery address", channel="chat",
           sender={"email": "kim@example.com", "name": "Kim Park"}, due_in=dt.timedelta(hours=3, minutes=10))
    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            # The browser's own /favicon.ico request (no page links it; layout/base.html names no icon) is not ours.
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" and not m.location.get(
                "url", "").endswith("/favicon.ico") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(served + "/")
            page.get_by_label("Email").fill("agent@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="My work", level=1)).to_be_visible()
            expect(page.locator("#my-work-list")).to_contain_text("Refund for order A-1042")
            assert page.evaluate("() => document.documentElement.dataset.live") in (None, "connected")
            page.wait_for_function("() => document.documentElement.dataset.live === 'connected'")
            # The presence switch (HTMX): the header's badge follows.
            page.get_by_role("button", name="Available").click()
            expect(page.locator("#my-presence")).to_have_text("available")
            expect(page.get_by_role("button", name="Available")).to_have_attribute("aria-pressed", "true")
            heard = page.evaluate_handle(
                "() => { const got = []; document.addEventListener('tierdesk:live', e => got.push(e.detail));"
                " return got; }")
            # A customer writes in; the worker routes the ticket to the only available agent who fits.
            with httpx.Client(base_url=served, timeout=10) as api:
                r = api.post("/api/v1/contacts", headers=world.auth("admin"),
                             json=contact(queue="cs-billing", subject="Charged twice this month",
                                          sender={"email": "tom@example.com", "name": "Tom Baker"}))
                assert r.status_code in (200, 201), r.text
                new_id = r.json()["ticket"]["id"]
            expect(page.locator("#my-work-list")).to_contain_text("Charged twice this month", timeout=15000)
            expect(page.locator("#toasts")).to_contain_text(f"ticket #{new_id} is assigned to you")
            expect(page.locator("#live-announce")).to_contain_text(f"ticket #{new_id}")
            details = heard.json_value()
            assert any(d["type"] == "offer" and d["ticket_id"] == new_id for d in details), details
            expect(page.locator(f'tr[data-ticket="{new_id}"] a')).to_have_attribute("href", f"/tickets/{new_id}")
            expect(page.locator("table.load")).to_contain_text("email310")  # my load follows the new work
            # The most urgent first: the breached one, then the one due in minutes.
            expect(page.locator("#my-work-list tbody tr").first).to_contain_text("Wrong size delivered")
            expect(page.locator("#my-work-list tbody tr").first.locator(".countdown")).to_have_class(
                re.compile(r"sla-breached"))
            expect(page.locator("#my-work-list tbody tr").nth(1).locator(".countdown")).to_have_class(
                re.compile(r"sla-warn"))
            # The countdowns tick (work.js) and the notifications button asks only when clicked.
            expect(page.locator("#live-notify")).to_be_visible()
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            # The keyboard: "g q" goes to the queues.
            page.locator("body").click(position={"x": 5, "y": 400})
            page.keyboard.press("g")
            page.keyboard.press("q")
            expect(page).to_have_url(re.compile(r"/queues$"))
            expect(page.get_by_role("heading", name="Queues", level=1)).to_be_visible()
        finally:
            browser.close()
    assert problems == []
    assert SCREENSHOT.stat().st_size > 10_000
