"""The ticket status machine: which changes are legal. Anything else is refused with the allowed next states."""

from __future__ import annotations

from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.vocabulary import TicketStatus as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.NEW: frozenset({S.OPEN, S.PENDING, S.ON_HOLD, S.SOLVED}),
    S.OPEN: frozenset({S.PENDING, S.ON_HOLD, S.SOLVED}),
    S.PENDING: frozenset({S.OPEN, S.ON_HOLD, S.SOLVED}),
    S.ON_HOLD: frozenset({S.OPEN, S.PENDING, S.SOLVED}),
    S.SOLVED: frozenset({S.OPEN, S.CLOSED}),  # reopened by the customer or an agent; closed when done
    S.CLOSED: frozenset(),  # final: the customer writing again opens a follow-up ticket
}

# Statuses in which the customer's next message means "this is not done": the ticket opens again.
REOPENED_BY_CUSTOMER = frozenset({S.PENDING, S.ON_HOLD, S.SOLVED})
# Work in hand: it counts against the assignee's capacity, and an unassigned ticket in it waits for the router.
WORKABLE = frozenset({S.NEW, S.OPEN})
# A ticket that can still take messages (a closed one cannot).
THREADABLE = frozenset(set(S) - {S.CLOSED})


def check_transition(current: S, target: S) -> None:
    if target == current:
        return
    allowed = TRANSITIONS[current]
    if target not in allowed:
        options = ", ".join(sorted(s.value for s in allowed)) or "none: a closed ticket is final"
        raise InvalidInput(
            f"a {current.value} ticket cannot become {target.value} (allowed: {options})", field="status"
        )
