from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from tierdesk.agents.auth import INTEGRATION_TOKEN_PREFIX, token_digest
from tierdesk.agents.models import (
    Agent,
    AgentCapacity,
    AgentSession,
    ApiToken,
    Integration,
    PasswordReset,
    PresenceChange,
    agent_brands,
    integration_brands,
)
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import NotFound
from tierdesk.kit.time import utcnow
from tierdesk.queues.rules import AgentProfile

_WITH_DETAILS = (selectinload(Agent.skills), selectinload(Agent.brands))


def principal_for_token(db: Session, token: str, secret_key: str) -> Principal | None:
    if token.startswith(INTEGRATION_TOKEN_PREFIX):
        return _principal_for_integration_token(db, token, secret_key)
    # One round trip on every request: the token, its agent and the agent's brands (one row per brand).
    rows = db.execute(
        sa.select(Agent.id, Agent.role, ApiToken.expires_at, agent_brands.c.brand_id)
        .join(ApiToken, ApiToken.agent_id == Agent.id)
        .outerjoin(agent_brands, agent_brands.c.agent_id == Agent.id)
        .where(
            ApiToken.digest == token_digest(token, secret_key),
            ApiToken.revoked_at.is_(None),
            Agent.is_active.is_(True),
        )
    ).all()
    if not rows or (rows[0].expires_at is not None and rows[0].expires_at <= utcnow()):
        return None
    brand_ids = frozenset(r.brand_id for r in rows if r.brand_id is not None)
    return Principal(agent_id=rows[0].id, role=rows[0].role, brand_ids=brand_ids)


def _principal_for_integration_token(db: Session, token: str, secret_key: str) -> Principal | None:
    rows = db.execute(
        sa.select(Integration.id, Integration.scope, integration_brands.c.brand_id)
        .outerjoin(integration_brands, integration_brands.c.integration_id == Integration.id)
        .where(Integration.digest == token_digest(token, secret_key), Integration.revoked_at.is_(None))
    ).all()
    if not rows:
        return None
    brand_ids = frozenset(r.brand_id for r in rows if r.brand_id is not None)
    return Principal.integration(rows[0].id, brand_ids, frozenset({rows[0].scope}))


def integrations(db: Session) -> list[Integration]:
    return list(db.scalars(sa.select(Integration).options(selectinload(Integration.brands)).order_by(Integration.id)))


def integration_names(db: Session, integration_ids: list[int]) -> dict[int, str]:
    if not integration_ids:
        return {}
    return dict(db.execute(sa.select(Integration.id, Integration.name)
                           .where(Integration.id.in_(integration_ids))).tuples().all())


def integration(db: Session, integration_id: int) -> Integration:
    row = db.scalar(sa.select(Integration).where(Integration.id == integration_id)
                    .options(selectinload(Integration.brands)))
    if row is None:
        raise NotFound(f"integration {integration_id} not found")
    return row


def principal_for_agent(db: Session, agent: Agent) -> Principal:
    brand_ids = db.scalars(sa.select(agent_brands.c.brand_id).where(agent_brands.c.agent_id == agent.id))
    return Principal(agent_id=agent.id, role=agent.role, brand_ids=frozenset(brand_ids))


def visible_agents(principal: Principal) -> sa.Select[Agent]:
    """Admins see every agent; others see the agents who share at least one of their brands (and themselves)."""
    stmt = sa.select(Agent)
    if not principal.is_admin:
        shared = sa.select(agent_brands.c.agent_id).where(agent_brands.c.brand_id.in_(principal.brand_ids))
        stmt = stmt.where(sa.or_(Agent.id.in_(shared), Agent.id == principal.agent_id))
    return stmt


def get_visible(db: Session, principal: Principal, agent_id: int | None, *, for_update: bool = False) -> Agent:
    stmt = visible_agents(principal).where(Agent.id == agent_id).options(*_WITH_DETAILS)
    if for_update:
        stmt = stmt.with_for_update(of=Agent)  # waits for a routing pass that holds the agent
    agent = db.scalar(stmt)
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    return agent


def list_visible(db: Session, principal: Principal, *, after_id: int | None, limit: int) -> list[Agent]:
    stmt = visible_agents(principal).options(*_WITH_DETAILS).order_by(Agent.id).limit(limit + 1)
    if after_id is not None:
        stmt = stmt.where(Agent.id > after_id)
    return list(db.scalars(stmt))


def by_email(db: Session, email: str) -> Agent | None:
    return db.scalar(sa.select(Agent).where(Agent.email == email.strip().lower()).options(*_WITH_DETAILS))


def tokens_of(db: Session, agent_id: int | None = None) -> list[ApiToken]:
    stmt = sa.select(ApiToken).order_by(ApiToken.id)
    if agent_id is not None:
        stmt = stmt.where(ApiToken.agent_id == agent_id)
    return list(db.scalars(stmt))


def works_brand(db: Session, agent_id: int, brand_id: int) -> bool:
    return bool(db.scalar(sa.select(sa.literal(True)).where(
        agent_brands.c.agent_id == agent_id, agent_brands.c.brand_id == brand_id)))


def profile(db: Session, agent_id: int) -> AgentProfile | None:
    """An active agent's brands, tier and skills, as queue eligibility reads them."""
    agent = db.scalar(sa.select(Agent).where(Agent.id == agent_id, Agent.is_active.is_(True)).options(*_WITH_DETAILS))
    if agent is None:
        return None
    return AgentProfile(frozenset(b.id for b in agent.brands), agent.tier, {s.skill: s.level for s in agent.skills})


def by_ids(db: Session, agent_ids: list[int]) -> dict[int, Agent]:
    return {a.id: a for a in db.scalars(sa.select(Agent).where(Agent.id.in_(agent_ids)))}


def presence_history(db: Session, agent_id: int, limit: int) -> list[PresenceChange]:
    return list(db.scalars(sa.select(PresenceChange).where(PresenceChange.agent_id == agent_id)
                           .order_by(PresenceChange.id.desc()).limit(limit)))


def capacities(db: Session, agent_id: int) -> list[AgentCapacity]:
    return list(db.scalars(sa.select(AgentCapacity).where(AgentCapacity.agent_id == agent_id)))


def revoke_tokens_of(db: Session, agent_id: int, at: dt.datetime) -> None:
    db.execute(sa.update(ApiToken).where(ApiToken.agent_id == agent_id, ApiToken.revoked_at.is_(None))
               .values(revoked_at=at))


def integration_named(db: Session, name: str) -> int | None:
    return db.scalar(sa.select(Integration.id).where(Integration.name == name))


# -- web sessions (agents/sessions.py) -----------------------------------------------------------------------------
def session_rows(db: Session, digest: str) -> list[sa.Row[Any]]:
    """One round trip per page: the session, its agent and the agent's brands (one row per brand)."""
    return list(db.execute(
        sa.select(AgentSession.id, AgentSession.expires_at, AgentSession.last_seen_at, Agent.id.label("agent_id"),
                  Agent.role, Agent.tier, Agent.display_name, Agent.email, Agent.presence,
                  agent_brands.c.brand_id)
        .join(Agent, Agent.id == AgentSession.agent_id)
        .outerjoin(agent_brands, agent_brands.c.agent_id == Agent.id)
        .where(AgentSession.digest == digest, AgentSession.ended_at.is_(None), Agent.is_active.is_(True))
    ).all())


def touch_session(db: Session, session_id: int, now: dt.datetime) -> None:
    db.execute(sa.update(AgentSession).where(AgentSession.id == session_id).values(last_seen_at=now))


def end_session(db: Session, digest: str, now: dt.datetime) -> None:
    db.execute(sa.update(AgentSession).where(AgentSession.digest == digest, AgentSession.ended_at.is_(None))
               .values(ended_at=now))


def end_sessions_of(db: Session, agent_id: int, now: dt.datetime) -> None:
    db.execute(sa.update(AgentSession).where(AgentSession.agent_id == agent_id, AgentSession.ended_at.is_(None))
               .values(ended_at=now))


def for_sign_in(db: Session, email: str) -> Agent | None:
    """The agent signing in, locked against a concurrent attempt (the failure count is read, then written)."""
    return db.scalars(sa.select(Agent).where(sa.func.lower(Agent.email) == email.lower()).with_for_update()).first()


def latest_reset(db: Session, agent_id: int) -> PasswordReset | None:
    return db.scalars(sa.select(PasswordReset).where(PasswordReset.agent_id == agent_id)
                      .order_by(PasswordReset.id.desc()).limit(1)).first()


def reset_for_update(db: Session, reset_id: int) -> PasswordReset | None:
    return db.scalars(sa.select(PasswordReset).where(PasswordReset.id == reset_id).with_for_update()).first()


def brand_ids_of(db: Session, agent_id: int) -> list[int]:
    return list(db.scalars(sa.select(agent_brands.c.brand_id).where(agent_brands.c.agent_id == agent_id)
                           .order_by(agent_brands.c.brand_id)))
