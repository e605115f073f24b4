"""Live chat over real WebSockets (the `websockets` client) against a real `tierdesk serve` process: a whole
conversation, reconnects in the middle, a server restarted under the clients, and the guard rails."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from websockets.exceptions import ConnectionClosedError

from tests.channels.chat.helpers import Server, agent, customer
from tierdesk.agents import presence
from tierdesk.channels.chat.models import ChatConversation, ChatEvent
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.vocabulary import EventKind, OutboxTopic, PresenceStatus, TicketStatus
from tierdesk.tickets.models import Message, Ticket, TicketEvent
from tierdesk.tickets.schemas import DispositionCreate
from tierdesk.tickets.service import create_disposition

BILLING = "I was charged twice for my invoice this month, please refund the duplicate payment."


@pytest.fixture
def server(tmp_path, database_url, world, database):
    with database.transaction() as db:
        presence.set_presence(db, SYSTEM, world.agents["agent"], PresenceStatus.AVAILABLE)
        create_disposition(db, SYSTEM, DispositionCreate(brand="acme", code="refunded", label="Refund issued"))
    running = Server(tmp_path, database_url).start()
    yield running
    running.stop()


def _ticket(database, ticket_id: int) -> Ticket:
    with database.transaction(write=False) as db:
        return db.get_one(Ticket, ticket_id)


def test_a_whole_conversation_customer_and_agent(server, world, database):
    async def scene():
        desk = await agent(server.url, world.tokens["agent"])  # signed in before the chat exists
        assert desk.frames[0]["chats"] == []
        maria = await customer(server.url)
        await maria.send(type="start", visitor="visitor-maria-1", name="Maria", email="maria@example.com")
        started = await maria.next("started")
        conversation = started["conversation"]
        await maria.send(type="message", text=BILLING, client_id="m1")
        ack = await maria.next("ack", client_id="m1")
        assert ack["seq"] == 1
        first = await maria.next("event", kind="message", seq=1)
        assert first["text"] == BILLING and first["from"] == "customer"
        joined = await maria.next("event", kind="agent_joined")
        assert joined["agent_id"] == world.agents["agent"] and joined["name"] == "agent"

        offered = await desk.next("chat_offered")  # the router gave it to them
        assert offered["conversation"] == conversation and offered["customer"] == "Maria"
        assert offered["ticket_id"] == ack["ticket_id"]
        seen = await desk.next("event", conversation=conversation, seq=1)
        assert seen["text"] == BILLING
        await desk.send(type="typing", conversation=conversation, active=True)
        typing = await maria.next("typing")
        assert typing["from"] == "agent" and typing["active"] is True
        await desk.send(type="message", conversation=conversation, text="Sorry about that: refunded.",
                        client_id="a1")
        reply_ack = await desk.next("ack", client_id="a1")
        reply = await maria.next("event", kind="message", **{"from": "agent"})
        assert reply["seq"] == reply_ack["seq"] and reply["text"] == "Sorry about that: refunded."
        await maria.send(type="read", seq=reply["seq"])
        read = await desk.next("event", conversation=conversation, kind="read")
        assert read["up_to"] == reply["seq"] and read["from"] == "customer"

        await desk.send(type="end", conversation=conversation, disposition="refunded")
        ended = await maria.next("event", kind="ended")
        assert ended["from"] == "agent" and ended["continues_by_email"] is False
        await desk.next("event", conversation=conversation, kind="ended")
        # Every event both sides saw, in order, once.
        assert [e["seq"] for e in maria.events()] == list(range(1, ended["seq"] + 1))
        assert [e["seq"] for e in desk.events(conversation)] == list(range(1, ended["seq"] + 1))
        await maria.close()
        await desk.close()
        return conversation, ack["ticket_id"]

    conversation, ticket_id = asyncio.run(scene())
    ticket = _ticket(database, ticket_id)
    assert ticket.channel == "chat" and ticket.status is TicketStatus.SOLVED
    assert ticket.disposition_id is not None and ticket.first_response_at is not None
    with database.transaction(write=False) as db:
        kinds = list(db.scalars(sa.select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id)
                                .order_by(TicketEvent.id)))
        messages = list(db.scalars(sa.select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)))
        chat = db.get_one(ChatConversation, conversation)
        outbox = list(db.scalars(sa.select(OutboxMessage)))
    assert EventKind.CHAT_STARTED in kinds and EventKind.TRIAGED in kinds and EventKind.CHAT_ENDED in kinds
    assert EventKind.ASSIGNEE_CHANGED in kinds and EventKind.REPLY_SENT in kinds
    assert [(m.direction.value, m.body_text) for m in messages] == [
        ("inbound", BILLING), ("outbound", "Sorry about that: refunded.")]
    assert chat.status == "ended" and chat.ended_by == "agent" and chat.ended_by_agent_id == world.agents["agent"]
    assert outbox == []  # a chat reply is no email


def test_html_from_the_customer_is_stored_and_shown_as_text(server, world, database):
    script = "<b>bold</b> <script>alert(1)</script> refund my invoice"

    async def scene():
        c = await customer(server.url)
        await c.send(type="start", visitor="visitor-html-01")
        await c.next("started")
        await c.send(type="message", text=script, client_id="x")
        ack = await c.next("ack")
        event = await c.next("event", kind="message")
        await c.close()
        return ack["ticket_id"], event

    ticket_id, event = asyncio.run(scene())
    assert event["text"] == script  # the widget puts it in textContent: shown as typed
    with database.transaction(write=False) as db:
        message = db.scalars(sa.select(Message).where(Message.ticket_id == ticket_id)).one()
    assert message.body_text == script
    assert "<script>" not in message.body_html and "&lt;script&gt;" in message.body_html
    assert "<b>" not in message.body_html


def test_a_reconnect_in_the_middle_loses_nothing_and_doubles_nothing(server, world, database):
    async def scene():
        c = await customer(server.url)
        await c.send(type="start", visitor="visitor-reconnect")
        started = await c.next("started")
        conversation, token = started["conversation"], started["token"]
        await c.send(type="message", text=BILLING, client_id="m1")
        await c.next("event", kind="agent_joined")
        desk = await agent(server.url, world.tokens["agent"])
        await desk.next("event", conversation=conversation, kind="agent_joined")
        last = c.last_seq[conversation]
        await c.close()  # the phone sleeps
        # Meanwhile the agent writes three messages.
        acks = []
        for n in range(3):
            await desk.send(type="message", conversation=conversation, text=f"reply {n}", client_id=f"r{n}")
            acks.append((await desk.next("ack", client_id=f"r{n}"))["seq"])
        # The agent's resend of a message whose ack it missed is not stored twice either.
        await desk.send(type="message", conversation=conversation, text="reply 2", client_id="r2")
        assert (await desk.next("ack", client_id="r2"))["seq"] == acks[2]
        # The customer comes back with the last seq it saw, resends its last message (lost ack) and writes again.
        back = await customer(server.url)
        await back.send(type="resume", conversation=conversation, token=token, after=last)
        resumed = await back.next("resumed")
        await back.send(type="message", text=BILLING, client_id="m1")  # the same client_id: not stored twice
        again = await back.next("ack", client_id="m1")
        assert again["seq"] == 1
        await back.send(type="message", text="thanks!", client_id="m2")
        await back.next("ack", client_id="m2")
        thanks = await desk.next("event", conversation=conversation, kind="message", text="thanks!")
        await back.next("event", seq=thanks["seq"])
        # A second agent connection that had seen up to `last` gets the rest, once.
        desk2 = await agent(server.url, world.tokens["agent"], after={conversation: last})
        await desk2.next("event", conversation=conversation, seq=thanks["seq"])
        for client in (c, back, desk2):
            await client.close()
        await desk.close()
        return c.events(), back.events(), desk2.events(conversation), resumed["last_seq"], thanks["seq"], last

    before, after, agent_view, last_seq_on_resume, final, last = asyncio.run(scene())
    assert last_seq_on_resume == last + 3
    seqs = [e["seq"] for e in before] + [e["seq"] for e in after]
    assert seqs == list(range(1, final + 1))  # nothing lost, nothing twice
    assert [e["text"] for e in after if e["kind"] == "message"] == ["reply 0", "reply 1", "reply 2", "thanks!"]
    assert [e["seq"] for e in agent_view] == list(range(last + 1, final + 1))


def test_a_server_restarted_under_the_clients(server, world, database):
    async def scene():
        c = await customer(server.url)
        await c.send(type="start", visitor="visitor-restart")
        started = await c.next("started")
        conversation, token = started["conversation"], started["token"]
        await c.send(type="message", text=BILLING, client_id="m1")
        await c.next("event", kind="agent_joined")
        desk = await agent(server.url, world.tokens["agent"])
        await desk.next("event", conversation=conversation, kind="agent_joined")
        await desk.send(type="message", conversation=conversation, text="before", client_id="b")
        await c.next("event", kind="message", text="before")
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)
        customer_seen, agent_seen = c.last_seq[conversation], desk.last_seq[conversation]
        c2 = await customer(server.url)
        await c2.send(type="resume", conversation=conversation, token=token, after=customer_seen)
        await c2.next("resumed")
        desk2 = await agent(server.url, world.tokens["agent"], after={conversation: agent_seen})
        await desk2.send(type="message", conversation=conversation, text="after", client_id="a")
        got = await c2.next("event", kind="message", text="after")
        await c2.send(type="message", text="still here", client_id="m2")
        await desk2.next("event", conversation=conversation, kind="message", text="still here")
        for client in (c2, desk2):
            await client.close()
        return c.events() + c2.events(), desk.events(conversation) + desk2.events(conversation), got["seq"]

    customer_view, agent_view, _ = asyncio.run(scene())
    for view in (customer_view, agent_view):
        seqs = [e["seq"] for e in view]
        assert seqs == list(range(1, seqs[-1] + 1)), seqs


def test_an_origin_the_brand_does_not_allow_is_refused(server, world, client):
    async def refused(origin: str) -> int:
        # Closed right after the handshake (a browser's script can read the code; a refused handshake it cannot).
        with pytest.raises(ConnectionClosedError) as refusal:
            await customer(server.url, origin=origin)
        assert refusal.value.rcvd is not None
        return refusal.value.rcvd.code

    assert asyncio.run(refused("https://evil.example")) == 4403
    put = client.put("/api/v1/chat/settings/acme", headers=world.auth("admin"),
                     json={"allowed_origins": ["https://shop.acme.example"]})
    assert put.status_code == 200, put.text
    assert put.json()["allowed_origins"] == ["https://shop.acme.example"]
    assert client.put("/api/v1/chat/settings/acme", headers=world.auth("agent"),
                      json={"allowed_origins": []}).status_code == 403
    bad = client.put("/api/v1/chat/settings/acme", headers=world.auth("admin"),
                     json={"allowed_origins": ["shop.acme.example/path"]})
    assert bad.status_code == 422 and "not an origin" in bad.text

    async def allowed():
        c = await customer(server.url, origin="https://shop.acme.example")
        await c.close()
        return await refused("https://other.acme.example")

    assert asyncio.run(allowed()) == 4403


def test_bad_frames_get_an_error_naming_what_is_wrong(server, world):
    async def scene():
        c = await customer(server.url)
        await c.ws.send("not json")
        assert (await c.next("error"))["code"] == "bad_frame"
        await c.send(type="message", text="hi")
        assert (await c.next("error"))["message"].startswith('first "start"')
        await c.send(type="start", visitor="visitor-bad-frames", email="not an address")
        error = await c.next("error")
        assert error["code"] == "invalid" and error["field"] == "email"
        await c.send(type="start", visitor="visitor-bad-frames")
        await c.next("started")
        await c.send(type="message", text="x" * 4001, client_id="big")
        error = await c.next("error")
        assert error["code"] == "invalid" and error["field"] == "text" and error["client_id"] == "big"
        await c.ws.send('{"type": "message", "text": "' + "y" * 20000 + '"}')
        assert (await c.next("error"))["code"] == "too_large"
        await c.send(type="wave")
        assert "unknown frame type 'wave'" in (await c.next("error"))["message"]
        await c.send(type="read", seq=99)
        assert (await c.next("error"))["field"] == "seq"
        # Still connected and working.
        await c.send(type="message", text=BILLING, client_id="ok")
        await c.next("ack", client_id="ok")
        await c.close()

    asyncio.run(scene())


def test_a_connection_sending_too_fast_is_limited(tmp_path, database_url, world):
    limited = Server(tmp_path, database_url, TIERDESK_CHAT_RATE_LIMIT="5",
                     TIERDESK_CHAT_RATE_WINDOW_SECONDS="3600").start()
    try:
        async def scene():
            c = await customer(limited.url)
            await c.send(type="start", visitor="visitor-rate-limit")
            await c.next("started")
            for _ in range(6):
                await c.send(type="typing", active=True)
            error = await c.next("error")
            assert error["code"] == "rate_limited"
            await c.close()

        asyncio.run(scene())
    finally:
        limited.stop()


def test_a_customer_who_leaves_continues_by_email_with_the_transcript(tmp_path, database_url, world, database):
    quick = Server(tmp_path, database_url, TIERDESK_CHAT_CUSTOMER_GRACE_SECONDS="0.2").start()
    try:
        async def scene():
            c = await customer(quick.url)
            await c.send(type="start", visitor="visitor-leaves", name="Lena", email="lena@example.com")
            started = await c.next("started")
            await c.send(type="message", text=BILLING, client_id="m1")
            ack = await c.next("ack")
            await c.close()
            return started["conversation"], ack["ticket_id"]

        conversation, ticket_id = asyncio.run(scene())
        assert _wait_for(database, lambda db: db.get_one(ChatConversation, conversation).status == "ended")
    finally:
        quick.stop()
    with database.transaction(write=False) as db:
        chat = db.get_one(ChatConversation, conversation)
        rows = list(db.scalars(sa.select(OutboxMessage)))
        ended = db.scalars(sa.select(ChatEvent).where(ChatEvent.conversation_id == conversation,
                                                      ChatEvent.kind == "ended")).one()
    assert chat.continued_by_email and chat.ended_by == "system"
    assert ended.data["continues_by_email"] is True
    [mail] = [r for r in rows if r.topic == OutboxTopic.EMAIL_ACKNOWLEDGE]
    assert mail.payload["ticket_id"] == ticket_id
    assert "Lena: " + BILLING in mail.payload["transcript"]


def test_no_agent_within_the_wait_offers_email_and_the_customer_takes_it(tmp_path, database_url, world, database):
    quick = Server(tmp_path, database_url, TIERDESK_CHAT_MAX_WAIT_SECONDS="0.2").start()  # nobody is available
    try:
        async def scene():
            c = await customer(quick.url)
            await c.send(type="start", visitor="visitor-no-agent")
            await c.next("started")
            await c.send(type="message", text=BILLING, client_id="m1")
            waiting = await c.next("waiting")
            assert waiting["position"] == 1 and waiting["expected_wait_seconds"] > 0
            offer = await c.next("event", kind="email_offered")
            assert offer["needs_email"] is True and "within" in offer["reason"]
            await c.send(type="email")
            assert (await c.next("error"))["field"] == "email"
            await c.send(type="email", email="sam@example.com")
            ended = await c.next("event", kind="ended")
            assert ended["continues_by_email"] is True
            await c.close()

        asyncio.run(scene())
    finally:
        quick.stop()
    with database.transaction(write=False) as db:
        rows = list(db.scalars(sa.select(OutboxMessage)))
    assert [r.topic for r in rows] == [OutboxTopic.EMAIL_ACKNOWLEDGE]


def _wait_for(database, condition, tries: int = 300) -> bool:
    import time

    for _ in range(tries):
        with database.transaction(write=False) as db:
            if condition(db):
                return True
        time.sleep(0.1)
    return False
