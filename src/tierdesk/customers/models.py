from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tierdesk.db import Base, BigId, UTCDateTime, str_enum
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import IdentityKind


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"), index=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    # Set when this record was merged into another: the survivor holds the identities and the history.
    merged_into_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("customers.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    identities: Mapped[list[CustomerIdentity]] = relationship(
        lazy="raise", order_by="CustomerIdentity.id", back_populates="customer"
    )


class CustomerIdentity(Base):
    """One way to recognise a customer: an email address, a phone number or an account id, unique in its brand."""

    __tablename__ = "customer_identities"
    __table_args__ = (sa.UniqueConstraint("brand_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("brands.id", ondelete="RESTRICT"))
    customer_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[IdentityKind] = mapped_column(str_enum(IdentityKind, "identity_kind"))
    value: Mapped[str] = mapped_column(sa.String(320))  # normalised: lower-case email, E.164 phone
    # Set when mail to this address bounced for good (a delivery status report): replies are not sent to it, and the
    # agent sees why. Cleared when the customer writes from it again.
    undeliverable_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    undeliverable_reason: Mapped[str | None] = mapped_column(sa.String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(lazy="raise", back_populates="identities")
