"""A contact's received_at: a small clock skew ahead of the server is fine, the far future or the distant past is
refused (it would become the ticket's last inbound time)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.intake.test_intake import assert_invalid, counts, created, post
from tierdesk.intake.schemas import MAX_CLOCK_SKEW
from tierdesk.kit.time import utcnow


def _iso(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("received_at,why", [
    ("9999-12-31T23:59:59Z", "future"),
    ("2999-01-01T00:00:00+02:00", "future"),
    ("1970-01-01T00:00:00Z", "before 1990"),
    ("1989-12-31T23:59:59Z", "before 1990"),
])
def test_a_received_at_far_from_now_is_refused(client, world, database, received_at, why):
    before = counts(database)
    error = assert_invalid(post(client, world, received_at=received_at), "received_at")
    assert why in error["message"], error
    assert counts(database) == before


def test_a_received_at_further_ahead_than_the_clock_skew_is_refused(client, world, database):
    ahead = utcnow() + MAX_CLOCK_SKEW + dt.timedelta(minutes=1)
    error = assert_invalid(post(client, world, received_at=_iso(ahead)), "received_at")
    assert "future" in error["message"]


def test_a_received_at_slightly_ahead_or_in_the_past_is_kept(client, world):
    ahead = utcnow() + dt.timedelta(minutes=1)  # a gateway whose clock runs a minute fast
    ticket = created(client, world, received_at=_iso(ahead))["ticket"]
    assert dt.datetime.fromisoformat(ticket["last_inbound_at"]) == ahead
    old = created(client, world, received_at="1990-01-02T00:00:00Z", sender={"email": "old@example.com"})["ticket"]
    assert old["last_inbound_at"].startswith("1990-01-02T00:00:00")
