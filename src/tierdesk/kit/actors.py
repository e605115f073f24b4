"""Who is asking and who did it: the Principal a service receives, and the Actor the audit trail records.

Shared by every domain, so they live below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tierdesk.kit.errors import Forbidden
from tierdesk.kit.vocabulary import ActorKind, AgentRole, TokenScope


@dataclass(frozen=True)
class Principal:
    """The authenticated agent (or integration) behind a request or a command."""

    agent_id: int | None  # None for the system itself (CLI, worker) and for an integration
    role: AgentRole
    brand_ids: frozenset[int]
    # An integration (a channel gateway) acts with its own token: only in its brands, only within its scopes.
    integration_id: int | None = None
    scopes: frozenset[TokenScope] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role is AgentRole.ADMIN and self.integration_id is None

    @property
    def is_integration(self) -> bool:
        return self.integration_id is not None

    @classmethod
    def integration(cls, integration_id: int, brand_ids: frozenset[int], scopes: frozenset[TokenScope]) -> Principal:
        # The least of the roles: whatever an integration may reach beyond its scopes, it may not do much there.
        return cls(agent_id=None, role=AgentRole.AGENT, brand_ids=brand_ids, integration_id=integration_id,
                   scopes=scopes)

    def sees_brand(self, brand_id: int) -> bool:
        return self.is_admin or brand_id in self.brand_ids

    def may_use(self, scope: TokenScope | None) -> bool:
        """An agent may reach every operation (their role decides the rest); an integration only its scopes'."""
        return not self.is_integration or (scope is not None and scope in self.scopes)

    def require_role(self, *roles: AgentRole) -> None:
        if self.role not in roles and not self.is_admin:
            needed = " or ".join(r.value for r in (AgentRole.ADMIN, *roles) if r)
            raise Forbidden(f"this needs the role {needed}; you are {self.role.value}")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden(f"only admins may do this; you are {self.role.value}")


SYSTEM = Principal(agent_id=None, role=AgentRole.ADMIN, brand_ids=frozenset())


@dataclass(frozen=True)
class Actor:
    """Who made a change, as the audit trail records it."""

    kind: ActorKind
    agent_id: int | None = None
    integration_id: int | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        if principal.integration_id is not None:
            return cls(ActorKind.INTEGRATION, integration_id=principal.integration_id)
        return cls(ActorKind.AGENT, principal.agent_id) if principal.agent_id is not None else SYSTEM_ACTOR


SYSTEM_ACTOR = Actor(ActorKind.SYSTEM)

CUSTOMER_ACTOR = Actor(ActorKind.CUSTOMER)
