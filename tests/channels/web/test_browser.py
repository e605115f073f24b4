"""The embedded form in a real browser: a shop's page with the script tag, on a phone-sized screen, headless
Chromium filling it in (a file attached) and sending it; the iframe grows with the form; no script or CSP error; and
a site the brand did not allow cannot frame it."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.browser import launch, serving, shop_site
from tests.channels.web.helpers import png
from tierdesk.app import create_app
from tierdesk.tickets.models import Attachment, Ticket

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture
def live_server(database, form_settings, form_app):
    with serving(create_app(database, form_settings)) as served:
        yield served.url


@pytest.fixture
def shop(live_server, form_app, world):
    """The shop's own site, a real HTTP server of its own (another origin), whose contact page embeds the form with
    the script tag. The brand allows it to frame the form; reached as localhost it is another origin, not allowed."""
    with shop_site(shop_page(live_server)) as site:
        with TestClient(form_app) as admin:
            r = admin.patch("/api/v1/web-forms/acme", headers=world.auth("admin"),
                            json={"allowed_origins": [site.origin]})
            assert r.status_code == 200, r.text
        yield {"allowed": site.url("/contact"), "other": site.url("/contact", host="localhost")}


def shop_page(tierdesk: str) -> str:
    return ("<!DOCTYPE html><html lang='en'><head><meta name='viewport' content='width=device-width'>"
            "<title>Acme shop: contact</title></head><body><h1>Contact us</h1>"
            f"<script src='{tierdesk}/static/web/form.js' data-brand='acme' data-title='Contact Acme' async></script>"
            "</body></html>")


def test_a_customer_fills_in_the_embedded_form_on_a_phone(shop, database):
    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(shop["allowed"])
            iframe = page.locator("iframe[data-tierdesk-form='acme']")
            expect(iframe).to_have_attribute("title", "Contact Acme")
            form = page.frame_locator("iframe[data-tierdesk-form='acme']")
            form.get_by_label("Your email address").fill("maria@example.com")
            form.get_by_label("Your name").fill("Maria <b>Rossi</b>")
            form.get_by_label("Subject").fill("My router blinks red")
            form.get_by_label("How can we help?").fill("Since this morning the router blinks red.")
            # Sent without the required field: the form comes back with the problem beside it.
            form.get_by_role("button", name="Send").click()
            expect(form.locator("#error-order_number")).to_have_text("Order number is required")
            expect(form.get_by_label("Order number")).to_have_attribute("aria-invalid", "true")
            expect(form.get_by_label("Your name")).to_have_value("Maria <b>Rossi</b>")
            # Nothing spills sideways on a phone.
            assert form.locator("body").evaluate(
                "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
            form.get_by_label("Order number").fill("A-1234")
            form.get_by_label("Product").select_option("Modem")
            form.get_by_label("Send me the newsletter").check()
            form.get_by_label("Attachments").set_input_files(
                files=[{"name": "router.png", "mimeType": "image/png", "buffer": png(8, 8)}])
            form.get_by_role("button", name="Send").click()
            expect(form.get_by_role("heading", name="Request received")).to_be_visible()
            expect(form.locator(".thanks")).to_have_text("Thanks! Acme support answers within a day.")
            expect(form.locator(".reference")).to_have_text(re.compile(r"^\[#\d+-[a-z2-7]{6}\]$"))
            # The iframe took the height the thank-you page reported (form.js), not its starting 640 px.
            expect(iframe).not_to_have_attribute("style", re.compile(r"height: 640px"))
        finally:
            browser.close()
    # No script error, no CSP violation (the refused post's 422 is the one resource that "failed", on purpose).
    assert [p for p in problems if "status of 422" not in p] == []
    with database.transaction(write=False) as db:
        ticket = db.scalar(sa.select(Ticket))
        attachment = db.scalar(sa.select(Attachment))
    assert ticket.channel.value == "web" and ticket.subject == "My router blinks red"
    assert attachment.filename == "router.png" and attachment.content_type == "image/png"


def test_a_site_the_brand_did_not_allow_cannot_frame_the_form(shop):
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            with page.expect_console_message(lambda m: "frame-ancestors" in m.text) as refused:
                page.goto(shop["other"])
            assert shop["allowed"].removesuffix("/contact") in refused.value.text
        finally:
            browser.close()
