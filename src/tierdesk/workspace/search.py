"""The search page: `/search?q=` (the search box in the agent's top bar sends here). Tickets, messages and customers
of the brands the agent works, best match first; customers.search does the searching, the same as GET
/api/v1/search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tierdesk.brands import repository as brands
from tierdesk.brands.service import resolve_brand
from tierdesk.customers import search
from tierdesk.deps import AppSettings, Db, SignedInAgent
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.pages import csrf_protect, is_htmx, render

router = APIRouter(dependencies=[Depends(csrf_protect)])

PAGE_SIZE = 25


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    db: Db,
    who: SignedInAgent,
    settings: AppSettings,
    # Read leniently: whatever arrives answers a page (search.parse keeps what it can use), never a refusal.
    q: str = "",
    brand: str = "",
    start: str = "",
) -> Response:
    query = search.parse(q, settings.default_phone_region)
    visible = brands.list_visible(db, who.principal)
    brand_id = None
    problem = None
    if brand:
        try:
            brand_id = resolve_brand(db, who.principal, brand).id
        except InvalidInput:
            problem = "That brand is not one you work; showing every brand you work."
            brand = ""
    offset = int(start) if start.isascii() and start.isdigit() and int(start) < search.MAX_RESULTS else 0
    found = search.search(db, who.principal, query, brand_id=brand_id, offset=offset, limit=PAGE_SIZE)
    context: dict[str, Any] = dict(
                   who=who, section="search", q=query.text if q.strip() else "", brand=brand, brands=visible,
                   found=found, offset=offset, prev_offset=max(offset - PAGE_SIZE, 0), searched=bool(q.strip()),
                   message=problem or search.message_of(found))
    if is_htmx(request) and request.headers.get("HX-Target") == "search-results":
        return render(request, "workspace/_search_results.html", **context)
    return render(request, "workspace/search.html", **context)
