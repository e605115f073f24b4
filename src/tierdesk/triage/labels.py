"""The triage label set: departments, intents and priorities, with the definitions agents and example writers share.

The organising question is "is this a people problem or a product problem?": a people problem (money, orders,
account administration, policy) goes to Customer Service; a product problem (something does not work) goes to
Technical Support. Each intent belongs to exactly one department.
"""

from __future__ import annotations

# The catalogue lives in kit (tickets validate against it); re-exported here for triage.
from tierdesk.kit.intents import INTENTS as INTENTS

SENTIMENTS = ("negative", "neutral", "positive")
