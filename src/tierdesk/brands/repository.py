from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tierdesk.brands.models import Brand
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import NotFound
from tierdesk.kit.scope import scoped


def get_visible(db: Session, principal: Principal, brand_id: int) -> Brand:
    brand = db.scalar(scoped(sa.select(Brand).where(Brand.id == brand_id), Brand.id, principal))
    if brand is None:
        raise NotFound(f"brand {brand_id} not found")
    return brand


def by_slug(db: Session, slug: str) -> Brand | None:
    return db.scalar(sa.select(Brand).where(Brand.slug == slug))


def list_visible(db: Session, principal: Principal) -> list[Brand]:
    return list(db.scalars(scoped(sa.select(Brand).order_by(Brand.slug), Brand.id, principal)))
