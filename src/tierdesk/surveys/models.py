"""The answers customers give to satisfaction surveys: a CSAT rating of one solved ticket (1-5, with a comment), and
room for NPS (0-10). Who worked the ticket and in which department are copied at the time of answering, so a report
of CSAT per agent or per department still holds after the ticket moves."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tierdesk.db import Base, BigId, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import Department, SurveyKind


class SurveyResponse(Base):
    """One customer's answer about one ticket, one per ticket and kind (a changed answer replaces it; the ticket's
    trail keeps every answer as a survey_answered event)."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        sa.UniqueConstraint("ticket_id", "kind"),
        sa.CheckConstraint("score BETWEEN 0 AND 10", name="score_range"),
        sa.Index("ix_survey_responses_brand_kind_created", "brand_id", "kind", "created_at"),
        sa.Index("ix_survey_responses_agent_created", "agent_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    kind: Mapped[SurveyKind] = mapped_column(str_enum(SurveyKind, "survey_kind"))
    score: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    # The ticket's assignee and department when the customer answered.
    agent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="SET NULL"))
    department: Mapped[Department | None] = mapped_column(str_enum(Department, "department"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
