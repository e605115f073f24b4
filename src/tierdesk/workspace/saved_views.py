"""Saved views of the ticket list: an agent keeps filters under a name for themselves; a lead or an admin may share
one with a brand, and every agent of that brand sees it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tierdesk.brands.service import resolve_brand
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import Conflict, Forbidden, InvalidInput
from tierdesk.kit.vocabulary import AgentRole
from tierdesk.workspace import repository
from tierdesk.workspace.filters import ListFilters
from tierdesk.workspace.models import SavedView

NAME_MAX = 100


def save(db: Session, principal: Principal, agent_id: int, name: str, filters: ListFilters,
         share_with: str | None = None) -> SavedView:
    """Save (or replace, under the same name) the agent's view. `share_with` is a brand's slug: leads and admins
    only, in a brand they work."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("give the view a name", field="name")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"a view's name has at most {NAME_MAX} characters", field="name")
    if filters.is_empty:
        raise InvalidInput("choose at least one filter before saving a view", field="filters")
    brand_id = None
    if share_with:
        if principal.role not in (AgentRole.LEAD, AgentRole.ADMIN):
            raise Forbidden("only leads and admins share views with a brand", field="share_with")
        brand_id = resolve_brand(db, principal, share_with).id
    view = repository.saved_view_named(db, agent_id, name)
    if view is None:
        view = SavedView(agent_id=agent_id, name=name, brand_id=brand_id, filters=filters.stored())
        db.add(view)
    else:
        view.brand_id, view.filters = brand_id, filters.stored()
    db.flush()
    return view


def delete(db: Session, principal: Principal, agent_id: int, view_id: int) -> None:
    """Its owner deletes a view; a shared one may also be deleted by a lead or admin of its brand."""
    view = repository.saved_view_visible(db, principal, agent_id, view_id)
    if view.agent_id != agent_id and principal.role not in (AgentRole.LEAD, AgentRole.ADMIN):
        raise Forbidden("only its owner, or a lead or admin of its brand, may delete this view")
    db.delete(view)
    db.flush()


def filters_of(view: SavedView) -> ListFilters:
    try:
        return ListFilters.checked(view.filters)
    except InvalidInput as exc:  # saved under rules that have changed since
        raise Conflict(f"the saved view '{view.name}' no longer applies: {exc.message}") from None
