"""The triage label set: departments, intents and priorities, with the definitions agents and example writers share.

The organising question is "is this a people problem or a product problem?": a people problem (money, orders,
account administration, policy) goes to Customer Service; a product problem (something does not work) goes to
Technical Support. Each intent belongs to exactly one department.
"""

from __future__ import annotations

from tierdesk.kit.intents import INTENTS  # noqa: F401 (the catalogue lives in kit: tickets validate against it)

SENTIMENTS = ("negative", "neutral", "positive")
