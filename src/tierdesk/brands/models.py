from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tierdesk.db import Base, BigId, UTCDateTime
from tierdesk.kit.time import utcnow


class Brand(Base):
    """A BPO's client account or a product line: every customer, queue and ticket belongs to exactly one."""

    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # How the customer portal and the brand's pages look: a logo (https URL) and two colours (#rrggbb).
    logo_url: Mapped[str | None] = mapped_column(sa.String(500))
    brand_colour: Mapped[str | None] = mapped_column(sa.String(7))
    accent_colour: Mapped[str | None] = mapped_column(sa.String(7))
    # Triage confidence below which a new ticket waits in the triage queue for a person; None: the deployment's
    # TIERDESK_TRIAGE_CONFIDENCE_THRESHOLD.
    triage_threshold: Mapped[float | None] = mapped_column(sa.Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
