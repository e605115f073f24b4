"""The web form channel's tables: each brand's form settings, and what each accepted submission carried beside its
message (the brand's own fields, where it came from), linked to the ticket it opened."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tierdesk.db import Base, BigId, JsonData, UTCDateTime
from tierdesk.kit.time import utcnow

# Types a new form accepts until the brand says otherwise: pictures, PDFs and plain text, the common screenshots,
# receipts and logs. Office files and archives are the brand's choice to add.
DEFAULT_ALLOWED_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"]


class WebFormSettings(Base):
    """A brand's web form. A brand without a row has no form (it is off until someone turns it on)."""

    __tablename__ = "web_form_settings"

    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The brand's own fields, in order: [{"name", "label", "type", "required", "choices", "max_length"}]
    # (schemas.WebFormField validates them before they are stored).
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JsonData, default=list)
    max_attachment_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=10 * 1024 * 1024)
    max_attachments: Mapped[int] = mapped_column(sa.Integer, default=5)  # 0: no attachments
    # MIME types ("image/png") or families ("image/*"); checked against the file's content, not what the browser says.
    allowed_types: Mapped[list[str]] = mapped_column(JsonData, default=lambda: list(DEFAULT_ALLOWED_TYPES))
    # Sites that may show the form in an iframe (Content-Security-Policy frame-ancestors), e.g. https://www.acme.com
    allowed_origins: Mapped[list[str]] = mapped_column(JsonData, default=list)
    thank_you_text: Mapped[str | None] = mapped_column(sa.Text)  # None: a default sentence
    acknowledge: Mapped[bool] = mapped_column(sa.Boolean, default=True)  # the email acknowledgement of a new request
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebSubmission(Base):
    """One accepted form post: the ticket and message it made, the brand's own fields as they were answered, and
    who sent it (the per-address and per-IP rate limits count these rows)."""

    __tablename__ = "web_submissions"
    __table_args__ = (
        sa.Index("ix_web_submissions_brand_email_created", "brand_id", "email", "created_at"),
        sa.Index("ix_web_submissions_client_ip_created", "client_ip", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str] = mapped_column(sa.String(320))  # normalised, as the customer's identity
    client_ip: Mapped[str] = mapped_column(sa.String(64))
    # {"order_number": "A-123", "newsletter": true}: the brand's fields by name, as answered (text, never HTML)
    fields: Mapped[dict[str, Any]] = mapped_column(JsonData, default=dict)
    # How it came: "form" (the page or the iframe) or "api" (a site posting from its own form)
    via: Mapped[str] = mapped_column(sa.String(16), default="form")
    user_agent: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PortalSignIn(Base):
    """One request for a portal sign-in code: the code and the magic link mailed for it are both derived from the
    nonce with the secret key (channels/web/portal_sessions.py), so neither this row nor the outbox row holds one.
    An address that is no customer of the brand gets a row too (customer_id None, nothing mailed): it is counted
    by the rate limits like any other, and answered alike."""

    __tablename__ = "portal_sign_ins"
    __table_args__ = (
        sa.Index("ix_portal_sign_ins_brand_email_created", "brand_id", "email", "created_at"),
        sa.Index("ix_portal_sign_ins_client_ip_created", "client_ip", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(320))  # normalised
    customer_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)  # wrong codes so far; the limit kills it
    client_ip: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PortalSession(Base):
    """A customer signed in to one brand's portal. The cookie holds a random token; this row only its keyed
    digest."""

    __tablename__ = "portal_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(sa.String(320))  # the address the customer proved
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
