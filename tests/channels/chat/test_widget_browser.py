"""The chat widget in a real browser: a shop's page on another origin (with a strict Content-Security-Policy of its
own) embeds it with one script tag, headless Chromium plays the customer against a real `tierdesk serve`, and an
agent answers on a real WebSocket (the `websockets` package). The pre-chat form, the conversation, agent joined and
typing, HTML shown as text, a phone's screen, a dropped connection, a server restart and a page reload (every message
once), and a site the brand did not allow. The browser runs the same on either database: SQLite only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from tests.browser import launch, shop_site
from tests.channels.chat.helpers import WAIT, Server
from tierdesk.agents import presence
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.vocabulary import PresenceStatus

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# Before any page script: keep each WebSocket the page opens (to drop it as a network would; while window.__down
# a new one fails as with no network: Chromium's offline emulation does not reliably stop WebSockets) and each CSP
# violation.
WATCH = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__down = false;
  window.WebSocket = class extends Native {
    constructor(url, ...rest) {
      super(window.__down ? "ws://127.0.0.1:1/" : url, ...rest);
      window.__sockets.push(this);
    }
  };
  window.__csp = [];
  document.addEventListener("securitypolicyviolation",
                            (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
})();
"""
LATER = WAIT * 1000  # ms: after a drop the widget retries with a growing pause (up to 16 s), so wait longer
FIRST, SECOND = "I was charged twice for my invoice this month, please refund it.", "The second charge is still there."
XSS = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script><b>bold</b>'


class Desk:
    """An agent's socket (the synchronous `websockets` client): frames kept, `next` waits for a matching one."""

    def __init__(self, server: Server, token: str, after: dict[int, int] | None = None):
        # Entered by hand (websockets wants its sync client used as a context manager); left in close().
        self.ws: ClientConnection = ws_connect(f"{server.url}/channels/chat/ws/agent",
                                               additional_headers={"Authorization": f"Bearer {token}"}).__enter__()
        self.frames: list[dict[str, Any]] = []
        self.seen = 0
        self.send(type="hello", after={str(k): v for k, v in (after or {}).items()})
        self.next("welcome")

    def send(self, **frame: Any) -> None:
        self.ws.send(json.dumps(frame))

    def next(self, type_: str, **match: Any) -> dict[str, Any]:
        while True:
            while self.seen < len(self.frames):
                frame = self.frames[self.seen]
                self.seen += 1
                if frame.get("type") == type_ and all(frame.get(k) == v for k, v in match.items()):
                    return frame
            self.frames.append(json.loads(self.ws.recv(timeout=WAIT)))

    def messages(self, conversation: int, sender: str) -> list[str]:
        return [f["text"] for f in self.frames if f.get("type") == "event" and f["conversation"] == conversation
                and f["kind"] == "message" and f["from"] == sender]

    def last_seq(self, conversation: int) -> int:
        return max(f["seq"] for f in self.frames if f.get("type") == "event" and f["conversation"] == conversation)

    def close(self) -> None:
        self.ws.__exit__(None, None, None)


@pytest.fixture
def server(tmp_path, database_url, world, database) -> Iterator[Server]:
    with database.transaction() as db:
        presence.set_presence(db, SYSTEM, world.agents["agent"], PresenceStatus.AVAILABLE)
    running = Server(tmp_path, database_url).start()
    yield running
    running.stop()


def shop_page(tierdesk: str) -> str:
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'><title>Acme shop</title></head>"
            "<body><h1>Acme shop</h1><p>Routers, modems and cables.</p>"
            f"<script src='{tierdesk}/static/chat/widget.js' data-brand='acme' async></script></body></html>")


@pytest.fixture
def shop(server, client, world):
    """The shop's site, allowed by the brand's chat settings; its CSP lets in only tierdesk's script, style and
    socket, so anything else the widget did (inline script or style, another host) would be a violation."""
    tierdesk = f"http://127.0.0.1:{server.port}"
    csp = (f"default-src 'none'; script-src {tierdesk}; style-src {tierdesk}; "
           f"connect-src ws://127.0.0.1:{server.port}; img-src 'self'; base-uri 'none'")
    with shop_site(shop_page(tierdesk), {"Content-Security-Policy": csp}) as site:
        settings = {"allowed_origins": [site.origin], "pre_chat_form": False}
        put = client.put("/api/v1/chat/settings/acme", headers=world.auth("admin"), json=settings)
        assert put.status_code == 200, put.text
        yield site


def watch(page: Page) -> list[str]:
    """Every script error, console error and dialog of the page."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    def dialog(d: Any) -> None:
        problems.append(f"dialog: {d.message}")
        d.dismiss()

    page.on("dialog", dialog)
    return problems


def clean(page: Page, problems: list[str]) -> None:
    assert problems == []
    assert page.evaluate("window.__csp") == []


def bubbles(page: Page, who: str) -> list[str]:
    return page.locator(f".tdc-log .tdc-{who}").all_text_contents()


def test_a_customer_chats_with_an_agent_on_a_phone(server, shop, client, world):
    put = client.put("/api/v1/chat/settings/acme", headers=world.auth("admin"), json={"pre_chat_form": True})
    assert put.status_code == 200, put.text
    desk = Desk(server, world.tokens["agent"])
    with sync_playwright() as p:
        browser = launch(p)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            context.add_init_script(WATCH)
            page = context.new_page()
            problems = watch(page)
            page.goto(shop.url("/"))
            page.get_by_role("button", name="Chat with us").click()
            panel = page.get_by_role("dialog", name="Chat")
            expect(panel).to_be_visible()
            # The brand asks who they are first; nothing to type into yet.
            name, email = panel.get_by_label("Your name"), panel.get_by_label("Your email")
            expect(email).to_be_visible()
            expect(panel.get_by_label("Message")).to_be_hidden()
            start = panel.get_by_role("button", name="Start chat")
            name.fill("Maria <b>Rossi</b>")
            email.fill("not an address")
            start.click()  # the browser's own check refuses it: still the form
            assert email.evaluate("e => e.validity.typeMismatch") is True
            expect(panel.get_by_label("Message")).to_be_hidden()
            email.fill("maria@example")  # a browser lets this through; the server does not
            start.click()
            expect(panel.locator(".tdc-form-error")).to_contain_text("not an email address")
            expect(email).to_be_visible()
            expect(email).to_have_attribute("aria-invalid", "true")
            email.fill("maria@example.com")
            start.click()
            message = panel.get_by_label("Message")
            expect(message).to_be_visible()
            expect(email).to_be_hidden()

            message.fill("I was charged twice for my invoice, please refund the duplicate payment.")
            message.press("Enter")
            expect(panel.locator(".tdc-customer")).to_have_text(
                ["I was charged twice for my invoice, please refund the duplicate payment."])
            offered = desk.next("chat_offered")
            conversation = offered["conversation"]
            assert offered["customer"] == "Maria <b>Rossi</b>"
            expect(panel.locator(".tdc-note")).to_have_text(["agent joined the chat"])
            desk.send(type="typing", conversation=conversation, active=True)
            expect(panel.locator(".tdc-status")).to_have_text("The agent is typing…")
            desk.send(type="message", conversation=conversation, text="Sorry about that: " + XSS, client_id="a1")
            expect(panel.locator(".tdc-agent")).to_have_text(["Sorry about that: " + XSS])
            expect(panel.locator(".tdc-status")).to_have_text("")
            # The widget tells the agent it was delivered and, the window being open, read.
            reply = desk.next("ack", client_id="a1")
            desk.next("event", conversation=conversation, kind="read", up_to=reply["seq"])

            message.fill(XSS)
            panel.get_by_role("button", name="Send").click()
            expect(panel.locator(".tdc-customer")).to_have_count(2)
            assert desk.next("event", conversation=conversation, kind="message", text=XSS)["from"] == "customer"
            # Both ways HTML stayed text: no element made of it, no script run, no dialog.
            assert page.locator(".tdc-log img, .tdc-log script, .tdc-log b").count() == 0
            assert page.evaluate("window.__xss") is None
            assert bubbles(page, "customer")[1] == XSS

            # On the phone the window is the screen: nothing outside it, nothing to scroll sideways.
            box = panel.bounding_box()
            assert box is not None and box["x"] >= 0 and box["y"] >= 0
            assert box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
            for part in (message, panel.get_by_role("button", name="Send"), panel.get_by_label("Close")):
                inner = part.bounding_box()
                assert inner is not None and inner["x"] + inner["width"] <= 390 and inner["y"] + inner["height"] <= 844
            assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
            panel.get_by_label("Close").click()
            expect(panel).to_be_hidden()
            clean(page, problems)
        finally:
            browser.close()
            desk.close()


def test_a_dropped_connection_a_restart_and_a_reload_show_every_message_once(server, shop, world):
    desk = Desk(server, world.tokens["agent"])
    with sync_playwright() as p:
        browser = launch(p)
        try:
            context = browser.new_context()
            context.add_init_script(WATCH)
            page = context.new_page()
            problems = watch(page)
            page.goto(shop.url("/"))
            page.get_by_role("button", name="Chat with us").click()
            panel = page.get_by_role("dialog", name="Chat")
            message = panel.get_by_label("Message")
            message.fill(FIRST)
            message.press("Enter")
            conversation = desk.next("chat_offered")["conversation"]
            desk.send(type="message", conversation=conversation, text="reply 0", client_id="r0")
            expect(panel.locator(".tdc-agent")).to_have_text(["reply 0"])

            # The network goes away under the widget (its socket dropped, no new one can connect) ...
            page.evaluate("window.__down = true; window.__sockets.forEach(s => s.close())")
            expect(panel.locator(".tdc-status")).to_have_text("Reconnecting…")
            # ... the customer writes meanwhile, the agent answers twice ...
            message.fill(SECOND)
            message.press("Enter")
            for n in (1, 2):
                desk.send(type="message", conversation=conversation, text=f"reply {n}", client_id=f"r{n}")
                desk.next("ack", client_id=f"r{n}")
            # ... and comes back: everything arrives, once each way.
            page.evaluate("window.__down = false")
            expect(panel.locator(".tdc-agent")).to_have_text(["reply 0", "reply 1", "reply 2"], timeout=LATER)
            desk.next("event", conversation=conversation, kind="message", text=SECOND)
            expect(panel.locator(".tdc-status")).to_have_text("")

            # The server restarts under both of them.
            server.stop()
            expect(panel.locator(".tdc-status")).to_have_text("Reconnecting…")
            # Closed and opened again meanwhile: still one socket (the pending retry), not a second one.
            panel.get_by_label("Close").click()
            page.get_by_role("button", name="Chat with us").click()
            server.start()
            seen, heard = desk.last_seq(conversation), desk.messages(conversation, "customer")
            desk.close()
            desk = Desk(server, world.tokens["agent"], after={conversation: seen})
            desk.send(type="message", conversation=conversation, text="reply 3", client_id="r3")
            expect(panel.locator(".tdc-agent")).to_have_text(["reply 0", "reply 1", "reply 2", "reply 3"],
                                                             timeout=LATER)
            expect(panel.locator(".tdc-status")).to_have_text("")
            assert page.evaluate("window.__sockets.filter(s => s.readyState <= WebSocket.OPEN).length") == 1

            # Another page of the shop (a reload): the conversation is still there, whole, once.
            page.reload()
            page.get_by_role("button", name="Chat with us").click()
            expect(panel.locator(".tdc-agent")).to_have_text(["reply 0", "reply 1", "reply 2", "reply 3"])
            expect(panel.locator(".tdc-customer")).to_have_text([FIRST, SECOND])
            expect(panel.locator(".tdc-note")).to_have_text(["agent joined the chat"])
            assert heard + desk.messages(conversation, "customer") == [FIRST, SECOND]
            assert bubbles(page, "agent") == ["reply 0", "reply 1", "reply 2", "reply 3"]
            # The browser logs the sockets the missing network and the stopped server refused; nothing else.
            clean(page, [p for p in problems if not re.search(r"WebSocket connection to .* failed", p)])
        finally:
            browser.close()
            desk.close()


def test_a_site_the_brand_did_not_allow_is_told_chat_is_not_available(server, shop):
    with sync_playwright() as p:
        browser = launch(p)
        try:
            context = browser.new_context()
            context.add_init_script(WATCH)
            page = context.new_page()
            problems = watch(page)
            page.goto(shop.url("/", host="localhost"))  # the same site under another origin
            page.get_by_role("button", name="Chat with us").click()
            panel = page.get_by_role("dialog", name="Chat")
            expect(panel.locator(".tdc-status")).to_have_text("Chat is not available on this site.")
            # Refused for good: no retries, nothing to type into.
            assert page.evaluate("window.__sockets.length") == 1
            expect(panel.get_by_label("Message")).to_be_hidden()
            assert problems == []
        finally:
            browser.close()
