from __future__ import annotations

from fastapi import APIRouter, status

from tierdesk.brands import repository, service
from tierdesk.brands.models import Brand
from tierdesk.brands.schemas import BrandCreate, BrandOut, BrandUpdate
from tierdesk.deps import CurrentPrincipal, Db
from tierdesk.kit.input import PathId

router = APIRouter(prefix="/brands", tags=["brands"])


@router.get("", response_model=list[BrandOut])
def list_brands(db: Db, principal: CurrentPrincipal) -> list[Brand]:
    return repository.list_visible(db, principal)


@router.get("/{brand_id}", response_model=BrandOut)
def get_brand(brand_id: PathId, db: Db, principal: CurrentPrincipal) -> Brand:
    return repository.get_visible(db, principal, brand_id)


@router.post("", response_model=BrandOut, status_code=status.HTTP_201_CREATED)
def create_brand(data: BrandCreate, db: Db, principal: CurrentPrincipal) -> Brand:
    return service.create_brand(db, principal, data)


@router.patch("/{brand_id}", response_model=BrandOut)
def update_brand(brand_id: PathId, data: BrandUpdate, db: Db, principal: CurrentPrincipal) -> Brand:
    return service.update_brand(db, principal, brand_id, data)
