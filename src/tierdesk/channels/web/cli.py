"""The web form's commands: `tierdesk webform show|set|field-add|field-remove`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tierdesk.kit.console import friendly_errors, out
from tierdesk.kit.vocabulary import WebFieldType

if TYPE_CHECKING:
    from tierdesk.channels.web.models import WebFormSettings
    from tierdesk.channels.web.schemas import WebFormSettingsIn
    from tierdesk.db import Database

webform_app = typer.Typer(help="Web forms: each brand's form, its own fields, attachments and embedding.",
                          no_args_is_help=True)
Brand = Annotated[str, typer.Option(help="brand slug")]


def _database() -> Database:
    from tierdesk.migrate import database_for_command

    return database_for_command()


def _show(row: WebFormSettings, slug: str) -> None:
    out.print(f"brand '{slug}': web form {'on' if row.enabled else 'off'}, "
              f"acknowledgement email {'on' if row.acknowledge else 'off'}")
    out.print(f"  attachments: up to {row.max_attachments} of {row.max_attachment_bytes / 2**20:g} MB each, types "
              f"{', '.join(row.allowed_types) or 'none'}")
    out.print(f"  may be embedded by: {', '.join(row.allowed_origins) or 'no other site'}")
    out.print(f"  thank-you text: {row.thank_you_text or '(the default)'}")
    for f in row.fields:
        extra = f" choices: {' | '.join(f['choices'])}" if f.get("choices") else ""
        out.print(f"  field {f['name']} ({f.get('type', 'text')}{', required' if f.get('required') else ''}): "
                  f"{f['label']}{extra}")
    out.print(f"  page: /channels/web/{slug}/form; embed: <script src=\"https://YOUR-TIERDESK/static/web/form.js\" "
              f"data-brand=\"{slug}\" async></script>")


def _change(brand: str, data: WebFormSettingsIn) -> None:
    from tierdesk.brands.service import resolve_brand
    from tierdesk.channels.web.forms import update_form
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction() as db:
        found = resolve_brand(db, SYSTEM, brand)
        _show(update_form(db, SYSTEM, found, data), found.slug)


def _fields(brand: str) -> list[dict[str, object]]:
    from tierdesk.brands.service import resolve_brand
    from tierdesk.channels.web.forms import settings_row
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction(write=False) as db:
        return list(settings_row(db, resolve_brand(db, SYSTEM, brand)).fields)


@webform_app.command("show")
@friendly_errors
def show(brand: Brand) -> None:
    """The brand's web form settings."""
    from tierdesk.brands.service import resolve_brand
    from tierdesk.channels.web.forms import settings_row
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction(write=False) as db:
        found = resolve_brand(db, SYSTEM, brand)
        _show(settings_row(db, found), found.slug)


@webform_app.command("set")
@friendly_errors
def set_(
    brand: Brand,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="turn the form on or off")] = None,
    max_attachment_mb: Annotated[float | None, typer.Option(help="the largest file taken, in MB")] = None,
    max_attachments: Annotated[int | None, typer.Option(help="files per request (0: no attachments)")] = None,
    allow_type: Annotated[list[str] | None, typer.Option(
        help="a MIME type or family taken (image/png, image/*); repeat it; replaces the list")] = None,
    origin: Annotated[list[str] | None, typer.Option(
        help="a site that may embed the form (https://www.example.com); repeat it; replaces the list")] = None,
    no_origins: Annotated[bool, typer.Option("--no-origins", help="no other site may embed the form")] = False,
    thank_you: Annotated[str | None, typer.Option(help="shown after a request is sent ('' for the default)")] = None,
    acknowledge: Annotated[bool | None, typer.Option("--acknowledge/--no-acknowledge",
                                                     help="email the customer an acknowledgement")] = None,
) -> None:
    """Change the brand's web form; what is not given stays as it is."""
    from tierdesk.channels.web.schemas import WebFormSettingsIn

    values: dict[str, object] = {}
    if enabled is not None:
        values["enabled"] = enabled
    if max_attachment_mb is not None:
        values["max_attachment_bytes"] = int(max_attachment_mb * 2**20)
    if max_attachments is not None:
        values["max_attachments"] = max_attachments
    if allow_type:
        values["allowed_types"] = allow_type
    if origin or no_origins:
        values["allowed_origins"] = [] if no_origins else origin
    if thank_you is not None:
        values["thank_you_text"] = thank_you or None
    if acknowledge is not None:
        values["acknowledge"] = acknowledge
    _change(brand, WebFormSettingsIn.model_validate(values))


@webform_app.command("field-add")
@friendly_errors
def field_add(
    name: Annotated[str, typer.Argument(help="lower-case letters, digits and _ (how the answer is stored)")],
    brand: Brand,
    label: Annotated[str, typer.Option(help="what the customer reads beside it")],
    type_: Annotated[WebFieldType, typer.Option("--type", help="text, textarea, select or checkbox")]
    = WebFieldType.TEXT,
    choice: Annotated[list[str] | None, typer.Option(help="an option of a select field; repeat it")] = None,
    required: Annotated[bool, typer.Option("--required", help="the form is refused without it")] = False,
    max_length: Annotated[int | None, typer.Option(help="the longest answer taken")] = None,
) -> None:
    """Add a field of the brand's own to its form (or replace the field of that name), at the end."""
    from tierdesk.channels.web.schemas import WebFormSettingsIn

    new = {"name": name, "label": label, "type": type_.value, "required": required, "choices": choice or None,
           "max_length": max_length}
    fields = [f for f in _fields(brand) if f.get("name") != name] + [new]
    _change(brand, WebFormSettingsIn.model_validate({"fields": fields}))


@webform_app.command("field-remove")
@friendly_errors
def field_remove(name: str, brand: Brand) -> None:
    """Remove a field of the brand's own from its form (answers already given stay with their requests)."""
    from tierdesk.channels.web.schemas import WebFormSettingsIn
    from tierdesk.kit.errors import NotFound

    fields = _fields(brand)
    if not any(f.get("name") == name for f in fields):
        raise NotFound(f"the form of brand '{brand}' has no field {name!r}")
    _change(brand, WebFormSettingsIn.model_validate({"fields": [f for f in fields if f.get("name") != name]}))
