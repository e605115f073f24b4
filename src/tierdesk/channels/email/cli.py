"""The email channel's commands: `tierdesk email ingest|addresses|quarantine`."""

from __future__ import annotations

import json
import mailbox
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from tierdesk.kit.console import err, friendly_errors, out
from tierdesk.kit.vocabulary import StrangerReplyPolicy

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tierdesk.brands.models import Brand
    from tierdesk.db import Database

email_app = typer.Typer(help="Email: addresses, ingesting .eml/mbox files, the quarantine.", no_args_is_help=True)
addresses_app = typer.Typer(help="The addresses each brand receives mail at.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Mail that could not be taken in, kept with its reason.", no_args_is_help=True)
email_app.add_typer(addresses_app, name="addresses")
email_app.add_typer(quarantine_app, name="quarantine")


def _database() -> Database:
    from tierdesk.migrate import database_for_command

    return database_for_command()


def _brand(db: Session, slug: str) -> Brand:
    from tierdesk.brands.service import resolve_brand
    from tierdesk.kit.actors import SYSTEM

    return resolve_brand(db, SYSTEM, slug)


# ---- ingest ----------------------------------------------------------------------------------------------------


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(5) == b"From "


def _messages(paths: list[Path]) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(where, raw bytes, problem) for every message in the paths, in order: .eml files, mbox files, folders."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            yield from _messages(files)
        elif not path.exists():
            yield str(path), None, "no such file"
        elif _is_mbox(path):
            box = mailbox.mbox(path, create=False)
            try:
                for n, key in enumerate(box.iterkeys(), start=1):
                    yield f"{path}#{n}", box.get_bytes(key), None
            finally:
                box.close()
        else:
            yield str(path), path.read_bytes(), None


@email_app.command("ingest")
@friendly_errors
def ingest(
    paths: Annotated[list[Path], typer.Argument(help=".eml files, mbox files or folders of them")],
    brand: Annotated[str | None,
                     typer.Option(help="take every message for this brand, whatever its recipients")] = None,
) -> None:
    """Take messages in exactly as the SMTP listener does; one JSON line per message on stdout, in order. A bad
    message is reported (and quarantined), never the end of the run."""
    from tierdesk.channels.email.inbound import make_sink
    from tierdesk.config import get_settings

    settings = get_settings()
    database = _database()
    if brand is not None:
        with database.transaction(write=False) as db:
            _brand(db, brand)
    inbound = make_sink(database, settings)
    failed = 0
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("ingesting", total=None)
        for where, raw, problem in _messages(paths):
            line: dict[str, object] = {"path": where}
            if raw is None:
                line |= {"outcome": "error", "ticket_id": None, "message_id": None, "customer_id": None,
                         "reason": problem}
                failed += 1
            else:
                try:
                    line |= inbound.receive(raw, source=f"ingest {where}"[:200], brand_slug=brand).as_json()
                except Exception as exc:  # the database refused: this one is not taken in; the run goes on
                    line |= {"outcome": "error", "ticket_id": None, "message_id": None, "customer_id": None,
                             "reason": f"{type(exc).__name__}: {exc}"[:500]}
                    failed += 1
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
            sys.stdout.flush()
            progress.advance(task)
    if failed:
        raise typer.Exit(1)


# ---- settings --------------------------------------------------------------------------------------------------


@email_app.command("settings")
@friendly_errors
def email_settings(
    brand: Annotated[str, typer.Option(help="brand slug")],
    strangers: Annotated[StrangerReplyPolicy | None, typer.Option(
        help="a reply from someone who is not the ticket's customer nor a participant: linked_ticket (a ticket of "
             "its own, linked) or add_flagged (added to the ticket with a visible flag)")] = None,
    acknowledge: Annotated[bool | None, typer.Option("--acknowledge/--no-acknowledge",
                                                     help="answer each new ticket's first mail at once")] = None,
    max_attachment_mb: Annotated[float | None, typer.Option(help="larger attachments stay in the original only")]
    = None,
    subject_window_days: Annotated[int | None, typer.Option(
        help="a mail with neither headers nor token joins the sender's open ticket of the same subject active "
             "within this many days (0: off)")] = None,
) -> None:
    """Show, or change, how a brand takes mail in."""
    from tierdesk.channels.email.relay import set_handling

    with _database().transaction() as db:
        row = set_handling(db, brand, stranger_policy=strangers, acknowledge_new_tickets=acknowledge,
                           max_attachment_bytes=None if max_attachment_mb is None else int(max_attachment_mb * 2**20),
                           subject_window_days=subject_window_days)
        out.print(f"brand '{brand}': strangers' replies {row.stranger_policy.value}, acknowledgements "
                  f"{'on' if row.acknowledge_new_tickets else 'off'}, attachments up to "
                  f"{row.max_attachment_bytes / 2**20:g} MB, subject window {row.subject_window_days} days")


# ---- addresses -------------------------------------------------------------------------------------------------


@addresses_app.command("add")
@friendly_errors
def addresses_add(address: str, brand: Annotated[str, typer.Option(help="brand slug")]) -> None:
    """The brand receives mail at ADDRESS (and at every ADDRESS with a +tag)."""
    from tierdesk.channels.email.addresses import add_address
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction() as db:
        row = add_address(db, SYSTEM, _brand(db, brand), address)
        default = " (the From address of its replies)" if row.is_default else ""
        out.print(f"brand '{brand}' receives mail at {row.address}{default}")


@addresses_app.command("list")
@friendly_errors
def addresses_list(brand: Annotated[str | None, typer.Option(help="brand slug")] = None) -> None:
    from tierdesk.brands.models import Brand
    from tierdesk.channels.email import repository
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction(write=False) as db:
        brand_id = _brand(db, brand).id if brand else None
        table = Table("brand", "address", "replies from")
        for row in repository.addresses_visible(db, SYSTEM, brand_id):
            owner = db.get_one(Brand, row.brand_id)
            table.add_row(owner.slug, row.address, "yes" if row.is_default else "")
        out.print(table)


@addresses_app.command("remove")
@friendly_errors
def addresses_remove(address: str, brand: Annotated[str, typer.Option(help="brand slug")]) -> None:
    from tierdesk.channels.email.addresses import remove_address
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction() as db:
        remove_address(db, SYSTEM, _brand(db, brand), address)
        out.print(f"brand '{brand}' no longer receives mail at {address.lower()}")


# ---- quarantine ------------------------------------------------------------------------------------------------


@quarantine_app.command("list")
@friendly_errors
def quarantine_list(
    all_: Annotated[bool, typer.Option("--all", help="also released ones (re-processed, automatic mail)")] = False,
) -> None:
    from tierdesk.channels.email import repository
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction(write=False) as db:
        table = Table("id", "received", "brand", "from", "subject", "reason", "outcome")
        for row in repository.quarantine_visible(db, SYSTEM, include_released=all_, after_id=None, limit=10_000):
            table.add_row(str(row.id), f"{row.received_at:%Y-%m-%d %H:%M}", str(row.brand_id or "-"),
                          row.from_address or "-", (row.subject or "")[:60], row.reason[:100], row.outcome or "")
        out.print(table)


@quarantine_app.command("reprocess")
@friendly_errors
def quarantine_reprocess(ids: Annotated[list[int], typer.Argument(help="quarantine ids")]) -> None:
    """Take quarantined messages in again (after a fix, or once a brand receives at their address)."""
    from tierdesk.channels.email.inbound import make_sink
    from tierdesk.config import get_settings

    inbound = make_sink(_database(), get_settings())
    for quarantine_id in ids:
        result = inbound.reprocess(quarantine_id)
        sys.stdout.write(json.dumps({"id": quarantine_id, **result.as_json()}, ensure_ascii=False) + "\n")


@quarantine_app.command("export")
@friendly_errors
def quarantine_export(quarantine_id: int, to: Annotated[Path, typer.Option(help="where to write the .eml")]) -> None:
    """Write a quarantined message, byte for byte as received, to a file."""
    from tierdesk.channels.email import repository
    from tierdesk.config import get_settings
    from tierdesk.kit.blobs import blob_store
    from tierdesk.kit.errors import NotFound

    with _database().transaction(write=False) as db:
        row = repository.quarantined(db, quarantine_id)
        if row is None:
            raise NotFound(f"quarantined email {quarantine_id} not found")
        sha = row.raw_sha256
    to.write_bytes(blob_store(get_settings().data_dir).read(sha))
    out.print(f"written to {to}")
