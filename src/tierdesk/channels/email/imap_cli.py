"""CLI of the email channel."""

from __future__ import annotations

import signal
import sys
import threading
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tierdesk.kit.console import err, friendly_errors, out
from tierdesk.kit.vocabulary import AfterImport, MailSecurity

if TYPE_CHECKING:
    from tierdesk.db import Database


def _database() -> Database:
    """The configured database, every model imported and its schema checked (a readable error if it is missing)."""
    from tierdesk.migrate import database_for_command

    return database_for_command()


# --- tierdesk imap -------------------------------------------------------------------------------------------------

imap_app = typer.Typer(help="IMAP mailboxes the worker fetches a brand's mail from.", no_args_is_help=True)


@imap_app.command("add")
@friendly_errors
def imap_add(
    name: Annotated[str, typer.Argument(help="a name for the mailbox, unique in its brand")],
    brand: Annotated[str, typer.Option(help="slug of the brand its mail is for")],
    host: Annotated[str, typer.Option(help="the IMAP server")],
    username: Annotated[str, typer.Option(help="the login")],
    port: Annotated[int | None, typer.Option(help="default: 993 with tls, 143 otherwise")] = None,
    security: Annotated[MailSecurity, typer.Option(help="tls (implicit), starttls or plain")] = MailSecurity.TLS,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    folder: Annotated[str, typer.Option(help="the folder fetched")] = "INBOX",
    after: Annotated[AfterImport, typer.Option(help="move processed mail to --move-to, or flag it (\\Seen and "
                                                    "$TierdeskImported)")] = AfterImport.MOVE,
    move_to: Annotated[str, typer.Option(help="the folder processed mail is moved to")] = "Processed",
) -> None:
    """Add a mailbox for the worker to poll. The password is asked for (or read from stdin) and stored encrypted
    with a key derived from TIERDESK_SECRET_KEY."""
    from tierdesk.channels.email.mailboxes import ImapMailboxCreate, add_mailbox
    from tierdesk.config import get_settings

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True)
    data = ImapMailboxCreate(brand=brand, name=name, host=host, port=port, security=security, username=username,
                             password=password, folder=folder, after_processing=after, move_to=move_to)
    with _database().transaction() as db:
        mailbox = add_mailbox(db, data, get_settings().effective_secret_key())
        described = (f"mailbox {mailbox.name} of brand {brand}: {mailbox.username} at {mailbox.host}:{mailbox.port} "
                     f"({mailbox.security.value}), folder {mailbox.folder}")
    out.print(f"{described} added; the worker polls it (`tierdesk imap poll --once` to try it now)")


@imap_app.command("list")
@friendly_errors
def imap_list() -> None:
    """Every mailbox, where it is polled up to, and its last error (never its password)."""
    from tierdesk.channels.email.repository import imap_mailboxes

    with _database().transaction(write=False) as db:
        table = Table("brand", "name", "server", "login", "folder", "after", "last uid", "last poll", "last error")
        for m, slug in imap_mailboxes(db):
            after = f"move to {m.move_to}" if m.after_processing is AfterImport.MOVE else "flag"
            table.add_row(slug, m.name + ("" if m.is_active else " (inactive)"),
                          f"{m.host}:{m.port} {m.security.value}", m.username, m.folder, after, str(m.last_uid),
                          f"{m.last_polled_at:%Y-%m-%d %H:%M:%S}" if m.last_polled_at else "never",
                          m.last_error or "-")
        out.print(table)


@imap_app.command("remove")
@friendly_errors
def imap_remove(name: str, brand: Annotated[str, typer.Option(help="slug of the mailbox's brand")]) -> None:
    """Remove a mailbox (the mail already fetched stays; nothing changes on the server)."""
    from tierdesk.channels.email.mailboxes import remove_mailbox

    with _database().transaction() as db:
        remove_mailbox(db, brand, name)
    out.print(f"mailbox {name} of brand {brand} removed")


@imap_app.command("poll")
@friendly_errors
def imap_poll(once: Annotated[bool, typer.Option(help="poll each active mailbox once, then exit")] = False) -> None:
    """Fetch the mailboxes' new mail by hand: once, or watching them (IDLE where the server has it, otherwise a poll
    every TIERDESK_IMAP_POLL_SECONDS) until interrupted. Each mailbox is held while it is polled, so this runs
    safely beside the worker."""
    import datetime as dt

    from tierdesk.channels.email import imap
    from tierdesk.config import get_settings

    database = _database()
    options = imap.PollOptions.from_settings(get_settings())
    from tierdesk.channels.email.inbound import make_sink

    sink = make_sink(database, get_settings())
    deliver, quarantine = imap.inbound_deliver(sink), imap.inbound_quarantine(sink)
    if once:
        delivered = imap.poll_all(database, deliver, quarantine, options=imap.PollOptions(
            secret_key=options.secret_key, max_message_bytes=options.max_message_bytes, poll_every=dt.timedelta(0)))
        from tierdesk.channels.email.repository import imap_mailboxes

        with database.transaction(write=False) as db:
            for m, slug in imap_mailboxes(db):
                if m.is_active and m.last_error:
                    err.print(f"[yellow]{slug}/{m.name}:[/yellow] {m.last_error}")
        out.print(f"{delivered} message(s) fetched")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    err.print("watching the active IMAP mailboxes; Ctrl+C stops")
    if not imap.watch_all(database, deliver, quarantine, options, stop):
        err.print("no active IMAP mailbox (`tierdesk imap add`)")
