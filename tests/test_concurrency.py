"""A busy server never deadlocks on its own threads, whatever the requests wait for."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from tests.conftest import contact
from tierdesk.app import create_app

WRITERS = 12


def test_more_waiting_writers_than_request_threads_all_finish(database, settings, world):
    """Two request threads, twelve contacts at once on one ticket: on PostgreSQL they queue on the ticket's row lock,
    on SQLite on the single writer; either way every one must be accepted."""
    settings.request_threads = 2
    with TestClient(create_app(database, settings), raise_server_exceptions=False) as client:
        first = client.post("/api/v1/contacts", json=contact(external_id="<first@x>"), headers=world.auth("agent"))
        assert first.status_code == 201, first.text
        ticket_id = first.json()["ticket"]["id"]
        statuses: list[int] = []
        start = threading.Barrier(WRITERS)

        def follow_up(i: int) -> None:
            start.wait()
            r = client.post("/api/v1/contacts", json=contact(thread_ref="<first@x>", external_id=f"<f{i}@x>",
                                                             body=f"follow-up {i}"), headers=world.auth("agent"))
            statuses.append(r.status_code)

        threads = [threading.Thread(target=follow_up, args=(i,), daemon=True) for i in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "requests are stuck: the server deadlocked"
        assert statuses == [201] * WRITERS
        ticket = client.get(f"/api/v1/tickets/{ticket_id}", headers=world.auth("agent")).json()
        assert ticket["message_count"] == WRITERS + 1
