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
