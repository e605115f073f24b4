"""POST /api/v1/triage and /triage/batch: authenticated, validated, nothing stored."""

from __future__ import annotations

import sqlalchemy as sa

from tierdesk.tickets.models import Ticket

API = "/api/v1/triage"


def test_triage_answers_without_storing_anything(client, world, database):
    r = client.post(API, json={"subject": "Login", "text": "I cannot log in, the reset link never arrives"},
                    headers=world.auth("agent"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["department"] == "TS" and body["intent"] == "login_problem"
    assert 0.5 <= body["confidence"] <= 1 and body["language"] == "en"
    assert body["priority"] in ("low", "normal", "high", "urgent") and -1 <= body["sentiment"] <= 1
    assert body["explanation"].startswith("Technical Support") and body["model"]
    with database.transaction(write=False) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 0


def test_batch_keeps_the_order(client, world):
    items = [{"text": "please refund my last order"}, {"text": "the app freezes on the login screen"},
             {"text": "please refund my last order"}]
    r = client.post(f"{API}/batch", json={"items": items}, headers=world.auth("agent"))
    assert r.status_code == 200, r.text
    got = r.json()["items"]
    assert [d["department"] for d in got] == ["CS", "TS", "CS"]
    assert got[0] == got[2]


def test_triage_needs_a_token(client, world):
    assert client.post(API, json={"text": "hello"}).status_code == 401
    assert client.post(API, json={"text": "hello"}, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_bad_requests_are_422_with_the_field(client, world):
    cases = [
        ({"text": ""}, "text"),
        ({}, "text"),
        ({"text": 5}, "text"),
        ({"text": "ok", "subject": "x" * 501}, "subject"),
        ({"text": "ok", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        r = client.post(API, json=body, headers=world.auth("agent"))
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field, (body, r.json())
    r = client.post(f"{API}/batch", json={"items": [{"text": "x"}] * 501}, headers=world.auth("agent"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "items"
    r = client.post(f"{API}/batch", json={"items": []}, headers=world.auth("agent"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "items"


def test_a_slow_triage_holds_no_request_slot(database, settings, world, monkeypatch):
    """With one request slot, a triage batch that is still classifying must not keep an unrelated read waiting:
    the token is checked in a transaction of its own and the classification runs on triage's own threads."""
    import threading

    from fastapi.testclient import TestClient

    from tierdesk.app import create_app
    from tierdesk.triage.decision import Triager

    release, started = threading.Event(), threading.Event()
    real = Triager.decide_many

    def slow(self, items):
        if items and items[0].text == "slow":
            started.set()
            assert release.wait(30), "the read never got through while triage was busy"
        return real(self, items)

    monkeypatch.setattr(Triager, "decide_many", slow)
    one_slot = settings.model_copy(update={"request_threads": 1})
    with TestClient(create_app(database, one_slot), raise_server_exceptions=False) as client:
        answers: dict[str, int] = {}
        batch = threading.Thread(target=lambda: answers.setdefault("batch", client.post(
            f"{API}/batch", json={"items": [{"text": "slow"}]}, headers=world.auth("agent")).status_code))
        batch.start()
        assert started.wait(30)
        read = client.get("/api/v1/queues", headers=world.auth("agent"))  # needs the one slot
        release.set()
        batch.join(30)
        assert read.status_code == 200 and answers["batch"] == 200
