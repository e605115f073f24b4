"""The web form's admin API: a brand's form settings, and what a web request carried beside its message."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tierdesk.brands.models import Brand
from tierdesk.brands.service import resolve_brand
from tierdesk.channels.web import repository
from tierdesk.channels.web.forms import settings_row, update_form
from tierdesk.channels.web.models import WebFormSettings, WebSubmission
from tierdesk.channels.web.schemas import WebFormSettingsIn, WebFormSettingsOut, WebSubmissionOut
from tierdesk.deps import CurrentPrincipal, Db
from tierdesk.kit.input import PathId
from tierdesk.tickets import repository as tickets

router = APIRouter(tags=["web forms"])


def settings_out(row: WebFormSettings, brand: Brand, base_url: str) -> WebFormSettingsOut:
    base = base_url.rstrip("/")
    return WebFormSettingsOut(
        brand=brand.slug, enabled=row.enabled, fields=list(row.fields), max_attachment_bytes=row.max_attachment_bytes,
        max_attachments=row.max_attachments, allowed_types=list(row.allowed_types),
        allowed_origins=list(row.allowed_origins), thank_you_text=row.thank_you_text, acknowledge=row.acknowledge,
        form_url=f"{base}/channels/web/{brand.slug}/form",
        embed_snippet=f'<script src="{base}/static/web/form.js" data-brand="{brand.slug}" async></script>',
    )


@router.get("/web-forms/{brand}", response_model=WebFormSettingsOut)
def get_web_form(brand: str, db: Db, principal: CurrentPrincipal, request: Request) -> WebFormSettingsOut:
    """The brand's web form settings (the defaults while nobody changed them: the form is off)."""
    found = resolve_brand(db, principal, brand)
    return settings_out(settings_row(db, found), found, str(request.base_url))


@router.patch("/web-forms/{brand}", response_model=WebFormSettingsOut)
def change_web_form(brand: str, data: WebFormSettingsIn, db: Db, principal: CurrentPrincipal,
                    request: Request) -> WebFormSettingsOut:
    """Turn the form on or off, set its own fields, attachment limits, the sites that may embed it, the thank-you
    text and the acknowledgement; what is not given stays. Admins and the brand's leads."""
    found = resolve_brand(db, principal, brand)
    return settings_out(update_form(db, principal, found, data), found, str(request.base_url))


@router.get("/tickets/{ticket_id}/web-submissions", response_model=list[WebSubmissionOut])
def ticket_web_submissions(ticket_id: PathId, db: Db, principal: CurrentPrincipal) -> list[WebSubmission]:
    """What the web form posts of this ticket carried beside their message: the brand's fields, as answered."""
    ticket = tickets.get_visible(db, principal, ticket_id)
    return repository.submissions_of_ticket(db, ticket.id)
