"""CLI for business calendars and SLA policies."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tierdesk.kit.console import friendly_errors, out
from tierdesk.kit.errors import InvalidInput

if TYPE_CHECKING:
    from tierdesk.db import Database

sla_app = typer.Typer(help="SLA policies and business calendars.", no_args_is_help=True)


def _database() -> Database:
    """The configured database, every model imported and its schema checked (a readable error if it is missing)."""
    from tierdesk.migrate import database_for_command

    return database_for_command()


@sla_app.command("calendar-create")
@friendly_errors
def calendar_create(
    brand: str, slug: str,
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin")],
    hours: Annotated[list[str], typer.Option(help="DAY=HH:MM-HH:MM[,HH:MM-HH:MM]; repeat (mon..sun)")],
    holiday: Annotated[list[str] | None, typer.Option(help="ISO date; repeat")] = None,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
) -> None:
    """Create a business calendar, e.g. --hours mon=09:00-17:00 --hours tue=09:00-17:00."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.sla.schemas import CalendarCreate
    from tierdesk.sla.service import create_calendar

    weekly: dict[str, list[str]] = {}
    for item in hours:
        day, sep, spans = item.partition("=")
        if not sep or not spans:
            raise InvalidInput(f"--hours {item!r}: write DAY=HH:MM-HH:MM", field="hours")
        weekly.setdefault(day.strip().lower(), []).extend(s.strip() for s in spans.split(","))
    data = CalendarCreate(brand=brand, slug=slug, name=name or slug, timezone=timezone, weekly_hours=weekly,
                          holidays=holiday or [])
    with _database().transaction() as db:
        calendar = create_calendar(db, SYSTEM, data)
        out.print(f"calendar {calendar.id} '{calendar.slug}' created ({calendar.timezone})")


@sla_app.command("calendars")
@friendly_errors
def calendars() -> None:
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.sla.service import list_calendars

    with _database().transaction(write=False) as db:
        table = Table("id", "brand", "slug", "time zone", "hours", "holidays")
        for c in list_calendars(db, SYSTEM):
            table.add_row(str(c.id), str(c.brand_id), c.slug, c.timezone, json.dumps(c.weekly_hours),
                          ", ".join(c.holidays))
        out.print(table)


@sla_app.command("policy-create")
@friendly_errors
def policy_create(
    brand: str, slug: str,
    department: Annotated[str | None, typer.Option(help="CS or TS; default any")] = None,
    priority: Annotated[str | None, typer.Option(help="low, normal, high or urgent; default any")] = None,
    calendar: Annotated[str | None, typer.Option(help="calendar slug; default 24x7")] = None,
    first_response: Annotated[int | None, typer.Option(help="minutes")] = None,
    next_response: Annotated[int | None, typer.Option(help="minutes")] = None,
    resolution: Annotated[int | None, typer.Option(help="minutes")] = None,
    warn_before: Annotated[int, typer.Option(help="minutes before the due time")] = 15,
    escalate_on_breach: Annotated[bool, typer.Option(help="escalate a ticket whose target is missed")] = False,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
) -> None:
    """Create an SLA policy (targets in business minutes of its calendar)."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.sla.schemas import PolicyCreate
    from tierdesk.sla.service import create_policy

    data = PolicyCreate(brand=brand, slug=slug, name=name or slug, department=department, priority=priority,
                        calendar=calendar, first_response_minutes=first_response, next_response_minutes=next_response,
                        resolution_minutes=resolution, warn_before_minutes=warn_before,
                        escalate_on_breach=escalate_on_breach)
    with _database().transaction() as db:
        policy = create_policy(db, SYSTEM, data)
        out.print(f"SLA policy {policy.id} '{policy.slug}' created")


@sla_app.command("policies")
@friendly_errors
def policies() -> None:
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.sla.service import list_policies

    def minutes(v: int | None) -> str:
        return "-" if v is None else str(v)

    with _database().transaction(write=False) as db:
        table = Table("id", "brand", "slug", "dept", "priority", "calendar", "first", "next", "resolution",
                      "warn", "escalate", "active")
        for p in list_policies(db, SYSTEM):
            table.add_row(str(p.id), str(p.brand_id), p.slug, p.department or "any", p.priority or "any",
                          str(p.calendar_id or "24x7"), minutes(p.first_response_minutes),
                          minutes(p.next_response_minutes), minutes(p.resolution_minutes), str(p.warn_before_minutes),
                          "yes" if p.escalate_on_breach else "no", "yes" if p.is_active else "no")
        out.print(table)
