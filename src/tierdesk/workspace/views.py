"""The workspace's list pages: `/` (my work, or the sign-in page when nobody is signed in), `/next`, the presence
switch, `/queues` and `/queues/{id}`, and `/tickets` with its filters and saved views. Changes go through the owning
domain's service (presence, saved views); the live updates are in workspace/live.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from tierdesk.agents import presence
from tierdesk.agents import repository as agents_repo
from tierdesk.agents.schemas import PresenceSet
from tierdesk.agents.sessions import SignedIn
from tierdesk.agents.views import sign_in_page
from tierdesk.brands import repository as brands_repo
from tierdesk.deps import AppSettings, Db, SignedInAgent, get_signed_in
from tierdesk.kit.errors import Conflict, Forbidden, InvalidInput
from tierdesk.kit.input import PathId
from tierdesk.kit.pages import SignInRequired, csrf_protect, is_htmx, render
from tierdesk.kit.pagination import decode_cursor, page_of
from tierdesk.kit.vocabulary import (
    TOP_TIER,
    AgentRole,
    Channel,
    Department,
    PresenceStatus,
    Priority,
    TicketStatus,
    WorkKind,
)
from tierdesk.queues import repository as queues_repo
from tierdesk.routing import router as routing
from tierdesk.routing import service as routing_service
from tierdesk.routing.router import default_capacity
from tierdesk.tickets import repository as tickets_repo
from tierdesk.tickets.models import Ticket
from tierdesk.workspace import repository, saved_views
from tierdesk.workspace.filters import ListFilters
from tierdesk.workspace.models import SavedView

router = APIRouter(dependencies=[Depends(csrf_protect)])

# The presence states an agent switches between in the workspace (busy and offline are set by calls and sign-out).
SWITCHABLE = (PresenceStatus.AVAILABLE, PresenceStatus.AWAY, PresenceStatus.WRAP_UP)
# An SLA due sooner than this shows as a warning (sla.schemas' default warn_before_minutes).
SLA_WARN = dt.timedelta(minutes=15)
PAGE_SIZE = 50


# -- rows ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TicketRow:
    ticket: Ticket
    customer: str
    tags: list[str]
    brand: str
    assignee: str | None = None


def sla_class(due: dt.datetime | None, now: dt.datetime) -> str:
    if due is None:
        return ""
    if due <= now:
        return "sla-breached"
    return "sla-warn" if due - now <= SLA_WARN else "sla-ok"


def _rows(db: Session, who: SignedIn, found: list[Ticket], *, with_assignee: bool = False) -> list[TicketRow]:
    """What each row shows, batch-loaded: a fixed number of statements whatever the number of rows."""
    ids = [t.id for t in found]
    tags = tickets_repo.tags_of_tickets(db, ids)
    customers = repository.customer_labels(db, [t.customer_id for t in found])
    brands = {b.id: b.name for b in brands_repo.list_visible(db, who.principal)}
    assignees: dict[int, str] = {}
    if with_assignee:
        wanted = [t.assignee_id for t in found if t.assignee_id is not None]
        assignees = {i: a.display_name for i, a in agents_repo.by_ids(db, wanted).items()} if wanted else {}
    return [TicketRow(t, customers.get(t.customer_id, ""), tags.get(t.id, []), brands.get(t.brand_id, ""),
                      assignees.get(t.assignee_id) if t.assignee_id is not None else None) for t in found]


# -- my work -----------------------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: Db, settings: AppSettings) -> Response:
    try:
        who = get_signed_in(request, db)
    except SignInRequired:
        return sign_in_page(request)
    return render(request, "workspace/my_work.html", who=who, section="work", **_my_work(db, who),
                  **_presence_context(db, settings, who.agent_id))


@router.get("/work/list", response_class=HTMLResponse)
def my_work_list(request: Request, db: Db, who: SignedInAgent) -> Response:
    """The My work list alone, for live.js to refresh it in place."""
    return render(request, "workspace/_my_work_list.html", who=who, **_my_work(db, who))


@router.get("/work/presence", response_class=HTMLResponse)
def my_presence(request: Request, db: Db, who: SignedInAgent, settings: AppSettings) -> Response:
    """My presence and load alone, for live.js to refresh them when work arrives."""
    return render(request, "workspace/_presence.html", who=who, error=None, oob=False,
                  **_presence_context(db, settings, who.agent_id))


def _my_work(db: Session, who: SignedIn) -> dict[str, Any]:
    found = repository.my_work(db, who.principal, who.agent_id)
    return {"rows": _rows(db, who, found), "counts": repository.assigned_count(db, who.principal, who.agent_id),
            "sla_class": sla_class, "warn_seconds": int(SLA_WARN.total_seconds()),
            "limit": repository.MY_WORK_LIMIT}


def _presence_context(db: Session, settings: Any, agent_id: int) -> dict[str, Any]:
    agent = agents_repo.by_ids(db, [agent_id])[agent_id]
    defaults = default_capacity(settings)
    seen = routing.workload(db, agent_id, defaults)
    load = [(kind, seen.load[kind] if seen else 0, (seen.capacity if seen else defaults)[kind]) for kind in WorkKind]
    return {"me": agent, "switchable": SWITCHABLE, "load": load}


@router.post("/presence", response_class=HTMLResponse)
def set_presence(request: Request, db: Db, who: SignedInAgent, settings: AppSettings,
                 status: Annotated[str, Form()] = "", reason: Annotated[str | None, Form()] = None) -> Response:
    """The presence switch: the same validation (PresenceSet) and service as PUT /api/v1/agents/{id}/presence."""
    error = None
    try:
        data = PresenceSet.model_validate({"status": status, "reason": reason or None})
        if data.status not in SWITCHABLE:
            raise InvalidInput("choose available, away or wrap-up here", field="status")
        presence.set_presence(db, who.principal, who.agent_id, data.status, data.reason)
    except ValidationError:
        error = "choose available, away or wrap-up"
    except InvalidInput as exc:
        error = exc.message
    if error and is_htmx(request):
        return PlainTextResponse(error, status_code=422)  # app.js shows it as a toast; the switch stays as it was
    if error:
        return render(request, "error.html", status_code=422, status=422, message=error)
    if not is_htmx(request):
        return RedirectResponse("/", status_code=303)
    return render(request, "workspace/_presence.html", who=who, error=None, oob=True,
                  **_presence_context(db, settings, who.agent_id))


@router.get("/next")
def next_ticket(request: Request, db: Db, who: SignedInAgent) -> Response:
    """The most urgent of my tickets (the first of My work), or a page saying there is none."""
    found = repository.my_work(db, who.principal, who.agent_id, limit=1)
    if found:
        return RedirectResponse(f"/tickets/{found[0].id}", status_code=303)
    return render(request, "workspace/next.html", who=who, section="work")


# -- queues ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueLine:
    id: int
    name: str
    slug: str
    brand: str
    department: str
    tier: int
    active: bool
    waiting: int
    oldest: dt.datetime | None
    available: int
    eligible: int


@router.get("/queues", response_class=HTMLResponse)
def queues_page(request: Request, db: Db, who: SignedInAgent, settings: AppSettings) -> Response:
    queues = queues_repo.list_visible(db, who.principal)
    ids = [q.id for q in queues]
    waiting = tickets_repo.waiting_counts(db, ids)
    oldest = repository.oldest_waiting(db, ids)
    rules = routing.queue_rules(db, ids)  # the active ones, with their required skills
    defaults = default_capacity(settings)
    brand_ids = {q.brand_id for q in queues}
    # One team per brand (a handful of statements each), never one per queue.
    teams = {b: list(routing.brand_team(db, b, defaults).values()) for b in sorted(brand_ids)}
    available = set(routing.candidates(db, brand_ids, defaults, lock=False)) if brand_ids else set()
    brands = {b.id: b.name for b in brands_repo.list_visible(db, who.principal)}
    lines = []
    for q in queues:
        rule = rules.get(q.id)
        fit = [c for c in teams.get(q.brand_id, []) if rule is not None and rule.accepts(c)]
        lines.append(QueueLine(q.id, q.name, q.slug, brands.get(q.brand_id, ""),
                               q.department.value if q.department else "", q.tier, q.is_active, waiting.get(q.id, 0),
                               oldest.get(q.id), sum(1 for c in fit if c.id in available), len(fit)))
    lines.sort(key=lambda line: (line.brand, not line.active, -line.waiting, line.tier, line.name))
    return render(request, "workspace/queues.html", who=who, section="queues", lines=lines)


@router.get("/queues/{queue_id}", response_class=HTMLResponse)
def queue_page(queue_id: PathId, request: Request, db: Db, who: SignedInAgent, settings: AppSettings) -> Response:
    queue = queues_repo.get_visible(db, who.principal, queue_id)
    defaults = default_capacity(settings)
    waiting = routing_service.waiting_tickets(db, who.principal, queue.id, defaults)
    team = routing_service.eligible_agents(db, queue, defaults)
    brand = brands_repo.get_visible(db, who.principal, queue.brand_id)
    return render(request, "workspace/queue.html", who=who, section="queues", queue=queue, brand=brand,
                  waiting=waiting, team=team, total=tickets_repo.waiting_counts(db, [queue.id]).get(queue.id, 0),
                  sla_class=sla_class)


# -- the ticket list, its filters and saved views ---------------------------------------------------------------------
@router.get("/tickets", response_class=HTMLResponse)
def tickets_page(request: Request, db: Db, who: SignedInAgent,
                 cursor: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    try:
        filters = ListFilters.parse(request.query_params.multi_items())
    except InvalidInput as exc:
        return _tickets_page(request, db, who, ListFilters(), [], None, error=exc.message, status_code=422,
                             raw=request.query_params.multi_items())
    return _list(request, db, who, filters, cursor)


def _list(request: Request, db: Session, who: SignedIn, filters: ListFilters, cursor: str | None,
          **extra: Any) -> HTMLResponse:
    try:
        position = decode_cursor(cursor, keys=("id",))
        wanted = filters.for_tickets(db, who.principal, who.agent_id)
    except InvalidInput as exc:
        return _tickets_page(request, db, who, filters, [], None, error=exc.message, status_code=422)
    found = tickets_repo.list_visible(db, who.principal, wanted, after_id=position["id"] if position else None,
                                      limit=PAGE_SIZE, newest_first=True)
    found, next_cursor = page_of(found, PAGE_SIZE, lambda t: {"id": t.id})
    return _tickets_page(request, db, who, filters, _rows(db, who, found, with_assignee=True), next_cursor,
                         paged=cursor is not None, **extra)


def _tickets_page(request: Request, db: Session, who: SignedIn, filters: ListFilters, rows: list[TicketRow],
                  next_cursor: str | None, *, error: str | None = None, status_code: int = 200,
                  raw: list[tuple[str, str]] | None = None, paged: bool = False,
                  view_error: str | None = None, view_name: str = "") -> HTMLResponse:
    views = [(v, _view_href(v)) for v in repository.saved_views_of(db, who.principal, who.agent_id)]
    shown = {name: value for name, value in (raw or [])}  # what was typed, kept in the form beside its error
    current = filters.query()
    brands = brands_repo.list_visible(db, who.principal)
    return render(
        request, "workspace/tickets.html", status_code=status_code, who=who, section="tickets", filters=filters,
        rows=rows, next_cursor=next_cursor, error=error, shown=shown, views=views, current=current, paged=paged,
        brands=brands, statuses=list(TicketStatus), priorities=list(Priority),
        departments=list(Department), channels=list(Channel), tiers=range(TOP_TIER + 1), sla_class=sla_class,
        may_share=who.role in (AgentRole.LEAD, AgentRole.ADMIN), view_error=view_error, view_name=view_name,
        brand_names={b.id: b.name for b in brands})


def _view_href(view: SavedView) -> str:
    try:
        return f"/tickets?{saved_views.filters_of(view).query(view=str(view.id))}"
    except Conflict:
        return f"/tickets?view={view.id}"  # saved under older rules: opens unfiltered


FormText = Annotated[str, Form(max_length=200)]


@router.post("/tickets/views", response_class=HTMLResponse)
def save_view(request: Request, db: Db, who: SignedInAgent, name: FormText = "", share_with: FormText = "",
              status: Annotated[list[str] | None, Form(max_length=20)] = None, department: FormText = "",
              tier: FormText = "", priority: FormText = "", channel: FormText = "", brand: FormText = "",
              tag: FormText = "", assignee: FormText = "") -> Response:
    """Save the list's current filters (the form carries them as hidden fields) under a name."""
    pairs = [("status", s) for s in status or []] + [
        ("department", department), ("tier", tier), ("priority", priority), ("channel", channel), ("brand", brand),
        ("tag", tag), ("assignee", assignee)]
    try:
        filters = ListFilters.parse(pairs)
    except InvalidInput as exc:
        return _tickets_page(request, db, who, ListFilters(), [], None, error=exc.message, status_code=422)
    try:
        view = saved_views.save(db, who.principal, who.agent_id, name, filters, share_with or None)
    except (InvalidInput, Forbidden) as exc:
        page = _list(request, db, who, filters, None, view_error=exc.message, view_name=name)
        page.status_code = 422 if isinstance(exc, InvalidInput) else 403
        return page
    return RedirectResponse(f"/tickets?{filters.query(view=str(view.id))}", status_code=303)


@router.post("/tickets/views/{view_id}/delete")
def delete_view(view_id: PathId, db: Db, who: SignedInAgent) -> Response:
    saved_views.delete(db, who.principal, who.agent_id, view_id)
    return RedirectResponse("/tickets", status_code=303)
