"""Who is calling: bearer API tokens, argon2 passwords, and the Principal every service receives."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from tierdesk.agents.models import AgentRole
from tierdesk.kit.errors import Forbidden

TOKEN_PREFIX = "tdk_"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@dataclass(frozen=True)
class Principal:
    """The authenticated agent behind a request or a command."""

    agent_id: int | None  # None for the system itself (CLI, worker)
    role: AgentRole
    brand_ids: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return self.role is AgentRole.ADMIN

    def sees_brand(self, brand_id: int) -> bool:
        return self.is_admin or brand_id in self.brand_ids

    def require_role(self, *roles: AgentRole) -> None:
        if self.role not in roles and not self.is_admin:
            needed = " or ".join(r.value for r in (AgentRole.ADMIN, *roles) if r)
            raise Forbidden(f"this needs the role {needed}; you are {self.role.value}")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden(f"only admins may do this; you are {self.role.value}")


SYSTEM = Principal(agent_id=None, role=AgentRole.ADMIN, brand_ids=frozenset())


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str, secret_key: str) -> str:
    # Tokens carry 256 random bits, so a keyed SHA-256 is enough and costs microseconds per request;
    # argon2's deliberate slowness is for low-entropy secrets (passwords).
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False
