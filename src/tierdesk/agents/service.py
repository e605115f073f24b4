from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from tierdesk.agents import repository
from tierdesk.agents.auth import INTEGRATION_TOKEN_PREFIX, hash_password, new_token, token_digest
from tierdesk.agents.models import Agent, AgentSkill, ApiToken, Integration
from tierdesk.agents.schemas import AgentCreate, AgentUpdate, SkillLevel
from tierdesk.audit import service as audit
from tierdesk.audit.service import SECRET
from tierdesk.brands import repository as brands
from tierdesk.brands.models import Brand
from tierdesk.kit.actors import SYSTEM, Actor, Principal
from tierdesk.kit.errors import Conflict, InvalidInput, NotFound
from tierdesk.kit.input import patch_values
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import TokenScope

# What the audit keeps of an agent (never the password hash: only that it changed).
AUDITED = ("email", "display_name", "role", "tier", "is_active")


def audit_view(agent: Agent) -> dict[str, object]:
    """An agent as the audit keeps it: its fields, skills with levels, and brands by slug."""
    view = audit.snapshot(agent, AUDITED)
    view["skills"] = {s.skill: s.level for s in agent.skills}
    view["brands"] = sorted(b.slug for b in agent.brands)
    return view


def _brands_by_slug(db: Session, slugs: list[str]) -> list[Brand]:
    wanted = list(dict.fromkeys(slugs))
    found = {b.slug: b for b in brands.by_slugs(db, wanted)}
    missing = [s for s in wanted if s not in found]
    if missing:
        raise InvalidInput(f"no brand with slug {', '.join(repr(s) for s in missing)}", field="brands")
    return [found[s] for s in wanted]


def _skills(levels: list[SkillLevel]) -> list[AgentSkill]:
    seen: dict[str, int] = {}
    for s in levels:
        if s.skill in seen:
            raise InvalidInput(f"skill '{s.skill}' is listed twice", field="skills")
        seen[s.skill] = s.level
    return [AgentSkill(skill=k, level=v) for k, v in seen.items()]


def create_agent(db: Session, principal: Principal, data: AgentCreate) -> Agent:
    principal.require_admin()
    email = data.email.lower()
    if repository.by_email(db, email):
        raise Conflict(f"an agent with email {email} exists already", field="email")
    agent = Agent(
        email=email,
        display_name=data.display_name,
        role=data.role,
        tier=data.tier,
        password_hash=hash_password(data.password) if data.password else None,
        skills=_skills(data.skills),
        brands=_brands_by_slug(db, data.brands),
    )
    db.add(agent)
    db.flush()
    after = audit_view(agent)
    if data.password:
        after["password"] = SECRET
    audit.record(db, Actor.of(principal), "agent", agent.id, "created", after=after)
    return agent


def update_agent(db: Session, principal: Principal, agent_id: int, data: AgentUpdate) -> Agent:
    principal.require_admin()
    agent = repository.get_visible(db, principal, agent_id)
    changes = patch_values(data)
    before = audit_view(agent)
    if changes.get("is_active") is False and agent.is_active:
        _revoke_tokens_of(db, agent.id)
    for field in ("display_name", "role", "tier", "is_active"):
        if field in changes:
            setattr(agent, field, changes[field])
    if "skills" in changes:
        agent.skills = _skills(changes["skills"])
    if "brands" in changes:
        agent.brands = _brands_by_slug(db, changes["brands"])
    db.flush()
    after = audit_view(agent)
    action = "updated"
    if before["is_active"] != after["is_active"]:
        action = "reactivated" if agent.is_active else "deactivated"
    audit.record(db, Actor.of(principal), "agent", agent.id, action, before=before, after=after)
    return agent


def set_password(db: Session, principal: Principal, agent_id: int, password: str) -> Agent:
    """An admin sets an agent's password (the agent's signed-in browsers are signed out). The schema that checked
    `password` is PasswordSet, with AgentCreate's rules."""
    principal.require_admin()
    agent = repository.get_visible(db, principal, agent_id, for_update=True)
    if not agent.is_active:
        raise InvalidInput(f"agent {agent.email} is deactivated", field="password")
    agent.password_hash = hash_password(password)
    repository.end_sessions_of(db, agent.id, utcnow())
    db.flush()
    audit.record(db, Actor.of(principal), "agent", agent.id, "password_set", after={"password": SECRET})
    return agent


def _revoke_tokens_of(db: Session, agent_id: int) -> None:
    """Deactivation revokes for good: re-activating an agent must not bring their old tokens back to life."""
    repository.revoke_tokens_of(db, agent_id, utcnow())


def token_view(row: ApiToken) -> dict[str, object]:
    """A token as the audit keeps it: never the token nor its digest."""
    return audit.snapshot(row, ("agent_id", "name", "prefix", "expires_at"))


def create_token(
    db: Session, agent: Agent, name: str, secret_key: str, expires_at: dt.datetime | None = None, *,
    principal: Principal = SYSTEM,
) -> tuple[ApiToken, str]:
    """A new API token for an agent (admins only; the CLI acts as the system). The plain token is returned once and
    never stored."""
    principal.require_admin()
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("a token needs a name of 1 to 100 characters", field="name")
    if not agent.is_active:
        raise InvalidInput(f"agent {agent.email} is deactivated", field="agent")
    token = new_token()
    row = ApiToken(
        agent_id=agent.id,
        name=name,
        prefix=token[:12],
        digest=token_digest(token, secret_key),
        expires_at=expires_at,
    )
    db.add(row)
    db.flush()
    audit.record(db, Actor.of(principal), "api_token", row.id, "created", after=token_view(row))
    return row, token


def revoke_token(db: Session, token_id: int, *, principal: Principal = SYSTEM) -> ApiToken:
    principal.require_admin()
    row = db.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(db, Actor.of(principal), "api_token", row.id, "revoked", before={"revoked_at": None},
                     after={"revoked_at": row.revoked_at})
    db.flush()
    return row


def create_integration(
    db: Session, principal: Principal, name: str, brand_slugs: list[str], secret_key: str,
    scope: TokenScope = TokenScope.INTAKE,
) -> tuple[Integration, str]:
    """A channel gateway with a token of its own (admins only). The plain token is returned once and never stored."""
    principal.require_admin()
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("an integration needs a name of 1 to 100 characters", field="name")
    if not brand_slugs:
        raise InvalidInput("an integration needs at least one brand", field="brands")
    if repository.integration_named(db, name) is not None:
        raise Conflict(f"an integration named {name!r} exists already", field="name")
    token = new_token(INTEGRATION_TOKEN_PREFIX)
    row = Integration(name=name, scope=scope, prefix=token[:12], digest=token_digest(token, secret_key),
                      brands=_brands_by_slug(db, brand_slugs))
    db.add(row)
    db.flush()
    audit.record(db, Actor.of(principal), "integration", row.id, "created", after=integration_view(row))
    return row, token


def integration_view(row: Integration) -> dict[str, object]:
    """An integration as the audit keeps it: never its token nor the digest."""
    return {**audit.snapshot(row, ("name", "scope", "prefix")), "brands": sorted(b.slug for b in row.brands)}


def revoke_integration(db: Session, principal: Principal, integration_id: int) -> Integration:
    principal.require_admin()
    row = db.get(Integration, integration_id)
    if row is None:
        raise NotFound(f"integration {integration_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(db, Actor.of(principal), "integration", row.id, "revoked", before={"revoked_at": None},
                     after={"revoked_at": row.revoked_at})
    db.flush()
    return row
