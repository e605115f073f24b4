"""The admin's page of triage thresholds: per brand, the confidence below which a new ticket waits in the brand's
triage queue for a person to decide its department (1: people triage every ticket; empty: the deployment's
TIERDESK_TRIAGE_CONFIDENCE_THRESHOLD). Kept on the brand (brands.triage_threshold), changed through
brands/service.py with BrandUpdate like PATCH /api/v1/brands/{id}, so it is validated (0 to 1) and audited alike."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from tierdesk.agents.sessions import SignedIn
from tierdesk.brands import repository as brands
from tierdesk.brands import service as brands_service
from tierdesk.brands.schemas import BrandUpdate
from tierdesk.config import Settings
from tierdesk.deps import AppSettings, Db, SignedInAdmin
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.forms import Errors, Posted, Refused, optional, parse, refusal
from tierdesk.kit.input import PathId
from tierdesk.kit.pages import csrf_protect, render

router = APIRouter(dependencies=[Depends(csrf_protect)])


def _page(request: Request, db: Session, who: SignedIn, settings: Settings, *, failed: int | None = None,
          value: str = "", errors: Errors | None = None, status_code: int = 200) -> Response:
    done = "Threshold saved: it applies to new tickets from now on." if request.query_params.get("done") else None
    return render(request, "triage/admin_threshold.html", status_code=status_code, who=who, section="admin",
                  brands=brands.list_visible(db, who.principal), default=settings.triage_confidence_threshold,
                  failed=failed, value=value, errors=errors or {}, done=done)


@router.get("/admin/triage", response_class=HTMLResponse)
def thresholds(request: Request, db: Db, who: SignedInAdmin, settings: AppSettings) -> Response:
    return _page(request, db, who, settings)


@router.post("/admin/triage/{brand_id}")
def set_threshold(brand_id: PathId, request: Request, db: Db, who: SignedInAdmin, settings: AppSettings,
                  form: Posted) -> Response:
    value = optional(form, "triage_threshold")
    try:
        data = parse(BrandUpdate, {"triage_threshold": value})  # "" -> None: back to the deployment's
        brands_service.update_brand(db, who.principal, brand_id, data)
    except (Refused, InvalidInput) as exc:
        return _page(request, db, who, settings, failed=brand_id, value=value or "", errors=refusal(db, exc),
                     status_code=422)
    return RedirectResponse("/admin/triage?done=1", status_code=303)
