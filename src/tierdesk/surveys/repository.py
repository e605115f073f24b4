"""The surveys' queries."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.kit.vocabulary import SurveyKind
from tierdesk.surveys.models import SurveyResponse


def answer_of(db: Session, ticket_id: int, kind: SurveyKind, *, for_update: bool = False) -> SurveyResponse | None:
    stmt = sa.select(SurveyResponse).where(SurveyResponse.ticket_id == ticket_id, SurveyResponse.kind == kind)
    return db.scalar(stmt.with_for_update() if for_update else stmt)


def answers_of_tickets(db: Session, ticket_ids: list[int], kind: SurveyKind) -> dict[int, SurveyResponse]:
    """Each ticket's answer, in one statement (list pages)."""
    if not ticket_ids:
        return {}
    return {r.ticket_id: r for r in db.scalars(sa.select(SurveyResponse).where(
        SurveyResponse.ticket_id.in_(ticket_ids), SurveyResponse.kind == kind))}
