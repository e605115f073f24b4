"""Words every domain shares: the two departments and the channels a contact arrives by."""

from __future__ import annotations

from enum import StrEnum


class Department(StrEnum):
    CS = "CS"  # Customer Service: people problems (billing, refunds, orders, account admin)
    TS = "TS"  # Technical Support: product problems (something does not work)


class Channel(StrEnum):
    EMAIL = "email"
    WEB = "web"
    CHAT = "chat"
    PHONE = "phone"
    API = "api"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"
