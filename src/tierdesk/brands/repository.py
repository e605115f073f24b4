from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached

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


# Intake names its brand by slug on every contact. A brand's id and slug never change (brands are not deleted) and its
# name and triage threshold rarely do, so each process keeps what it read for a few seconds, per database (it never
# answers for another database): a change shows within BRAND_CACHE_SECONDS in every process, at once in the one that
# made it.
BRAND_CACHE_SECONDS = 10.0
_BRAND_CACHE_MAX = 1000
_brand_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}


def by_slug_cached(db: Session, slug: str) -> Brand | None:
    """`by_slug`, from this process's cache when it read the brand less than BRAND_CACHE_SECONDS ago. The Brand
    returned belongs to `db` like a loaded one; an unknown slug is never cached (a new brand is found at once)."""
    key = (str(db.get_bind().engine.url), slug)  # typed Engine | Connection: .engine is the Engine of both
    now = time.monotonic()
    hit = _brand_cache.get(key)
    if hit is not None and now - hit[0] < BRAND_CACHE_SECONDS:
        brand: Brand | None = Brand(**hit[1])
        make_transient_to_detached(brand)  # as if loaded: no pending change, so merge needs no query
        return db.merge(brand, load=False)
    brand = by_slug(db, slug)
    if brand is not None:
        if len(_brand_cache) >= _BRAND_CACHE_MAX:
            _brand_cache.clear()
        _brand_cache[key] = (now, {"id": brand.id, "slug": brand.slug, "name": brand.name,
                                   "triage_threshold": brand.triage_threshold, "created_at": brand.created_at})
    return brand


def forget_cached(slug: str) -> None:
    """Drop a changed brand from this process's cache (other processes let it expire)."""
    for key in [k for k in _brand_cache if k[1] == slug]:
        _brand_cache.pop(key, None)


def list_visible(db: Session, principal: Principal) -> list[Brand]:
    return list(db.scalars(scoped(sa.select(Brand).order_by(Brand.slug), Brand.id, principal)))


def by_slugs(db: Session, slugs: list[str]) -> list[Brand]:
    return list(db.scalars(sa.select(Brand).where(Brand.slug.in_(slugs))))
