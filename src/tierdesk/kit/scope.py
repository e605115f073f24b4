"""The one place brand scoping is applied. Every brand-scoped query and check goes through here."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import Forbidden

_S = TypeVar("_S", bound=Select[Any])


def scoped(stmt: _S, brand_column: InstrumentedAttribute[int], principal: Principal) -> _S:
    """Limit a query to the brands the principal may work. Admins see every brand."""
    if principal.is_admin:
        return stmt
    return stmt.where(brand_column.in_(principal.brand_ids))


def visible(principal: Principal, brand_id: int) -> bool:
    return principal.sees_brand(brand_id)


def require_brand(principal: Principal, brand_id: int) -> None:
    """For writes into a brand named by the caller: refuse plainly if it is not theirs."""
    if not principal.sees_brand(brand_id):
        raise Forbidden("you are not assigned to this brand", field="brand")
