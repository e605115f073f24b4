"""The admin in a real browser: an admin signs in, creates an agent with skills and brands through the form (first
refused with the field's message beside it, then accepted), and finds the agent in the list; no script or CSP error
on the way. With TIERDESK_SCREENSHOTS=<dir> it saves the agents' page as <dir>/admin.png (the README's picture:
docs/screenshots)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import launch, serving
from tests.pages import PASSWORD, set_password
from tierdesk.app import create_app

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402


def expected(text: str, url: str) -> bool:
    """Console errors that are not problems: the refused form's own answer (422), and the favicon the layout does
    not have."""
    return "status of 422" in text or url.endswith("/favicon.ico")


def test_an_admin_creates_an_agent_with_skills_and_sees_it_in_the_list(database, settings, world):
    set_password(database, world.agents["admin"])
    problems: list[str] = []
    with serving(create_app(database, settings)) as served, sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
            page.on("console", lambda m: problems.append(f"{m.text} {m.location.get('url')}")
                    if m.type == "error" and not expected(m.text, m.location.get("url", "")) else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(served.url + "/admin/agents")
            page.get_by_label("Email").fill("admin@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Agents", exact=True)).to_be_visible()
            page.get_by_role("link", name="New agent").click()

            page.get_by_label("Email").fill("nadia@example.com")
            page.get_by_label("Display name").fill("Nadia Haddad")
            page.get_by_label("Tier").select_option("2")
            page.get_by_label("Acme").check()
            page.get_by_label("Skill 1", exact=True).fill("routers")
            page.get_by_label("Level of skill 1").fill("4")
            page.get_by_label("Skill 2", exact=True).fill("Billing!")  # not a skill name
            page.get_by_label("Level of skill 2").fill("2")
            page.get_by_label("Initial password", exact=False).fill("nadia's long password")
            page.get_by_role("button", name="Create agent").click()
            expect(page.locator("#skill-1-error")).to_contain_text("should match pattern")
            expect(page.get_by_label("Skill 2", exact=True)).to_have_attribute("aria-invalid", "true")
            expect(page.get_by_label("Display name")).to_have_value("Nadia Haddad")

            page.get_by_label("Skill 2", exact=True).fill("billing")
            page.get_by_label("Initial password", exact=False).fill("nadia's long password")
            page.get_by_role("button", name="Create agent").click()
            expect(page.locator("p.notice")).to_have_text("Agent created.")
            page.get_by_role("link", name="Agents", exact=True).click()
            row = page.get_by_role("row").filter(has_text="nadia@example.com")
            expect(row).to_contain_text("Nadia Haddad")
            expect(row).to_contain_text("routers 4")
            expect(row).to_contain_text("billing 2")
            if os.environ.get("TIERDESK_SCREENSHOTS"):
                shots = Path(os.environ["TIERDESK_SCREENSHOTS"])
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / "admin.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
