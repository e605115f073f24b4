"""The admin's pages for agents (profile, role, tier, skills with levels, brands, capacities, voice device, password,
deactivation), their API tokens, and the integrations (channel gateways with tokens of their own).

Every form is checked by the API's schemas (AgentCreate, AgentUpdate, CapacitySet, PasswordSet, TokenCreate,
IntegrationCreate) and changed through agents/service.py, so a page refuses what the API refuses, the same roles
apply (admins change agents; a lead sets the capacities of the agents of their brands) and every change is audited.
A refused form comes back with each field's message beside it (422) and nothing written."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tierdesk.agents import presence, repository, service
from tierdesk.agents.models import Agent
from tierdesk.agents.schemas import (
    AgentCreate,
    AgentUpdate,
    CapacitySet,
    IntegrationCreate,
    PasswordSet,
    TokenCreate,
)
from tierdesk.agents.sessions import SignedIn
from tierdesk.brands import repository as brands
from tierdesk.config import Settings
from tierdesk.deps import AppSettings, Db, SignedInAdmin, SignedInAgent
from tierdesk.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from tierdesk.kit.forms import FORM, Errors, Posted, Refused, field_text, field_texts, optional, parse, refusal
from tierdesk.kit.input import PathId, QueryId
from tierdesk.kit.pages import csrf_protect, render
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import AgentRole, WorkKind

router = APIRouter(dependencies=[Depends(csrf_protect)])
PAGE_SIZE = 50
BLANK_SKILL_ROWS = 3  # empty rows under an agent's skills, to add new ones without a script
# What a successful form says on the page it returns to (by key, so no text from the request is echoed).
DONE = {"created": "Agent created.", "saved": "Changes saved.", "capacity": "Capacities saved.",
        "device": "Voice device saved.", "password": "Password set; the agent's browsers were signed out.",
        "deactivated": "Agent deactivated; their API tokens were revoked.", "reactivated": "Agent reactivated.",
        "revoked": "Token revoked.", "integration-revoked": "Integration revoked."}
REFUSABLE = (Refused, InvalidInput, Conflict)


def require_lead(who: SignedIn) -> None:
    """The agents' pages are for admins and team leads (who see the agents of their brands)."""
    who.principal.require_role(AgentRole.LEAD)


def _skill_rows(form: FormData) -> list[dict[str, str]]:
    """The skill rows of a form (a name and a level each); rows with no name are left out."""
    names, levels = form.getlist("skill"), form.getlist("level")
    return [{"skill": str(n).strip(), "level": str(lvl).strip()}
            for n, lvl in zip(names, levels, strict=False) if str(n).strip()]


def _int_or_text(value: str) -> int | str | None:
    return None if value == "" else value


def _agent_values(form: FormData) -> dict[str, Any]:
    return {"display_name": field_text(form, "display_name"), "role": field_text(form, "role"),
            "tier": _int_or_text(field_text(form, "tier")), "skills": _skill_rows(form),
            "brands": field_texts(form, "brands")}


# -- the list --------------------------------------------------------------------------------------------------------
@router.get("/admin/agents", response_class=HTMLResponse)
def agents_list(request: Request, db: Db, who: SignedInAgent, after: QueryId = None) -> Response:
    require_lead(who)
    rows = repository.list_visible(db, who.principal, after_id=after, limit=PAGE_SIZE)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render(request, "agents/admin_list.html", who=who, section="admin", agents=rows,
                  next_after=rows[-1].id if more and rows else None, first_page=after is None)


# -- creating --------------------------------------------------------------------------------------------------------
def _new_page(request: Request, db: Session, who: SignedIn, values: dict[str, Any], errors: Errors,
              status_code: int = 200) -> Response:
    return render(request, "agents/admin_new.html", status_code=status_code, who=who, section="admin",
                  values=values, errors=errors, roles=list(AgentRole),
                  brands=brands.list_visible(db, who.principal), blank_rows=BLANK_SKILL_ROWS)


@router.get("/admin/agents/new", response_class=HTMLResponse)
def new_agent(request: Request, db: Db, who: SignedInAdmin) -> Response:
    values = {"email": "", "display_name": "", "role": "agent", "tier": 1, "skills": [], "brands": []}
    return _new_page(request, db, who, values, {})


@router.post("/admin/agents")
def create_agent(request: Request, db: Db, who: SignedInAdmin, form: Posted) -> Response:
    values = {"email": field_text(form, "email"), **_agent_values(form), "password": optional(form, "password")}
    try:
        agent = service.create_agent(db, who.principal, parse(AgentCreate, values))
    except REFUSABLE as exc:
        errors = refusal(db, exc)
        values.pop("password")  # never sent back into the page
        return _new_page(request, db, who, values, errors, status_code=422)
    return RedirectResponse(f"/admin/agents/{agent.id}?done=created", status_code=303)


# -- one agent -------------------------------------------------------------------------------------------------------
def may_manage(who: SignedIn, agent: Agent) -> bool:
    """Whether this person may set the agent's capacities and device (presence's rule: admins anyone's, a lead
    those of the agents of their brands)."""
    try:
        presence._may_manage(who.principal, agent)
    except Forbidden:
        return False
    return who.is_admin or who.role is AgentRole.LEAD


def agent_page(request: Request, db: Session, who: SignedIn, settings: Settings, agent_id: int, *,
               errors: Errors | None = None, form: str | None = None, values: dict[str, Any] | None = None,
               status_code: int = 200, new_token: str | None = None) -> Response:
    """The page of one agent; `form` names the form that `errors` and `values` belong to. Also used by the voice
    channel's device form (channels/voice/admin_views.py), which sits above this package."""
    agent = repository.get_visible(db, who.principal, agent_id)
    capacities = {c.work_kind: c.max_active for c in repository.capacities(db, agent.id)}
    defaults = {WorkKind.PHONE: settings.capacity_phone, WorkKind.CHAT: settings.capacity_chat,
                WorkKind.EMAIL: settings.capacity_email}
    profile = {"display_name": agent.display_name, "role": agent.role.value, "tier": agent.tier,
               "skills": [{"skill": s.skill, "level": s.level} for s in agent.skills],
               "brands": [b.slug for b in agent.brands]}
    if form == "profile" and values:
        profile = values
    done = DONE.get(request.query_params.get("done", ""))
    return render(request, "agents/admin_agent.html", status_code=status_code, who=who, section="admin",
                  agent=agent, profile=profile, capacities=capacities, defaults=defaults, kinds=list(WorkKind),
                  tokens=repository.tokens_of(db, agent.id) if who.is_admin else [],
                  brands=brands.list_visible(db, who.principal), roles=list(AgentRole),
                  errors=errors or {}, form=form, values=values or {}, done=done, new_token=new_token,
                  can_admin=who.is_admin, can_manage=may_manage(who, agent), blank_rows=BLANK_SKILL_ROWS)


@router.get("/admin/agents/{agent_id}", response_class=HTMLResponse)
def show_agent(agent_id: PathId, request: Request, db: Db, who: SignedInAgent, settings: AppSettings) -> Response:
    require_lead(who)
    return agent_page(request, db, who, settings, agent_id)


@router.post("/admin/agents/{agent_id}")
def update_agent(agent_id: PathId, request: Request, db: Db, who: SignedInAdmin, settings: AppSettings,
                 form: Posted) -> Response:
    values = _agent_values(form)
    try:
        service.update_agent(db, who.principal, agent_id, parse(AgentUpdate, values))
    except REFUSABLE as exc:
        return agent_page(request, db, who, settings, agent_id, errors=refusal(db, exc), form="profile",
                          values=values, status_code=422)
    return RedirectResponse(f"/admin/agents/{agent_id}?done=saved", status_code=303)


@router.post("/admin/agents/{agent_id}/active")
def set_active(agent_id: PathId, request: Request, db: Db, who: SignedInAdmin, settings: AppSettings,
               form: Posted) -> Response:
    active = field_text(form, "active") == "true"
    if not active and agent_id == who.agent_id:
        return agent_page(request, db, who, settings, agent_id, form="active", status_code=422,
                          errors={FORM: "you cannot deactivate yourself: ask another admin"})
    service.update_agent(db, who.principal, agent_id, AgentUpdate(is_active=active))
    return RedirectResponse(f"/admin/agents/{agent_id}?done={'reactivated' if active else 'deactivated'}",
                            status_code=303)


@router.post("/admin/agents/{agent_id}/password")
def set_password(agent_id: PathId, request: Request, db: Db, who: SignedInAdmin, settings: AppSettings,
                 form: Posted) -> Response:
    try:
        data = parse(PasswordSet, {"password": form.get("password") or ""})
        service.set_password(db, who.principal, agent_id, data.password)
    except REFUSABLE as exc:
        return agent_page(request, db, who, settings, agent_id, errors=refusal(db, exc), form="password",
                          status_code=422)
    return RedirectResponse(f"/admin/agents/{agent_id}?done=password", status_code=303)


@router.post("/admin/agents/{agent_id}/capacity")
def set_capacity(agent_id: PathId, request: Request, db: Db, who: SignedInAgent, settings: AppSettings,
                 form: Posted) -> Response:
    require_lead(who)
    values = {kind.value: field_text(form, kind.value) for kind in WorkKind}
    try:
        data = parse(CapacitySet, {k: v for k, v in values.items() if v != ""})
        given = {WorkKind(k): v for k, v in data.model_dump(exclude_none=True).items()}
        presence.set_capacity(db, who.principal, agent_id, given)
    except REFUSABLE as exc:
        return agent_page(request, db, who, settings, agent_id, errors=refusal(db, exc), form="capacity",
                          values=values, status_code=422)
    return RedirectResponse(f"/admin/agents/{agent_id}?done=capacity", status_code=303)


# -- API tokens ------------------------------------------------------------------------------------------------------
@router.post("/admin/agents/{agent_id}/tokens")
def create_token(agent_id: PathId, request: Request, db: Db, who: SignedInAdmin, settings: AppSettings,
                 form: Posted) -> Response:
    values = {"name": field_text(form, "name"), "expires_days": _int_or_text(field_text(form, "expires_days"))}
    try:
        data = parse(TokenCreate, values)
        agent = repository.get_visible(db, who.principal, agent_id)
        expires = utcnow() + dt.timedelta(days=data.expires_days) if data.expires_days else None
        _row, token = service.create_token(db, agent, data.name, settings.effective_secret_key(), expires,
                                           principal=who.principal)
    except REFUSABLE as exc:
        return agent_page(request, db, who, settings, agent_id, errors=refusal(db, exc), form="token",
                          values=values, status_code=422)
    # The token is shown on this answer only (it is not stored): no redirect could carry it.
    return agent_page(request, db, who, settings, agent_id, new_token=token)


@router.post("/admin/agents/{agent_id}/tokens/{token_id}/revoke")
def revoke_token(agent_id: PathId, token_id: PathId, db: Db, who: SignedInAdmin) -> Response:
    if not any(t.id == token_id for t in repository.tokens_of(db, agent_id)):
        raise NotFound(f"agent {agent_id} has no token {token_id}")
    service.revoke_token(db, token_id, principal=who.principal)
    return RedirectResponse(f"/admin/agents/{agent_id}?done=revoked", status_code=303)


# -- integrations ----------------------------------------------------------------------------------------------------
def _integrations_page(request: Request, db: Session, who: SignedIn, *, errors: Errors | None = None,
                       values: dict[str, Any] | None = None, new_token: str | None = None,
                       status_code: int = 200) -> Response:
    done = DONE.get(request.query_params.get("done", ""))
    return render(request, "agents/admin_integrations.html", status_code=status_code, who=who, section="admin",
                  integrations=repository.integrations(db), brands=brands.list_visible(db, who.principal),
                  errors=errors or {}, values=values or {"name": "", "brands": []}, new_token=new_token, done=done)


@router.get("/admin/integrations", response_class=HTMLResponse)
def integrations(request: Request, db: Db, who: SignedInAdmin) -> Response:
    return _integrations_page(request, db, who)


@router.post("/admin/integrations")
def create_integration(request: Request, db: Db, who: SignedInAdmin, settings: AppSettings,
                       form: Posted) -> Response:
    values: dict[str, Any] = {"name": field_text(form, "name"), "brands": field_texts(form, "brands")}
    try:
        data = parse(IntegrationCreate, values)
        _row, token = service.create_integration(db, who.principal, data.name, data.brands,
                                                 settings.effective_secret_key())
    except REFUSABLE as exc:
        return _integrations_page(request, db, who, errors=refusal(db, exc), values=values, status_code=422)
    return _integrations_page(request, db, who, new_token=token)


@router.post("/admin/integrations/{integration_id}/revoke")
def revoke_integration(integration_id: PathId, db: Db, who: SignedInAdmin) -> Response:
    service.revoke_integration(db, who.principal, integration_id)
    return RedirectResponse("/admin/integrations?done=integration-revoked", status_code=303)
