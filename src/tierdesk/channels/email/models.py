"""The email channel's tables."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tierdesk.db import Base, BigId, JsonData, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import AfterImport, MailSecurity


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
