"""The email channel's queries."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.channels.email.models import EmailAddress, EmailRecord, EmailSettings
from tierdesk.customers.models import CustomerIdentity
from tierdesk.kit.vocabulary import IdentityKind, MessageDirection
from tierdesk.tickets.models import Attachment, Message, Ticket


# -- outbound ------------------------------------------------------------------------------------------------------
def message_and_ticket(db: Session, message_id: int) -> tuple[Message, Ticket] | None:
    row = db.execute(sa.select(Message, Ticket).join(Ticket, Ticket.id == Message.ticket_id)
                     .where(Message.id == message_id)).first()
    return (row[0], row[1]) if row is not None else None


def ticket_for_update(db: Session, ticket_id: int) -> Ticket | None:
    return db.scalar(sa.select(Ticket).where(Ticket.id == ticket_id).with_for_update()
                     .execution_options(populate_existing=True))


def brand_addresses(db: Session, brand_id: int) -> list[EmailAddress]:
    """The brand's addresses, its From address (the default, else the first added) first."""
    return list(db.scalars(sa.select(EmailAddress).where(EmailAddress.brand_id == brand_id)
                           .order_by(EmailAddress.is_default.desc(), EmailAddress.id)))


def settings_for_update(db: Session, brand_id: int) -> EmailSettings | None:
    return db.scalar(sa.select(EmailSettings).where(EmailSettings.brand_id == brand_id).with_for_update())


def email_identities(db: Session, customer_ids: list[int]) -> list[CustomerIdentity]:
    """The customers' email addresses, oldest first."""
    if not customer_ids:
        return []
    return list(db.scalars(sa.select(CustomerIdentity).where(
        CustomerIdentity.customer_id.in_(customer_ids), CustomerIdentity.kind == IdentityKind.EMAIL)
        .order_by(CustomerIdentity.id)))


def last_inbound_email(db: Session, ticket_id: int, *, up_to_message_id: int | None = None) -> EmailRecord | None:
    """The customer's latest mail in the ticket (before the given message, when one is given): what a reply
    answers."""
    stmt = sa.select(EmailRecord).where(EmailRecord.ticket_id == ticket_id,
                                        EmailRecord.direction == MessageDirection.INBOUND)
    if up_to_message_id is not None:
        stmt = stmt.where(EmailRecord.message_id <= up_to_message_id)
    return db.scalar(stmt.order_by(EmailRecord.message_id.desc()).limit(1))


def email_record_of(db: Session, message_id: int) -> EmailRecord | None:
    return db.scalar(sa.select(EmailRecord).where(EmailRecord.message_id == message_id))


def attachments_of(db: Session, message_id: int) -> list[Attachment]:
    return list(db.scalars(sa.select(Attachment).where(Attachment.message_id == message_id).order_by(Attachment.id)))
