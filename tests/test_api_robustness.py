"""Every operation of the API, fed malformed input, answers with a 4xx that names the problem, never a 500."""

from __future__ import annotations

import re

import pytest

JUNK_IDS = ["0", "-1", "9223372036854775808", "99999999999999999999", "abc", "1.5", "%00", "²"]
JUNK_BODIES = [
    None,
    [],
    "text",
    {"unknown": 1},
    {"status": "archived", "priority": 7, "queue_id": "x", "assignee_id": -5},
    {"brand": "\u0000", "slug": "\u0000", "name": "\u0000", "email": "\u0000", "source_id": 2**70},
    {"brand": 12, "channel": None, "sender": "me", "body": ["a"], "received_at": "yesterday"},
    {"skills": [{"skill": "UPPER", "level": 9}], "required_skills": "all", "brands": [None], "tier": 99},
]
JUNK_QUERIES = [
    {"cursor": "!!!", "limit": "-3"},
    {"cursor": "eyJpZCI6ICJ4In0", "limit": "100000"},
    {"brand": "\u0000", "status": "nope", "priority": "max", "unassigned": "perhaps"},
    {"queue_id": "99999999999999999999", "assignee_id": "-1", "customer_id": "x", "order": "random"},
    {"email": "not-an-email", "phone": "12", "q": "x"},
]


def _operations(client) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops
            if path.startswith("/api/")]


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


@pytest.mark.parametrize("who", ["admin", "agent"])
def test_malformed_requests_never_cause_a_server_error(client, world, who):
    operations = _operations(client)
    assert len(operations) >= 15
    failures = []
    for method, path in operations:
        paths = [_fill(path, junk) for junk in JUNK_IDS] if "{" in path else [path]
        paths.append(_fill(path, "1"))
        for url in paths:
            for query in JUNK_QUERIES:
                r = client.request(method, url, params=query, headers=world.auth(who))
                if r.status_code >= 500:
                    failures.append((method, url, query, r.status_code))
            if method in ("POST", "PATCH"):
                for body in JUNK_BODIES:
                    r = client.request(method, url, json=body, headers=world.auth(who))
                    if r.status_code >= 500:
                        failures.append((method, url, body, r.status_code))
                    elif r.status_code == 422:
                        error = r.json()["error"]
                        assert error["message"] and error["field"], (method, url, body, error)
    assert failures == []


def test_unauthenticated_requests_are_refused_everywhere(client, world):
    for method, path in _operations(client):
        r = client.request(method, _fill(path, "1"), json={})
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers.get("www-authenticate") == "Bearer"
