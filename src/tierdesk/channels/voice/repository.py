"""The phone channel's queries."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.agents.models import Agent
from tierdesk.channels.voice.models import Call, IvrMenu, VoiceSettings
from tierdesk.kit.actors import Principal
from tierdesk.kit.scope import scoped
from tierdesk.tickets.models import Ticket


def settings_of(db: Session, brand_id: int) -> VoiceSettings | None:
    return db.get(VoiceSettings, brand_id)


def menu_of(db: Session, brand_id: int) -> IvrMenu | None:
    return db.get(IvrMenu, brand_id)


def call_by_sid(db: Session, brand_id: int, call_sid: str) -> Call | None:
    """The brand's call, locked: the provider's webhooks for one call may arrive at once (status and dial action)."""
    return db.scalar(sa.select(Call).where(Call.call_sid == call_sid, Call.brand_id == brand_id)
                     .with_for_update().execution_options(populate_existing=True))


def call_exists(db: Session, call_sid: str) -> bool:
    return db.scalar(sa.select(sa.exists().where(Call.call_sid == call_sid))) or False


def ticket_locked(db: Session, ticket_id: int) -> Ticket | None:
    return db.scalar(sa.select(Ticket).where(Ticket.id == ticket_id).with_for_update()
                     .execution_options(populate_existing=True))


def agent_locked(db: Session, agent_id: int) -> Agent | None:
    return db.scalar(sa.select(Agent).where(Agent.id == agent_id).with_for_update()
                     .execution_options(populate_existing=True))


def agent_by_email(db: Session, email: str) -> Agent | None:
    return db.scalar(sa.select(Agent).where(sa.func.lower(Agent.email) == email.lower()))


def calls_visible(db: Session, principal: Principal, *, brand_id: int | None, ticket_id: int | None,
                  after_id: int | None, limit: int) -> list[Call]:
    stmt = scoped(sa.select(Call), Call.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(Call.brand_id == brand_id)
    if ticket_id is not None:
        stmt = stmt.where(Call.ticket_id == ticket_id)
    if after_id is not None:
        stmt = stmt.where(Call.id < after_id)
    return list(db.scalars(stmt.order_by(Call.id.desc()).limit(limit + 1)))


def call_visible(db: Session, principal: Principal, call_id: int) -> Call | None:
    return db.scalar(scoped(sa.select(Call).where(Call.id == call_id), Call.brand_id, principal))


# -- after-call work -----------------------------------------------------------------------------------------------
def wrap_up_of_agent(db: Session, agent_id: int) -> Call | None:
    """The agent's call whose after-call work is running (the latest, should there be two)."""
    return db.scalar(sa.select(Call).where(Call.agent_id == agent_id, Call.wrap_up_due_at.is_not(None))
                     .order_by(Call.id.desc()).limit(1).with_for_update())


def any_wrap_up_due(db: Session, now: dt.datetime) -> bool:
    return db.scalar(sa.select(sa.exists().where(Call.wrap_up_due_at <= now))) or False


def wrap_ups_due(db: Session, now: dt.datetime, limit: int) -> list[Call]:
    """Calls whose after-call work time is over, locked (SKIP LOCKED: another worker's are left to it)."""
    return list(db.scalars(sa.select(Call).where(Call.wrap_up_due_at <= now).order_by(Call.wrap_up_due_at)
                           .limit(limit).with_for_update(skip_locked=True)))
