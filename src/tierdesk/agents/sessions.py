"""Agents signed in to the web UI: sign-in with email and password (argon2), sessions, lock-out with back-off after
failures in a row, and password reset by email.

The session cookie holds a random token; the table keeps only its keyed digest (agents.auth.token_digest), so a
copy of the database signs nobody in. A reset link's token is derived from the reset's nonce with the secret key, so
neither the table nor the outbox row that mails it holds a working link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from tierdesk.agents import repository
from tierdesk.agents.auth import hash_password, token_digest, verify_password
from tierdesk.agents.models import Agent, AgentSession, PasswordReset
from tierdesk.config import Settings
from tierdesk.jobs import outbox
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.notices import Notice
from tierdesk.kit.vocabulary import AgentRole, NoticeKind, OutboxTopic, PresenceStatus

SESSION_COOKIE = "tierdesk_session"
# A password no agent has: verified when the email is unknown, so an unknown address takes as long as a known one.
_DUMMY_HASH = PasswordHasher().hash(secrets.token_urlsafe(16))
MAX_LOCKOUT_SECONDS = 3600.0
# A session's last_seen_at is written at most this often (a page view is otherwise a read).
TOUCH_EVERY = dt.timedelta(seconds=60)
PASSWORD_MIN, PASSWORD_MAX = 10, 200  # as agents.schemas.AgentCreate


@dataclass(frozen=True)
class SignedIn:
    """The agent behind a page request."""

    session_id: int
    agent_id: int
    display_name: str
    email: str
    role: AgentRole
    tier: int
    presence: PresenceStatus
    principal: Principal

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin


@dataclass(frozen=True)
class SignInOutcome:
    """A session token on success; otherwise what to tell the person (and how long to wait, when locked)."""

    token: str | None = None
    agent_id: int | None = None
    error: str | None = None
    retry_after: int | None = None


def sign_in(db: Session, settings: Settings, email: str, password: str, *, user_agent: str | None,
            now: dt.datetime) -> SignInOutcome:
    """Check the password and open a session. A failure is counted on the account (and written: the caller commits
    the outcome either way); enough failures in a row lock the account, each lock-out in a row twice as long."""
    agent = repository.for_sign_in(db, email.strip()) if email.strip() else None
    if agent is not None and agent.locked_until is not None and agent.locked_until > now:
        wait = math.ceil((agent.locked_until - now).total_seconds())
        verify_password(_DUMMY_HASH, password)
        return SignInOutcome(error=f"too many failed sign-ins: this account is locked; try again in {wait} s",
                             retry_after=wait)
    if agent is None or not agent.is_active or not verify_password(agent.password_hash, password):
        if agent is None:
            verify_password(_DUMMY_HASH, password)
        elif settings.sign_in_lockout_after:
            agent.failed_sign_ins += 1
            if agent.failed_sign_ins >= settings.sign_in_lockout_after:
                seconds = min(settings.sign_in_lockout_seconds * 2 ** agent.sign_in_strikes, MAX_LOCKOUT_SECONDS)
                agent.locked_until = now + dt.timedelta(seconds=seconds)
                agent.sign_in_strikes += 1
                agent.failed_sign_ins = 0
        return SignInOutcome(error="the email or the password is wrong")
    agent.failed_sign_ins = 0
    agent.sign_in_strikes = 0
    agent.locked_until = None
    token = secrets.token_urlsafe(32)
    db.add(AgentSession(agent_id=agent.id, digest=token_digest(token, settings.effective_secret_key()),
                        created_at=now, last_seen_at=now, user_agent=(user_agent or "")[:300] or None,
                        expires_at=now + dt.timedelta(hours=settings.web_session_hours)))
    db.flush()
    return SignInOutcome(token=token, agent_id=agent.id)


def signed_in(db: Session, settings: Settings, token: str, now: dt.datetime) -> tuple[SignedIn, bool] | None:
    """The agent a session cookie stands for, and whether the session should be touched (its last_seen_at is
    older than TOUCH_EVERY); None when the session is unknown, ended, expired or idle too long."""
    rows = repository.session_rows(db, token_digest(token, settings.effective_secret_key()))
    if not rows:
        return None
    first = rows[0]
    idle = dt.timedelta(minutes=settings.web_session_idle_minutes)
    if first.expires_at <= now or first.last_seen_at + idle <= now:
        return None
    brand_ids = frozenset(r.brand_id for r in rows if r.brand_id is not None)
    who = SignedIn(session_id=first.id, agent_id=first.agent_id, display_name=first.display_name,
                   email=first.email, role=first.role, tier=first.tier, presence=first.presence,
                   principal=Principal(agent_id=first.agent_id, role=first.role, brand_ids=brand_ids))
    return who, now - first.last_seen_at >= TOUCH_EVERY


def touch(db: Session, session_id: int, now: dt.datetime) -> None:
    repository.touch_session(db, session_id, now)


def sign_out(db: Session, settings: Settings, token: str, now: dt.datetime) -> None:
    repository.end_session(db, token_digest(token, settings.effective_secret_key()), now)


# -- password reset ----------------------------------------------------------------------------------------------------
def reset_token(secret_key: str, reset: PasswordReset) -> str:
    mac = hmac.new(secret_key.encode(), f"password-reset|{reset.id}|{reset.nonce}".encode(), hashlib.sha256)
    return f"{reset.id}.{mac.hexdigest()}"


def ask_password_reset(db: Session, settings: Settings, email: str, base_url: str, now: dt.datetime) -> None:
    """Mail a reset link when the address is an active agent's. The caller says the same thing either way (nobody
    learns from this form who works here); one mail a minute per agent at most."""
    agent = repository.for_sign_in(db, email.strip()) if email.strip() else None
    if agent is None or not agent.is_active:
        return
    latest = repository.latest_reset(db, agent.id)
    if latest is not None and latest.used_at is None and now - latest.created_at < dt.timedelta(minutes=1):
        return
    reset = PasswordReset(agent_id=agent.id, nonce=secrets.token_hex(16), created_at=now,
                          expires_at=now + dt.timedelta(minutes=settings.password_reset_minutes))
    db.add(reset)
    db.flush()
    outbox.enqueue(db, OutboxTopic.EMAIL_NOTICE,
                   {"kind": NoticeKind.PASSWORD_RESET, "id": reset.id, "base_url": base_url.rstrip("/")})


def valid_reset(db: Session, settings: Settings, token: str, now: dt.datetime) -> PasswordReset | None:
    number, _, mac = token.partition(".")
    if not number.isdigit() or len(number) > 18 or not mac:
        return None
    reset = repository.reset_for_update(db, int(number))
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        return None
    if not hmac.compare_digest(reset_token(settings.effective_secret_key(), reset), token):
        return None
    return reset


def reset_password(db: Session, settings: Settings, token: str, password: str, now: dt.datetime) -> int:
    """Set the new password; the link dies, every session of the agent ends and any lock-out lifts. Returns the
    agent's id."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(f"the password must have {PASSWORD_MIN} to {PASSWORD_MAX} characters", field="password")
    reset = valid_reset(db, settings, token, now)
    if reset is None:
        raise InvalidInput("this reset link is unknown, used or expired: ask for a new one", field="token")
    agent = db.get(Agent, reset.agent_id, with_for_update=True)
    assert agent is not None  # password_resets.agent_id is a foreign key, deleted with its agent
    agent.password_hash = hash_password(password)
    agent.failed_sign_ins = agent.sign_in_strikes = 0
    agent.locked_until = None
    reset.used_at = now
    repository.end_sessions_of(db, agent.id, now)
    return agent.id


def password_reset_notice(db: Session, secret_key: str, payload: dict[str, Any]) -> Notice | None:
    """The reset mail (kit.notices): composed when sent, so the link is only ever in the mail itself."""
    reset = db.get(PasswordReset, int(payload["id"]))
    if reset is None or reset.used_at is not None:
        return None
    agent = db.get(Agent, reset.agent_id)
    if agent is None or not agent.is_active:
        return None
    link = f"{payload['base_url']}/password/reset/{reset_token(secret_key, reset)}"
    minutes = max(1, round((reset.expires_at - reset.created_at).total_seconds() / 60))
    text = (f"Hello {agent.display_name},\n\nsomeone (we hope you) asked to set a new password for your tierdesk "
            f"account {agent.email}. Choose it here:\n\n{link}\n\nThe link works once, for {minutes} minutes. If "
            "you did not ask for it, ignore this mail: your password stays as it is.\n")
    return Notice(to=agent.email, subject="Set a new tierdesk password", text=text,
                  brand_ids=tuple(repository.brand_ids_of(db, agent.id)))
