"""The web UI's shared rules, checked over every route of the app: each page form is CSRF-protected, and the helpers
that pages share behave (where to go after sign-in, how long until an SLA is due)."""

from __future__ import annotations

import datetime as dt

from fastapi.routing import APIRoute

from tierdesk.app import create_app
from tierdesk.kit.pages import UNSAFE_METHODS, _countdown, csrf_protect, safe_next, wants_html

# Paths whose posts are not browser forms of a signed-in person: the API (bearer tokens), the channels' own
# endpoints (provider signatures, web form tokens, sockets).
NOT_PAGES = ("/api/", "/channels/", "/static/", "/docs", "/openapi", "/healthz")


def _dependencies(dependant) -> set:
    found, pending = set(), [dependant]
    while pending:
        d = pending.pop()
        found.add(d.call)
        pending.extend(d.dependencies)
    return found


def test_every_page_form_is_csrf_protected(database, settings):
    app = create_app(database, settings)
    unprotected = [
        f"{sorted(route.methods)} {route.path}"
        for route in app.routes
        if isinstance(route, APIRoute) and not route.path.startswith(NOT_PAGES)
        and route.methods & UNSAFE_METHODS and csrf_protect not in _dependencies(route.dependant)
    ]
    assert unprotected == []


def test_the_check_sees_a_page_post_without_the_dependency(database, settings):
    """The check itself: a page route posted without csrf_protect is found (a check that cannot fail is none)."""
    app = create_app(database, settings)

    @app.post("/unprotected-form")
    def unprotected() -> None: ...

    route = next(r for r in app.routes if isinstance(r, APIRoute) and r.path == "/unprotected-form")
    assert csrf_protect not in _dependencies(route.dependant)


def test_after_sign_in_only_paths_of_this_site():
    assert safe_next("/tickets/4?x=1") == "/tickets/4?x=1"
    for hostile in ("https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)", "", None,
                    "tickets"):
        assert safe_next(hostile) == "/"


def test_countdowns_read_as_an_agent_reads_them():
    now = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
    assert _countdown(now + dt.timedelta(minutes=65), now) == "due in 1 h 05 min"
    assert _countdown(now - dt.timedelta(minutes=12), now) == "overdue by 12 min"
    assert _countdown(now + dt.timedelta(days=2, hours=3), now) == "due in 2 d 3 h"
    assert _countdown(None, now) == ""


def test_api_and_channel_errors_stay_json():
    class _Url:
        def __init__(self, path: str):
            self.path = path

    class _Request:
        def __init__(self, path: str):
            self.url = _Url(path)

    assert not wants_html(_Request("/api/v1/tickets"))  # type: ignore[arg-type]
    assert not wants_html(_Request("/channels/web/acme/form"))  # type: ignore[arg-type]
    assert wants_html(_Request("/tickets/3"))  # type: ignore[arg-type]


def test_an_unknown_page_is_a_page_and_an_unknown_api_path_is_json(web):
    page = web.get("/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "There is no page at /no/such/page." in page.text and "<script>" not in page.text
    hostile = web.get("/%3Cscript%3Ealert(1)%3C/script%3E")
    assert hostile.status_code == 404 and "<script>alert" not in hostile.text and "&lt;script&gt;" in hostile.text
    api = web.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
