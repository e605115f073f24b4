"""The email channel's queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.brands.models import Brand
from tierdesk.channels.email.models import EmailAddress, EmailRecord, EmailSettings, ImapMailbox, QuarantinedEmail
from tierdesk.customers.models import CustomerIdentity
from tierdesk.kit.actors import Principal
from tierdesk.kit.scope import scoped
from tierdesk.kit.vocabulary import IdentityKind, MessageDirection
from tierdesk.tickets.lifecycle import THREADABLE
from tierdesk.tickets.models import Attachment, Message, Ticket, TicketParticipant

# -- addresses and settings ----------------------------------------------------------------------------------------


def address(db: Session, value: str) -> EmailAddress | None:
    return db.scalar(sa.select(EmailAddress).where(EmailAddress.address == value))


def brand_of_addresses(db: Session, values: Sequence[str]) -> Brand | None:
    """The brand that receives mail at the first of these addresses it owns (in the order given)."""
    if not values:
        return None
    rows = db.execute(sa.select(EmailAddress.address, Brand).join(Brand, Brand.id == EmailAddress.brand_id)
                      .where(EmailAddress.address.in_(list(values)))).all()
    owners = {address: brand for address, brand in rows}
    return next((owners[value] for value in values if value in owners), None)


def addresses_of_brand(db: Session, brand_id: int) -> list[EmailAddress]:
    """The brand's addresses, its From address (the default, else the first added) first."""
    return list(db.scalars(sa.select(EmailAddress).where(EmailAddress.brand_id == brand_id)
                           .order_by(EmailAddress.is_default.desc(), EmailAddress.id)))


def addresses_visible(db: Session, principal: Principal, brand_id: int | None) -> list[EmailAddress]:
    stmt = scoped(sa.select(EmailAddress), EmailAddress.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(EmailAddress.brand_id == brand_id)
    return list(db.scalars(stmt.order_by(EmailAddress.brand_id, EmailAddress.address)))


def settings_of(db: Session, brand_id: int) -> EmailSettings | None:
    return db.get(EmailSettings, brand_id)


# -- threading -----------------------------------------------------------------------------------------------------


def ticket_of_rfc_ids(db: Session, brand_id: int, rfc_ids: Sequence[str]) -> tuple[Ticket, str] | None:
    """The brand's ticket holding a message (received or sent) with one of these Message-IDs, the nearest first: the
    ids come in order of preference (In-Reply-To, then References from the newest)."""
    if not rfc_ids:
        return None
    rows = db.execute(
        sa.select(EmailRecord.rfc_message_id, EmailRecord.ticket_id)
        .where(EmailRecord.brand_id == brand_id, EmailRecord.rfc_message_id.in_(list(rfc_ids)))
    ).all()
    found = {rfc_id: ticket_id for rfc_id, ticket_id in rows if rfc_id}
    for rfc_id in rfc_ids:
        if rfc_id in found:
            ticket = db.get(Ticket, found[rfc_id])
            if ticket is not None:
                return ticket, rfc_id
    return None


def ticket_in_brand(db: Session, brand_id: int, ticket_id: int) -> Ticket | None:
    return db.scalar(sa.select(Ticket).where(Ticket.id == ticket_id, Ticket.brand_id == brand_id))


def open_tickets_of_customer_since(db: Session, brand_id: int, customer_id: int, since: dt.datetime,
                                   limit: int = 50) -> list[Ticket]:
    """The customer's tickets that can take messages and were active since then, newest first."""
    return list(db.scalars(
        sa.select(Ticket)
        .where(Ticket.brand_id == brand_id, Ticket.customer_id == customer_id, Ticket.status.in_(THREADABLE),
               Ticket.updated_at >= since)
        .order_by(Ticket.id.desc()).limit(limit)))


def customer_of_email(db: Session, brand_id: int, value: str) -> tuple[int, bool] | None:
    """The customer who has this address in the brand, and whether it is flagged undeliverable."""
    row = db.execute(sa.select(CustomerIdentity.customer_id, CustomerIdentity.undeliverable_since).where(
        CustomerIdentity.brand_id == brand_id, CustomerIdentity.kind == IdentityKind.EMAIL,
        CustomerIdentity.value == value)).first()
    return (row[0], row[1] is not None) if row is not None else None


def is_participant(db: Session, ticket_id: int, customer_id: int) -> bool:
    return db.scalar(sa.select(sa.exists().where(TicketParticipant.ticket_id == ticket_id,
                                                 TicketParticipant.customer_id == customer_id))) or False


# -- loops and bounces ---------------------------------------------------------------------------------------------


def mail_from_sender_since(db: Session, brand_id: int, from_address: str, since: dt.datetime) -> int:
    """What a sender sent the brand since then: taken in, and quarantined (one statement for both)."""
    taken = sa.select(sa.func.count()).select_from(EmailRecord).where(
        EmailRecord.brand_id == brand_id, EmailRecord.from_address == from_address, EmailRecord.created_at >= since)
    kept = sa.select(sa.func.count()).select_from(QuarantinedEmail).where(
        QuarantinedEmail.brand_id == brand_id, QuarantinedEmail.from_address == from_address,
        QuarantinedEmail.received_at >= since)
    return db.scalar(sa.select(taken.scalar_subquery() + kept.scalar_subquery())) or 0


def outbound_record(db: Session, brand_id: int, rfc_message_id: str) -> EmailRecord | None:
    return db.scalar(sa.select(EmailRecord).where(EmailRecord.brand_id == brand_id,
                                                  EmailRecord.rfc_message_id == rfc_message_id).limit(1))


# -- messages and the quarantine -----------------------------------------------------------------------------------


def quarantine_visible(db: Session, principal: Principal, *, include_released: bool, after_id: int | None,
                       limit: int) -> list[QuarantinedEmail]:
    stmt = sa.select(QuarantinedEmail)
    if not principal.is_admin:
        # Mail that reached no brand is for admins only.
        stmt = stmt.where(QuarantinedEmail.brand_id.in_(principal.brand_ids))
    if not include_released:
        stmt = stmt.where(QuarantinedEmail.released_at.is_(None))
    if after_id is not None:
        stmt = stmt.where(QuarantinedEmail.id > after_id)
    return list(db.scalars(stmt.order_by(QuarantinedEmail.id).limit(limit + 1)))


def quarantined(db: Session, quarantine_id: int, *, for_update: bool = False) -> QuarantinedEmail | None:
    stmt = sa.select(QuarantinedEmail).where(QuarantinedEmail.id == quarantine_id)
    return db.scalar(stmt.with_for_update() if for_update else stmt)


# -- outbound ------------------------------------------------------------------------------------------------------
def message_and_ticket(db: Session, message_id: int) -> tuple[Message, Ticket] | None:
    row = db.execute(sa.select(Message, Ticket).join(Ticket, Ticket.id == Message.ticket_id)
                     .where(Message.id == message_id)).first()
    return (row[0], row[1]) if row is not None else None


def ticket_for_update(db: Session, ticket_id: int) -> Ticket | None:
    return db.scalar(sa.select(Ticket).where(Ticket.id == ticket_id).with_for_update()
                     .execution_options(populate_existing=True))


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


# --- IMAP mailboxes ---------------------------------------------------------------------------------------------


def imap_mailbox_named(db: Session, brand_id: int, name: str) -> ImapMailbox | None:
    return db.scalar(sa.select(ImapMailbox).where(ImapMailbox.brand_id == brand_id, ImapMailbox.name == name))


def imap_mailboxes(db: Session) -> list[tuple[ImapMailbox, str]]:
    """Every mailbox with its brand's slug, by brand then name."""
    rows = db.execute(sa.select(ImapMailbox, Brand.slug).join(Brand, Brand.id == ImapMailbox.brand_id)
                      .order_by(Brand.slug, ImapMailbox.name))
    return [(row[0], row[1]) for row in rows]


def delete_imap_mailbox(db: Session, mailbox_id: int) -> None:
    db.execute(sa.delete(ImapMailbox).where(ImapMailbox.id == mailbox_id))


def _free(now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.or_(ImapMailbox.claimed_until.is_(None), ImapMailbox.claimed_until < now)


def _due(now: dt.datetime, polled_before: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(ImapMailbox.is_active.is_(True), _free(now),
                   sa.or_(ImapMailbox.last_polled_at.is_(None), ImapMailbox.last_polled_at <= polled_before))


def imap_poll_due(db: Session, now: dt.datetime, polled_before: dt.datetime) -> bool:
    """Is an active, unclaimed mailbox not polled since `polled_before`? (The worker's cheap look.)"""
    return db.scalar(sa.select(sa.exists().where(_due(now, polled_before)))) or False


def imap_mailboxes_due(db: Session, now: dt.datetime, polled_before: dt.datetime) -> list[int]:
    return list(db.scalars(sa.select(ImapMailbox.id).where(_due(now, polled_before))
                           .order_by(sa.func.coalesce(ImapMailbox.last_polled_at, ImapMailbox.created_at))))


def active_imap_mailbox_ids(db: Session) -> list[int]:
    return list(db.scalars(sa.select(ImapMailbox.id).where(ImapMailbox.is_active.is_(True)).order_by(ImapMailbox.id)))


def claim_imap_mailbox(db: Session, mailbox_id: int, now: dt.datetime, until: dt.datetime) -> bool:
    """Take the mailbox's lease if it is free (compare-and-set): False when another poller holds it."""
    taken = db.execute(sa.update(ImapMailbox)
                       .where(ImapMailbox.id == mailbox_id, ImapMailbox.is_active.is_(True), _free(now))
                       .values(claimed_until=until))
    return _one_row(taken)


def update_claimed_imap_mailbox(db: Session, mailbox_id: int, held_until: dt.datetime, **values: Any) -> bool:
    """Write the poller's progress (and its renewed or released lease) only while it still holds the lease it took:
    False when it lost it (it expired and another poller took the mailbox)."""
    done = db.execute(sa.update(ImapMailbox)
                      .where(ImapMailbox.id == mailbox_id, ImapMailbox.claimed_until == held_until)
                      .values(**values))
    return _one_row(done)


def _one_row(result: sa.Result[Any]) -> bool:
    return getattr(result, "rowcount", 0) == 1


def sending_address(db: Session, brand_ids: list[int]) -> tuple[str, int] | None:
    """The address a notice leaves from: the first of these brands with one (its default first), else any
    brand's when none is given."""
    query = sa.select(EmailAddress.address, EmailAddress.brand_id)
    if brand_ids:
        query = query.where(EmailAddress.brand_id.in_(brand_ids))
    rows = list(db.execute(query.order_by(EmailAddress.brand_id, EmailAddress.is_default.desc(),
                                          EmailAddress.id)).all())
    if not rows:
        return None
    if brand_ids:
        rows.sort(key=lambda r: brand_ids.index(r.brand_id))
    return rows[0].address, rows[0].brand_id
