"""The observers of ticket events (tickets.observers), registered once per process on import.

Every process that records ticket events imports this module: the app and the worker through wiring.py, the
commands through migrate.database_for_command. It stays light (a command's start-up pays for it).
"""

from __future__ import annotations

from tierdesk.tickets import observers
from tierdesk.webhooks import capture

# The webhooks capture: each ticket event of a subscribed type becomes a delivery, in the event's transaction.
observers.observe(capture.capture)
