"""The chat channel's tables: a brand's chat settings, a conversation per chat ticket, and each conversation's
append-only event log numbered by `seq` (what a reconnecting client resumes from)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tierdesk.db import Base, BigId, JsonData, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import ActorKind, ChatEventKind, ChatStatus


class ChatSettings(Base):
    """A brand's chat settings; a brand without a row takes no chats from a web page of another origin."""

    __tablename__ = "chat_settings"

    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    # Origins (scheme://host[:port]) of the pages that may embed the widget; a connection from any other is refused.
    allowed_origins: Mapped[list[str]] = mapped_column(JsonData, default=list)
    # Whether the widget asks for a name and an email before the chat starts.
    pre_chat_form: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Outside these hours the widget says nobody is there and offers to continue by email (None: always open).
    calendar_id: Mapped[int | None] = mapped_column(
        BigId, sa.ForeignKey("business_calendars.id", ondelete="SET NULL"))
    # Signs the brand's own customer ids (HMAC-SHA256), so a customer signed in on the brand's site is recognised
    # as that customer; sealed with the deployment's secret key. None: every visitor is anonymous until they say.
    identity_secret_sealed: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ChatConversation(Base):
    """One live chat: the customer's widget, the ticket it opened, the agent who has it."""

    __tablename__ = "chat_conversations"
    __table_args__ = (
        sa.Index("ix_chat_conversations_ticket_id", "ticket_id"),
        # The worker's looks: chats not over yet (few, however many ended before them).
        sa.Index("ix_chat_conversations_open", "status", postgresql_where=sa.text("status <> 'ended'"),
                 sqlite_where=sa.text("status <> 'ended'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    # Set by the first message (intake opens the ticket then).
    ticket_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("customers.id", ondelete="SET NULL"))
    # Keyed digest of the secret the widget resumes with (never the secret itself).
    token_digest: Mapped[str] = mapped_column(sa.String(64))
    # The widget's visitor id (kept in the browser): the customer's identity while they gave no email.
    visitor_id: Mapped[str] = mapped_column(sa.String(200))
    visitor_name: Mapped[str | None] = mapped_column(sa.String(200))
    visitor_email: Mapped[str | None] = mapped_column(sa.String(320))
    status: Mapped[ChatStatus] = mapped_column(str_enum(ChatStatus, "chat_status"), default=ChatStatus.WAITING)
    agent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="SET NULL"))
    last_seq: Mapped[int] = mapped_column(sa.Integer, default=0)  # the log's counter, bumped under the row lock
    # The high-water marks of the delivered/read events, per side (a mark that does not advance is not stored).
    customer_delivered_seq: Mapped[int] = mapped_column(sa.Integer, default=0)
    customer_read_seq: Mapped[int] = mapped_column(sa.Integer, default=0)
    agent_delivered_seq: Mapped[int] = mapped_column(sa.Integer, default=0)
    agent_read_seq: Mapped[int] = mapped_column(sa.Integer, default=0)
    email_offered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    continued_by_email: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The customer's latest connection, and since when none is there (the worker ends the chat after a grace time).
    customer_connection: Mapped[str | None] = mapped_column(sa.String(32))
    customer_left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[ActorKind | None] = mapped_column(str_enum(ActorKind, "actor_kind"))
    ended_by_agent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="SET NULL"))
    ended_reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # the first message
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # the first agent joined
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ChatEvent(Base):
    """One stored event of a conversation, numbered 1, 2, 3... by `seq` within it. Never updated or deleted."""

    __tablename__ = "chat_events"
    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "seq"),
        # A client's message id, per side: a message resent after a lost ack is recognised, not stored twice.
        sa.UniqueConstraint("conversation_id", "actor_kind", "client_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("chat_conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[ChatEventKind] = mapped_column(str_enum(ChatEventKind, "chat_event_kind"))
    actor_kind: Mapped[ActorKind] = mapped_column(str_enum(ActorKind, "actor_kind"))
    agent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("messages.id", ondelete="SET NULL"))
    client_id: Mapped[str | None] = mapped_column(sa.String(64))  # the sender's id of a message
    # What the frame shows beside the kind: a message's text, the seq a mark reaches, an agent's name, a reason.
    data: Mapped[dict[str, Any]] = mapped_column(JsonData, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
