"""The admin's pages for brands: the list, a new brand (slug and name), and a brand's name and branding (logo and
colours, as the portal shows them). Checked by the API's schemas (BrandCreate, BrandUpdate) and changed through
brands/service.py, so the page refuses what the API refuses and every change is audited. A brand's email addresses
are the email channel's (channels/email/admin_views.py); its triage threshold is triage's (triage/admin_views.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from tierdesk.brands import repository, service
from tierdesk.brands.schemas import BrandCreate, BrandUpdate
from tierdesk.deps import Db, SignedInAdmin
from tierdesk.kit.errors import Conflict, InvalidInput
from tierdesk.kit.forms import Errors, Posted, Refused, field_text, optional, parse, refusal
from tierdesk.kit.input import PathId
from tierdesk.kit.pages import csrf_protect, render

router = APIRouter(dependencies=[Depends(csrf_protect)])
REFUSABLE = (Refused, InvalidInput, Conflict)
BRANDING = ("logo_url", "brand_colour", "accent_colour")


def _list_page(request: Request, db: Session, who: SignedInAdmin, *, values: dict[str, Any] | None = None,
               errors: Errors | None = None, status_code: int = 200) -> Response:
    return render(request, "brands/admin_list.html", status_code=status_code, who=who, section="admin",
                  brands=repository.list_visible(db, who.principal), values=values or {"slug": "", "name": ""},
                  errors=errors or {})


@router.get("/admin/brands", response_class=HTMLResponse)
def brands_list(request: Request, db: Db, who: SignedInAdmin) -> Response:
    return _list_page(request, db, who)


@router.post("/admin/brands")
def create_brand(request: Request, db: Db, who: SignedInAdmin, form: Posted) -> Response:
    values = {"slug": field_text(form, "slug"), "name": field_text(form, "name")}
    try:
        brand = service.create_brand(db, who.principal, parse(BrandCreate, values))
    except REFUSABLE as exc:
        return _list_page(request, db, who, values=values, errors=refusal(db, exc), status_code=422)
    return RedirectResponse(f"/admin/brands/{brand.id}?done=created", status_code=303)


def _brand_page(request: Request, db: Session, who: SignedInAdmin, brand_id: int, *,
                values: dict[str, Any] | None = None, errors: Errors | None = None,
                status_code: int = 200) -> Response:
    brand = repository.get_visible(db, who.principal, brand_id)
    shown = values or {"name": brand.name, **{f: getattr(brand, f) or "" for f in BRANDING}}
    done = {"created": "Brand created, with its triage queue and an entry queue per department.",
            "saved": "Changes saved."}.get(request.query_params.get("done", ""))
    return render(request, "brands/admin_brand.html", status_code=status_code, who=who, section="admin",
                  brand=brand, values=shown, errors=errors or {}, done=done)


@router.get("/admin/brands/{brand_id}", response_class=HTMLResponse)
def show_brand(brand_id: PathId, request: Request, db: Db, who: SignedInAdmin) -> Response:
    return _brand_page(request, db, who, brand_id)


@router.post("/admin/brands/{brand_id}")
def update_brand(brand_id: PathId, request: Request, db: Db, who: SignedInAdmin, form: Posted) -> Response:
    values = {"name": field_text(form, "name"), **{f: field_text(form, f) for f in BRANDING}}
    # An empty logo or colour clears it (null in the API).
    body = {"name": values["name"], **{f: optional(form, f) for f in BRANDING}}
    try:
        service.update_brand(db, who.principal, brand_id, parse(BrandUpdate, body))
    except REFUSABLE as exc:
        return _brand_page(request, db, who, brand_id, values=values, errors=refusal(db, exc), status_code=422)
    return RedirectResponse(f"/admin/brands/{brand_id}?done=saved", status_code=303)
