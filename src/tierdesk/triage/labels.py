"""The triage label set: departments, intents and priorities, with the definitions agents and example writers share.

The organising question is "is this a people problem or a product problem?": a people problem (money, orders,
account administration, policy) goes to Customer Service; a product problem (something does not work) goes to
Technical Support. Each intent belongs to exactly one department.
"""

from __future__ import annotations

from tierdesk.kit.intents import INTENTS as INTENTS  # re-exported: the catalogue lives in kit (tickets check it)
from tierdesk.kit.vocabulary import Department

CS = Department.CS.value
TS = Department.TS.value


DEPARTMENTS = (CS, TS)
PRIORITIES = ("low", "normal", "high", "urgent")
SENTIMENTS = ("negative", "neutral", "positive")


def department_of(intent: str) -> str:
    return INTENTS[intent][0]


def intents_of(department: str) -> list[str]:
    return [name for name, (dept, _) in INTENTS.items() if dept == department]
