"""The workspace's reads: the agent's own work in SLA order, what the list pages show beside each ticket, the
queues' oldest waiting tickets, and saved views."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.customers.models import Customer, CustomerIdentity
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import NotFound
from tierdesk.kit.scope import scoped
from tierdesk.kit.vocabulary import IdentityKind
from tierdesk.routing.repository import PRIORITY_RANK
from tierdesk.tickets.lifecycle import WORKABLE
from tierdesk.tickets.models import Ticket
from tierdesk.workspace.models import SavedView

MY_WORK_LIMIT = 200  # more than anyone works at once; the list links to the full ticket list beyond it


def my_work(db: Session, principal: Principal, agent_id: int, limit: int = MY_WORK_LIMIT) -> list[Ticket]:
    """The workable tickets assigned to the agent, most urgent first: the nearest SLA due time (a breached one is
    in the past, so first), those without a running clock after; then priority, then the oldest."""
    stmt = scoped(sa.select(Ticket), Ticket.brand_id, principal).where(
        Ticket.assignee_id == agent_id, Ticket.status.in_(WORKABLE))
    return list(db.scalars(stmt.order_by(Ticket.sla_due_at.is_(None), Ticket.sla_due_at, PRIORITY_RANK,
                                         Ticket.created_at, Ticket.id).limit(limit)))


def assigned_count(db: Session, principal: Principal, agent_id: int) -> dict[str, int]:
    """How many of the agent's tickets are in each status (the counts above My work)."""
    stmt = (scoped(sa.select(Ticket), Ticket.brand_id, principal).where(Ticket.assignee_id == agent_id)
            .with_only_columns(Ticket.status, sa.func.count()).group_by(Ticket.status))
    return {status.value: count for status, count in db.execute(stmt)}


def customer_labels(db: Session, customer_ids: list[int]) -> dict[int, str]:
    """A name to show for each customer: their display name, else an email address, else their number."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    found = {i: f"customer {i}" for i in ids}
    named: set[int] = set()
    for customer_id, name in db.execute(sa.select(Customer.id, Customer.display_name).where(Customer.id.in_(ids))):
        if name:
            found[customer_id] = name
            named.add(customer_id)
    unnamed = [i for i in ids if i not in named]
    if unnamed:
        for customer_id, value in db.execute(
                sa.select(CustomerIdentity.customer_id, sa.func.min(CustomerIdentity.value))
                .where(CustomerIdentity.customer_id.in_(unnamed), CustomerIdentity.kind == IdentityKind.EMAIL)
                .group_by(CustomerIdentity.customer_id)):
            found[customer_id] = value
    return found


def oldest_waiting(db: Session, queue_ids: list[int]) -> dict[int, dt.datetime]:
    """Since when the longest-waiting ticket of each queue waits for an agent (the router's partial index)."""
    if not queue_ids:
        return {}
    rows = db.execute(sa.select(Ticket.queue_id, sa.func.min(Ticket.routable_since))
                      .where(Ticket.queue_id.in_(queue_ids), Ticket.routable_since.is_not(None))
                      .group_by(Ticket.queue_id))
    return {queue_id: since for queue_id, since in rows if since is not None}


# -- saved views -------------------------------------------------------------------------------------------------------
def saved_views_of(db: Session, principal: Principal, agent_id: int) -> list[SavedView]:
    """The agent's own views, and those shared with a brand they work."""
    shared = SavedView.brand_id.is_not(None)
    if not principal.is_admin:
        shared = SavedView.brand_id.in_(principal.brand_ids)
    return list(db.scalars(sa.select(SavedView).where(sa.or_(SavedView.agent_id == agent_id, shared))
                           .order_by(SavedView.brand_id.is_not(None), sa.func.lower(SavedView.name), SavedView.id)
                           .limit(200)))


def saved_view_named(db: Session, agent_id: int, name: str) -> SavedView | None:
    return db.scalar(sa.select(SavedView).where(SavedView.agent_id == agent_id, SavedView.name == name))


def saved_view_visible(db: Session, principal: Principal, agent_id: int, view_id: int) -> SavedView:
    """A view the agent may see (theirs, or shared with one of their brands); any other answers 404."""
    view = db.get(SavedView, view_id)
    if view is None or not (view.agent_id == agent_id
                            or (view.brand_id is not None and principal.sees_brand(view.brand_id))):
        raise NotFound(f"saved view {view_id} not found")
    return view
