from __future__ import annotations

from fastapi import APIRouter, status

from tierdesk.deps import CurrentPrincipal, Db
from tierdesk.kit.input import PathId
from tierdesk.sla import service
from tierdesk.sla.models import BusinessCalendar, SlaPolicy
from tierdesk.sla.schemas import CalendarCreate, CalendarOut, CalendarUpdate, PolicyCreate, PolicyOut, PolicyUpdate

router = APIRouter(prefix="/sla", tags=["sla"])


@router.get("/calendars", response_model=list[CalendarOut])
def list_calendars(db: Db, principal: CurrentPrincipal) -> list[BusinessCalendar]:
    return service.list_calendars(db, principal)


@router.post("/calendars", response_model=CalendarOut, status_code=status.HTTP_201_CREATED)
def create_calendar(data: CalendarCreate, db: Db, principal: CurrentPrincipal) -> BusinessCalendar:
    return service.create_calendar(db, principal, data)


@router.get("/calendars/{calendar_id}", response_model=CalendarOut)
def get_calendar(calendar_id: PathId, db: Db, principal: CurrentPrincipal) -> BusinessCalendar:
    return service.get_calendar(db, principal, calendar_id)


@router.patch("/calendars/{calendar_id}", response_model=CalendarOut)
def update_calendar(calendar_id: PathId, data: CalendarUpdate, db: Db, principal: CurrentPrincipal) -> BusinessCalendar:
    """Change a calendar's name, time zone, hours or holidays (admins). Running clocks keep their due times."""
    return service.update_calendar(db, principal, calendar_id, data)


@router.get("/policies", response_model=list[PolicyOut])
def list_policies(db: Db, principal: CurrentPrincipal) -> list[SlaPolicy]:
    return service.list_policies(db, principal)


@router.post("/policies", response_model=PolicyOut, status_code=status.HTTP_201_CREATED)
def create_policy(data: PolicyCreate, db: Db, principal: CurrentPrincipal) -> SlaPolicy:
    return service.create_policy(db, principal, data)


@router.get("/policies/{policy_id}", response_model=PolicyOut)
def get_policy(policy_id: PathId, db: Db, principal: CurrentPrincipal) -> SlaPolicy:
    return service.get_policy(db, principal, policy_id)


@router.patch("/policies/{policy_id}", response_model=PolicyOut)
def update_policy(policy_id: PathId, data: PolicyUpdate, db: Db, principal: CurrentPrincipal) -> SlaPolicy:
    return service.update_policy(db, principal, policy_id, data)

