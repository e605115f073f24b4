"""The one place brand scoping is applied. Every brand-scoped query and check goes through here."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from tierdesk.kit.actors import Principal

_S = TypeVar("_S", bound=Select[Any])


def scoped(stmt: _S, brand_column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None],
           principal: Principal) -> _S:
    """Limit a query to the brands the principal may work. Admins see every brand."""
    if principal.is_admin:
        return stmt
    return stmt.where(brand_column.in_(principal.brand_ids))


def visible(principal: Principal, brand_id: int) -> bool:
    return principal.sees_brand(brand_id)

