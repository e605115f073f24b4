"""Live updates over a real server: GET /live streams Server-Sent Events to the signed-in agent (an offer when a
ticket is assigned to them, a customer's message on their ticket or on the ticket they have open), scoped to what
they may see; the stream holds no request slot and ends when the client leaves or the server shuts down."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2 as httpx
import pytest

from tests.browser import serving
from tests.conftest import contact
from tests.pages import PASSWORD, csrf_of, set_password
from tests.workspace.helpers import ticket
from tierdesk.app import create_app
from tierdesk.jobs.live import LocalBus
from tierdesk.workspace import live


@pytest.fixture
def served(database, settings):
    # Over plain HTTP on loopback, so the session cookie is not Secure.
    with serving(create_app(database, settings.model_copy(update={"secure_cookies": False}))) as running:
        yield running.url


@contextmanager
def signed_in(url: str, email: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10, follow_redirects=True) as browser:
        token = csrf_of(browser.get("/sign-in").text)
        done = browser.post("/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token})
        assert done.status_code == 200 and "My work" in done.text
        yield browser


@contextmanager
def listening(browser: httpx.Client, path: str, until: str) -> Iterator[list[dict]]:
    """Streams `path` in a thread, collecting events until one of type `until` arrives."""
    heard: list[dict] = []
    ready = threading.Event()

    def run() -> None:
        with browser.stream("GET", path) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            ready.set()  # headers come with the first bytes, after the subscriptions are made
            kind = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    heard.append({"event": kind, **json.loads(line[6:])})
                    if kind == until:
                        return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "the stream did not start"
    yield heard
    thread.join(10)
    assert not thread.is_alive(), f"no {until} event arrived; heard {heard}"


def test_an_agent_hears_an_offer_when_a_ticket_is_assigned_to_them(served, world, database):
    set_password(database, world.agents["agent"])
    waiting = ticket(database, subject="Assign me")
    with signed_in(served, "agent@example.com") as browser, httpx.Client(base_url=served, timeout=10) as api:
        with listening(browser, "/live", until="offer") as heard:
            r = api.patch(f"/api/v1/tickets/{waiting}", headers=world.auth("lead"),
                          json={"assignee_id": world.agents["agent"]})
            assert r.status_code == 200, r.text
    offer = heard[-1]
    assert offer["event"] == "offer" and offer["type"] == "offer" and offer["ticket_id"] == waiting
    assert offer["by"] == "agent"


def test_a_customer_message_reaches_the_assignee_and_whoever_has_the_ticket_open(served, world, database):
    for who in ("agent", "lead"):
        set_password(database, world.agents[who])
    mine = ticket(database, assignee=world.agents["agent"], subject="Ongoing")
    with signed_in(served, "agent@example.com") as agent, signed_in(served, "lead@example.com") as lead, \
            httpx.Client(base_url=served, timeout=10) as api:
        with listening(agent, "/live", until="message") as to_agent, \
                listening(lead, f"/live?ticket={mine}", until="message") as to_lead:
            r = api.post("/api/v1/contacts", headers=world.auth("admin"),
                         json=contact(thread_ref=f"ticket:{mine}", body="Any news on this?"))
            assert r.status_code in (200, 201), r.text
            assert r.json()["ticket"]["id"] == mine
    for heard in (to_agent, to_lead):
        assert [(e["type"], e["ticket_id"]) for e in heard] == [("message", mine)]


def test_the_stream_is_scoped_and_needs_a_signed_in_agent(served, world, database):
    set_password(database, world.agents["globex_agent"])
    acme = ticket(database, subject="Acme only")
    with httpx.Client(base_url=served, timeout=10, follow_redirects=False) as nobody:
        away = nobody.get("/live", follow_redirects=False)
        assert away.status_code == 303 and away.headers["location"] == "/?next=%2Flive"
    with signed_in(served, "globex_agent@example.com") as browser:
        assert browser.get(f"/live?ticket={acme}").status_code == 404
        assert browser.get("/live?ticket=abc").status_code == 422


def test_a_stream_ends_when_the_server_shuts_down_and_forgets_its_subscriptions(database):
    bus = LocalBus(database)

    async def run() -> list[str]:
        closing = asyncio.Event()
        stream = live._stream(bus, ["agent:7", "ticket:9"], closing)
        chunks = [await anext(stream)]
        assert "retry:" in chunks[0]
        bus.publish_now("agent:7", json.dumps({"type": "offer", "ticket_id": 9, "at": "x"}))
        bus.publish_now("ticket:9", json.dumps({"type": "offer", "ticket_id": 9, "at": "x"}))  # the same: once
        chunks.append(await anext(stream))
        closing.set()
        chunks += [chunk async for chunk in stream]
        return chunks

    chunks = asyncio.run(run())
    assert chunks[1] == 'event: offer\ndata: {"type": "offer", "ticket_id": 9, "at": "x"}\n\n'
    assert len(chunks) == 2
    assert not bus._subscribers  # unsubscribed when the stream ended


def test_a_quiet_stream_sends_heartbeats(database, monkeypatch):
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(live, "_TICK", 0.02)
    bus = LocalBus(database)

    async def run() -> str:
        stream = live._stream(bus, ["agent:1"], asyncio.Event())
        await anext(stream)
        beat = await anext(stream)
        await stream.aclose()
        return beat

    assert asyncio.run(run()) == ": heartbeat\n\n"
    assert not bus._subscribers


def test_sla_alarms_and_offers_are_published_for_the_assignee_and_the_ticket(world, database):
    import time

    import tierdesk.hooks  # noqa: F401 (registers the observer, as every process does)
    from tierdesk.jobs import live as bus_module
    from tierdesk.kit.actors import SYSTEM_ACTOR
    from tierdesk.kit.vocabulary import EventKind
    from tierdesk.tickets import mutations
    from tierdesk.tickets.models import Ticket

    me = world.agents["agent"]
    mine = ticket(database, assignee=me)
    bus = bus_module.acquire(database)
    heard: list[tuple[str, dict]] = []
    stops = [bus.subscribe(topic, lambda t, text: heard.append((t, json.loads(text))))
             for topic in (f"agent:{me}", f"ticket:{mine}")]
    try:
        if hasattr(bus, "listening"):
            assert bus.listening.wait(10)
        with database.transaction() as db:
            t = db.get(Ticket, mine)
            mutations.record_event(db, t, EventKind.SLA_WARNING, SYSTEM_ACTOR, after={"metric": "first_response"})
            mutations.assign(db, t, None, SYSTEM_ACTOR)
            mutations.assign(db, t, me, SYSTEM_ACTOR)
        with database.transaction() as db:  # rolled back: nothing is published
            mutations.record_event(db, db.get(Ticket, mine), EventKind.SLA_BREACH, SYSTEM_ACTOR)
            db.rollback()
        deadline = time.monotonic() + 10
        while len(heard) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        for stop in stops:
            stop()
        bus_module.release(bus)
    kinds = sorted((topic, e["type"], e.get("level"), e.get("metric"), e.get("by")) for topic, e in heard)
    assert kinds == [(f"agent:{me}", "offer", None, None, "router"),
                     (f"agent:{me}", "sla", "warning", "first_response", None),
                     (f"ticket:{mine}", "sla", "warning", "first_response", None)]


def test_open_streams_hold_no_request_slot(served, world, database, settings):
    set_password(database, world.agents["agent"])
    with signed_in(served, "agent@example.com") as browser:
        streams = []
        try:
            for _ in range(settings.request_threads + 2):  # more streams than request slots
                stream = browser.stream("GET", "/live")
                response = stream.__enter__()
                assert response.status_code == 200
                streams.append(stream)
            page = browser.get("/queues", timeout=5)
            assert page.status_code == 200 and "<h1>Queues</h1>" in page.text
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)
