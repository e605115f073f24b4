"""CLI for webhooks out: `tierdesk webhooks create|list|disable|enable|deliveries|redeliver`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tierdesk.kit.console import friendly_errors, out

if TYPE_CHECKING:
    from tierdesk.db import Database

webhooks_app = typer.Typer(help="Webhooks out: subscriptions to ticket events, their deliveries.",
                           no_args_is_help=True)


def _database() -> Database:
    from tierdesk.migrate import database_for_command

    return database_for_command()


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"  # type: ignore[attr-defined]


@webhooks_app.command("create")
@friendly_errors
def create(
    brand: str, url: str,
    event: Annotated[list[str], typer.Option(help="an event to receive; repeat (ticket_created, status_changed, "
                                                  "sla_breach, ...)")],
    queue: Annotated[list[str] | None, typer.Option(help="only tickets in this queue (slug); repeat")] = None,
    department: Annotated[list[str] | None, typer.Option(help="only tickets of CS or TS; repeat")] = None,
    name: Annotated[str | None, typer.Option(help="display name (default: the URL)")] = None,
) -> None:
    """Subscribe URL to the brand's ticket events; prints the signing secret, this once."""
    from tierdesk.config import get_settings
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.webhooks import service
    from tierdesk.webhooks.schemas import SubscriptionCreate

    data = SubscriptionCreate.model_validate({"brand": brand, "url": url, "events": event, "queues": queue or [],
                                              "departments": department or [], "name": name})
    with _database().transaction() as db:
        subscription, secret = service.create(db, SYSTEM, data, get_settings().effective_secret_key())
        out.print(f"webhook subscription {subscription.id} created: {', '.join(subscription.events)} -> "
                  f"{subscription.url}")
        out.print(f"signing secret (shown this once): {secret}")


@webhooks_app.command("list")
@friendly_errors
def list_(brand: Annotated[str | None, typer.Option(help="brand slug")] = None) -> None:
    """The subscriptions: events, filters, and for a disabled one when and why."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.webhooks import service

    with _database().transaction(write=False) as db:
        table = Table("id", "brand", "url", "events", "queues", "departments", "state")
        for s in service.list_subscriptions(db, SYSTEM, brand):
            state = ("active" if s.is_active
                     else f"disabled {_when(s.disabled_at)}: {s.disabled_reason}")
            table.add_row(str(s.id), str(s.brand_id) if s.brand_id is not None else "every (settings)", s.url,
                          ", ".join(s.events), ", ".join(map(str, s.queue_ids)) or "any",
                          ", ".join(s.departments) or "any", state)
        out.print(table)


@webhooks_app.command("disable")
@friendly_errors
def disable(subscription_id: int,
            reason: Annotated[str, typer.Option(help="shown with the subscription")] = "disabled by hand") -> None:
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.webhooks import service

    with _database().transaction() as db:
        subscription = service.get(db, SYSTEM, subscription_id)
        service.disable(subscription, reason)
        out.print(f"webhook subscription {subscription.id} disabled: {subscription.disabled_reason}")


@webhooks_app.command("enable")
@friendly_errors
def enable(subscription_id: int) -> None:
    """Enable a disabled subscription again (its failures in a row start over)."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.webhooks import service

    with _database().transaction() as db:
        subscription = service.get(db, SYSTEM, subscription_id)
        service.enable(subscription)
        out.print(f"webhook subscription {subscription.id} enabled")


@webhooks_app.command("deliveries")
@friendly_errors
def deliveries(
    subscription_id: int,
    status: Annotated[str | None, typer.Option(help="pending, delivered or failed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
) -> None:
    """The subscription's latest deliveries, each attempt with its response code and duration."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.kit.errors import InvalidInput
    from tierdesk.kit.vocabulary import WebhookDeliveryStatus
    from tierdesk.webhooks import service

    try:
        wanted = WebhookDeliveryStatus(status) if status is not None else None
    except ValueError:
        raise InvalidInput(f"--status {status!r}: pending, delivered or failed", field="status") from None
    with _database().transaction(write=False) as db:
        rows = service.deliveries(db, SYSTEM, subscription_id, before_id=None, limit=limit, status=wanted)[:limit]
        table = Table("id", "event", "ticket", "status", "attempts", "created", "log")
        for d in rows:
            log = "; ".join(f"#{a.number} {a.response_code or '-'} {a.duration_ms} ms"
                            + (f" ({a.error})" if a.error else "") for a in d.attempt_log)
            table.add_row(str(d.id), d.event.value, str(d.ticket_id or "-"), d.status.value, str(d.attempts),
                          _when(d.created_at), log or "-")
        out.print(table)


@webhooks_app.command("redeliver")
@friendly_errors
def redeliver(delivery_id: int) -> None:
    """Send a delivery again (same body and id), through the outbox."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.webhooks import service

    with _database().transaction() as db:
        delivery = service.redeliver(db, SYSTEM, delivery_id)
        out.print(f"webhook delivery {delivery.id} queued again ({delivery.event.value})")
