"""Tokens and roles under attack: failed authentication is limited, leads manage only agents, and nobody learns
which brands or agents exist by trying ids."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import contact
from tierdesk.agents.auth import FailedAuthLimiter
from tierdesk.app import create_app

API = "/api/v1"


# ---- failed authentication ------------------------------------------------------------------------------------


@pytest.fixture
def limited_client(database, settings):
    strict = settings.model_copy(update={"auth_failure_limit": 5, "auth_failure_window_seconds": 60})
    with TestClient(create_app(database, strict), raise_server_exceptions=False) as c:
        yield c


def test_too_many_wrong_tokens_from_one_address_get_429(limited_client, world):
    wrong = {"Authorization": "Bearer tdk_guess"}
    for _ in range(5):
        assert limited_client.get(f"{API}/tickets", headers=wrong).status_code == 401
    r = limited_client.get(f"{API}/tickets", headers=wrong)
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # an integration's token format, or none at all, does not get around it
    assert limited_client.get(f"{API}/tickets", headers={"Authorization": "Bearer tdi_guess"}).status_code == 429


def test_successful_requests_are_never_limited(limited_client, world):
    for _ in range(30):  # many successes count for nothing
        assert limited_client.get(f"{API}/agents/me", headers=world.auth("agent")).status_code == 200
    for _ in range(6):
        limited_client.get(f"{API}/agents/me", headers={"Authorization": "Bearer tdk_guess"})
    assert limited_client.get(f"{API}/agents/me", headers={"Authorization": "Bearer tdk_guess"}).status_code == 429
    # a token that authenticated before still works from the refused address (a gateway shared with a guesser)
    assert limited_client.get(f"{API}/agents/me", headers=world.auth("agent")).status_code == 200


def test_the_limiter_windows_and_backs_off():
    now = [1000.0]
    limiter = FailedAuthLimiter(limit=3, window=60, clock=lambda: now[0])
    for _ in range(2):
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") is None
    now[0] += 61  # the window passed: the count starts again
    for _ in range(2):
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") is None
    limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 60
    assert limiter.retry_after("10.0.0.2") is None  # per address
    now[0] += 60
    assert limiter.retry_after("10.0.0.1") is None
    for _ in range(3):  # again right away: the block doubles
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 120
    now[0] += 120 + 120 + 1  # quiet for as long as its last block: back to the first step
    for _ in range(3):
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 60
    off = FailedAuthLimiter(limit=0, window=60)
    for _ in range(100):
        off.failed("10.0.0.1")
    assert off.retry_after("10.0.0.1") is None


# ---- leads manage agents, not admins or other leads -----------------------------------------------------------


@pytest.fixture
def second_lead(client, world) -> int:
    r = client.post(f"{API}/agents", json={"email": "lead2@example.com", "display_name": "Lead 2", "role": "lead",
                                           "brands": ["acme"]}, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_a_lead_may_not_change_an_admins_or_another_leads_capacity_or_presence(client, world, second_lead):
    # the admin works acme too, so the lead sees them
    r = client.patch(f"{API}/agents/{world.agents['admin']}", json={"brands": ["acme"]}, headers=world.auth("admin"))
    assert r.status_code == 200
    for target in (world.agents["admin"], second_lead):
        r = client.put(f"{API}/agents/{target}/capacity", json={"chat": 0}, headers=world.auth("lead"))
        assert r.status_code == 403, r.text
        r = client.put(f"{API}/agents/{target}/presence", json={"status": "away"}, headers=world.auth("lead"))
        assert r.status_code == 403, r.text
        seen = client.get(f"{API}/agents/{target}/presence", headers=world.auth("admin")).json()
        assert seen["status"] == "offline" and seen["capacity"]["chat"] == 3
    # their agents and themselves they may
    for target in (world.agents["agent"], world.agents["lead"]):
        r = client.put(f"{API}/agents/{target}/capacity", json={"chat": 2}, headers=world.auth("lead"))
        assert r.status_code == 200, r.text
        r = client.put(f"{API}/agents/{target}/presence", json={"status": "available"}, headers=world.auth("lead"))
        assert r.status_code == 200, r.text


# ---- enumeration ----------------------------------------------------------------------------------------------


def _shape(r) -> tuple:
    error = r.json()["error"]
    return r.status_code, error["code"], error["field"]


def test_another_brand_is_answered_like_a_missing_one(client, world):
    for path, params in ((f"{API}/customers", {}), (f"{API}/queues", {})):
        other = client.get(path, params=params | {"brand": "globex"}, headers=world.auth("agent"))
        missing = client.get(path, params=params | {"brand": "no-such-brand"}, headers=world.auth("agent"))
        assert _shape(other) == _shape(missing) == (422, "invalid", "brand"), (other.text, missing.text)
        assert "globex" not in other.json()["error"]["message"].replace("'globex'", "")
    other = client.post(f"{API}/contacts", json=contact(brand="globex"), headers=world.auth("agent"))
    missing = client.post(f"{API}/contacts", json=contact(brand="initech"), headers=world.auth("agent"))
    assert _shape(other) == _shape(missing) == (422, "invalid", "brand")


def test_assigning_another_brands_agent_is_answered_like_a_missing_agent(client, world):
    ticket = client.post(f"{API}/contacts", json=contact(), headers=world.auth("agent")).json()["ticket"]["id"]
    other = client.patch(f"{API}/tickets/{ticket}", json={"assignee_id": world.agents["globex_agent"]},
                         headers=world.auth("lead"))
    missing = client.patch(f"{API}/tickets/{ticket}", json={"assignee_id": 999_999}, headers=world.auth("lead"))
    assert _shape(other) == _shape(missing) == (422, "invalid", "assignee_id")
    strip = str(world.agents["globex_agent"])
    assert other.json()["error"]["message"].replace(strip, "N") == missing.json()["error"]["message"].replace(
        "999999", "N")


def test_an_address_that_never_stops_failing_stays_blocked_for_an_hour_at_most():
    """Found by mypy's review: the doubling of the block overflowed a float after ~1,025 blocks in a row."""
    from tierdesk.agents.auth import FailedAuthLimiter

    limiter = FailedAuthLimiter(limit=1, window=60)
    assert limiter._block(1) == 60 and limiter._block(2) == 120
    assert limiter._block(5000) == limiter.MAX_BLOCK_SECONDS
