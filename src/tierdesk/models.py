"""Every table, imported in one place so the metadata (and Alembic) sees the whole schema."""

from tierdesk.agents.models import (  # noqa: F401
    Agent,
    AgentCapacity,
    AgentSession,
    AgentSkill,
    ApiToken,
    PasswordReset,
    PresenceChange,
    agent_brands,
)
from tierdesk.audit.models import AuditEntry  # noqa: F401
from tierdesk.brands.models import Brand  # noqa: F401
from tierdesk.channels.chat.models import ChatConversation, ChatEvent, ChatSettings  # noqa: F401
from tierdesk.channels.email.models import (  # noqa: F401
    EmailAddress,
    EmailRecord,
    EmailSettings,
    ImapMailbox,
    QuarantinedEmail,
)
from tierdesk.channels.voice.models import Call, IvrMenu, VoiceSettings  # noqa: F401
from tierdesk.channels.web.models import WebFormSettings, WebSubmission  # noqa: F401
from tierdesk.customers.models import Customer, CustomerIdentity  # noqa: F401
from tierdesk.jobs.models import OutboxMessage  # noqa: F401
from tierdesk.kit.vocabulary import (  # noqa: F401
    ActorKind,
    AgentRole,  # noqa: F401
    IdentityKind,  # noqa: F401
    MessageDirection,
    QueueKind,  # noqa: F401
    TicketStatus,
)
from tierdesk.queues.models import Queue, QueueSkill  # noqa: F401
from tierdesk.sla.models import BusinessCalendar, SlaClock, SlaPolicy  # noqa: F401
from tierdesk.tickets.models import (  # noqa: F401
    Attachment,
    DispositionCode,
    Message,
    Ticket,
    TicketEvent,
    TicketLink,
    TicketParticipant,
    TicketTag,
)
from tierdesk.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription  # noqa: F401
from tierdesk.workspace.models import SavedView  # noqa: F401
