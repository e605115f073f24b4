"""The chat's other paths over real sockets: two `serve` processes sharing chats through LISTEN/NOTIFY, an agent
answering through the REST reply path, business hours, the agent's authentication, the widget's files."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.channels.chat.helpers import Client, Server, agent, customer
from tests.channels.chat.test_chat_live import BILLING
from tierdesk.agents import presence
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.vocabulary import PresenceStatus
from tierdesk.sla.schemas import CalendarCreate
from tierdesk.sla.service import create_calendar


@pytest.fixture
def available(world, database):
    with database.transaction() as db:
        presence.set_presence(db, SYSTEM, world.agents["agent"], PresenceStatus.AVAILABLE)
    return world


async def _chat_with_agent(customer_url: str, agent_url: str, token: str, visitor: str) -> tuple[Client, Client, int]:
    c = await customer(customer_url)
    await c.send(type="start", visitor=visitor, name="Kim")
    conversation = (await c.next("started"))["conversation"]
    await c.send(type="message", text=BILLING, client_id="m1")
    await c.next("event", kind="agent_joined")
    desk = await agent(agent_url, token)
    await desk.next("event", conversation=conversation, kind="agent_joined")
    return c, desk, conversation


def test_two_server_processes_share_chats_through_listen_notify(tmp_path, database_url, available):
    if not database_url.startswith("postgresql"):
        pytest.skip("several server processes need PostgreSQL")
    a = Server(tmp_path, database_url).start()
    b = Server(tmp_path, database_url).start(worker=False)
    try:
        async def scene():
            # The customer is on process A, the agent on process B: every event crosses by NOTIFY.
            c, desk, conversation = await _chat_with_agent(a.url, b.url, available.tokens["agent"], "visitor-two-a")
            await desk.send(type="typing", conversation=conversation, active=True)
            assert (await c.next("typing"))["from"] == "agent"
            for n in range(5):
                await desk.send(type="message", conversation=conversation, text=f"from B {n}", client_id=f"b{n}")
                await c.send(type="message", text=f"from A {n}", client_id=f"a{n}")
            await c.next("event", kind="message", text="from B 4")
            await desk.next("event", conversation=conversation, kind="message", text="from A 4")
            # Drain until both have seen the same last seq.
            last = max(c.last_seq[conversation], desk.last_seq[conversation])
            while c.last_seq[conversation] < last:
                await c.next("event")
            while desk.last_seq[conversation] < last:
                await desk.next("event")
            await c.close()
            await desk.close()
            return c.events(), desk.events(conversation)

        customer_view, agent_view = asyncio.run(scene())
    finally:
        b.stop()
        a.stop()
    assert [e["seq"] for e in customer_view] == list(range(1, len(customer_view) + 1))
    assert [e["seq"] for e in agent_view] == [e["seq"] for e in customer_view]
    texts = [e["text"] for e in customer_view if e["kind"] == "message"]
    assert sorted(texts[1:]) == sorted([f"from B {n}" for n in range(5)] + [f"from A {n}" for n in range(5)])


def test_an_agent_answering_through_the_rest_api_answers_in_the_chat(tmp_path, database_url, available):
    server = Server(tmp_path, database_url).start()
    try:
        async def scene():
            c, desk, conversation = await _chat_with_agent(server.url, server.url, available.tokens["agent"],
                                                           "visitor-rest-reply")
            ticket_id = desk.frames[0]["chats"][0]["ticket_id"] if desk.frames[0]["chats"] else None
            assert ticket_id is not None
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.port}/api/v1/tickets/{ticket_id}/messages",
                data=json.dumps({"body": "Answered from the ticket page."}).encode(), method="POST",
                headers={"Authorization": f"Bearer {available.tokens['agent']}", "Content-Type": "application/json"})
            with await asyncio.to_thread(urllib.request.urlopen, request) as response:
                assert response.status == 201
            event = await c.next("event", kind="message", text="Answered from the ticket page.")
            assert event["from"] == "agent" and event["name"] == "agent"
            await desk.next("event", conversation=conversation, seq=event["seq"])
            await c.close()
            await desk.close()

        asyncio.run(scene())
    finally:
        server.stop()


def test_outside_business_hours_the_widget_is_offered_email(tmp_path, database_url, available, database, client):
    today = dt.datetime.now(dt.UTC).date()
    with database.transaction() as db:
        create_calendar(db, SYSTEM, CalendarCreate(
            brand="acme", slug="office", name="Office", timezone="UTC",
            weekly_hours={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
            holidays=[(today + dt.timedelta(days=n)).isoformat() for n in (-1, 0, 1)]))
    put = client.put("/api/v1/chat/settings/acme", headers=available.auth("admin"), json={"calendar": "office"})
    assert put.status_code == 200, put.text
    assert client.put("/api/v1/chat/settings/acme", headers=available.auth("admin"),
                      json={"calendar": "nope"}).json()["error"]["field"] == "calendar"
    server = Server(tmp_path, database_url).start(worker=False)  # no routing: only the calendar speaks
    try:
        async def scene():
            c = await customer(server.url)
            await c.send(type="start", visitor="visitor-after-hours", email="night@example.com")
            await c.next("started")
            await c.send(type="message", text=BILLING, client_id="m1")
            offer = await c.next("event", kind="email_offered")
            assert "outside business hours" in offer["reason"] and offer["needs_email"] is False
            await c.send(type="email")
            assert (await c.next("event", kind="ended"))["continues_by_email"] is True
            await c.close()

        asyncio.run(scene())
    finally:
        server.stop()


def test_the_agent_socket_needs_a_valid_token(tmp_path, database_url, available):
    server = Server(tmp_path, database_url).start(worker=False)
    try:
        async def scene():
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"{server.url}/channels/chat/ws/agent",
                              additional_headers={"Authorization": "Bearer tdk_wrong"})
            assert refused.value.response.status_code == 403
            # Browsers cannot set headers: the token may come in the first frame instead.
            ws = await connect(f"{server.url}/channels/chat/ws/agent")
            desk = Client(ws)
            await desk.send(type="message", conversation=1, text="hi")
            assert (await desk.next("error"))["field"] == "type"
            await desk.send(type="hello", token="tdk_wrong")
            assert (await desk.next("error"))["code"] == "unauthenticated"
            ws = await connect(f"{server.url}/channels/chat/ws/agent")
            desk = Client(ws)
            await desk.send(type="hello", token=available.tokens["agent"])
            welcome = await desk.next("welcome")
            assert welcome["agent_id"] == available.agents["agent"] and welcome["chats"] == []
            await desk.send(type="message", conversation=999, text="hi")
            assert (await desk.next("error"))["code"] == "not_found"
            await desk.close()

        asyncio.run(scene())
    finally:
        server.stop()


def test_the_widget_is_served_as_plain_files(client):
    script = client.get("/static/chat/widget.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "data-brand" in script.text and "/channels/chat/ws/customer" in script.text
    assert "innerHTML" not in script.text  # what people write is only ever set as text
    css = client.get("/static/chat/widget.css")
    assert css.status_code == 200 and "@media (max-width: 480px)" in css.text


def test_a_customer_signed_in_on_the_brands_site_is_recognised(tmp_path, database_url, available, database, client):
    made = client.post("/api/v1/chat/settings/acme/identity-secret", headers=available.auth("admin"))
    assert made.status_code == 201, made.text
    secret = made.json()["identity_secret"]
    assert client.post("/api/v1/chat/settings/acme/identity-secret",
                       headers=available.auth("agent")).status_code == 403
    made = client.post("/api/v1/chat/settings/acme/identity-secret", headers=available.auth("admin"))
    old, secret = secret, made.json()["identity_secret"]  # a new secret replaces the old one
    with database.transaction() as db:  # the brand already knows this customer by its own id
        from tierdesk.customers.schemas import Sender
        from tierdesk.customers.service import identify

        known = identify(db, available.brands["acme"], Sender(external_id="acct-42", name="Noor"), None).customer.id

    def sign(key: str, value: str) -> str:
        return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()

    server = Server(tmp_path, database_url).start(worker=False)
    try:
        async def scene():
            c = await customer(server.url)
            await c.send(type="start", visitor="visitor-signed", customer={"id": "acct-42",
                                                                        "signature": sign(old, "acct-42")})
            assert (await c.next("error"))["field"] == "customer.signature"
            await c.send(type="start", visitor="visitor-signed", customer={"id": "acct-42"})
            assert (await c.next("error"))["field"] == "customer"
            await c.send(type="start", visitor="visitor-signed", customer={"id": "acct-42",
                                                                        "signature": sign(secret, "acct-42")})
            await c.next("started")
            await c.send(type="message", text=BILLING, client_id="m1")
            ack = await c.next("ack")
            await c.close()
            return ack["ticket_id"]

        ticket_id = asyncio.run(scene())
    finally:
        server.stop()
    with database.transaction(write=False) as db:
        from tierdesk.tickets.models import Ticket

        assert db.get_one(Ticket, ticket_id).customer_id == known
