from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from tierdesk.audit import service as audit
from tierdesk.brands import repository
from tierdesk.brands.models import Brand
from tierdesk.brands.schemas import BrandCreate, BrandUpdate
from tierdesk.kit.actors import Actor, Principal
from tierdesk.kit.errors import Conflict, InvalidInput
from tierdesk.kit.input import SLUG_PATTERN, patch_values, slug_or_id
from tierdesk.kit.scope import visible
from tierdesk.kit.vocabulary import Department, QueueKind
from tierdesk.queues.models import Queue

# The entry queues a new brand starts with: where each department's contacts go once triaged (tier 1, no skills
# required). More queues (specialists, higher tiers) are added beside them; the entry queue stays the lowest tier's
# first, so `queues.repository.default_for_department` keeps picking it until it is deactivated.
ENTRY_QUEUES: dict[Department, tuple[str, str]] = {
    Department.CS: ("cs", "Customer Service"),
    Department.TS: ("ts", "Technical Support"),
}


def create_brand(
    db: Session, principal: Principal, data: BrandCreate, *, entry_queues: Mapping[Department, str] | None = None
) -> Brand:
    """A brand with its human-triage queue and a tier-1 entry queue per department (entry_queues: other slugs)."""
    principal.require_admin()
    if repository.by_slug(db, data.slug):
        raise Conflict(f"a brand with slug '{data.slug}' exists already", field="slug")
    brand = Brand(slug=data.slug, name=data.name)
    db.add(brand)
    db.flush()
    # Every brand has a human-triage queue: where contacts wait until someone (or triage) decides where they go.
    db.add(Queue(brand_id=brand.id, slug="triage", name="Triage", kind=QueueKind.TRIAGE, department=None, tier=1))
    for department, (slug, name) in ENTRY_QUEUES.items():
        slug = (entry_queues or {}).get(department, slug)
        db.add(Queue(brand_id=brand.id, slug=slug, name=name, kind=QueueKind.STANDARD, department=department, tier=1,
                     required_skills=[]))
        db.flush()  # in this order: ids decide between queues of one tier
    audit.record(db, Actor.of(principal), "brand", brand.id, "created", after={"slug": brand.slug, "name": brand.name},
                 brand_id=brand.id)
    return brand


# What the audit keeps of a brand's changes (every field BrandUpdate can change).
AUDITED = ("name", "logo_url", "brand_colour", "accent_colour", "triage_threshold")


def update_brand(db: Session, principal: Principal, brand_id: int, data: BrandUpdate) -> Brand:
    principal.require_admin()
    brand = repository.get_visible(db, principal, brand_id)
    changes = patch_values(data, nullable=frozenset({"logo_url", "brand_colour", "accent_colour",
                                                     "triage_threshold"}))
    before = audit.snapshot(brand, AUDITED)
    for field, value in changes.items():
        setattr(brand, field, value.lower() if field.endswith("colour") and value else value)
    db.flush()
    audit.record(db, Actor.of(principal), "brand", brand.id, "updated", before=before,
                 after=audit.snapshot(brand, AUDITED), brand_id=brand.id)
    repository.forget_cached(brand.slug)
    return brand


def resolve_brand(db: Session, principal: Principal, ref: str | int) -> Brand:
    """A brand named by slug or id in a request, which the caller must be assigned to. Another brand is answered
    like a missing one, so nobody learns which brands exist by trying names."""
    slug, brand_id = slug_or_id(ref, SLUG_PATTERN)
    brand = repository.by_slug_cached(db, slug) if slug else None
    if brand is None and brand_id is not None:
        brand = db.get(Brand, brand_id)
    if brand is None or not visible(principal, brand.id):
        raise InvalidInput(f"no brand {ref!r} among the brands you work", field="brand")
    return brand
