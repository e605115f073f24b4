"""Server-Timing on every response; X-Query-Count only when TIERDESK_COUNT_QUERIES is on, and then exact."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.pages import set_password, sign_in
from tests.queries import counting
from tierdesk.app import create_app
from tierdesk.kit.timing import _count, count_statements

TIMING = re.compile(r"^app;dur=\d+\.\d$")


def test_every_response_says_how_long_the_server_took_and_counts_nothing_by_default(web, client, world):
    for response in (web.get("/"), web.get("/sign-in"), client.get("/healthz"),
                     client.get("/api/v1/tickets", headers=world.auth("agent")), web.get("/no/such/page")):
        assert TIMING.match(response.headers["server-timing"]), response.headers
        assert "x-query-count" not in response.headers
    assert not event.contains(client.app.state.database.engine, "before_cursor_execute", _count)


def test_with_count_queries_each_response_says_how_many_statements_it_ran(database, settings, world):
    settings = settings.model_copy(update={"count_queries": True})
    set_password(database, world.agents["agent"])
    with TestClient(create_app(database, settings), base_url="https://testserver") as web:
        sign_in(web, "agent@example.com")
        for path in ("/", "/sign-in", "/healthz"):
            with counting(database.engine) as seen:
                response = web.get(path)
            assert response.status_code == 200
            assert int(response.headers["x-query-count"]) == seen.count, f"{path}:\n{seen}"
        api = web.get("/api/v1/tickets", headers=world.auth("agent"))
        assert int(api.headers["x-query-count"]) >= 1
    # A second app on the same engine does not count each statement twice.
    create_app(database, settings)
    count_statements(database.engine)
    with TestClient(create_app(database, settings), base_url="https://testserver") as web:
        assert web.get("/sign-in").headers["x-query-count"] == "0"
