"""`tierdesk smtp`, and the SMTP listener `tierdesk serve` starts beside the HTTP server."""

from __future__ import annotations

import logging
import signal
import ssl
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from tierdesk.channels.email.smtp import SmtpListener, tls_context
from tierdesk.kit.console import err, friendly_errors, out
from tierdesk.kit.errors import InvalidInput

if TYPE_CHECKING:
    from tierdesk.config import Settings
    from tierdesk.db import Database

# `tierdesk smtp` without --port and without TIERDESK_SMTP_PORT: a port a user may open without privileges.
DEFAULT_SMTP_PORT = 2525


def smtp_listener(database: Database, settings: Settings, *, host: str | None = None,
                  port: int | None = None) -> SmtpListener:
    """The listener the settings describe (host and port overridable), storing through the email channel's sink."""
    from tierdesk.channels.email import inbound

    tls = None
    if settings.smtp_tls_cert is not None and settings.smtp_tls_key is not None:
        try:
            tls = tls_context(settings.smtp_tls_cert, settings.smtp_tls_key)
        except (ssl.SSLError, OSError) as exc:
            raise InvalidInput(f"cannot use {settings.smtp_tls_cert} with the key {settings.smtp_tls_key} for "
                               f"STARTTLS: {exc}", field="smtp_tls_cert") from None
    return SmtpListener(
        inbound.make_sink(database, settings),
        host=host or settings.smtp_host,
        port=port if port is not None else settings.smtp_port or DEFAULT_SMTP_PORT,
        hostname=settings.smtp_hostname,
        max_message_bytes=settings.smtp_max_message_bytes,
        tls=tls,
    )


def start_listener(listener: SmtpListener) -> None:
    """Start it, or end the command with one line that says why not (the port is taken, not allowed, ...)."""
    try:
        listener.start()
    except OSError as exc:
        raise InvalidInput(f"cannot listen for SMTP on {listener.host} port {listener.port}: {exc.strerror or exc}",
                           field="smtp_port") from None


def describe(listener: SmtpListener) -> str:
    tls = "STARTTLS offered" if listener.tls is not None else "no STARTTLS (set TIERDESK_SMTP_TLS_CERT and _KEY)"
    return (f"SMTP on [bold]{listener.host}:{listener.port}[/bold] as {listener.hostname} "
            f"(messages up to {listener.max_message_bytes} bytes; {tls})")


@friendly_errors
def smtp(
    host: Annotated[str | None, typer.Option(help="address to listen on [default: TIERDESK_SMTP_HOST]")] = None,
    port: Annotated[int | None, typer.Option(
        min=0, max=65535, help=f"port to listen on [default: TIERDESK_SMTP_PORT, else {DEFAULT_SMTP_PORT}]")] = None,
) -> None:
    """Run the SMTP listener alone, until Ctrl-C or SIGTERM: mail for the brands' addresses, stored as contacts."""
    from tierdesk.config import get_settings
    from tierdesk.migrate import database_for_command

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    listener = smtp_listener(database_for_command(), settings, host=host, port=port)
    stopped = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        start_listener(listener)
        out.print(describe(listener))
        err.print("Ctrl-C stops it")
        while not stopped.wait(1.0):
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        listener.stop()
    out.print("SMTP listener stopped")
