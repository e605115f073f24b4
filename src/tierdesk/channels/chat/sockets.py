"""The chat's WebSocket endpoints: one per conversation for the customer's widget, one per agent session for all
the agent's chats. Frames are JSON objects with a "type".

Customer: ``/channels/chat/ws/customer?brand=SLUG``. The page's Origin must be one the brand allows (or this
server's own); otherwise the socket is closed right after the handshake with code 4403 (4404: no such brand),
which a browser's script can read (a refused handshake looks to it like any network failure). The first frame
starts or resumes a conversation:

    -> {"type": "start", "visitor": "v-…", "name": "Maria", "email": "maria@example.com"}   (name/email optional
       unless the brand asks for them: hello's "pre_chat_form"; a customer signed in on the brand's site adds
       "customer": {"id": "<the brand's id of them>", "signature": "<hex HMAC-SHA256 of the id with the brand's
       identity secret>"} and the chat is theirs)
    <- {"type": "started", "conversation": 12, "token": "…"}        (keep both to resume)
    -> {"type": "resume", "conversation": 12, "token": "…", "after": 7}
    <- {"type": "resumed", "conversation": 12, "last_seq": 9}, then every event after seq 7, once

Agent: ``/channels/chat/ws/agent``, with ``Authorization: Bearer <API token>`` on the handshake or "token" in the
first frame (browsers cannot set headers on a WebSocket):

    -> {"type": "hello", "token": "tdk_…", "after": {"12": 5}}     (the last seq seen per chat; 0 or absent: all)
    <- {"type": "welcome", "agent_id": 3, "chats": [{"conversation": 12, "ticket_id": 40, "status": "active",
        "last_seq": 9, "customer": "Maria"}]}, then each chat's events after the given seq
    <- {"type": "chat_offered", "conversation": 13, "ticket_id": 41, "customer": "…"} when the router gives them
       a chat; its events (from seq 1) follow.

Both sides then send (the agent adds "conversation": id to each):

    -> {"type": "message", "text": "…", "client_id": "c-1"}   <- {"type": "ack", "client_id": "c-1", "seq": 10}
       (the ack comes after the commit; the customer's resend of a client_id is not stored twice)
    -> {"type": "typing", "active": true}                      (not stored; the other side gets "typing")
    -> {"type": "delivered", "seq": 10}, {"type": "read", "seq": 10}   (stored marks, when they advance)
    customer only:  -> {"type": "email", "email": "…"}  continue by email (after "email_offered", or any time)
                    -> {"type": "end"}                   goodbye: the chat ends, the transcript is mailed
    agent only:     -> {"type": "end", "disposition": "resolved", "reason": "…"}  ends it; the ticket is solved

And receive:

    <- {"type": "event", "conversation": 12, "seq": 10, "kind": "message", "from": "customer"|"agent"|"system",
        "at": "…", …}  kinds: message (text, name, client_id), delivered and read (up_to), agent_joined and
        agent_left (agent_id, name), email_offered (reason, needs_email), ended (reason, continues_by_email)
    <- {"type": "typing", "conversation": 12, "from": "agent", "active": true}
    <- {"type": "waiting", "position": 2, "expected_wait_seconds": 120}   (customer, while no agent has it)
    <- {"type": "error", "code": "invalid"|"too_large"|"rate_limited"|"bad_frame"|…, "message": "…",
        "field": "…"}   a refused frame; the connection stays open

Each event's seq is its place in the conversation's stored log: a client keeps the last it saw and resumes after
it, whichever server process it reconnects to, also after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from tierdesk.agents import repository as agents
from tierdesk.channels.chat import repository, service
from tierdesk.channels.chat.models import ChatConversation
from tierdesk.config import Settings
from tierdesk.db import Database
from tierdesk.jobs.live import LiveBus
from tierdesk.kit.actors import CUSTOMER_ACTOR, Principal
from tierdesk.kit.errors import DomainError, InvalidInput, NotFound
from tierdesk.kit.vocabulary import ActorKind, ChatEventKind, ChatStatus

log = logging.getLogger("tierdesk.chat")

router = APIRouter(prefix="/channels/chat")
_VISITOR = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# Every so often a socket reads its chats' logs whatever it heard: a notification lost on the way (a LISTEN
# connection that broke, a `tierdesk worker` in another process on SQLite) then costs a delay, never an event.
SAFETY_READ_SECONDS = 60.0
T = TypeVar("T")


class Connection:
    """What both endpoints share: the database in threads, sends in order, the live bus, the rate limit, and the
    log pump that sends each watched conversation's events after the last seq sent, once."""

    def __init__(self, websocket: WebSocket, side: ActorKind):
        self.ws = websocket
        self.side = side
        state = websocket.app.state
        self.database: Database = state.database
        self.settings: Settings = state.settings
        self.bus: LiveBus = state.live
        self.loop = asyncio.get_running_loop()
        self.sent: dict[int, int] = {}  # conversation -> last seq sent
        self._told: dict[int, dict[int, str]] = {}  # conversation -> seq -> its frame (JSON), as notified
        self._read: set[int] = set()  # conversations whose log must be read (a notice without its frame, a resync)
        self._acked = asyncio.Event()  # clear while a message is stored and acknowledged: its ack goes out first
        self._acked.set()
        self._wake: asyncio.Queue[int] = asyncio.Queue()
        self._pending: set[int] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._send_lock = asyncio.Lock()
        self._frames: deque[float] = deque()
        self.tasks: set[asyncio.Future[None]] = set()
        self.ticket_id: int | None = None  # the customer's chat's ticket, once its first message opened it

    # -- the database, in threads ------------------------------------------------------------------------------------
    async def db(self, work: Callable[[Any], T], *, write: bool = True) -> T:
        def run() -> T:
            with self.database.transaction(write=write) as session:
                return work(session)

        return await anyio.to_thread.run_sync(run)

    # -- sending -------------------------------------------------------------------------------------------------------
    async def send(self, frame: dict[str, Any]) -> None:
        await self.send_text(json.dumps(frame, default=str))

    async def send_text(self, text: str) -> None:
        async with self._send_lock:
            if self.ws.application_state is WebSocketState.CONNECTED:
                await self.ws.send_text(text)

    async def error(self, code: str, message: str, field: str | None = None, **extra: Any) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if field:
            frame["field"] = field
        frame.update(extra)
        await self.send(frame)

    @contextlib.asynccontextmanager
    async def acking(self) -> AsyncIterator[None]:
        """Store a message and send its ack inside this: the events it made (which the notification may bring
        before the ack is sent) wait, so the writer sees its ack before its own message."""
        self._acked.clear()
        try:
            yield
        finally:
            self._acked.set()

    # -- receiving ---------------------------------------------------------------------------------------------------
    async def frames(self) -> Any:
        """Each well-formed frame as a dict; malformed, oversize and rate-limited ones are answered with an error
        frame and skipped. Ends when the client goes away."""
        limit, window = self.settings.chat_rate_limit, self.settings.chat_rate_window_seconds
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw_bytes = message.get("bytes") or b""
                try:
                    raw = raw_bytes.decode()
                except UnicodeDecodeError:
                    await self.error("bad_frame", "frames are JSON text (UTF-8)", "frame")
                    continue
            now = time.monotonic()
            while self._frames and self._frames[0] <= now - window:
                self._frames.popleft()
            if len(self._frames) >= limit:
                await self.error("rate_limited", f"more than {limit} frames within {window:g} s: this one was "
                                 "dropped; slow down", "frame")
                continue
            self._frames.append(now)
            if len(raw.encode()) > self.settings.chat_max_frame_bytes:
                await self.error("too_large", f"the frame is larger than {self.settings.chat_max_frame_bytes} bytes",
                                 "frame")
                continue
            try:
                frame = json.loads(raw)
            except ValueError as exc:
                await self.error("bad_frame", f"the frame is not valid JSON: {exc}", "frame")
                continue
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                await self.error("bad_frame", 'a frame is a JSON object with a "type"', "type")
                continue
            yield frame

    # -- watching conversations --------------------------------------------------------------------------------------
    def watch(self, conversation_id: int, after: int) -> None:
        """Send this conversation's events after `after`, now and as they come."""
        if conversation_id in self.sent:
            return
        self.sent[conversation_id] = max(0, after)
        self._unsubscribe.append(self.bus.subscribe(service.topic(conversation_id), self._notified))
        self._unsubscribe.append(self.bus.subscribe(service.typing_topic(conversation_id), self._typing))
        self._poke(conversation_id)

    def subscribe(self, topic: str, on_text: Callable[[str], None]) -> None:
        def called(_topic: str, text: str) -> None:
            self.loop.call_soon_threadsafe(on_text, text)

        self._unsubscribe.append(self.bus.subscribe(topic, called))

    def _notified(self, topic: str, text: str) -> None:  # any thread
        conversation_id = int(topic.rpartition(":")[2])
        seq, frame = service.parse_notice(text)
        self.loop.call_soon_threadsafe(self._poke, conversation_id, seq, frame)

    def _typing(self, topic: str, text: str) -> None:  # any thread
        if not text or text == "*":
            return
        conversation_id = int(topic.rpartition(":")[2])
        side, _, active = text.partition(":")
        if side != self.side.value:
            frame = {"type": "typing", "conversation": conversation_id, "from": side, "active": active == "1"}
            self.loop.call_soon_threadsafe(lambda: self.spawn(self.send(frame)))

    def _poke(self, conversation_id: int, seq: int | None = None, frame: str | None = None) -> None:
        if seq is not None and seq <= self.sent.get(conversation_id, 0):
            return  # sent already (read with an earlier notification's batch)
        if seq is not None and frame is not None:
            self._told.setdefault(conversation_id, {})[seq] = frame
        else:
            self._read.add(conversation_id)
        if conversation_id not in self._pending:
            self._pending.add(conversation_id)
            self._wake.put_nowait(conversation_id)

    async def pump(self) -> None:
        """Send what the log holds after each conversation's last sent seq (a notification only says where). If
        the database cannot be read, the socket closes (1011): the client reconnects and resumes from its seq,
        rather than staying open and hearing nothing."""
        self.spawn(self.safety_reads())
        try:
            await self._pump()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("chat socket could not read its events; closing it for the client to resume")
            await self.ws.close(code=1011, reason="the server could not read the chat; reconnect")

    async def safety_reads(self) -> None:
        while True:
            await asyncio.sleep(SAFETY_READ_SECONDS)
            for conversation_id in list(self.sent):
                self._poke(conversation_id)

    async def _pump(self) -> None:
        while True:
            conversation_id = await self._wake.get()
            self._pending.discard(conversation_id)
            await self._acked.wait()
            # Frames that came with their notifications, in seq order from the last sent: sent without a read.
            told = self._told.get(conversation_id, {})
            while (frame_text := told.pop(self.sent[conversation_id] + 1, None)) is not None:
                await self.send_text(frame_text)
                self.sent[conversation_id] += 1
            if told and min(told) > self.sent[conversation_id]:
                self._read.add(conversation_id)  # a gap: a notification was lost or had no room for its frame
            for seq in [s for s in told if s <= self.sent[conversation_id]]:
                del told[seq]
            if conversation_id not in self._read:
                continue
            self._read.discard(conversation_id)
            while True:
                events = await self.db(partial(_frames_after, conversation_id, self.sent[conversation_id]),
                                       write=False)
                for frame in events:
                    if frame["seq"] > self.sent[conversation_id]:
                        await self.send(frame)
                        self.sent[conversation_id] = frame["seq"]
                if len(events) < 500:
                    break

    async def typing(self, conversation_id: int, active: bool) -> None:
        text = f"{self.side.value}:{'1' if active else '0'}"
        await anyio.to_thread.run_sync(self.bus.publish_now, service.typing_topic(conversation_id), text)

    def spawn(self, work: Any) -> None:
        """Run `work` beside the connection (cancelled with it; forgotten once done)."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for task in list(self.tasks):
            task.cancel()


def _frames_after(conversation_id: int, after: int, db: Any) -> list[dict[str, Any]]:
    return [service.frame_of(e) for e in repository.events_after(db, conversation_id, after)]


def _principal(token: str, secret_key: str, db: Any) -> Principal | None:
    return agents.principal_for_token(db, token, secret_key)


def _own_origins(websocket: WebSocket) -> set[str]:
    host = websocket.headers.get("host", "")
    return {f"http://{host}".lower(), f"https://{host}".lower()}


def _client_id(frame: dict[str, Any]) -> str:
    value = frame.get("client_id")
    if value is None:
        return secrets.token_hex(8)
    if not isinstance(value, str) or not _CLIENT_ID.match(value):
        raise InvalidInput("client_id: 1-64 letters, digits, '_', '-', '.', ':'", field="client_id")
    return value


def _text(frame: dict[str, Any], limit: int) -> str:
    text = frame.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a message needs its text", field="text")
    if len(text) > limit:
        raise InvalidInput(f"the message is longer than {limit} characters", field="text")
    return text


def _seq(frame: dict[str, Any]) -> int:
    value = frame.get("seq")
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput("seq: the number of the last event seen", field="seq")
    return value


def _conversation(frame: dict[str, Any]) -> int:
    value = frame.get("conversation")
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput("conversation: the chat's number", field="conversation")
    return value


def _str_field(frame: dict[str, Any], name: str, limit: int) -> str | None:
    value = frame.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{name}: text of at most {limit} characters", field=name)
    return value.strip() or None


# -- the customer's socket ---------------------------------------------------------------------------------------------
@router.websocket("/ws/customer")
async def customer_socket(websocket: WebSocket, brand: str = "") -> None:
    state = websocket.app.state
    origin = websocket.headers.get("origin")

    def check(db: Any) -> tuple[int, bool, bool]:
        found = service.brand_for_widget(db, brand)
        row = service.chat_settings(db, found.id)
        return found.id, service.origin_allowed(db, found, origin, _own_origins(websocket)), bool(
            row and row.pre_chat_form)

    conn = Connection(websocket, ActorKind.CUSTOMER)
    # A refusal is sent as a close code after the handshake, not as an HTTP 403 to it: a browser shows a script
    # only "closed, 1006" for a refused handshake, the same as a network failure, and the widget would retry forever.
    try:
        brand_id, allowed, form = await conn.db(check, write=False)
    except NotFound:
        await websocket.accept()
        await websocket.close(code=4404, reason=f"no brand '{brand[:64]}'")
        return
    if not allowed:
        log.info("chat refused for brand %s from origin %s", brand, origin)
        await websocket.accept()
        await websocket.close(code=4403, reason="this page's origin may not open chats for the brand")
        return
    await websocket.accept()
    await conn.send({"type": "hello", "pre_chat_form": form,
                     "max_message_chars": state.settings.chat_max_message_chars})
    conversation_id: int | None = None
    connection = secrets.token_hex(8)
    conn.spawn(conn.pump())
    try:
        async def handle(frame: dict[str, Any]) -> None:
            nonlocal conversation_id
            kind = frame["type"]
            if kind in ("start", "resume"):
                if conversation_id is not None:
                    raise InvalidInput("this connection has its conversation already", field="type")
                conversation_id = await _open(conn, frame, brand_id, connection)
                conn.spawn(_waiting_updates(conn, conversation_id))
                return
            if conversation_id is None:
                raise InvalidInput('first "start" a conversation or "resume" one', field="type")
            await _customer_frame(conn, conversation_id, kind, frame)

        async for frame in conn.frames():
            await _answered(conn, frame, handle(frame))
    except WebSocketDisconnect:
        pass
    finally:
        conn.close()
        if conversation_id is not None:
            cid = conversation_id
            try:
                await conn.db(lambda db: service.customer_disconnected(db, cid, connection))
            except Exception:  # the grace time then never starts; the agent ends the chat
                log.exception("could not record that the customer left chat %s", cid)


async def _answered(conn: Connection, frame: dict[str, Any], handling: Awaitable[None]) -> None:
    """Run one frame's handling and answer its failure with an error frame, the connection staying open: a domain
    error as itself, a value the schemas refused by its field, anything else logged and answered internal_error."""
    try:
        await handling
    except DomainError as exc:
        await conn.error(exc.code, exc.message, exc.field, **_ref(frame))
    except ValidationError as exc:
        await _invalid(conn, exc, frame)
    except Exception:
        log.exception("chat frame failed")
        await conn.error("internal_error", "something went wrong on our side; it was logged", **_ref(frame))


async def _invalid(conn: Connection, exc: ValidationError, frame: dict[str, Any]) -> None:
    """A value the schemas refused (an email address that is not one): named, as the API names it."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "frame"
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    await conn.error("invalid", f"{field}: {message}", field, **_ref(frame))


def _ref(frame: dict[str, Any]) -> dict[str, Any]:
    ref = frame.get("client_id")
    return {"client_id": ref} if isinstance(ref, str) else {}


async def _open(conn: Connection, frame: dict[str, Any], brand_id: int, connection: str) -> int:
    secret = conn.ws.app.state.secret_key
    if frame["type"] == "start":
        visitor = _str_field(frame, "visitor", 100) or f"chat-{secrets.token_hex(12)}"
        if not _VISITOR.match(visitor):
            raise InvalidInput("visitor: 8-100 letters, digits, '_', '-', '.', ':'", field="visitor")
        visitor = f"chat-visitor:{visitor}"  # apart from the brand's own customer ids
        name = _str_field(frame, "name", 200)
        email = _str_field(frame, "email", 320)
        signed = frame.get("customer")
        if signed is not None and not (isinstance(signed, dict) and isinstance(signed.get("id"), str)
                                       and isinstance(signed.get("signature"), str) and 0 < len(signed["id"]) <= 200):
            raise InvalidInput('customer: {"id": the brand\'s id of the signed-in customer, "signature": its '
                               "HMAC-SHA256 with the brand's identity secret}", field="customer")

        def started(db: Any) -> service.Started:
            from tierdesk.brands.models import Brand

            brand = db.get_one(Brand, brand_id)
            who = visitor
            if signed is not None:  # a customer signed in on the brand's site: the chat is theirs
                who = service.signed_customer(db, secret, brand, signed["id"], signed["signature"])
            made = service.start(db, secret, brand, visitor=who, name=name, email=email)
            service.customer_connected(db, made.conversation_id, connection)
            return made

        made = await conn.db(started)
        await conn.send({"type": "started", "conversation": made.conversation_id, "token": made.token})
        conn.watch(made.conversation_id, 0)
        return made.conversation_id
    conversation_id = _conversation(frame)
    token = _str_field(frame, "token", 200) or ""
    after = frame.get("after", 0)
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise InvalidInput("after: the last seq this client saw (0 for all)", field="after")

    def resumed(db: Any) -> int:
        from tierdesk.brands.models import Brand

        conversation = service.resume(db, secret, db.get_one(Brand, brand_id), conversation_id, token)
        service.customer_connected(db, conversation.id, connection)
        return conversation.last_seq

    last_seq = await conn.db(resumed)
    await conn.send({"type": "resumed", "conversation": conversation_id, "last_seq": last_seq})
    conn.watch(conversation_id, after)
    return conversation_id


async def _customer_frame(conn: Connection, conversation_id: int, kind: str, frame: dict[str, Any]) -> None:
    state = conn.ws.app.state
    if kind == "message":
        text = _text(frame, conn.settings.chat_max_message_chars)
        client_id = _client_id(frame)
        first = conn.ticket_id is None and await conn.db(
            lambda db: db.get_one(ChatConversation, conversation_id).ticket_id is None, write=False)
        reading = None
        if first:  # triage reads the first message before the transaction (it needs no database)
            reading = await anyio.to_thread.run_sync(service.read_customer_message, state.triage, text,
                                                     limiter=state.computing_threads)
        async with conn.acking():
            done = await conn.db(lambda db: service.customer_message(db, state.intake, conversation_id, text,
                                                                     client_id, reading))
            conn.ticket_id = done.ticket_id
            await conn.send({"type": "ack", "client_id": client_id, "seq": done.seq, "ticket_id": done.ticket_id})
        if first:
            await _send_waiting(conn, conversation_id)
    elif kind == "typing":
        await conn.typing(conversation_id, bool(frame.get("active", True)))
    elif kind in ("delivered", "read"):
        seq = _seq(frame)
        await conn.db(lambda db: service.mark(db, conversation_id, ActorKind.CUSTOMER, ChatEventKind(kind), seq))
    elif kind == "email":
        email = _str_field(frame, "email", 320)
        region = conn.settings.default_phone_region
        await conn.db(lambda db: service.continue_by_email(db, conversation_id, email, region, CUSTOMER_ACTOR))
    elif kind == "end":

        await conn.db(lambda db: service.customer_end(db, conversation_id))
    else:
        raise InvalidInput(f"unknown frame type {kind!r}; a customer sends start, resume, message, typing, "
                           "delivered, read, email, end", field="type")


async def _send_waiting(conn: Connection, conversation_id: int) -> bool:
    """Tell a waiting customer their place and the expected wait; False once the chat no longer waits."""
    where = await conn.db(lambda db: service.waiting(db, conversation_id), write=False)
    if where is None:
        return False
    await conn.send({"type": "waiting", "position": where.position,
                     "expected_wait_seconds": where.expected_wait_seconds})
    return True


async def _waiting_updates(conn: Connection, conversation_id: int) -> None:
    """While the chat waits, its place every few seconds (one indexed count: no storm however many wait)."""
    try:
        while True:
            await asyncio.sleep(conn.settings.chat_queue_update_seconds)
            status = await conn.db(lambda db: db.get_one(ChatConversation, conversation_id).status,
                                   write=False)
            if status is ChatStatus.ENDED:
                return
            if status is ChatStatus.WAITING:
                await _send_waiting(conn, conversation_id)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("queue updates for chat %s stopped", conversation_id)


# -- the agent's socket ------------------------------------------------------------------------------------------------
@router.websocket("/ws/agent")
async def agent_socket(websocket: WebSocket) -> None:
    state = websocket.app.state
    conn = Connection(websocket, ActorKind.AGENT)
    header = websocket.headers.get("authorization", "")
    scheme, _, header_token = header.partition(" ")
    header_token = header_token.strip() if scheme.lower() == "bearer" else ""
    principal: Principal | None = None
    if header_token:
        principal = await conn.db(lambda db: agents.principal_for_token(db, header_token, state.secret_key),
                                  write=False)
        if principal is None or principal.agent_id is None:
            await websocket.close(code=4401, reason="the API token is unknown, revoked or expired")
            return
    await websocket.accept()
    try:
        frames = conn.frames()
        async for frame in frames:
            if frame["type"] != "hello":
                await conn.error("invalid", 'the first frame is {"type": "hello", "after": {...}}', "type")
                continue
            token = frame.get("token")
            if principal is None:
                if not isinstance(token, str) or not token:
                    await conn.error("unauthenticated", "send the agent's API token (Authorization header or "
                                     '"token" in hello)', "token")
                    continue
                principal = await conn.db(partial(_principal, token, state.secret_key), write=False)
                if principal is None or principal.agent_id is None:
                    await conn.error("unauthenticated", "the API token is unknown, revoked or expired", "token")
                    await websocket.close(code=4401)
                    return
            after = frame.get("after") or {}
            if not isinstance(after, dict):
                await conn.error("invalid", 'after: {"<conversation>": <last seq seen>, ...}', "after")
                principal = None if not header_token else principal
                continue
            await _agent_session(conn, principal, after, frames)
            return
    except WebSocketDisconnect:
        pass
    finally:
        conn.close()


async def _agent_session(conn: Connection, principal: Principal, after: dict[str, Any], frames: Any) -> None:
    agent_id = principal.agent_id
    assert agent_id is not None

    def open_chats(db: Any) -> list[dict[str, Any]]:
        return [_chat_summary(db, c) for c in repository.open_of_agent(db, agent_id)]

    def offered(text: str) -> None:
        if text.isdigit():
            conn.spawn(_offer(conn, int(text)))

    conn.subscribe(service.agent_topic(agent_id), offered)  # before reading: no offer falls between
    chats = await conn.db(open_chats, write=False)
    await conn.send({"type": "welcome", "agent_id": agent_id, "chats": chats})
    conn.spawn(conn.pump())
    for chat in chats:
        seen = after.get(str(chat["conversation"]), 0)
        conn.watch(chat["conversation"], seen if isinstance(seen, int) and not isinstance(seen, bool) else 0)
    async for frame in frames:
        await _answered(conn, frame, _agent_frame(conn, principal, frame))


def _chat_summary(db: Any, conversation: Any) -> dict[str, Any]:
    return {"conversation": conversation.id, "ticket_id": conversation.ticket_id,
            "status": conversation.status.value, "last_seq": conversation.last_seq,
            "customer": conversation.visitor_name or repository.customer_name(db, conversation.customer_id)}


async def _offer(conn: Connection, conversation_id: int) -> None:
    if conversation_id in conn.sent:
        return
    summary = await conn.db(lambda db: _chat_summary(db, db.get_one(ChatConversation, conversation_id)),
                            write=False)
    await conn.send({"type": "chat_offered", **summary})
    conn.watch(conversation_id, 0)


async def _agent_frame(conn: Connection, principal: Principal, frame: dict[str, Any]) -> None:
    kind = frame["type"]
    conversation_id = _conversation(frame)
    if kind == "message":
        text = _text(frame, conn.settings.chat_max_message_chars)
        client_id = _client_id(frame)
        async with conn.acking():
            seq = await conn.db(lambda db: service.agent_message(db, principal, conversation_id, text, client_id))
            await conn.send({"type": "ack", "conversation": conversation_id, "client_id": client_id, "seq": seq})
        conn.watch(conversation_id, 0)
    elif kind == "typing":
        await conn.db(lambda db: service.agent_conversation(db, principal, conversation_id), write=False)
        await conn.typing(conversation_id, bool(frame.get("active", True)))
    elif kind in ("delivered", "read"):
        seq = _seq(frame)

        def marked(db: Any) -> None:
            service.agent_conversation(db, principal, conversation_id)
            service.mark(db, conversation_id, ActorKind.AGENT, ChatEventKind(kind), seq, principal.agent_id)

        await conn.db(marked)
    elif kind == "end":
        disposition = _str_field(frame, "disposition", 64)
        reason = _str_field(frame, "reason", 500)
        await conn.db(lambda db: service.agent_end(db, principal, conversation_id, disposition, reason=reason))
    else:
        raise InvalidInput(f"unknown frame type {kind!r}; an agent sends message, typing, delivered, read, end",
                           field="type")
