"""On PostgreSQL, idle workers are woken by NOTIFY when work appears, and only for committed work."""

from __future__ import annotations

import pytest

from tests.routing.helpers import add_agent, new_tickets
from tierdesk.agents.presence import set_presence
from tierdesk.jobs import wakeup
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.vocabulary import PresenceStatus
from tierdesk.tickets.schemas import TicketUpdate
from tierdesk.tickets.service import update_ticket


def test_new_routable_work_wakes_a_listening_worker(world, database):
    wait = wakeup.listener(database.engine)
    if database.dialect != "postgresql":
        assert wait is None  # SQLite: the in-process worker polls
        pytest.skip("NOTIFY is PostgreSQL's")
    try:
        assert wait(0.05) is False  # nothing yet
        new_tickets(database, 1)
        assert wait(2.0) is True
        agent = add_agent(database, "a@x.com", skills={}, status="away")
        while wait(0.05):  # drain what setting up the agent announced
            pass
        with database.transaction() as db:
            set_presence(db, SYSTEM, agent, PresenceStatus.AVAILABLE)
        assert wait(2.0) is True
        with pytest.raises(RuntimeError), database.transaction() as db:
            set_presence(db, SYSTEM, agent, PresenceStatus.AWAY)
            set_presence(db, SYSTEM, agent, PresenceStatus.AVAILABLE)
            raise RuntimeError("rolled back")
        assert wait(0.2) is False  # nothing was committed, nobody is woken
        [ticket_id] = new_tickets(database, 1)
        with database.transaction() as db:
            update_ticket(db, SYSTEM, ticket_id, TicketUpdate(assignee_id=agent))
        while wait(0.05):
            pass
        with database.transaction() as db:  # the agent finishes it: capacity frees up
            update_ticket(db, SYSTEM, ticket_id, TicketUpdate(status="solved"))
        assert wait(2.0) is True
    finally:
        wait.connection.close()


def test_a_broken_listen_connection_falls_back_to_polling(database):
    import time

    wait = wakeup.listener(database.engine)
    if wait is None:
        pytest.skip("NOTIFY is PostgreSQL's")
    wait.connection.close()  # the server went away
    for _ in range(2):  # every later call sleeps out the interval: the worker never spins
        started = time.monotonic()
        assert wait(0.2) is False
        assert time.monotonic() - started >= 0.19
