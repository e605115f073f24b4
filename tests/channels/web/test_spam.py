"""Robots are refused without a puzzle for people: the honeypot, the minimum fill time (a signed token issued with
the page), and the rate limits per address and per client IP, kept in the database. Each refusal says why, on the
form and in the API, and writes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.channels.web.helpers import FORM, REQUESTS, aged_token, fields, token_of
from tests.channels.web.test_form import NOTHING, counts
from tierdesk.app import create_app
from tierdesk.channels.web import spam
from tierdesk.channels.web.models import WebSubmission


def client_at(app, ip: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=(ip, 40000))


def post_form(client, **overrides):
    data = fields(**{"order_number": "A-1", **overrides})
    if "form_token" not in data:
        data["form_token"] = token_of(client.get(FORM).text)
    return client.post(FORM, data=data)


def test_a_filled_honeypot_is_refused_with_the_reason(browser, database):
    done = post_form(browser, website="http://cheap-pills.example")
    assert done.status_code == 422
    assert "The hidden field &#39;website&#39; was filled in, as robots do" in done.text
    api = browser.post(REQUESTS, json={**fields(order_number="A-1", website="x"),
                                       "form_token": token_of(browser.get(FORM).text)})
    assert api.status_code == 422 and api.json()["error"]["field"] == "website"
    assert counts(database) == NOTHING


def test_a_form_sent_faster_than_a_person_fills_it_is_refused(database, settings, world, form_app):
    # The deployment's default: at least 3 seconds between serving the page and the post.
    app = create_app(database, settings)
    assert settings.web_form_min_fill_seconds == 3
    with client_at(app, "198.51.100.1") as c:
        page = c.get(FORM)
        token = token_of(page.text)
        done = c.post(FORM, data={**fields(order_number="A-1"), "form_token": token})
        assert done.status_code == 422
        assert "The form was sent too quickly after it was opened, as robots do: wait" in done.text
        assert token_of(done.text) == token  # the same page: sent again after a moment, it goes through
        api = c.post(REQUESTS, json={**fields(order_number="A-1"), "form_token": token})
        assert api.status_code == 422 and api.json()["error"]["field"] == "form_token"
        assert counts(database) == NOTHING
        # The same form, filled in by someone who took a minute (the token as the page issued it a minute ago).
        later = c.post(FORM, data={**fields(order_number="A-1"),
                                   "form_token": aged_token(world.brands["acme"], 60)})
        assert later.status_code == 200, later.text


@pytest.mark.parametrize("token, why", [
    (None, "The form token is missing"),
    ("1764670000000.abc.forgedforgedforgedforg", "The form token is not valid"),
    ("garbage", "The form token is not valid"),
])
def test_a_missing_or_forged_token_is_refused(browser, database, token, why):
    data = {**fields(order_number="A-1")}
    if token:
        data["form_token"] = token
    done = browser.post(FORM, data=data)
    assert done.status_code == 422 and why in done.text
    assert token_of(done.text)  # a fresh form to send again
    assert counts(database) == NOTHING


def test_another_brands_token_and_an_expired_one_are_refused(browser, database, world):
    from tierdesk.kit.time import utcnow

    globex = spam.issue_token("test-secret-key", world.brands["globex"], utcnow())
    done = post_form(browser, form_token=globex)
    assert done.status_code == 422 and "The form token is not valid" in done.text
    stale = aged_token(world.brands["acme"], 25 * 3600)
    done = post_form(browser, form_token=stale)
    assert done.status_code == 422 and "The form was opened too long ago" in done.text
    other_key = spam.issue_token("another-deployment", world.brands["acme"], utcnow())
    assert post_form(browser, form_token=other_key).status_code == 422
    assert counts(database) == NOTHING


@pytest.fixture
def limited_app(database, form_settings, form_app):
    """The acme form of form_app, with small limits: 2 per address, 3 per client IP, per hour."""
    return create_app(database, form_settings.model_copy(update={"web_form_address_limit": 2,
                                                                 "web_form_ip_limit": 3}))


def test_an_address_is_limited_whichever_network_it_posts_from(limited_app, database):
    for n, ip in enumerate(["192.0.2.1", "192.0.2.2"]):
        with client_at(limited_app, ip) as c:
            assert post_form(c, subject=f"Question {n}").status_code == 200
    with client_at(limited_app, "192.0.2.3") as c:
        done = post_form(c, subject="Question 3")
        assert done.status_code == 429
        assert 0 < int(done.headers["retry-after"]) <= 3600
        assert ("The address maria@example.com has sent 2 requests within 60 minutes, the most this form takes"
                in done.text)
        assert 'value="Question 3"' in done.text  # what was typed is kept for later
        # Another address from the same network is welcome.
        assert post_form(c, email="paul@example.com").status_code == 200
        api = c.post(REQUESTS, json={**fields(order_number="A-1", subject="Again"),
                                     "form_token": token_of(c.get(FORM).text)})
        assert api.status_code == 429 and "retry-after" in api.headers
        assert api.json()["error"]["code"] == "too_many_requests"
    assert counts(database)["web_submissions"] == 3


def test_a_client_ip_is_limited_whichever_address_it_gives(limited_app, database):
    with client_at(limited_app, "203.0.113.99") as c:
        for n in range(3):
            assert post_form(c, email=f"robot{n}@example.com").status_code == 200
        done = post_form(c, email="robot9@example.com")
        assert done.status_code == 429 and "This network has sent 3 requests" in done.text
    with client_at(limited_app, "203.0.113.100") as other:
        assert post_form(other, email="robot9@example.com").status_code == 200
    with database.transaction(write=False) as db:
        ips = db.scalars(sa.select(WebSubmission.client_ip).order_by(WebSubmission.id)).all()
    assert ips == ["203.0.113.99"] * 3 + ["203.0.113.100"]


def test_the_limits_hold_across_processes(limited_app, database, form_settings):
    """Counted in the database: a second app (another server process) sees the first one's requests."""
    with client_at(limited_app, "203.0.113.50") as c:
        for n in range(2):
            assert post_form(c, subject=f"Try {n}").status_code == 200
    second = create_app(database, form_settings.model_copy(update={"web_form_address_limit": 2}))
    with client_at(second, "203.0.113.51") as c:
        assert post_form(c, subject="Try 3").status_code == 429
