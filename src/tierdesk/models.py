"""Every table, imported in one place so the metadata (and Alembic) sees the whole schema."""

from tierdesk.agents.models import Agent, AgentRole, AgentSkill, ApiToken, agent_brands  # noqa: F401
from tierdesk.brands.models import Brand  # noqa: F401
from tierdesk.customers.models import Customer, CustomerIdentity, IdentityKind  # noqa: F401
from tierdesk.routing.models import Queue, QueueKind, QueueSkill  # noqa: F401
from tierdesk.tickets.models import (  # noqa: F401
    ActorKind,
    DispositionCode,
    Message,
    MessageDirection,
    Ticket,
    TicketEvent,
    TicketStatus,
)
