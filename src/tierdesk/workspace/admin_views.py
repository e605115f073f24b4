"""The admin's index (/admin: every area of the configuration) and the audit of who changed what (/admin/audit).

The audit's entries are written by the services that make each change (audit.service.record), so changes made in
these pages, through the API or with the CLI are all here. A lead sees the entries of their brands; entries that
belong to no brand (agents, tokens, integrations) only admins."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from tierdesk.agents import repository as agents
from tierdesk.agents.admin_views import require_lead
from tierdesk.agents.admin_views import router as agents_pages
from tierdesk.audit import repository as audit
from tierdesk.brands import repository as brands
from tierdesk.brands.admin_views import router as brands_pages
from tierdesk.channels.email.admin_views import router as email_address_pages
from tierdesk.channels.voice.admin_views import router as voice_device_pages
from tierdesk.deps import Db, SignedInAgent
from tierdesk.kit.input import QueryId
from tierdesk.kit.pages import csrf_protect, render
from tierdesk.tickets.admin_views import router as disposition_pages
from tierdesk.triage.admin_views import router as threshold_pages

router = APIRouter(dependencies=[Depends(csrf_protect)])
PAGE_SIZE = 50
# The entities the services audit, for the filter's suggestions (free text is accepted too).
KNOWN_ENTITIES = ("agent", "api_token", "brand", "business_calendar", "canned_response", "channel_settings",
                  "disposition_code", "email_address", "integration", "macro", "queue", "sla_policy", "webhook")
# The admin's areas: (path, title, what it holds, for admins only).
AREAS = (
    ("/admin/brands", "Brands", "Names, logos, colours and email addresses", True),
    ("/admin/agents", "Agents", "Roles, tiers, skills, brands, capacities, devices, passwords, API tokens", False),
    ("/admin/queues", "Queues and routing", "Queues with their departments, tiers and required skills", True),
    ("/admin/sla", "SLA policies and calendars", "Response and resolution targets, business hours and holidays",
     True),
    ("/admin/canned-responses", "Canned responses", "Replies agents insert with a click", True),
    ("/admin/macros", "Macros", "Set fields and insert text in one go", True),
    ("/admin/dispositions", "Disposition codes", "How tickets ended, per brand and department", True),
    ("/admin/triage", "Triage threshold", "When a new ticket waits for a person to triage it, per brand", True),
    ("/admin/webhooks", "Webhooks", "Subscriptions that tell other systems what happened", True),
    ("/admin/channels", "Channel settings", "Email, chat, web form and voice", True),
    ("/admin/integrations", "Integrations", "Channel gateways with tokens of their own", True),
    ("/admin/audit", "Audit", "Who changed what in the configuration, and when", False),
)


@router.get("/admin", response_class=HTMLResponse)
def admin_index(request: Request, who: SignedInAgent) -> Response:
    require_lead(who)
    areas = [a for a in AREAS if who.is_admin or not a[3]]
    return render(request, "workspace/admin_index.html", who=who, section="admin", areas=areas)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_log(request: Request, db: Db, who: SignedInAgent,
              entity: str = Query(default="", max_length=40), entity_id: str = Query(default="", max_length=100),
              agent: str = Query(default="", max_length=320), before: QueryId = None) -> Response:
    require_lead(who)
    actor = agents.by_email(db, agent) if agent.strip() else None
    unknown_agent = bool(agent.strip()) and actor is None
    rows = [] if unknown_agent else audit.entries(
        db, who.principal, entity=entity.strip() or None, entity_id=entity_id.strip() or None,
        actor_agent_id=actor.id if actor else None, before_id=before, limit=PAGE_SIZE)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    # Who made each change, and the agents changed, in one query; brands by name.
    changed_agents = {int(r.entity_id) for r in rows if r.entity == "agent" and r.entity_id.isdigit()}
    names = agents.by_ids(db, list({r.actor_agent_id for r in rows if r.actor_agent_id} | changed_agents))
    integrations = agents.integration_names(
        db, list({r.actor_integration_id for r in rows if r.actor_integration_id}))
    brand_names = {b.id: b.name for b in brands.list_visible(db, who.principal)}
    subjects = {("agent", str(i)): names[i].display_name for i in changed_agents if i in names}
    subjects |= {("brand", str(i)): name for i, name in brand_names.items()}
    filters = {"entity": entity.strip(), "entity_id": entity_id.strip(), "agent": agent.strip()}
    return render(request, "workspace/admin_audit.html", who=who, section="admin", entries=rows, agents=names,
                  integrations=integrations, brand_names=brand_names, subjects=subjects, filters=filters,
                  known=KNOWN_ENTITIES,
                  unknown_agent=unknown_agent, next_before=rows[-1].id if more and rows else None,
                  first_page=before is None)


# The admin pages of this helper's areas, for app.PAGE_ROUTERS in one entry (each router carries csrf_protect).
admin_pages = APIRouter()
for _pages in (router, brands_pages, email_address_pages, agents_pages, voice_device_pages, disposition_pages,
               threshold_pages):
    admin_pages.include_router(_pages)
