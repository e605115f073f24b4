from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tierdesk.db import Base, BigId, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import ViewerState


class TicketViewer(Base):
    """An agent who has a ticket open, and since when they were last seen there (the page's heartbeat): what the
    collision warning shows to the others. A row older than a few heartbeats is someone who has left."""

    __tablename__ = "ticket_viewers"

    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[ViewerState] = mapped_column(str_enum(ViewerState, "viewer_state"), default=ViewerState.VIEWING)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
