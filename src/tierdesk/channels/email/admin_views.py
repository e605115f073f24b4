"""The admin's page of a brand's email addresses (reached from the brand's page): the addresses the brand receives
mail at (every +tag of each reaches it too) and which one its replies go out from. Changed through
channels/email/addresses.py, like the API and the CLI, so the same checks apply and every change is audited."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from tierdesk.agents.sessions import SignedIn
from tierdesk.brands import repository as brands
from tierdesk.channels.email import addresses, repository
from tierdesk.channels.email.schemas import EmailAddressIn
from tierdesk.deps import Db, SignedInAdmin
from tierdesk.kit.errors import Conflict, InvalidInput, NotFound
from tierdesk.kit.forms import Errors, Posted, Refused, field_text, parse, refusal
from tierdesk.kit.input import PathId
from tierdesk.kit.pages import csrf_protect, render

router = APIRouter(dependencies=[Depends(csrf_protect)])
REFUSABLE = (Refused, InvalidInput, Conflict, NotFound)


def _page(request: Request, db: Session, who: SignedIn, brand_id: int, *, address: str = "",
          errors: Errors | None = None, status_code: int = 200) -> Response:
    brand = brands.get_visible(db, who.principal, brand_id)
    done = {"added": "Address added.", "removed": "Address removed."}.get(request.query_params.get("done", ""))
    return render(request, "channels/email/admin_addresses.html", status_code=status_code, who=who,
                  section="admin", brand=brand, addresses=repository.addresses_of_brand(db, brand.id),
                  address=address, errors=errors or {}, done=done)


@router.get("/admin/brands/{brand_id}/addresses", response_class=HTMLResponse)
def brand_addresses(brand_id: PathId, request: Request, db: Db, who: SignedInAdmin) -> Response:
    return _page(request, db, who, brand_id)


@router.post("/admin/brands/{brand_id}/addresses")
def add_address(brand_id: PathId, request: Request, db: Db, who: SignedInAdmin, form: Posted) -> Response:
    brand = brands.get_visible(db, who.principal, brand_id)
    address = field_text(form, "address")
    try:
        data = parse(EmailAddressIn, {"brand": brand.slug, "address": address})
        addresses.add_address(db, who.principal, brand, data.address)
    except REFUSABLE as exc:
        errors = refusal(db, exc)
        errors = {"address": errors.pop("_form", "")} | errors if "_form" in errors else errors
        return _page(request, db, who, brand_id, address=address, errors=errors, status_code=422)
    return RedirectResponse(f"/admin/brands/{brand_id}/addresses?done=added", status_code=303)


@router.post("/admin/brands/{brand_id}/addresses/remove")
def remove_address(brand_id: PathId, db: Db, who: SignedInAdmin, form: Posted) -> Response:
    brand = brands.get_visible(db, who.principal, brand_id)
    addresses.remove_address(db, who.principal, brand, field_text(form, "address"))
    return RedirectResponse(f"/admin/brands/{brand_id}/addresses?done=removed", status_code=303)
