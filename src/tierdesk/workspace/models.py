"""The workspace's own table: saved views of the ticket list (an agent's filters under a name)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tierdesk.db import Base, BigId, JsonData, UTCDateTime
from tierdesk.kit.time import utcnow


class SavedView(Base):
    """Filters of the ticket list saved under a name: personal (brand_id null, seen by its owner only) or shared with
    a brand by a lead or an admin (seen by every agent of that brand). `filters` holds the list's query as validated
    by workspace.filters.ListFilters, so a view opens exactly as it was saved."""

    __tablename__ = "saved_views"
    __table_args__ = (sa.UniqueConstraint("agent_id", "name"),
                      sa.Index("ix_saved_views_brand_id", "brand_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="CASCADE"))
    brand_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    filters: Mapped[dict[str, Any]] = mapped_column(JsonData)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
