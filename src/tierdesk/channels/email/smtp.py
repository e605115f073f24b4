"""The SMTP listener: mail for the addresses the brands own, acknowledged only once it is stored.

aiosmtpd speaks the protocol (EHLO, SIZE, 8BITMIME, SMTPUTF8, STARTTLS); this module decides what is accepted
and when a message counts as received. A `MailSink` (inbound.make_sink) does the storing:
`accepts` answers RCPT, `deliver` stores a message and returns only after its transaction committed. The 250 that
ends DATA is sent only after `deliver` returned, so a message a sender saw acknowledged is in the database, whatever
happens to this process the next instant; a failed `deliver` is answered 451 and the sender tries again later.

The listener runs its own event loop in its own thread (`start`/`stop` from synchronous code). That is the same in
`tierdesk smtp` and `tierdesk serve` (where uvicorn's loop lives in its server processes when there are several), a
busy HTTP loop never delays an acknowledgement, and a port that cannot be bound fails `start()` at once. The sink's
blocking work runs in a bounded thread pool, so a slow commit holds up only its own session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import logging
import re
import secrets
import socket
import ssl
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, AnyStr, Protocol

from aiosmtpd.smtp import SMTP, Envelope, Session

from tierdesk.kit.memory import return_large_buffers_to_the_system
from tierdesk.kit.time import utcnow

log = logging.getLogger("tierdesk.channels.email.smtp")

DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_RECIPIENTS = 100
# A connection that sends nothing for this long is closed (RFC 5321 4.5.3.2 suggests minutes per command).
DEFAULT_TIMEOUT_SECONDS = 300.0
# Messages stored at once; the others wait their turn holding only their connection.
DEFAULT_DELIVERY_THREADS = 4
# RFC 5321 wants lines of at most 1,000 octets, but real mailers send longer ones (HTML on one line, bare LF line
# ends); refusing them bounces a person's mail. Lines are read in pieces of at most this size; any length is taken
# (the message size limit bounds the memory) and the parser copes.
MAX_LINE_BYTES = 1024 * 1024
# How long stop() lets deliveries in progress finish (so their senders get their 250) before it closes connections.
STOP_GRACE_SECONDS = 30.0

# aiosmtpd logs every command and every DATA line at debug level: message content never reaches the log.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class MailSink(Protocol):
    """Where received mail goes (inbound.make_sink). Both methods are called in worker threads, never on the loop."""

    def accepts(self, address: str) -> bool:
        """RCPT TO: whether a brand receives mail at this address (plus-addressing is the sink's business)."""
        ...

    def deliver(self, raw: bytes, recipients: list[str], peer: str) -> None:
        """Store the message; return only after the transaction committed. Raise on failure (the sender retries)."""
        ...


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for STARTTLS from a PEM certificate (chain) and its private key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # TLS 1.2+, no client certificates asked for
    context.load_cert_chain(cert, key)
    return context


def _ascii(text: str, limit: int = 255) -> str:
    """What a client said, safe inside a header: printable ASCII only, bounded."""
    return re.sub(r"[^\x21-\x7e]", "?", text)[:limit]


def _peer_text(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"[{peer[0]}]:{peer[1]}" if ":" in str(peer[0]) else f"{peer[0]}:{peer[1]}"
    return str(peer)


class _SmtpSession(SMTP):
    """One connection. The timeout is an idle timeout: it restarts with every byte received, so a large message on
    a slow link is not cut off while it is still arriving."""

    line_length_limit = MAX_LINE_BYTES

    def data_received(self, data: bytes) -> None:
        self._reset_timeout()
        super().data_received(data)

    async def smtp_DATA(self, arg: str) -> None:
        """DATA read into one growing buffer (aiosmtpd's own keeps a list of line objects, then joins them: four
        times the message at its peak), counted as it arrives and dropped the moment it passes the limit."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        content = bytearray()
        size = 0
        limit = self.data_size_limit
        refusal: str | None = None
        at_line_start = True
        while self.transport is not None:
            try:
                piece = await self._reader.readuntil(b"\r\n")
                complete = True
            except asyncio.LimitOverrunError as exc:
                # A line longer than the reader's buffer: taken in pieces. The size limit bounds the memory; a
                # message with endless lines (bare LF line ends, as some scripts send, or HTML on one line) is a
                # person's mail all the same, and refusing it would bounce it.
                piece = await self._reader.read(exc.consumed)
                complete = False
            except asyncio.CancelledError:  # the connection went away in the middle of the message
                self._writer.close()
                raise
            if at_line_start and piece == b".\r\n":
                break
            size += len(piece)
            if refusal is None and limit and size > limit:
                refusal = f"552 5.3.4 Error: message too big (at most {limit} bytes)"
            if refusal is None:
                # RFC 5321 4.5.2: a line the sender began with a dot was sent with one more
                content += piece[1:] if at_line_start and piece.startswith(b".") else piece
            elif content:
                content = bytearray()  # refused: what arrived so far is let go at once
            at_line_start = complete
        if refusal is not None:
            self._set_post_data_state()  # type: ignore[no-untyped-call]  # aiosmtpd is untyped
            await self.push(refusal)
            return
        self.envelope.original_content = content  # type: ignore[assignment]  # handle_DATA makes the bytes
        del content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(status)

    async def push(self, status: AnyStr) -> None:
        # aiosmtpd refuses an oversized message itself (at MAIL FROM ... SIZE=, or once DATA passes the limit),
        # without asking the handler: logged here, and answered with the enhanced status code senders act on.
        if status[:3] in ("552", b"552"):
            peer = _peer_text(self.session.peer) if self.session else "?"
            log.info("smtp from %s: refused, larger than %s bytes", peer, self.data_size_limit)
            await super().push(f"552 5.3.4 Error: message too big (at most {self.data_size_limit} bytes)")
            return
        await super().push(status)


class SmtpListener:
    """An SMTP server for `sink` on host:port (port 0: any free port; `port` tells which after `start()`)."""

    def __init__(
        self,
        sink: MailSink,
        *,
        host: str = "127.0.0.1",
        port: int = 25,
        hostname: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        tls: ssl.SSLContext | None = None,
        max_recipients: int = DEFAULT_MAX_RECIPIENTS,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        delivery_threads: int = DEFAULT_DELIVERY_THREADS,
    ) -> None:
        if max_message_bytes < 1 or max_recipients < 1 or timeout <= 0 or delivery_threads < 1:
            raise ValueError("max_message_bytes, max_recipients, timeout and delivery_threads must be positive")
        self.sink = sink
        self.host = host
        self.port = port
        self.hostname = hostname or socket.getfqdn()  # the name in the greeting and in Received headers
        self.max_message_bytes = max_message_bytes
        self.tls = tls
        self.max_recipients = max_recipients
        self.timeout = timeout
        self.delivery_threads = delivery_threads
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._deliveries: concurrent.futures.ThreadPoolExecutor | None = None
        self._lookups: concurrent.futures.ThreadPoolExecutor | None = None
        self._sessions: weakref.WeakSet[_SmtpSession] = weakref.WeakSet()
        self._delivering = 0
        self._idle: asyncio.Event | None = None
        self._stopping = False

    # ---- running -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen; returns once connections are accepted. Raises OSError when the address cannot be bound."""
        if self._thread is not None:
            raise RuntimeError("the SMTP listener is running already")
        return_large_buffers_to_the_system()  # 25 MB messages on several threads: memory stays flat (kit/memory)
        self._stopping = False
        self._loop = asyncio.new_event_loop()
        # Bounded pools, one for storing and one for RCPT look-ups: each call may hold a database connection, and
        # slow commits must not hold up the recipient checks of other sessions.
        self._deliveries = concurrent.futures.ThreadPoolExecutor(self.delivery_threads, "smtp-deliver")
        self._lookups = concurrent.futures.ThreadPoolExecutor(self.delivery_threads, "smtp-rcpt")
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="smtp-listener", daemon=True)
        self._thread.start()
        try:
            ready.result()
        except BaseException:
            self._thread.join()
            self._thread = None
            self._deliveries.shutdown()
            self._lookups.shutdown()
            raise

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            self._idle = asyncio.Event()
            self._idle.set()
            self._server = loop.run_until_complete(loop.create_server(self._new_session, self.host, self.port))
        except BaseException as exc:
            loop.close()
            ready.set_exception(exc)
            return
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop accepting connections; let deliveries in progress finish (up to `grace` seconds) and answer their
        senders; then close every connection. A message still being stored after that is stored (the sender, with
        no answer, sends it again and the sink recognises the duplicate)."""
        if self._thread is None or self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shut_down(grace), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None
        for pool in (self._deliveries, self._lookups):
            if pool is not None:
                pool.shutdown(wait=True)

    async def _shut_down(self, grace: float) -> None:
        self._stopping = True
        assert self._server is not None and self._idle is not None
        self._server.close()
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning("smtp: %d deliveries still in progress at shutdown", self._delivering)
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()  # flushes what was written (a last 250) before closing
        await asyncio.sleep(0)
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def __enter__(self) -> SmtpListener:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- the protocol ------------------------------------------------------------------------------------------

    def _new_session(self) -> _SmtpSession:
        session = _SmtpSession(
            self,
            hostname=self.hostname,
            ident="tierdesk ESMTP",
            data_size_limit=self.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=self.tls,
            timeout=self.timeout,
            # tierdesk takes mail for its own addresses only and relays nothing: no AUTH to offer.
            auth_exclude_mechanism=["LOGIN", "PLAIN"],
            loop=self._loop,
        )
        self._sessions.add(session)
        return session

    async def _in_thread(self, pool: concurrent.futures.Executor | None, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return f"452 4.5.3 Error: too many recipients (at most {self.max_recipients} per message)"
        try:
            accepted = await self._in_thread(self._lookups, self.sink.accepts, address)
        except Exception:
            log.exception("smtp from %s: could not check recipient %s", _peer_text(session.peer), address)
            return "451 4.3.0 Error: cannot check the recipient now, try again later"
        if not accepted:
            log.info("smtp from %s: refused recipient %s", _peer_text(session.peer), address)
            return f"550 5.1.1 <{address}>: no such recipient here"
        if address not in envelope.rcpt_tos:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        peer = _peer_text(session.peer)
        if self._stopping:
            return "421 4.3.2 Service shutting down, try again later"
        queue_id = secrets.token_hex(6).upper()
        content = envelope.original_content
        assert isinstance(content, bytes | bytearray)
        envelope.original_content = envelope.content = None  # the one copy from here on is `raw`
        raw = b"".join((self._received_header(session, envelope, queue_id), content))
        del content
        recipients = list(envelope.rcpt_tos)
        assert self._idle is not None
        self._delivering += 1
        self._idle.clear()
        server._reset_timeout()  # the sink gets a whole timeout to commit before the connection is given up on
        try:
            await self._in_thread(self._deliveries, self.sink.deliver, raw, recipients, peer)
        except Exception as exc:  # the sink failed: the sender keeps the message and tries again
            # The exception's type and words only: a traceback's locals could show the message.
            log.error("smtp %s from %s: %d recipients, %d bytes, NOT stored (answered 451): %s: %s",
                      queue_id, peer, len(recipients), len(raw), type(exc).__name__, exc)
            return "451 4.3.0 Error: could not store the message, try again later"
        finally:
            self._delivering -= 1
            if self._delivering == 0:
                self._idle.set()
        log.info("smtp %s from %s: %d recipients, %d bytes, stored", queue_id, peer, len(recipients), len(raw))
        return f"250 2.0.0 Ok: queued as {queue_id}"

    def _received_header(self, session: Session, envelope: Envelope, queue_id: str) -> bytes:
        """The trace line every SMTP server adds (RFC 5321 4.4): who handed the message over, when, how."""
        helo = _ascii(session.host_name or "unknown")
        peer_host = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        protocol = ("UTF8SMTP" if "SMTPUTF8" in envelope.mail_options else "ESMTP") if session.extended_smtp \
            else "SMTP"
        if session.ssl is not None:
            protocol += "S"
        recipient = f"\r\n\tfor <{_ascii(envelope.rcpt_tos[0])}>" if len(envelope.rcpt_tos) == 1 else ""
        when = email.utils.format_datetime(utcnow())
        return (f"Received: from {helo} ([{_ascii(str(peer_host))}])\r\n\tby {_ascii(self.hostname)} (tierdesk) "
                f"with {protocol} id {queue_id}{recipient};\r\n\t{when}\r\n").encode("ascii")
