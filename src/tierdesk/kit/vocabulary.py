"""The words every domain shares, in one place: departments, channels, priorities (with their one ordering),
ticket statuses, event kinds, roles, presence, kinds of work. Nobody writes these strings by hand."""

from __future__ import annotations

from enum import StrEnum


class Department(StrEnum):
    CS = "CS"  # Customer Service: people problems (billing, refunds, orders, account admin)
    TS = "TS"  # Technical Support: product problems (something does not work)


class Channel(StrEnum):
    EMAIL = "email"
    WEB = "web"
    CHAT = "chat"
    PHONE = "phone"
    API = "api"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """Serving order: 0 is served first (urgent), 3 last (low). The one ordering of priorities."""
        return _PRIORITY_RANK[self]

    @classmethod
    def most_urgent(cls, *priorities: Priority | str) -> Priority:
        return min((cls(p) for p in priorities), key=lambda p: p.rank)


_PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


class TicketStatus(StrEnum):
    NEW = "new"  # nobody has worked it yet
    OPEN = "open"  # being worked
    PENDING = "pending"  # waiting on the customer
    ON_HOLD = "on_hold"  # waiting on a third party (vendor, engineering)
    SOLVED = "solved"  # answered; reopens if the customer writes again, closes by itself later
    CLOSED = "closed"  # final: a new message opens a follow-up ticket


class MessageDirection(StrEnum):
    INBOUND = "inbound"  # from the customer
    OUTBOUND = "outbound"  # a public reply to the customer
    NOTE = "note"  # internal, agents only


class ActorKind(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    SYSTEM = "system"
    INTEGRATION = "integration"  # a channel gateway, with its own token (which one: actor_integration_id)


class TokenScope(StrEnum):
    """What an integration's token may do (an agent's token does what the agent's role allows)."""

    INTAKE = "intake"  # post contacts (POST /api/v1/contacts), nothing else


class AgentRole(StrEnum):
    ADMIN = "admin"  # manages agents, queues, brands; sees every brand
    LEAD = "lead"  # team lead: works tickets, merges customers, in the brands assigned
    AGENT = "agent"  # works tickets in the brands assigned


class PresenceStatus(StrEnum):
    AVAILABLE = "available"  # takes new work
    BUSY = "busy"  # signed in, works what they have, takes nothing new
    AWAY = "away"  # on a break
    OFFLINE = "offline"
    WRAP_UP = "wrap_up"  # after-call work: finishing a call's ticket, takes nothing new; ends by the agent or in time


class WorkKind(StrEnum):
    """Channels grouped by how much of an agent they take: a call has all of them, chats a share, email little."""

    PHONE = "phone"
    CHAT = "chat"
    EMAIL = "email"  # email, web forms and API contacts: asynchronous work


class QueueKind(StrEnum):
    STANDARD = "standard"
    TRIAGE = "triage"  # contacts nobody has triaged yet, or that triage was unsure of: a person decides


class RoutingPolicy(StrEnum):
    """How a queue picks among the eligible agents with room for the ticket."""

    LONGEST_IDLE = "longest_idle"  # the agent who has waited longest since their last assignment
    LEAST_LOADED = "least_loaded"  # the agent with the smallest share of their capacity in use
    ROUND_ROBIN = "round_robin"  # each eligible agent in turn


class IdentityKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"  # E.164
    EXTERNAL_ID = "external_id"  # the brand's own account or customer number


class SlaMetric(StrEnum):
    FIRST_RESPONSE = "first_response"  # from the ticket's creation to the first public reply
    NEXT_RESPONSE = "next_response"  # from a customer's message to the reply after it
    RESOLUTION = "resolution"  # from creation to solved; pauses while pending on the customer or on hold


# Tiers: 0 self-service, 1 helpdesk, 2 specialists, 3 engineering and vendors (the top: nowhere to escalate to).
TOP_TIER = 3


class EventKind(StrEnum):
    """What a ticket event records (the audit trail and the customer timeline)."""

    CREATED = "created"
    STATUS_CHANGED = "status_changed"
    PRIORITY_CHANGED = "priority_changed"
    TAGS_CHANGED = "tags_changed"  # before/after {"tags": [...]}, sorted
    SUBJECT_CHANGED = "subject_changed"
    INTENT_CHANGED = "intent_changed"
    DEPARTMENT_CHANGED = "department_changed"
    QUEUE_CHANGED = "queue_changed"
    TIER_CHANGED = "tier_changed"
    ASSIGNEE_CHANGED = "assignee_changed"
    DISPOSITION_CHANGED = "disposition_changed"
    MESSAGE_RECEIVED = "message_received"
    REPLY_SENT = "reply_sent"
    NOTE_ADDED = "note_added"
    TRIAGED = "triaged"
    RETRIAGED = "retriaged"  # a person moved it to another department or queue, with the reason
    ESCALATED = "escalated"
    DE_ESCALATED = "de_escalated"
    TRANSFERRED = "transferred"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    CUSTOMER_MERGED = "customer_merged"
    PARTICIPANT_ADDED = "participant_added"  # someone Cc'd (or added by an agent) who receives the replies
    TICKET_LINKED = "ticket_linked"  # a follow-up of a closed ticket, or a stranger's reply opened as its own ticket
    DELIVERY_FAILED = "delivery_failed"  # an outbound message could not be delivered (the reason says why)
    CHAT_STARTED = "chat_started"  # a customer opened a live chat (the ticket's first message follows)
    CHAT_ENDED = "chat_ended"  # the chat closed: by the agent (with a disposition), the customer, or time
    CALL_STARTED = "call_started"  # a call reached the IVR
    CALL_ENDED = "call_ended"  # a call ended: answered, abandoned while waiting, or turned into a callback
    CHANNEL_CHANGED = "channel_changed"  # worked on another channel from now on (a chat continued by email)
    SURVEY_ANSWERED = "survey_answered"  # the customer answered the satisfaction survey (CSAT/NPS)


class TicketLinkKind(StrEnum):
    FOLLOW_UP = "follow_up"  # a reply to a closed ticket opened this one
    STRANGER_REPLY = "stranger_reply"  # a reply from someone who is not the ticket's customer nor a participant


class StrangerReplyPolicy(StrEnum):
    """What a brand does with a reply to a ticket from an address that is neither its customer nor a participant."""

    NEW_LINKED_TICKET = "linked_ticket"  # the default: a ticket of its own, linked to the one it answers
    ADD_FLAGGED = "add_flagged"  # added to the ticket, with a visible flag on the message


class EmailOutcome(StrEnum):
    """What the email channel did with one received message."""

    CREATED = "created"  # opened a new ticket
    THREADED = "threaded"  # added to an existing ticket
    DUPLICATE = "duplicate"  # this very message was received before: stored once
    AUTO_REPLY = "auto_reply"  # an automatic message (out-of-office, list mail): recorded, never answered
    BOUNCE = "bounce"  # a delivery failure report: the address it names is flagged undeliverable
    QUARANTINED = "quarantined"  # kept raw with its reason, for a person to look at and re-process


class MailSecurity(StrEnum):
    """How a connection to a mail server (SMTP relay, IMAP) is protected."""

    TLS = "tls"  # TLS from the first byte (SMTPS 465, IMAPS 993)
    STARTTLS = "starttls"  # plain connection upgraded with STARTTLS (587, 143)
    PLAIN = "plain"  # no encryption: loopback and tests only


class DeliveryStatus(StrEnum):
    """Where an outbound email stands."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # a permanent refusal (5xx) or given up after the last retry


class OutboxTopic(StrEnum):
    """What an outbox row asks the worker to do (the worker picks the sender by topic)."""

    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    EMAIL_SEND = "email.send"  # payload {"message_id": int}: send a stored outbound message as email
    # payload {"ticket_id": int, "message_id": int}: tell the customer their mail (that message) opened the ticket
    EMAIL_ACKNOWLEDGE = "email.acknowledge"
    WEBHOOK_DELIVER = "webhook.deliver"  # payload {"delivery_id": int}: post one webhook delivery to its subscriber
    # payload {"kind": NoticeKind, "id": int, "base_url": str}: a mail to a person that is not a ticket's message
    # (a password reset, a portal sign-in code); channels/email/notices.py composes it when it is sent
    EMAIL_NOTICE = "email.notice"


class NoticeKind(StrEnum):
    """The mails tierdesk sends that are not ticket messages (OutboxTopic.EMAIL_NOTICE)."""

    PASSWORD_RESET = "password_reset"  # id: a PasswordReset
    PORTAL_SIGN_IN = "portal_sign_in"  # id: a portal sign-in code (channels/web/portal)
    CSAT_REQUEST = "csat_request"  # id: a ticket just solved; the mail carries the signed rating link


class WebhookEvent(StrEnum):
    """What a webhook subscription hears of (webhooks.events maps the ticket events to these). Stored with str_enum:
    16 characters at most."""

    TICKET_CREATED = "ticket_created"
    TICKET_UPDATED = "ticket_updated"  # any other change: priority, subject, queue, department, messages, notes, ...
    TICKET_ASSIGNED = "ticket_assigned"  # assignee changed (also back to the queue: assignee_id null)
    STATUS_CHANGED = "status_changed"
    ESCALATED = "escalated"
    SOLVED = "solved"  # a status change to solved (a subscriber of both gets both)
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    SURVEY_ANSWERED = "survey_answered"
    CHAT_STARTED = "chat_started"
    CHAT_ENDED = "chat_ended"
    CALL_ENDED = "call_ended"
    PING = "ping"  # a test sent by hand (API, CLI): every subscription takes it


class WebhookDeliveryStatus(StrEnum):
    """Where one webhook delivery (or one attempt of it) stands."""

    PENDING = "pending"  # waiting in the outbox for its first or next attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # 410, given up after the last retry, or its subscription was disabled


# The kind of work each channel is, for capacity: a call takes all of an agent, chats a share, email little.
WORK_KIND: dict[Channel, WorkKind] = {
    Channel.PHONE: WorkKind.PHONE,
    Channel.CHAT: WorkKind.CHAT,
    Channel.EMAIL: WorkKind.EMAIL,
    Channel.WEB: WorkKind.EMAIL,
    Channel.API: WorkKind.EMAIL,
}
CHANNELS_OF: dict[WorkKind, list[Channel]] = {kind: [c for c, k in WORK_KIND.items() if k is kind] for kind in WorkKind}


class AfterImport(StrEnum):
    """What the IMAP poller does on the server with a message once it is stored."""

    MOVE = "move"  # moved to the mailbox's move_to folder
    FLAG = "flag"  # left in place, marked \Seen and $TierdeskImported


class CallStatus(StrEnum):
    """Where a phone call stands (channels/voice)."""

    IN_IVR = "in_ivr"  # listening to the brand's menu
    WAITING = "waiting"  # its ticket waits in a queue; the caller hears hold audio
    CONNECTING = "connecting"  # dialling the agent the router gave it to
    IN_PROGRESS = "in_progress"  # caller and agent are talking
    ENDED = "ended"


class CallOutcome(StrEnum):
    """How a phone call ended."""

    ANSWERED = "answered"  # an agent talked with the caller
    ABANDONED = "abandoned"  # the caller hung up while waiting in the queue
    CALLBACK = "callback"  # the caller chose to be called back: the ticket stays in its queue as routable work
    ENDED_IN_IVR = "ended_in_ivr"  # hung up in the menu, or the menu ended the call (closed, information only)
    FAILED = "failed"  # the provider could not hold the call (busy, failed, canceled)


class WebFieldType(StrEnum):
    """The kinds of optional field a brand may add to its web form."""

    TEXT = "text"  # one line
    TEXTAREA = "textarea"  # several lines
    SELECT = "select"  # one of the field's choices
    CHECKBOX = "checkbox"  # yes or no


class ChatStatus(StrEnum):
    """Where a live chat stands."""

    WAITING = "waiting"  # the customer waits for an agent (the ticket waits in its queue)
    ACTIVE = "active"  # an agent has joined
    ENDED = "ended"  # over: by the agent, the customer, or time; anything more comes by email


class ChatEventKind(StrEnum):
    """What a chat's event log records (typing is not stored: it goes over the live bus only)."""

    MESSAGE = "message"  # a customer's or an agent's message (the ticket's message)
    DELIVERED = "delivered"  # a side's client received the other side's messages up to a seq
    READ = "read"  # a side's client showed them up to a seq
    AGENT_JOINED = "agent_joined"
    AGENT_LEFT = "agent_left"
    EMAIL_OFFERED = "email_offered"  # no agent within the wait, or outside business hours: continue by email?
    ENDED = "ended"


class SurveyKind(StrEnum):
    """Which satisfaction survey a customer answered (surveys.models.SurveyResponse)."""

    CSAT = "csat"  # customer satisfaction with one solved ticket, 1-5
    NPS = "nps"  # net promoter score, 0-10


class ViewerState(StrEnum):
    """What an agent who has a ticket open is doing with it (the ticket page's collision warning)."""

    VIEWING = "viewing"
    REPLYING = "replying"  # typing a reply or a note
