"""A brand's web form settings: read with their defaults, changed by an admin or a lead of the brand."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from tierdesk.audit import service as audit
from tierdesk.brands.models import Brand
from tierdesk.channels.web import repository
from tierdesk.channels.web.attachments import FileLimits
from tierdesk.channels.web.models import DEFAULT_ALLOWED_TYPES, WebFormSettings
from tierdesk.channels.web.schemas import WebFormField, WebFormSettingsIn
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import NotFound
from tierdesk.kit.input import patch_values
from tierdesk.kit.vocabulary import AgentRole

DEFAULT_THANK_YOU = "Thank you: we received your request and will answer by email."


@dataclass(frozen=True)
class WebForm:
    """A brand's form as the channel uses it (the defaults filled in)."""

    brand: Brand
    enabled: bool
    fields: list[WebFormField]
    files: FileLimits
    allowed_origins: list[str]
    thank_you_text: str
    acknowledge: bool

    @classmethod
    def of(cls, brand: Brand, row: WebFormSettings | None) -> WebForm:
        if row is None:
            return cls(brand, False, [], FileLimits(10 * 1024 * 1024, 5, tuple(DEFAULT_ALLOWED_TYPES)), [],
                       DEFAULT_THANK_YOU, True)
        return cls(brand, row.enabled, [WebFormField.model_validate(f) for f in row.fields],
                   FileLimits(row.max_attachment_bytes, row.max_attachments, tuple(row.allowed_types)),
                   list(row.allowed_origins), row.thank_you_text or DEFAULT_THANK_YOU, row.acknowledge)


def form_of(db: Session, brand: Brand) -> WebForm:
    return WebForm.of(brand, repository.settings_of(db, brand.id))


def open_form(db: Session, brand: Brand | None) -> WebForm:
    """The form customers may use; a brand without one (or none at all) is answered alike."""
    form = form_of(db, brand) if brand is not None else None
    if form is None or not form.enabled:
        raise NotFound("there is no web form here")
    return form


def settings_row(db: Session, brand: Brand) -> WebFormSettings:
    """The brand's row, created with the defaults when it has none (shown as it would be stored)."""
    row = repository.settings_of(db, brand.id)
    if row is None:
        row = WebFormSettings(brand_id=brand.id, enabled=False, fields=[], max_attachment_bytes=10 * 1024 * 1024,
                              max_attachments=5, allowed_types=list(DEFAULT_ALLOWED_TYPES), allowed_origins=[],
                              thank_you_text=None, acknowledge=True)
    return row


AUDITED = ("enabled", "fields", "max_attachment_bytes", "max_attachments", "allowed_types", "allowed_origins",
           "thank_you_text", "acknowledge")


def update_form(db: Session, principal: Principal, brand: Brand, data: WebFormSettingsIn) -> WebFormSettings:
    """Change what is given; the rest stays. Admins, and leads of the brand (resolve_brand checked the brand)."""
    principal.require_role(AgentRole.LEAD)
    values = patch_values(data, nullable=frozenset({"thank_you_text"}))
    row = repository.settings_for_update(db, brand.id)
    if row is None:
        row = settings_row(db, brand)
        db.add(row)
    before = audit.snapshot(row, AUDITED)
    for name, value in values.items():
        if name == "fields":
            value = [f.model_dump(mode="json", exclude_none=True) for f in value]
        if name == "thank_you_text" and value is not None:
            value = value.strip() or None
        setattr(row, name, value)
    db.flush()
    audit.record(db, Actor.of(principal), "web_form_settings", brand.id, "updated", before=before,
                 after=audit.snapshot(row, AUDITED), brand_id=brand.id)
    return row
