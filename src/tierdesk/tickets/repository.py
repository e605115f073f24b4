from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import NotFound
from tierdesk.kit.scope import scoped
from tierdesk.kit.vocabulary import Channel, Department, MessageDirection, Priority, TicketStatus
from tierdesk.tickets.lifecycle import THREADABLE, WORKABLE
from tierdesk.tickets.models import (
    Attachment,
    CannedResponse,
    DispositionCode,
    Macro,
    Message,
    Ticket,
    TicketEvent,
    TicketTag,
)

# A thread reference of this form names a ticket directly (a web form or chat widget that knows its ticket).
_TICKET_REF = re.compile(r"^ticket:(\d{1,18})$")


@dataclass
class TicketFilters:
    brand_id: int | None = None
    statuses: list[TicketStatus] | None = None
    priority: Priority | None = None
    department: Department | None = None
    queue_id: int | None = None
    assignee_id: int | None = None
    unassigned: bool | None = None
    customer_id: int | None = None
    channel: Channel | None = None
    tag: str | None = None
    tier: int | None = None


def get_visible(db: Session, principal: Principal, ticket_id: int, *, for_update: bool = False) -> Ticket:
    stmt = scoped(sa.select(Ticket).where(Ticket.id == ticket_id), Ticket.brand_id, principal)
    if for_update:
        stmt = stmt.with_for_update()  # concurrent updates of one ticket queue up instead of overwriting
    ticket = db.scalar(stmt)
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return ticket


def list_visible(
    db: Session, principal: Principal, f: TicketFilters, *, after_id: int | None, limit: int, newest_first: bool
) -> list[Ticket]:
    stmt = scoped(sa.select(Ticket), Ticket.brand_id, principal)
    conditions = []
    if f.brand_id is not None:
        conditions.append(Ticket.brand_id == f.brand_id)
    if f.statuses:
        conditions.append(Ticket.status.in_(f.statuses))
    for column, value in (
        (Ticket.priority, f.priority),
        (Ticket.department, f.department),
        (Ticket.queue_id, f.queue_id),
        (Ticket.assignee_id, f.assignee_id),
        (Ticket.customer_id, f.customer_id),
        (Ticket.channel, f.channel),
        (Ticket.tier, f.tier),
    ):
        if value is not None:
            conditions.append(column == value)
    if f.tag is not None:
        conditions.append(sa.exists().where(TicketTag.ticket_id == Ticket.id, TicketTag.tag == f.tag))
    if f.unassigned is True:
        conditions.append(Ticket.assignee_id.is_(None))
    elif f.unassigned is False:
        conditions.append(Ticket.assignee_id.is_not(None))
    if after_id is not None:
        conditions.append(Ticket.id < after_id if newest_first else Ticket.id > after_id)
    order = Ticket.id.desc() if newest_first else Ticket.id.asc()
    return list(db.scalars(stmt.where(*conditions).order_by(order).limit(limit + 1)))


def message_by_external_id(db: Session, brand_id: int, external_id: str) -> Message | None:
    return db.scalar(sa.select(Message).where(Message.brand_id == brand_id, Message.external_id == external_id))


def find_thread(db: Session, brand_id: int, customer_id: int, thread_ref: str) -> Ticket | None:
    """The customer's ticket that a thread reference continues, if it can still take messages.

    A reference matches a ticket directly ("ticket:123"), or any earlier message of the ticket by that message's own
    id (an email's In-Reply-To) or by the thread reference it carried (a chat conversation id).
    """
    base = sa.select(Ticket).where(
        Ticket.brand_id == brand_id, Ticket.customer_id == customer_id, Ticket.status.in_(THREADABLE)
    )
    direct = _TICKET_REF.match(thread_ref)
    if direct:
        stmt = base.where(Ticket.id == int(direct.group(1)))
    else:
        # Two lookups, each matching a whole index ((brand_id, external_id) and (brand_id, thread_ref)): an OR of the
        # two columns let the planner settle for the brand prefix and read every message of the brand (SQLite does,
        # with no statistics).
        earlier = sa.union_all(
            sa.select(Message.ticket_id).where(Message.brand_id == brand_id, Message.external_id == thread_ref),
            sa.select(Message.ticket_id).where(Message.brand_id == brand_id, Message.thread_ref == thread_ref),
        )
        stmt = base.where(Ticket.id.in_(earlier)).order_by(Ticket.id.desc()).limit(1)
    # Locked: two messages arriving at once on one ticket are added one after the other.
    return db.scalar(stmt.with_for_update())


def lock_threadable(db: Session, brand_id: int, ticket_id: int) -> Ticket | None:
    """The brand's ticket, locked, if it can still take messages (not closed)."""
    return db.scalar(sa.select(Ticket).where(Ticket.id == ticket_id, Ticket.brand_id == brand_id,
                                             Ticket.status.in_(THREADABLE)).with_for_update())


def has_inbound_on_channel(db: Session, ticket_id: int, channel: Channel) -> bool:
    return bool(db.scalar(sa.select(sa.exists().where(
        Message.ticket_id == ticket_id, Message.direction == MessageDirection.INBOUND, Message.channel == channel))))


def _events(db: Session, where: sa.ColumnElement[bool], *, after_id: int | None, limit: int) -> list[TicketEvent]:
    stmt = sa.select(TicketEvent).where(where).order_by(TicketEvent.id).limit(limit + 1)
    if after_id is not None:
        stmt = stmt.where(TicketEvent.id > after_id)
    return list(db.scalars(stmt))


def events_of_ticket(db: Session, ticket_id: int, *, after_id: int | None, limit: int) -> list[TicketEvent]:
    return _events(db, TicketEvent.ticket_id == ticket_id, after_id=after_id, limit=limit)


def events_of_customer(db: Session, customer_id: int, *, after_id: int | None, limit: int) -> list[TicketEvent]:
    return _events(db, TicketEvent.customer_id == customer_id, after_id=after_id, limit=limit)


def messages_by_id(db: Session, ids: list[int]) -> dict[int, Message]:
    if not ids:
        return {}
    return {m.id: m for m in db.scalars(sa.select(Message).where(Message.id.in_(ids)))}


def messages_of_ticket(db: Session, ticket_id: int, *, after_id: int | None, limit: int) -> list[Message]:
    stmt = sa.select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id).limit(limit + 1)
    if after_id is not None:
        stmt = stmt.where(Message.id > after_id)
    return list(db.scalars(stmt))


def attachments_of_ticket(db: Session, ticket_id: int, message_id: int | None = None) -> list[Attachment]:
    stmt = (sa.select(Attachment).join(Message, Message.id == Attachment.message_id)
            .where(Message.ticket_id == ticket_id).order_by(Attachment.id))
    if message_id is not None:
        stmt = stmt.where(Attachment.message_id == message_id)
    return list(db.scalars(stmt))


def attachment_of_ticket(db: Session, ticket_id: int, attachment_id: int) -> Attachment | None:
    return db.scalar(sa.select(Attachment).join(Message, Message.id == Attachment.message_id)
                     .where(Message.ticket_id == ticket_id, Attachment.id == attachment_id))


def message_of_ticket(db: Session, ticket_id: int, message_id: int) -> Message | None:
    return db.scalar(sa.select(Message).where(Message.id == message_id, Message.ticket_id == ticket_id))


def disposition_in_brand(db: Session, brand_id: int, code: str) -> DispositionCode | None:
    return db.scalar(
        sa.select(DispositionCode).where(DispositionCode.brand_id == brand_id, DispositionCode.code == code)
    )


def dispositions_visible(db: Session, principal: Principal, brand_id: int | None) -> list[DispositionCode]:
    stmt = scoped(sa.select(DispositionCode), DispositionCode.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(DispositionCode.brand_id == brand_id)
    return list(db.scalars(stmt.order_by(DispositionCode.brand_id, DispositionCode.code)))


# -- the worker's claims ------------------------------------------------------------------------------------------
def lock_if_free(db: Session, ticket_id: int) -> Ticket | None:
    """The ticket, locked, unless another transaction holds it (then None: the job looks again next pass)."""
    return db.scalar(sa.select(Ticket).where(Ticket.id == ticket_id).with_for_update(skip_locked=True)
                     .execution_options(populate_existing=True))


def any_solved_before(db: Session, cutoff: dt.datetime) -> bool:
    return bool(db.scalar(sa.select(sa.exists().where(Ticket.status == TicketStatus.SOLVED,
                                                      Ticket.solved_at <= cutoff))))


def claim_solved_before(db: Session, cutoff: dt.datetime, limit: int) -> list[Ticket]:
    """Tickets solved before `cutoff`, oldest first, locked (SKIP LOCKED: another worker's are left to it)."""
    return list(db.scalars(
        sa.select(Ticket).where(Ticket.status == TicketStatus.SOLVED, Ticket.solved_at <= cutoff)
        .order_by(Ticket.solved_at).limit(limit).with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)))


def waiting_counts(db: Session, queue_ids: list[int]) -> dict[int, int]:
    if not queue_ids:
        return {}
    rows = db.execute(
        sa.select(Ticket.queue_id, sa.func.count())
        .where(
            Ticket.queue_id.in_(queue_ids),
            Ticket.status.in_(WORKABLE),
            Ticket.assignee_id.is_(None),
        )
        .group_by(Ticket.queue_id)
    )
    return {queue_id: count for queue_id, count in rows}


def tags_of(db: Session, ticket_id: int) -> list[str]:
    return list(db.scalars(sa.select(TicketTag.tag).where(TicketTag.ticket_id == ticket_id).order_by(TicketTag.tag)))


def tags_of_tickets(db: Session, ticket_ids: list[int]) -> dict[int, list[str]]:
    """Tags of many tickets in one statement (list pages)."""
    found: dict[int, list[str]] = {i: [] for i in ticket_ids}
    if ticket_ids:
        for ticket_id, tag in db.execute(sa.select(TicketTag.ticket_id, TicketTag.tag)
                                         .where(TicketTag.ticket_id.in_(ticket_ids)).order_by(TicketTag.tag)):
            found[ticket_id].append(tag)
    return found


# -- canned responses and macros -----------------------------------------------------------------------------------
# A brand keeps tens of them, rarely hundreds: lists are bounded all the same, so a page's cost cannot grow unseen.
MACRO_LIST_LIMIT = 500


def _canned_base(principal: Principal) -> sa.Select[CannedResponse]:
    """The canned responses a principal may see: the shared ones of their brands, and their own personal ones
    (another agent's personal ones stay theirs, also to admins)."""
    stmt = scoped(sa.select(CannedResponse), CannedResponse.brand_id, principal)
    mine = CannedResponse.owner_agent_id == principal.agent_id if principal.agent_id is not None else sa.false()
    return stmt.where(sa.or_(CannedResponse.owner_agent_id.is_(None), mine))


def canned_responses_visible(db: Session, principal: Principal, brand_id: int | None, *,
                             active_only: bool = False) -> list[CannedResponse]:
    stmt = _canned_base(principal)
    if brand_id is not None:
        stmt = stmt.where(CannedResponse.brand_id == brand_id)
    if active_only:
        stmt = stmt.where(CannedResponse.is_active.is_(True))
    return list(db.scalars(stmt.order_by(CannedResponse.title, CannedResponse.id).limit(MACRO_LIST_LIMIT)))


def canned_response_visible(db: Session, principal: Principal, canned_id: int) -> CannedResponse:
    found = db.scalar(_canned_base(principal).where(CannedResponse.id == canned_id))
    if found is None:
        raise NotFound(f"canned response {canned_id} not found")
    return found


def macros_visible(db: Session, principal: Principal, brand_id: int | None, *, active_only: bool = False,
                   department: Department | None = None) -> list[Macro]:
    """The macros of the principal's brands; with `department`, those offered on its tickets (its own and the
    department-less ones)."""
    stmt = scoped(sa.select(Macro), Macro.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(Macro.brand_id == brand_id)
    if active_only:
        stmt = stmt.where(Macro.is_active.is_(True))
    if department is not None:
        stmt = stmt.where(sa.or_(Macro.department.is_(None), Macro.department == department))
    return list(db.scalars(stmt.order_by(Macro.name, Macro.id).limit(MACRO_LIST_LIMIT)))


def macro_visible(db: Session, principal: Principal, macro_id: int) -> Macro:
    found = db.scalar(scoped(sa.select(Macro).where(Macro.id == macro_id), Macro.brand_id, principal))
    if found is None:
        raise NotFound(f"macro {macro_id} not found")
    return found


def macro_named(db: Session, brand_id: int, name: str) -> Macro | None:
    return db.scalar(sa.select(Macro).where(Macro.brand_id == brand_id, Macro.name == name))
