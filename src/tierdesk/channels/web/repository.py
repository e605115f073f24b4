"""The web form channel's queries."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.channels.web.models import WebFormSettings, WebSubmission


def settings_of(db: Session, brand_id: int) -> WebFormSettings | None:
    return db.get(WebFormSettings, brand_id)


def settings_for_update(db: Session, brand_id: int) -> WebFormSettings | None:
    return db.scalar(sa.select(WebFormSettings).where(WebFormSettings.brand_id == brand_id).with_for_update())


def from_address_since(db: Session, brand_id: int, email: str, since: dt.datetime) -> tuple[int, dt.datetime | None]:
    """How many requests this address sent the brand since then, and when the oldest of them came."""
    row = db.execute(sa.select(sa.func.count(), sa.func.min(WebSubmission.created_at)).where(
        WebSubmission.brand_id == brand_id, WebSubmission.email == email, WebSubmission.created_at >= since)).one()
    return int(row[0]), row[1]


def from_ip_since(db: Session, client_ip: str, since: dt.datetime) -> tuple[int, dt.datetime | None]:
    """How many requests came from this client IP (to any brand) since then, and when the oldest of them came."""
    row = db.execute(sa.select(sa.func.count(), sa.func.min(WebSubmission.created_at)).where(
        WebSubmission.client_ip == client_ip, WebSubmission.created_at >= since)).one()
    return int(row[0]), row[1]


def submissions_of_ticket(db: Session, ticket_id: int) -> list[WebSubmission]:
    return list(db.scalars(sa.select(WebSubmission).where(WebSubmission.ticket_id == ticket_id)
                           .order_by(WebSubmission.id)))
