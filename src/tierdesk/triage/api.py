from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tierdesk.deps import CurrentPrincipal
from tierdesk.triage.decision import TriageDecision, TriageInput
from tierdesk.triage.schemas import TriageBatchOut, TriageBatchRequest, TriageOut, TriageRequest

router = APIRouter(prefix="/triage", tags=["triage"])


@router.post("", response_model=TriageOut)
def classify_text(body: TriageRequest, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Triage a message without creating anything: department, intent, priority, sentiment, language, confidence
    and the words that decided it."""
    decision: TriageDecision = request.app.state.triage.get().decide(TriageInput(body.text, body.subject))
    return decision.as_dict()


@router.post("/batch", response_model=TriageBatchOut)
def classify_batch(
    body: TriageBatchRequest, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Triage up to 500 messages in one call, in order."""
    decisions = request.app.state.triage.get().decide_many([TriageInput(i.text, i.subject) for i in body.items])
    return {"items": [d.as_dict() for d in decisions]}


# deps.get_db: no write transaction for a computation (a function attribute, which mypy does not model)
classify_text.read_only = True  # type: ignore[attr-defined]
classify_batch.read_only = True  # type: ignore[attr-defined]
