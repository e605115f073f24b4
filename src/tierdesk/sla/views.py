"""Admin pages for SLA policies and the business calendars they count in. Every change goes through sla.service
with the API's schemas, so a page refuses exactly what the API refuses, each message beside its field."""

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
from tierdesk.kit.business_hours import DAYS
from tierdesk.kit.input import PathId
from tierdesk.kit.pages import csrf_protect, render
from tierdesk.kit.vocabulary import Department, Priority
from tierdesk.sla import service
from tierdesk.sla.models import BusinessCalendar, SlaPolicy
from tierdesk.sla.schemas import CalendarCreate, CalendarUpdate, PolicyCreate, PolicyUpdate

router = APIRouter(dependencies=[Depends(csrf_protect)])

DAY_NAMES = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
                     strict=True))
TARGETS = (("first_response_minutes", "First response"), ("next_response_minutes", "Next response"),
           ("resolution_minutes", "Resolution"))


@router.get("/admin/sla", response_class=HTMLResponse)
def sla_page(request: Request, db: Db, who: SignedInAdmin) -> Response:
    """Every brand's business calendars and SLA policies."""
    shown = brands.list_visible(db, who.principal)
    calendars = service.list_calendars(db, who.principal)
    policies = service.list_policies(db, who.principal)
    return render(request, "sla/index.html", who=who, section="admin", brands=shown,
                  calendars={b.id: [c for c in calendars if c.brand_id == b.id] for b in shown},
                  policies={b.id: [p for p in policies if p.brand_id == b.id] for b in shown},
                  calendar_names={c.id: c.name for c in calendars}, targets=TARGETS, day_names=DAY_NAMES,
                  saved=request.query_params.get("saved"))


def _saved(what: str) -> Response:
    return RedirectResponse(f"/admin/sla?saved={what}", status_code=303)


# -- business calendars ----------------------------------------------------------------------------------------------
def _hours(form: FormData) -> dict[str, list[str]]:
    return {day: forms.lines(form, f"hours_{day}") for day in DAYS}


def _calendar_values(calendar: BusinessCalendar | None, form: FormData | None) -> dict[str, Any]:
    if form is not None:
        return {"slug": forms.field_text(form, "slug"), "name": forms.field_text(form, "name"),
                "timezone": forms.field_text(form, "timezone"),
                "hours": {day: forms.field_text(form, f"hours_{day}") for day in DAYS},
                "holidays": forms.field_text(form, "holidays")}
    if calendar is None:
        return {"slug": "", "name": "", "timezone": "UTC",
                "hours": {day: "09:00-17:00" if day not in ("sat", "sun") else "" for day in DAYS}, "holidays": ""}
    return {"slug": calendar.slug, "name": calendar.name, "timezone": calendar.timezone,
            "hours": {day: ", ".join(calendar.weekly_hours.get(day, [])) for day in DAYS},
            "holidays": "\n".join(calendar.holidays)}


def _calendar_form(request: Request, who: SignedInAdmin, brand: Brand, calendar: BusinessCalendar | None,
                   form: FormData | None = None, errors: dict[str, str] | None = None) -> Response:
    return render(request, "sla/calendar_form.html", status_code=422 if errors else 200, who=who, section="admin",
                  brand=brand, calendar=calendar, values=_calendar_values(calendar, form), errors=errors or {},
                  day_names=DAY_NAMES)


@router.get("/admin/sla/calendars/new", response_class=HTMLResponse)
def new_calendar_page(request: Request, db: Db, who: SignedInAdmin, brand: str) -> Response:
    return _calendar_form(request, who, resolve_brand(db, who.principal, brand), None)


@router.post("/admin/sla/calendars/new", response_class=HTMLResponse)
def create_calendar(request: Request, db: Db, who: SignedInAdmin, form: forms.Posted, brand: str) -> Response:
    found = resolve_brand(db, who.principal, brand)

    def create() -> BusinessCalendar:
        data = CalendarCreate.model_validate({
            "brand": found.slug, "slug": forms.field_text(form, "slug"), "name": forms.field_text(form, "name"),
            "timezone": forms.field_text(form, "timezone"), "weekly_hours": _hours(form),
            "holidays": forms.lines(form, "holidays")})
        return service.create_calendar(db, who.principal, data)

    calendar, errors = forms.attempt(db, create)
    if calendar is None:
        return _calendar_form(request, who, found, None, form, errors)
    return _saved(calendar.slug)


@router.get("/admin/sla/calendars/{calendar_id}", response_class=HTMLResponse)
def edit_calendar_page(request: Request, calendar_id: PathId, db: Db, who: SignedInAdmin) -> Response:
    calendar = service.get_calendar(db, who.principal, calendar_id)
    return _calendar_form(request, who, brands.get_visible(db, who.principal, calendar.brand_id), calendar)


@router.post("/admin/sla/calendars/{calendar_id}", response_class=HTMLResponse)
def update_calendar(request: Request, calendar_id: PathId, db: Db, who: SignedInAdmin,
                    form: forms.Posted) -> Response:
    calendar = service.get_calendar(db, who.principal, calendar_id)
    brand = brands.get_visible(db, who.principal, calendar.brand_id)

    def update() -> BusinessCalendar:
        data = CalendarUpdate.model_validate({
            "name": forms.field_text(form, "name"), "timezone": forms.field_text(form, "timezone"),
            "weekly_hours": _hours(form), "holidays": forms.lines(form, "holidays")})
        return service.update_calendar(db, who.principal, calendar.id, data)

    saved, errors = forms.attempt(db, update)
    if saved is None:
        db.expire_all()
        return _calendar_form(request, who, brand, service.get_calendar(db, who.principal, calendar_id), form,
                              errors)
    return _saved(saved.slug)


# -- SLA policies ----------------------------------------------------------------------------------------------------
def _targets(form: FormData) -> dict[str, Any]:
    """The targets (empty: the metric is not tracked), the warning, the calendar (empty: 24x7)."""
    values = {field: forms.optional(form, field) for field, _label in TARGETS} | {
        "escalate_on_breach": forms.checked(form, "escalate_on_breach"), "calendar": forms.optional(form, "calendar")}
    warn = forms.optional(form, "warn_before_minutes")
    return values | ({"warn_before_minutes": warn} if warn is not None else {})


def _policy_values(policy: SlaPolicy | None, form: FormData | None) -> dict[str, Any]:
    if form is not None:
        return {"slug": forms.field_text(form, "slug"), "name": forms.field_text(form, "name"),
                "department": forms.field_text(form, "department"), "priority": forms.field_text(form, "priority"),
                "calendar": forms.field_text(form, "calendar"),
                **{field: forms.field_text(form, field) for field, _label in TARGETS},
                "warn_before_minutes": forms.field_text(form, "warn_before_minutes"),
                "escalate_on_breach": forms.checked(form, "escalate_on_breach"),
                "is_active": forms.checked(form, "is_active")}
    if policy is None:
        return {"slug": "", "name": "", "department": "", "priority": "", "calendar": "",
                "first_response_minutes": "", "next_response_minutes": "", "resolution_minutes": "",
                "warn_before_minutes": "15", "escalate_on_breach": False, "is_active": True}
    return {"slug": policy.slug, "name": policy.name,
            "department": policy.department.value if policy.department else "",
            "priority": policy.priority.value if policy.priority else "",
            "calendar": str(policy.calendar_id or ""),
            **{field: str(getattr(policy, field) or "") for field, _label in TARGETS},
            "warn_before_minutes": str(policy.warn_before_minutes),
            "escalate_on_breach": policy.escalate_on_breach, "is_active": policy.is_active}


def _policy_form(request: Request, db: Db, who: SignedInAdmin, brand: Brand, policy: SlaPolicy | None,
                 form: FormData | None = None, errors: dict[str, str] | None = None) -> Response:
    calendars = [c for c in service.list_calendars(db, who.principal) if c.brand_id == brand.id]
    return render(request, "sla/policy_form.html", status_code=422 if errors else 200, who=who, section="admin",
                  brand=brand, policy=policy, values=_policy_values(policy, form), errors=errors or {},
                  calendars=calendars, departments=list(Department), priorities=list(Priority), targets=TARGETS)


@router.get("/admin/sla/policies/new", response_class=HTMLResponse)
def new_policy_page(request: Request, db: Db, who: SignedInAdmin, brand: str) -> Response:
    return _policy_form(request, db, who, resolve_brand(db, who.principal, brand), None)


@router.post("/admin/sla/policies/new", response_class=HTMLResponse)
def create_policy(request: Request, db: Db, who: SignedInAdmin, form: forms.Posted, brand: str) -> Response:
    found = resolve_brand(db, who.principal, brand)

    def create() -> SlaPolicy:
        data = PolicyCreate.model_validate({
            "brand": found.slug, "slug": forms.field_text(form, "slug"), "name": forms.field_text(form, "name"),
            "department": forms.optional(form, "department"), "priority": forms.optional(form, "priority"),
            **_targets(form)})
        return service.create_policy(db, who.principal, data)

    policy, errors = forms.attempt(db, create)
    if policy is None:
        return _policy_form(request, db, who, found, None, form, errors)
    return _saved(policy.slug)


@router.get("/admin/sla/policies/{policy_id}", response_class=HTMLResponse)
def edit_policy_page(request: Request, policy_id: PathId, db: Db, who: SignedInAdmin) -> Response:
    policy = service.get_policy(db, who.principal, policy_id)
    return _policy_form(request, db, who, brands.get_visible(db, who.principal, policy.brand_id), policy)


@router.post("/admin/sla/policies/{policy_id}", response_class=HTMLResponse)
def update_policy(request: Request, policy_id: PathId, db: Db, who: SignedInAdmin, form: forms.Posted) -> Response:
    policy = service.get_policy(db, who.principal, policy_id)
    brand = brands.get_visible(db, who.principal, policy.brand_id)

    def update() -> SlaPolicy:
        data = PolicyUpdate.model_validate({"name": forms.field_text(form, "name"), **_targets(form),
                                            "is_active": forms.checked(form, "is_active")})
        return service.update_policy(db, who.principal, policy.id, data)

    saved, errors = forms.attempt(db, update)
    if saved is None:
        db.expire_all()
        return _policy_form(request, db, who, brand, service.get_policy(db, who.principal, policy_id), form, errors)
    return _saved(saved.slug)
