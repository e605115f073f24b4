"""/healthz tells a load balancer when the service cannot serve: the database unreachable, or requests queueing
for a request slot. It answers even when every request slot is taken."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tierdesk.app import create_app
from tierdesk.db import Database


def _wait_for(predicate, what: str):
    for _ in range(200):
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def test_healthz_reports_the_request_slots(client, database):
    r = client.get("/healthz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["database"]) == ("ok", database.dialect)
    assert body["request_slots"] == {"total": 4, "in_use": 0, "waiting": 0, "oldest_wait_seconds": 0.0}


def test_healthz_is_503_while_requests_queue_for_a_slot_and_answers_without_one(database, settings, world):
    one_slot = settings.model_copy(update={"request_threads": 1, "health_max_queue_seconds": 0})
    app = create_app(database, one_slot)
    with TestClient(app, raise_server_exceptions=False) as client:
        slots = app.state.request_slots
        client.portal.call(slots.acquire)  # the only slot is taken by slow work
        answers = []
        waiting = threading.Thread(target=lambda: answers.append(
            client.get("/api/v1/agents/me", headers=world.auth("agent"))))
        waiting.start()
        try:
            r = _wait_for(lambda: (r := client.get("/healthz")).status_code == 503 and r, "healthz turned 503")
            body = r.json()
            assert body["status"] == "unavailable"
            assert body["request_slots"]["in_use"] == 1 and body["request_slots"]["waiting"] == 1
            assert any("waited" in p and "request slot" in p for p in body["problems"])
        finally:
            client.portal.call(slots.release)
        waiting.join(timeout=30)
        assert answers and answers[0].status_code == 200  # the waiting request was served once the slot was free
        r = client.get("/healthz")
        assert r.status_code == 200, r.text
        assert r.json()["request_slots"] == {"total": 1, "in_use": 0, "waiting": 0, "oldest_wait_seconds": 0.0}


def test_healthz_is_503_when_the_database_is_unreachable(database, settings, tmp_path):
    gone = Database(sa.create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}"))
    with TestClient(create_app(gone, settings), raise_server_exceptions=False) as client:
        r = client.get("/healthz")
    assert r.status_code == 503, r.text
    assert r.json()["status"] == "unavailable" and r.json()["problems"] == ["the database is unreachable"]
