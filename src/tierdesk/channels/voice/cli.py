"""The phone channel's commands: `tierdesk voice menu set|show`, `voice settings`, `voice device`, `voice calls`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tierdesk.kit.console import friendly_errors, out

if TYPE_CHECKING:
    from tierdesk.db import Database

voice_app = typer.Typer(help="Phone and IVR: menus, settings, agents' devices, call records.", no_args_is_help=True)
menu_app = typer.Typer(help="A brand's IVR menu (YAML or JSON).", no_args_is_help=True)
voice_app.add_typer(menu_app, name="menu")


def _database() -> Database:
    from tierdesk.migrate import database_for_command

    return database_for_command()


@menu_app.command("set")
@friendly_errors
def menu_set(brand: str, path: Annotated[Path, typer.Argument(help="a YAML or JSON file; - for stdin")]) -> None:
    """Replace BRAND's IVR menu with the one in PATH (checked whole first: errors name the bad step's path)."""
    from tierdesk.brands.service import resolve_brand
    from tierdesk.channels.voice import service
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.kit.errors import InvalidInput

    if str(path) == "-":
        text = sys.stdin.read()
    elif not path.is_file():
        raise InvalidInput(f"{path}: no such file", field="path")
    else:
        text = path.read_text(encoding="utf-8")
    with _database().transaction() as db:
        row = service.set_menu(db, SYSTEM, resolve_brand(db, SYSTEM, brand), text)
        out.print(f"brand '{brand}': IVR menu set ({len(text.encode())} bytes, {row.updated_at:%Y-%m-%d %H:%M} UTC)")


@menu_app.command("show")
@friendly_errors
def menu_show(brand: str, as_json: Annotated[bool, typer.Option("--json", help="JSON instead of YAML")] = False
              ) -> None:
    """Print BRAND's IVR menu (YAML, ready to edit and `menu set` again)."""
    from tierdesk.brands.service import resolve_brand
    from tierdesk.channels.voice import repository
    from tierdesk.channels.voice.menu import readable, to_json, to_yaml
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.kit.errors import NotFound

    with _database().transaction(write=False) as db:
        row = repository.menu_of(db, resolve_brand(db, SYSTEM, brand).id)
        if row is None:
            raise NotFound(f"brand '{brand}' has no IVR menu yet (tierdesk voice menu set)")
        menu = readable(row.definition)
        sys.stdout.write(to_json(menu) + "\n" if as_json else to_yaml(menu))


@voice_app.command("settings")
@friendly_errors
def settings(
    brand: str,
    auth_token_stdin: Annotated[bool, typer.Option(
        "--auth-token-stdin", help="read the provider's auth token from stdin (kept encrypted)")] = False,
    hold_music_url: Annotated[str | None, typer.Option(help="a short clip played on hold; '' for silence")] = None,
    wait_poll_seconds: Annotated[int | None, typer.Option(help="one hold turn: the provider asks again after it")]
    = None,
    callback: Annotated[bool | None, typer.Option("--callback/--no-callback",
                                                  help="offer waiting callers a callback")] = None,
    callback_digit: Annotated[str | None, typer.Option(help="the key that chooses the callback")] = None,
    wrap_up_seconds: Annotated[int | None, typer.Option(help="after-call work time (0: none)")] = None,
    record: Annotated[bool | None, typer.Option("--record/--no-record", help="record answered calls")] = None,
    ring_seconds: Annotated[int | None, typer.Option(help="how long an agent's phone rings")] = None,
    language: Annotated[str | None, typer.Option(help="for <Say> and speech recognition, e.g. en-US")] = None,
) -> None:
    """Show, or change, BRAND's phone settings, and the URLs to give the provider's phone number."""
    from tierdesk.brands.service import resolve_brand
    from tierdesk.channels.voice import service
    from tierdesk.channels.voice.schemas import VoiceSettingsIn
    from tierdesk.channels.voice.webhooks import PREFIX
    from tierdesk.config import get_settings
    from tierdesk.kit.actors import SYSTEM

    given = {"hold_music_url": hold_music_url, "wait_poll_seconds": wait_poll_seconds, "offer_callback": callback,
             "callback_digit": callback_digit, "wrap_up_seconds": wrap_up_seconds, "record_calls": record,
             "ring_seconds": ring_seconds, "language": language}
    changes = {k: v for k, v in given.items() if v is not None}
    if auth_token_stdin:
        changes["auth_token"] = sys.stdin.readline().strip()
    app_settings = get_settings()
    with _database().transaction(write=bool(changes)) as db:
        found = resolve_brand(db, SYSTEM, brand)
        if changes:
            config = service.set_settings(db, SYSTEM, found, VoiceSettingsIn.model_validate(changes),
                                          app_settings.effective_secret_key())
        else:
            config = service.config_of(db, found.id)
    base = (app_settings.voice_public_url or "https://<public URL of tierdesk>").rstrip("/") + f"{PREFIX}/{brand}"
    out.print(f"brand '{brand}': auth token {'set' if config.auth_token_sealed else '[red]not set[/red]'}, "
              f"hold {config.hold_music_url or 'silence'} in turns of {config.wait_poll_seconds} s, callback "
              f"{'on (key ' + config.callback_digit + ')' if config.offer_callback else 'off'}, wrap-up "
              f"{config.wrap_up_seconds} s, recording {'on' if config.record_calls else 'off'}, agents' phones ring "
              f"{config.ring_seconds} s, language {config.language}")
    out.print(f"A call comes in: POST {base}/incoming\nCall status changes: POST {base}/status")


@voice_app.command("device")
@friendly_errors
def device(email: str, device: Annotated[str, typer.Argument(
        help="sip:user@host, client:name or an E.164 number; '' removes it")]) -> None:
    """Where the calls of the agent with EMAIL ring."""
    from tierdesk.channels.voice import repository, service
    from tierdesk.config import get_settings
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.kit.errors import NotFound

    with _database().transaction() as db:
        agent = repository.agent_by_email(db, email)
        if agent is None:
            raise NotFound(f"no agent {email}")
        agent = service.set_device(db, SYSTEM, agent.id, device or None, get_settings().default_phone_region)
        out.print(f"{agent.email}: calls ring at {agent.voice_device}" if agent.voice_device
                  else f"{agent.email}: no device; calls are not connected to them")


@voice_app.command("calls")
@friendly_errors
def calls(brand: Annotated[str | None, typer.Option(help="brand slug")] = None,
          limit: Annotated[int, typer.Option(min=1, max=1000)] = 50) -> None:
    """The latest call records: outcome, wait, talk, after-call work and handle time."""
    from tierdesk.brands.service import resolve_brand
    from tierdesk.channels.voice import repository
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction(write=False) as db:
        brand_id = resolve_brand(db, SYSTEM, brand).id if brand else None
        table = Table("id", "started", "from", "outcome", "wait", "talk", "wrap-up", "handle", "ticket", "agent")
        for c in repository.calls_visible(db, SYSTEM, brand_id=brand_id, ticket_id=None, after_id=None,
                                          limit=limit)[:limit]:
            table.add_row(str(c.id), f"{c.started_at:%Y-%m-%d %H:%M:%S}", c.from_number,
                          c.outcome.value if c.outcome else c.status.value,
                          *(str(v) if v is not None else "-" for v in (c.wait_seconds, c.talk_seconds,
                                                                        c.wrap_up_seconds, c.handle_seconds,
                                                                        c.ticket_id, c.agent_id)))
        out.print(table)
