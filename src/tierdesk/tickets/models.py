from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tierdesk.db import Base, BigId, JsonData, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import (
    ActorKind,
    Channel,
    Department,
    EventKind,
    MessageDirection,
    Priority,
    TicketLinkKind,
    TicketStatus,
)


class DispositionCode(Base):
    """How a ticket ended ("refund issued", "fixed by reboot", "escalated to vendor"), chosen when it is solved."""

    __tablename__ = "disposition_codes"
    __table_args__ = (sa.UniqueConstraint("brand_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(sa.String(64))
    label: Mapped[str] = mapped_column(sa.String(200))
    department: Mapped[Department | None] = mapped_column(str_enum(Department, "department"))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        sa.CheckConstraint("tier BETWEEN 0 AND 3", name="tier_range"),
        sa.Index("ix_tickets_brand_status_id", "brand_id", "status", "id"),
        sa.Index("ix_tickets_customer_id_id", "customer_id", "id"),
        sa.Index("ix_tickets_queue_status", "queue_id", "status"),
        sa.Index("ix_tickets_assignee_status", "assignee_id", "status"),
        sa.Index("ix_tickets_status_solved_at", "status", "solved_at"),
        # The router's worklist: only tickets waiting for an agent are in it.
        sa.Index(
            "ix_tickets_queue_routable_since",
            "queue_id",
            "routable_since",
            postgresql_where=sa.text("routable_since IS NOT NULL"),
            sqlite_where=sa.text("routable_since IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    customer_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("customers.id", ondelete="RESTRICT"))
    subject: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[TicketStatus] = mapped_column(str_enum(TicketStatus, "ticket_status"), default=TicketStatus.NEW)
    priority: Mapped[Priority] = mapped_column(str_enum(Priority, "priority"), default=Priority.NORMAL)
    department: Mapped[Department | None] = mapped_column(str_enum(Department, "department"))
    intent: Mapped[str | None] = mapped_column(sa.String(100))
    # What triage read in the first message (the full decision and its explanation are in the "triaged" event).
    language: Mapped[str | None] = mapped_column(sa.String(16))
    sentiment: Mapped[float | None] = mapped_column(sa.Float)
    triage_confidence: Mapped[float | None] = mapped_column(sa.Float)
    queue_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("queues.id", ondelete="RESTRICT"))
    tier: Mapped[int] = mapped_column(sa.SmallInteger, default=1)
    assignee_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))  # where the first contact came from
    disposition_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("disposition_codes.id"))
    message_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    solved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Waiting for an agent (unassigned, new or open) in its current queue since then; None when not waiting.
    routable_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The nearest due time of its running SLA clocks (the router serves the most urgent first).
    sla_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    reopens_escalated: Mapped[int] = mapped_column(sa.Integer, default=0)  # reopens the escalation rule has acted on


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # A channel's own message id (email Message-ID, chat frame id): a retried delivery is recognised, not doubled.
        sa.UniqueConstraint("brand_id", "external_id"),
        sa.Index("ix_messages_ticket_id_id", "ticket_id", "id"),
        # Partial: most messages carry no thread reference (email threads by its own records), and without the
        # NULLs this index cannot stand in for the unique (brand_id, external_id) one in intake's duplicate check
        # (a planner without statistics once chose it there and read every message of the brand).
        sa.Index("ix_messages_brand_thread_ref", "brand_id", "thread_ref",
                 postgresql_where=sa.text("thread_ref IS NOT NULL"), sqlite_where=sa.text("thread_ref IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    direction: Mapped[MessageDirection] = mapped_column(str_enum(MessageDirection, "message_direction"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    author_agent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="SET NULL"))
    author_customer_id: Mapped[int | None] = mapped_column(
        BigId, sa.ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)  # sanitised, safe to render
    external_id: Mapped[str | None] = mapped_column(sa.String(500))
    thread_ref: Mapped[str | None] = mapped_column(sa.String(500))  # what the sender said it continues
    # Shown to the agent beside the message, e.g. "from an address that is not the ticket's customer nor a
    # participant" (a brand that adds strangers' replies to the ticket instead of opening one of their own).
    flag: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    # For writing: a message and its events are inserted with their ticket in one flush. Never loaded implicitly.
    ticket: Mapped[Ticket] = relationship(lazy="raise")


class TicketEvent(Base):
    """One change to a ticket: what, who, when, before and after. The audit trail and the customer timeline."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        sa.Index("ix_ticket_events_ticket_id_id", "ticket_id", "id"),
        sa.Index("ix_ticket_events_customer_id_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    customer_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("customers.id", ondelete="RESTRICT"))
    # EventKind, stored as its string: a kind added later needs no migration (no CHECK constraint), but a kind that is
    # not in the vocabulary is refused on write.
    kind: Mapped[EventKind] = mapped_column(
        sa.Enum(EventKind, native_enum=False, create_constraint=False, length=40, validate_strings=True,
                values_callable=lambda e: [m.value for m in e])
    )
    actor_kind: Mapped[ActorKind] = mapped_column(str_enum(ActorKind, "actor_kind"))
    actor_agent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("agents.id", ondelete="SET NULL"))
    actor_integration_id: Mapped[int | None] = mapped_column(  # the channel gateway, when the actor is one
        BigId, sa.ForeignKey("integrations.id", ondelete="SET NULL")
    )
    message_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("messages.id", ondelete="SET NULL"))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonData)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonData)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(lazy="raise")
    message: Mapped[Message | None] = relationship(lazy="raise")


class Attachment(Base):
    """A file that came with a message (or goes out with a reply). The bytes live in the blob store under the data
    directory, named by their SHA-256, so the same file sent a hundred times is stored once."""

    __tablename__ = "attachments"
    __table_args__ = (sa.Index("ix_attachments_message_id", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("messages.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    content_id: Mapped[str | None] = mapped_column(sa.String(500))  # what a "cid:" reference in the HTML names
    inline: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # an image shown inside the message
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketParticipant(Base):
    """Someone besides the ticket's customer who takes part (Cc'd on the mail): they may reply into the ticket and
    receive the replies."""

    __tablename__ = "ticket_participants"
    __table_args__ = (sa.UniqueConstraint("ticket_id", "customer_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketLink(Base):
    """Two tickets that belong together: a follow-up and the closed ticket it continues, a stranger's reply and the
    ticket it answered."""

    __tablename__ = "ticket_links"
    __table_args__ = (sa.UniqueConstraint("ticket_id", "linked_ticket_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"))
    linked_ticket_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[TicketLinkKind] = mapped_column(str_enum(TicketLinkKind, "ticket_link_kind"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketTag(Base):
    """A label on a ticket ("vip", "outage-2026-12"), set by agents and macros (tickets.mutations.set_tags); saved
    views and searches filter by it."""

    __tablename__ = "ticket_tags"
    __table_args__ = (sa.Index("ix_ticket_tags_tag_ticket", "tag", "ticket_id"),)

    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(sa.String(64), primary_key=True)


class CannedResponse(Base):
    """A prepared answer an agent inserts into a reply or a note ("How to reset your router"). Shared with the
    brand (owner_agent_id null: managed by its admins and leads) or personal to one agent (only they see it)."""

    __tablename__ = "canned_responses"
    __table_args__ = (sa.Index("ix_canned_responses_brand_title", "brand_id", "title"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    owner_agent_id: Mapped[int | None] = mapped_column(
        BigId, sa.ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)  # plain text; {customer_name} and the like are filled when inserted
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Macro(Base):
    """A brand's one-click treatment of a ticket ("Refund issued: solve"): fields it sets (status, priority, tags,
    disposition, assignee) through the ticket mutations, and a text it inserts into the reply or the note."""

    __tablename__ = "macros"
    __table_args__ = (sa.UniqueConstraint("brand_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    # Offered only on tickets of this department (None: every ticket of the brand).
    department: Mapped[Department | None] = mapped_column(str_enum(Department, "macro_department"))
    set_status: Mapped[TicketStatus | None] = mapped_column(str_enum(TicketStatus, "macro_status"))
    set_priority: Mapped[Priority | None] = mapped_column(str_enum(Priority, "macro_priority"))
    add_tags: Mapped[list[str]] = mapped_column(JsonData, default=list)
    remove_tags: Mapped[list[str]] = mapped_column(JsonData, default=list)
    disposition: Mapped[str | None] = mapped_column(sa.String(64))  # a DispositionCode.code of the brand
    assign_to_me: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    text: Mapped[str] = mapped_column(sa.Text, default="")
    text_into: Mapped[MessageDirection] = mapped_column(str_enum(MessageDirection, "macro_text_into"),
                                                        default=MessageDirection.OUTBOUND)  # outbound or note
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
