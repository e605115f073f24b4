"""The admin's page of disposition codes (how tickets ended: "refund issued", "fixed by reboot"), per brand and
department: create, deactivate, reactivate. Checked by the API's DispositionCreate and changed through
tickets/service.py, so the page refuses what the API refuses and every change is audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from tierdesk.agents.sessions import SignedIn
from tierdesk.brands import repository as brands
from tierdesk.deps import Db, SignedInAdmin
from tierdesk.kit.errors import Conflict, InvalidInput
from tierdesk.kit.forms import Errors, Posted, Refused, field_text, optional, parse, refusal
from tierdesk.kit.input import PathId
from tierdesk.kit.pages import csrf_protect, render
from tierdesk.kit.vocabulary import Department
from tierdesk.tickets import repository, service
from tierdesk.tickets.schemas import DispositionCreate

router = APIRouter(dependencies=[Depends(csrf_protect)])
REFUSABLE = (Refused, InvalidInput, Conflict)


def _page(request: Request, db: Session, who: SignedIn, *, values: dict[str, Any] | None = None,
          errors: Errors | None = None, status_code: int = 200) -> Response:
    all_brands = brands.list_visible(db, who.principal)
    chosen = next((b for b in all_brands if b.slug == request.query_params.get("brand")), None)
    codes = repository.dispositions_visible(db, who.principal, chosen.id if chosen else None)
    done = {"created": "Disposition code created.", "deactivated": "Disposition code deactivated.",
            "reactivated": "Disposition code reactivated."}.get(request.query_params.get("done", ""))
    return render(request, "tickets/admin_dispositions.html", status_code=status_code, who=who, section="admin",
                  brands=all_brands, brand_names={b.id: b.name for b in all_brands}, chosen=chosen, codes=codes,
                  departments=list(Department), errors=errors or {}, done=done,
                  values=values or {"brand": chosen.slug if chosen else "", "code": "", "label": "",
                                    "department": ""})


@router.get("/admin/dispositions", response_class=HTMLResponse)
def dispositions(request: Request, db: Db, who: SignedInAdmin) -> Response:
    return _page(request, db, who)


@router.post("/admin/dispositions")
def create_disposition(request: Request, db: Db, who: SignedInAdmin, form: Posted) -> Response:
    values = {"brand": field_text(form, "brand"), "code": field_text(form, "code"), "label": field_text(form, "label"),
              "department": optional(form, "department")}
    try:
        code = service.create_disposition(db, who.principal, parse(DispositionCreate, values))
        slug = brands.get_visible(db, who.principal, code.brand_id).slug
    except REFUSABLE as exc:
        return _page(request, db, who, values=values, errors=refusal(db, exc), status_code=422)
    return RedirectResponse(f"/admin/dispositions?brand={slug}&done=created", status_code=303)


@router.post("/admin/dispositions/{code_id}/active")
def set_active(code_id: PathId, db: Db, who: SignedInAdmin, form: Posted) -> Response:
    active = field_text(form, "active") == "true"
    code = service.set_disposition_active(db, who.principal, code_id, active)
    slug = brands.get_visible(db, who.principal, code.brand_id).slug
    return RedirectResponse(f"/admin/dispositions?brand={slug}&done={'reactivated' if active else 'deactivated'}",
                            status_code=303)
