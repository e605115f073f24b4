"""The web form channel's queries."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.channels.web.models import PortalSession, PortalSignIn, WebFormSettings, WebSubmission
from tierdesk.customers.models import Customer, CustomerIdentity
from tierdesk.kit.vocabulary import IdentityKind, MessageDirection
from tierdesk.tickets.models import Attachment, Message, Ticket


def settings_of(db: Session, brand_id: int) -> WebFormSettings | None:
    return db.get(WebFormSettings, brand_id)


def settings_for_update(db: Session, brand_id: int) -> WebFormSettings | None:
    return db.scalar(sa.select(WebFormSettings).where(WebFormSettings.brand_id == brand_id).with_for_update())


def from_address_since(db: Session, brand_id: int, email: str, since: dt.datetime) -> tuple[int, dt.datetime | None]:
    """How many requests this address sent the brand since then, and when the oldest of them came."""
    row = db.execute(sa.select(sa.func.count(), sa.func.min(WebSubmission.created_at)).where(
        WebSubmission.brand_id == brand_id, WebSubmission.email == email, WebSubmission.created_at >= since)).one()
    return int(row[0]), row[1]


def from_ip_since(db: Session, client_ip: str, since: dt.datetime) -> tuple[int, dt.datetime | None]:
    """How many requests came from this client IP (to any brand) since then, and when the oldest of them came."""
    row = db.execute(sa.select(sa.func.count(), sa.func.min(WebSubmission.created_at)).where(
        WebSubmission.client_ip == client_ip, WebSubmission.created_at >= since)).one()
    return int(row[0]), row[1]


def submissions_of_ticket(db: Session, ticket_id: int) -> list[WebSubmission]:
    return list(db.scalars(sa.select(WebSubmission).where(WebSubmission.ticket_id == ticket_id)
                           .order_by(WebSubmission.id)))


# -- the customer portal ---------------------------------------------------------------------------------------------
def portal_customer_of(db: Session, brand_id: int, email: str) -> int | None:
    """The brand's customer this email address is an identity of (the survivor, for a merged one)."""
    row = db.execute(sa.select(Customer.id, Customer.merged_into_id)
                     .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
                     .where(CustomerIdentity.brand_id == brand_id, CustomerIdentity.kind == IdentityKind.EMAIL,
                            CustomerIdentity.value == email)).first()
    return None if row is None else int(row.merged_into_id or row.id)


def sign_ins_since(db: Session, *, brand_id: int | None = None, email: str | None = None,
                   client_ip: str | None = None, since: dt.datetime) -> int:
    """How many sign-in codes were asked for by this address of the brand, or from this client IP, since then."""
    stmt = sa.select(sa.func.count()).select_from(PortalSignIn).where(PortalSignIn.created_at >= since)
    if email is not None:
        stmt = stmt.where(PortalSignIn.brand_id == brand_id, PortalSignIn.email == email)
    if client_ip is not None:
        stmt = stmt.where(PortalSignIn.client_ip == client_ip)
    return int(db.scalar(stmt) or 0)


def latest_sign_in(db: Session, brand_id: int, email: str) -> PortalSignIn | None:
    """The address's newest code for the brand, locked (two guesses at once are counted one after the other)."""
    return db.scalar(sa.select(PortalSignIn).where(PortalSignIn.brand_id == brand_id, PortalSignIn.email == email)
                     .order_by(PortalSignIn.id.desc()).limit(1).with_for_update())


def sign_in_for_update(db: Session, sign_in_id: int) -> PortalSignIn | None:
    return db.scalar(sa.select(PortalSignIn).where(PortalSignIn.id == sign_in_id).with_for_update())


def portal_session(db: Session, digest: str) -> tuple[PortalSession, str | None] | None:
    """The session with this digest and its customer's name."""
    row = db.execute(sa.select(PortalSession, Customer.display_name)
                     .join(Customer, Customer.id == PortalSession.customer_id)
                     .where(PortalSession.digest == digest, PortalSession.ended_at.is_(None))).first()
    return None if row is None else (row[0], row[1])


def touch_portal_session(db: Session, session_id: int, now: dt.datetime) -> None:
    db.execute(sa.update(PortalSession).where(PortalSession.id == session_id).values(last_seen_at=now))


def end_portal_session(db: Session, digest: str, now: dt.datetime) -> None:
    db.execute(sa.update(PortalSession).where(PortalSession.digest == digest, PortalSession.ended_at.is_(None))
               .values(ended_at=now))


def portal_tickets(db: Session, brand_id: int, customer_id: int, *, before_id: int | None,
                   limit: int) -> list[Ticket]:
    """The customer's own tickets in the brand, newest first (index ix_tickets_customer_id_id)."""
    stmt = sa.select(Ticket).where(Ticket.customer_id == customer_id, Ticket.brand_id == brand_id)
    if before_id is not None:
        stmt = stmt.where(Ticket.id < before_id)
    return list(db.scalars(stmt.order_by(Ticket.id.desc()).limit(limit + 1)))


def portal_ticket(db: Session, brand_id: int, customer_id: int, ticket_id: int, *,
                  for_update: bool = False) -> Ticket | None:
    """The ticket, only if it is this customer's in this brand (anyone else's answers None: a 404)."""
    stmt = sa.select(Ticket).where(Ticket.id == ticket_id, Ticket.brand_id == brand_id,
                                   Ticket.customer_id == customer_id)
    return db.scalar(stmt.with_for_update() if for_update else stmt)


def public_messages(db: Session, ticket_id: int, limit: int) -> list[Message]:
    """The ticket's latest public messages (never internal notes), oldest first."""
    newest = list(db.scalars(sa.select(Message).where(Message.ticket_id == ticket_id,
                                                      Message.direction != MessageDirection.NOTE)
                             .order_by(Message.id.desc()).limit(limit)))
    return newest[::-1]


def attachments_of_messages(db: Session, message_ids: list[int]) -> dict[int, list[Attachment]]:
    found: dict[int, list[Attachment]] = {i: [] for i in message_ids}
    if message_ids:
        for attachment in db.scalars(sa.select(Attachment).where(Attachment.message_id.in_(message_ids))
                                     .order_by(Attachment.id)):
            found[attachment.message_id].append(attachment)
    return found


def public_attachment(db: Session, ticket_id: int, attachment_id: int) -> Attachment | None:
    """An attachment of one of the ticket's public messages (a note's files stay inside)."""
    return db.scalar(sa.select(Attachment).join(Message, Message.id == Attachment.message_id)
                     .where(Attachment.id == attachment_id, Message.ticket_id == ticket_id,
                            Message.direction != MessageDirection.NOTE))


def email_of_customer(db: Session, customer_id: int) -> str | None:
    """The customer's first deliverable email address."""
    return db.scalar(sa.select(CustomerIdentity.value).where(
        CustomerIdentity.customer_id == customer_id, CustomerIdentity.kind == IdentityKind.EMAIL,
        CustomerIdentity.undeliverable_since.is_(None)).order_by(CustomerIdentity.id).limit(1))
