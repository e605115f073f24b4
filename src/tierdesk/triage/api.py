from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request

from tierdesk.deps import ComputingPrincipal
from tierdesk.triage.decision import TriageDecision, TriageInput
from tierdesk.triage.schemas import TriageBatchOut, TriageBatchRequest, TriageOut, TriageRequest

router = APIRouter(prefix="/triage", tags=["triage"])


async def _computed(request: Request, items: list[TriageInput]) -> list[TriageDecision]:
    """Classified on threads of triage's own (app.state.computing_threads), holding no request slot and no database
    connection: a slow batch waits for those threads, never for the ones requests work with the database on."""
    triager = request.app.state.triage.get()
    decisions: list[TriageDecision] = await to_thread.run_sync(
        triager.decide_many, items, limiter=request.app.state.computing_threads)
    return decisions


@router.post("", response_model=TriageOut)
async def classify_text(body: TriageRequest, request: Request, principal: ComputingPrincipal) -> dict[str, Any]:
    """Triage a message without creating anything: department, intent, priority, sentiment, language, confidence
    and the words that decided it."""
    [decision] = await _computed(request, [TriageInput(body.text, body.subject)])
    return decision.as_dict()


@router.post("/batch", response_model=TriageBatchOut)
async def classify_batch(
    body: TriageBatchRequest, request: Request, principal: ComputingPrincipal
) -> dict[str, Any]:
    """Triage up to 500 messages in one call, in order."""
    decisions = await _computed(request, [TriageInput(i.text, i.subject) for i in body.items])
    return {"items": [d.as_dict() for d in decisions]}
