"""Every table, imported in one place so the metadata (and Alembic) sees the whole schema."""

from tierdesk.agents.models import (  # noqa: F401
    Agent,
    AgentCapacity,
    AgentRole,
    AgentSkill,
    ApiToken,
    PresenceChange,
    agent_brands,
)
from tierdesk.brands.models import Brand  # noqa: F401
from tierdesk.customers.models import Customer, CustomerIdentity, IdentityKind  # noqa: F401
from tierdesk.jobs.models import OutboxMessage  # noqa: F401
from tierdesk.routing.models import Queue, QueueKind, QueueSkill  # noqa: F401
from tierdesk.sla.models import BusinessCalendar, SlaClock, SlaPolicy  # noqa: F401
from tierdesk.tickets.models import (  # noqa: F401
    ActorKind,
    DispositionCode,
    Message,
    MessageDirection,
    Ticket,
    TicketEvent,
    TicketStatus,
)
