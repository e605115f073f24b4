"""The ticket list's filters as a page takes them (query string, saved view): validated with the same enums and
patterns as the API's GET /api/v1/tickets, then turned into the tickets domain's TicketFilters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from tierdesk.brands.service import resolve_brand
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.input import SLUG_PATTERN, TAG_PATTERN
from tierdesk.kit.vocabulary import TOP_TIER, Channel, Department, Priority, TicketStatus
from tierdesk.tickets.repository import TicketFilters

# "me", "unassigned", or an agent's id.
ASSIGNEE_PATTERN = r"^(me|unassigned|[1-9][0-9]{0,17})$"
FIELDS = ("status", "department", "tier", "priority", "channel", "brand", "tag", "assignee")


class ListFilters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: list[TicketStatus] = Field(default_factory=list)
    department: Department | None = None
    tier: int | None = Field(default=None, ge=0, le=TOP_TIER)
    priority: Priority | None = None
    channel: Channel | None = None
    brand: str | None = Field(default=None, pattern=SLUG_PATTERN)
    tag: str | None = Field(default=None, pattern=TAG_PATTERN)
    assignee: str | None = Field(default=None, pattern=ASSIGNEE_PATTERN)

    @classmethod
    def parse(cls, pairs: Iterable[tuple[str, str]]) -> ListFilters:
        """From a query string or a form's fields (others ignored; empty means "any"). Bad values raise
        InvalidInput naming the field, as the API's 422 does."""
        raw: dict[str, Any] = {}
        for name, value in pairs:
            value = value.strip()
            if name not in FIELDS or not value:
                continue
            if name == "status":
                raw.setdefault("status", []).append(value)
            else:
                raw[name] = value.lower() if name in ("tag", "brand") else value
        return cls.checked(raw)

    @classmethod
    def checked(cls, raw: dict[str, Any]) -> ListFilters:
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error.get("loc") else "filters"
            given = error.get("input")
            shown = f" ({given!r})" if isinstance(given, str | int) else ""
            raise InvalidInput(f"{field}{shown}: {_plain(error['msg'])}", field=field) from None

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in FIELDS) and self.tier is None

    def stored(self) -> dict[str, Any]:
        """What a saved view keeps (JSON)."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def query(self, **extra: str) -> str:
        """The query string that shows this list (statuses repeated)."""
        pairs: list[tuple[str, str]] = [("status", s.value) for s in self.status]
        for name in FIELDS[1:]:
            value = getattr(self, name)
            if value is not None:
                pairs.append((name, str(value)))
        pairs += [(k, v) for k, v in extra.items() if v]
        return urlencode(pairs)

    def for_tickets(self, db: Session, principal: Principal, me: int) -> TicketFilters:
        """The tickets domain's filters; a brand the agent does not work is refused like the API refuses it."""
        brand_id = resolve_brand(db, principal, self.brand).id if self.brand else None
        assignee_id, unassigned = None, None
        if self.assignee == "me":
            assignee_id = me
        elif self.assignee == "unassigned":
            unassigned = True
        elif self.assignee is not None:
            assignee_id = int(self.assignee)
        return TicketFilters(brand_id=brand_id, statuses=list(self.status) or None, priority=self.priority,
                             department=self.department, assignee_id=assignee_id, unassigned=unassigned,
                             channel=self.channel, tag=self.tag, tier=self.tier)


def _plain(message: str) -> str:
    # pydantic's "String should match pattern '^(me|...)$'" tells an agent nothing.
    if message.startswith("String should match pattern"):
        return "not a value this filter takes"
    return message[0].lower() + message[1:] if message else message
