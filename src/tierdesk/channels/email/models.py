"""The email channel's tables: the addresses each brand receives mail at and its mail settings, what each stored or
sent email said in its headers (for threading and for showing the original), the quarantine, and the IMAP
mailboxes the worker fetches mail from."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tierdesk.db import Base, BigId, JsonData, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import AfterImport, DeliveryStatus, MailSecurity, MessageDirection, StrangerReplyPolicy


class EmailAddress(Base):
    """An address a brand receives mail at. Plus-addressing is implied: support+anything@ reaches support@."""

    __tablename__ = "email_addresses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(sa.String(320), unique=True)  # lower-case, without a +tag
    # The brand's From address on replies (one per brand; the first address added is the default until another is).
    is_default: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailSettings(Base):
    """A brand's email settings; a brand without a row uses the defaults (and the relay of TIERDESK_EMAIL_RELAY_*)."""

    __tablename__ = "email_settings"

    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    stranger_policy: Mapped[StrangerReplyPolicy] = mapped_column(
        str_enum(StrangerReplyPolicy, "stranger_reply_policy"), default=StrangerReplyPolicy.NEW_LINKED_TICKET
    )
    acknowledge_new_tickets: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    max_attachment_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=25 * 1024 * 1024)
    # A reply with neither usable headers nor the ticket token joins the sender's open ticket with the same subject
    # when that ticket was last active within this many days.
    subject_window_days: Mapped[int] = mapped_column(sa.Integer, default=7)
    from_name: Mapped[str | None] = mapped_column(sa.String(200))  # default: the brand's name
    relay_host: Mapped[str | None] = mapped_column(sa.String(255))  # None: the deployment's default relay
    relay_port: Mapped[int | None] = mapped_column(sa.Integer)
    relay_security: Mapped[MailSecurity | None] = mapped_column(str_enum(MailSecurity, "mail_security"))
    relay_username: Mapped[str | None] = mapped_column(sa.String(255))
    relay_password_sealed: Mapped[str | None] = mapped_column(sa.Text)  # encrypted with the secret key
    dkim_domain: Mapped[str | None] = mapped_column(sa.String(255))
    dkim_selector: Mapped[str | None] = mapped_column(sa.String(63))
    dkim_private_key_sealed: Mapped[str | None] = mapped_column(sa.Text)  # PEM, encrypted with the secret key
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EmailRecord(Base):
    """The email side of a message, received or sent: its headers for threading, its raw MIME (in the blob store)
    for showing the original, and for a reply, whether it was delivered."""

    __tablename__ = "email_records"
    __table_args__ = (
        # Threading looks up every id of In-Reply-To and References here.
        sa.Index("ix_email_records_brand_rfc_message_id", "brand_id", "rfc_message_id"),
        # The per-sender rate limit counts a sender's recent mail.
        sa.Index("ix_email_records_brand_from_created", "brand_id", "from_address", "created_at"),
        sa.Index(
            "ix_email_records_queued",
            "delivery_status",
            postgresql_where=sa.text("delivery_status = 'queued'"),
            sqlite_where=sa.text("delivery_status = 'queued'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    message_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    direction: Mapped[MessageDirection] = mapped_column(str_enum(MessageDirection, "message_direction"))
    rfc_message_id: Mapped[str | None] = mapped_column(sa.String(500))  # "<...>"
    in_reply_to: Mapped[list[str]] = mapped_column(JsonData, default=list)
    references: Mapped[list[str]] = mapped_column(JsonData, default=list)
    from_address: Mapped[str | None] = mapped_column(sa.String(320))
    to_addresses: Mapped[list[str]] = mapped_column(JsonData, default=list)
    cc_addresses: Mapped[list[str]] = mapped_column(JsonData, default=list)
    subject: Mapped[str] = mapped_column(sa.String(1000), default="")
    raw_sha256: Mapped[str | None] = mapped_column(sa.String(64))  # the original MIME in the blob store
    raw_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    content_digest: Mapped[str | None] = mapped_column(sa.String(64))
    auto_submitted: Mapped[str | None] = mapped_column(sa.String(200))  # why it was taken as an automatic message
    defects: Mapped[list[str]] = mapped_column(JsonData, default=list)  # what was repaired while reading it
    has_remote_images: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # blocked until an agent allows them
    # Outbound only.
    delivery_status: Mapped[DeliveryStatus | None] = mapped_column(str_enum(DeliveryStatus, "delivery_status"))
    delivery_error: Mapped[str | None] = mapped_column(sa.Text)
    delivery_attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuarantinedEmail(Base):
    """A received message tierdesk could not take in (unreadable, no brand, a sender flooding the brand): kept raw
    with the reason, for a person to look at and re-process. Nothing accepted is ever dropped."""

    __tablename__ = "email_quarantine"
    __table_args__ = (sa.Index("ix_email_quarantine_open", "released_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="SET NULL"), index=True)
    raw_sha256: Mapped[str] = mapped_column(sa.String(64))
    raw_size: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.String(200))  # "smtp from 192.0.2.1", "imap acme/support", "ingest a.eml"
    recipients: Mapped[list[str]] = mapped_column(JsonData, default=list)  # the envelope's
    from_address: Mapped[str | None] = mapped_column(sa.String(320))
    subject: Mapped[str | None] = mapped_column(sa.String(1000))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when re-processed (or dismissed): the outcome and the ticket it went to.
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(sa.String(40))
    ticket_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any] | None] = mapped_column(JsonData)


class ImapMailbox(Base):
    """An existing mailbox the worker polls over IMAP for a brand. Progress is a UID checkpoint: every message with a
    UID above last_uid (within the folder's uid_validity) is new, so a restart neither fetches twice nor skips."""

    __tablename__ = "imap_mailboxes"
    __table_args__ = (sa.UniqueConstraint("brand_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    host: Mapped[str] = mapped_column(sa.String(255))
    port: Mapped[int] = mapped_column(sa.Integer)
    security: Mapped[MailSecurity] = mapped_column(str_enum(MailSecurity, "mail_security"))
    username: Mapped[str] = mapped_column(sa.String(255))
    # Fernet token (kit.sealed, key derived from the secret key): the server needs the password in clear.
    password_sealed: Mapped[str] = mapped_column(sa.Text)
    folder: Mapped[str] = mapped_column(sa.String(255), default="INBOX")
    after_processing: Mapped[AfterImport] = mapped_column(str_enum(AfterImport, "after_import"))
    move_to: Mapped[str] = mapped_column(sa.String(255), default="Processed")
    uid_validity: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_uid: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Messages at or below last_uid whose delivery failed, to try again on the next polls: {"uid": attempts}.
    retry_uids: Mapped[dict[str, int]] = mapped_column(JsonData, default=dict)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # A poller's lease (compare-and-set), so two workers never poll one mailbox at once; NULL or past: free.
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_polled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
