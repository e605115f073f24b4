"""CLI for integrations: channel gateways that post contacts with tokens of their own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tierdesk.kit.console import err, friendly_errors, out

if TYPE_CHECKING:
    from tierdesk.db import Database

integrations_app = typer.Typer(help="Integrations (channel gateways) and their intake tokens.", no_args_is_help=True)


def _database() -> Database:
    """The configured database, every model imported and its schema checked (a readable error if it is missing)."""
    from tierdesk.migrate import database_for_command

    return database_for_command()


@integrations_app.command("create")
@friendly_errors
def integrations_create(
    name: str,
    brand: Annotated[list[str], typer.Option(help="slug of a brand it posts contacts for; repeat for several")],
) -> None:
    """Create an integration with an intake token (it may only post contacts, in its brands). The token is printed
    once; only a digest is stored."""
    from tierdesk.agents.service import create_integration
    from tierdesk.config import get_settings
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction() as db:
        row, token = create_integration(db, SYSTEM, name, brand, get_settings().effective_secret_key())
        described = f"integration {row.id} ({row.name}, scope {row.scope}, brands {', '.join(brand)})"
    err.print(f"{described} created; its token is shown only now:")
    print(token)  # plain stdout, so scripts can capture it


@integrations_app.command("list")
@friendly_errors
def integrations_list() -> None:
    """Every integration, its brands and whether it is revoked."""
    from tierdesk.agents.repository import integrations

    with _database().transaction(write=False) as db:
        table = Table("id", "name", "scope", "brands", "prefix", "created", "revoked")
        for i in integrations(db):
            table.add_row(str(i.id), i.name, i.scope.value, ", ".join(b.slug for b in i.brands), i.prefix + "…",
                          f"{i.created_at:%Y-%m-%d %H:%M}", f"{i.revoked_at:%Y-%m-%d %H:%M}" if i.revoked_at else "-")
        out.print(table)


@integrations_app.command("revoke")
@friendly_errors
def integrations_revoke(integration_id: int) -> None:
    """Revoke an integration's token for good (create a new integration to replace it)."""
    from tierdesk.agents.service import revoke_integration
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction() as db:
        revoke_integration(db, SYSTEM, integration_id)
    out.print(f"integration {integration_id} revoked")
