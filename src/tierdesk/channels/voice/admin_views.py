"""The voice device form on the admin's agent page (/admin/agents/{id}): where the agent's calls ring. It posts here,
beside the voice channel's service that checks the address, and is answered with the agents' page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from tierdesk.agents.admin_views import REFUSABLE, agent_page, require_lead
from tierdesk.channels.voice import service
from tierdesk.channels.voice.schemas import DeviceIn
from tierdesk.deps import AppSettings, Db, SignedInAgent
from tierdesk.kit.forms import Posted, optional, parse, refusal
from tierdesk.kit.input import PathId
from tierdesk.kit.pages import csrf_protect

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.post("/admin/agents/{agent_id}/device")
def set_device(agent_id: PathId, request: Request, db: Db, who: SignedInAgent, settings: AppSettings,
               form: Posted) -> Response:
    require_lead(who)
    device = optional(form, "device")
    try:
        data = parse(DeviceIn, {"device": device})
        service.set_device(db, who.principal, agent_id, data.device, settings.default_phone_region)
    except REFUSABLE as exc:
        return agent_page(request, db, who, settings, agent_id, errors=refusal(db, exc), form="device",
                          values={"device": device or ""}, status_code=422)
    return RedirectResponse(f"/admin/agents/{agent_id}?done=device", status_code=303)
