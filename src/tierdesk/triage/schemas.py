from __future__ import annotations

from pydantic import BaseModel, Field

from tierdesk.kit.input import Input
from tierdesk.kit.vocabulary import Department, Priority


class TriageRequest(Input):
    """A message to classify. Nothing is stored."""

    text: str = Field(min_length=1, max_length=200_000, description="the message body (plain text)")
    subject: str | None = Field(default=None, max_length=500)


class TriageBatchRequest(Input):
    items: list[TriageRequest] = Field(min_length=1, max_length=500)


class TriageOut(BaseModel):
    department: Department = Field(
        description="CS (Customer Service: people problem) or TS (Technical Support: product problem)"
    )
    confidence: float = Field(description="probability of the department, 0..1")
    intent: str | None
    intent_confidence: float | None
    priority: Priority = Field(description="low, normal, high or urgent")
    sentiment: float = Field(description="-1 (very negative) .. 1 (very positive)")
    language: str
    needs_human: bool = Field(description="confidence below the deployment's threshold: a person should decide")
    explanation: str
    signals: dict[str, list[str]] = Field(description="the words behind each part of the decision")
    model: str


class TriageBatchOut(BaseModel):
    items: list[TriageOut]
