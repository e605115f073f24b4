"""Admin pages for queues and their routing settings: department, tier, required skills with minimum levels, the
routing strategy and overflow. Every change goes through routing.service with the API's schemas (QueueCreate,
QueueUpdate), so a page refuses exactly what the API refuses, each message beside its field."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from tierdesk.brands import repository as brands
from tierdesk.brands.models import Brand
from tierdesk.brands.service import resolve_brand
from tierdesk.deps import Db, SignedInAdmin
from tierdesk.kit import forms
from tierdesk.kit.input import PathId
from tierdesk.kit.pages import csrf_protect, render
from tierdesk.kit.vocabulary import Department, QueueKind, RoutingPolicy
from tierdesk.queues import repository
from tierdesk.queues.models import Queue
from tierdesk.routing import service
from tierdesk.routing.schemas import QueueCreate, QueueUpdate
from tierdesk.tickets import repository as tickets

router = APIRouter(dependencies=[Depends(csrf_protect)])

BLANK_SKILL_ROWS = 3  # empty rows under a queue's required skills, for adding some


def _skills(form: FormData) -> list[dict[str, str]]:
    """The required-skill rows of the form; a row without a skill is an unused one."""
    return [{"skill": skill, "min_level": level}
            for skill, level in zip(forms.field_texts(form, "skill"), forms.field_texts(form, "min_level"),
                                    strict=False)
            if skill]


def _overflow(form: FormData) -> dict[str, Any]:
    return {"overflow_queue": forms.optional(form, "overflow_queue"),
            "overflow_after_seconds": forms.optional(form, "overflow_after_seconds")}


def _values(queue: Queue | None, form: FormData | None) -> dict[str, Any]:
    """What the form shows: the posted values when it comes back with errors, else the queue's."""
    if form is not None:
        return {"slug": forms.field_text(form, "slug"), "name": forms.field_text(form, "name"),
                "department": forms.field_text(form, "department"), "tier": forms.field_text(form, "tier"),
                "routing_policy": forms.field_text(form, "routing_policy"), "skills": _skills(form),
                "overflow_queue": forms.field_text(form, "overflow_queue"),
                "overflow_after_seconds": forms.field_text(form, "overflow_after_seconds"),
                "is_active": forms.checked(form, "is_active")}
    if queue is None:
        return {"slug": "", "name": "", "department": Department.CS.value, "tier": "1",
                "routing_policy": RoutingPolicy.LONGEST_IDLE.value, "skills": [], "overflow_queue": "",
                "overflow_after_seconds": "", "is_active": True}
    return {"slug": queue.slug, "name": queue.name, "department": queue.department.value if queue.department else "",
            "tier": str(queue.tier), "routing_policy": queue.routing_policy.value,
            "skills": [{"skill": s.skill, "min_level": str(s.min_level)} for s in queue.required_skills],
            "overflow_queue": str(queue.overflow_queue_id or ""),
            "overflow_after_seconds": str(queue.overflow_after_seconds or ""), "is_active": queue.is_active}


def _form(request: Request, db: Db, who: SignedInAdmin, brand: Brand, queue: Queue | None,
          form: FormData | None = None, errors: dict[str, str] | None = None) -> Response:
    siblings = [q for q in repository.list_visible(db, who.principal, brand.id) if queue is None or q.id != queue.id]
    return render(request, "routing/queue_form.html", status_code=422 if errors else 200, who=who,
                  section="admin", brand=brand, queue=queue, values=_values(queue, form), errors=errors or {},
                  blank_rows=BLANK_SKILL_ROWS, departments=list(Department), policies=list(RoutingPolicy),
                  overflow_targets=siblings)


@router.get("/admin/queues", response_class=HTMLResponse)
def queues_page(request: Request, db: Db, who: SignedInAdmin, brand: str | None = None) -> Response:
    """Every queue of the brands the admin works, brand by brand, with how many tickets wait in each."""
    shown = [resolve_brand(db, who.principal, brand)] if brand else brands.list_visible(db, who.principal)
    queues = repository.list_visible(db, who.principal, shown[0].id if brand else None)
    names = {q.id: q.name for q in queues}
    waiting = tickets.waiting_counts(db, list(names))
    by_brand = {b.id: [q for q in queues if q.brand_id == b.id] for b in shown}
    return render(request, "routing/queues.html", who=who, section="admin", brands=shown, by_brand=by_brand,
                  waiting=waiting, names=names, saved=request.query_params.get("saved"))


@router.get("/admin/queues/new", response_class=HTMLResponse)
def new_queue_page(request: Request, db: Db, who: SignedInAdmin, brand: str) -> Response:
    return _form(request, db, who, resolve_brand(db, who.principal, brand), None)


@router.post("/admin/queues/new", response_class=HTMLResponse)
def create_queue(request: Request, db: Db, who: SignedInAdmin, form: forms.Posted, brand: str) -> Response:
    found = resolve_brand(db, who.principal, brand)

    def create() -> Queue:
        data = QueueCreate.model_validate({
            "brand": found.slug, "slug": forms.field_text(form, "slug"), "name": forms.field_text(form, "name"),
            "department": forms.field_text(form, "department"), "tier": forms.field_text(form, "tier"),
            "routing_policy": forms.field_text(form, "routing_policy"), "required_skills": _skills(form),
            **_overflow(form)})
        return service.create_queue(db, who.principal, data)

    queue, errors = forms.attempt(db, create)
    if queue is None:
        return _form(request, db, who, found, None, form, errors)
    return RedirectResponse(f"/admin/queues?brand={found.slug}&saved={queue.slug}", status_code=303)


@router.get("/admin/queues/{queue_id}", response_class=HTMLResponse)
def edit_queue_page(request: Request, queue_id: PathId, db: Db, who: SignedInAdmin) -> Response:
    queue = repository.get_visible(db, who.principal, queue_id)
    return _form(request, db, who, brands.get_visible(db, who.principal, queue.brand_id), queue)


@router.post("/admin/queues/{queue_id}", response_class=HTMLResponse)
def update_queue(request: Request, queue_id: PathId, db: Db, who: SignedInAdmin, form: forms.Posted) -> Response:
    queue = repository.get_visible(db, who.principal, queue_id)
    brand = brands.get_visible(db, who.principal, queue.brand_id)

    def update() -> Queue:
        body: dict[str, Any] = {"name": forms.field_text(form, "name"), "tier": forms.field_text(form, "tier"),
                                "routing_policy": forms.field_text(form, "routing_policy"),
                                "required_skills": _skills(form), **_overflow(form)}
        if queue.kind is not QueueKind.TRIAGE:  # the triage queue has no department and is always on
            body |= {"department": forms.field_text(form, "department"), "is_active": forms.checked(form, "is_active")}
        return service.update_queue(db, who.principal, queue.id, QueueUpdate.model_validate(body))

    saved, errors = forms.attempt(db, update)
    if saved is None:
        db.expire_all()  # the form shows the queue as stored, beside what was posted
        return _form(request, db, who, brand, repository.get_visible(db, who.principal, queue_id), form, errors)
    return RedirectResponse(f"/admin/queues?brand={brand.slug}&saved={saved.slug}", status_code=303)
