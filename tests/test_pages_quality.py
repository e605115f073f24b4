"""The quality bar of the web UI, checked on every page a signed-in person can reach: a crawler signs in (as an admin,
as a plain agent, and as a portal customer once the portal is there), starts at the landing page and follows every
same-origin link, visiting each page in headless Chromium once, and checks on each:

- no console error and no uncaught script error (a CSP refusal is a console error: an unescaped `<script>` in a
  customer's subject shows up here too, as the seeded data carries markup);
- no failed request: the page and everything it loads (scripts, styles, images, HTMX fragments) answer < 400;
- every link on it leads somewhere (< 400), downloads and static files included;
- axe-core finds no accessibility violation of serious or critical impact.

Pages with the same shape (`/tickets/1`, `/tickets/2`) are visited a few times, not once per record; their links
are still checked. EXPECTED_PAGES must all be reached by following links from the start: a page nobody links to is
a page nobody finds."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

from tests.browser import axe_source, axe_violations, describe_violations, launch, serving
from tests.channels.web.portal_helpers import code_and_link
from tests.channels.web.portal_helpers import mail_of as portal_mail
from tests.channels.web.portal_helpers import notices as portal_notices
from tests.conftest import World
from tests.pages import PASSWORD, set_password
from tests.ui_data import Seeded, seed_support
from tierdesk.app import create_app
from tierdesk.db import Database
from tierdesk.kit.vocabulary import NoticeKind

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

# Pages the crawl must reach, per kind of visitor (paths; `{id}` stands for any number). The merger adds each
# page as it lands: "/queues", "/queues/{id}", "/tickets", "/tickets/{id}", "/search", "/admin", ...
EXPECTED_PAGES: dict[str, set[str]] = {
    "nobody": {"/", "/password/forgot"},
    "admin": {"/", "/queues", "/queues/{id}", "/tickets", "/tickets/{id}", "/search", "/admin", "/admin/brands",
              "/admin/brands/{id}", "/admin/agents", "/admin/agents/{id}", "/admin/integrations", "/admin/dispositions",
              "/admin/triage", "/admin/audit", "/admin/canned-responses", "/admin/macros", "/admin/queues",
              "/admin/queues/{id}", "/admin/sla", "/admin/webhooks", "/admin/channels"},
    "agent": {"/", "/queues", "/queues/{id}", "/tickets", "/tickets/{id}", "/search"},
    "portal": {"/portal/acme/requests", "/portal/acme/requests/new", "/portal/acme/requests/{id}"},
}
# Linked from the chrome but built on other branches: a link to one of these may answer 404 until it lands (and is
# then crawled like any other page). The merger empties this as the pages land.
PENDING_PAGES: set[str] = set()
# Reached by a form rather than a link (the top bar's search box): opened as a person who submitted it would.
FORM_TARGETS: dict[str, list[str]] = {"admin": ["/search?q=router"], "agent": ["/search?q=router"]}
# Never followed: they change state (sign-out is a form anyway), or are the API's and its documentation.
SKIP_PREFIXES = ("/sign-out", "/portal/sign-out", "/api/", "/docs", "/openapi.json")
# Not opened in the browser but asked for (GET, with the session): static files, downloads (links marked `download`,
# attachments, original emails, exports).
DOWNLOAD = re.compile(r"^/static/|/attachments/\d+|/download|\.(?:eml|csv|pdf|zip|png|jpe?g)$")
SAME_SHAPE_VISITS = 2  # pages per shape (path with ids as {id}, and the query's parameter names)
MAX_PAGES = 150


@dataclass(frozen=True)
class Visitor:
    name: str
    sign_in: Callable[[Any, str, World, Database], str]  # (page, base url, world, database) -> the start path


def _agent(who: str) -> Callable[[Any, str, World, Database], str]:
    def sign_in(page: Any, base: str, world: World, database: Database) -> str:
        set_password(database, world.agents[who])
        page.goto(base + "/sign-in")
        page.get_by_label("Email").fill(f"{who}@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name=re.compile("sign in", re.I)).click()
        assert urlsplit(page.url).path == "/", f"{who} did not land on / after signing in: {page.url}"
        return "/"
    return sign_in


def nobody(page: Any, base: str, world: World, database: Database) -> str:
    """Nobody signed in: the sign-in page and what it links to (password reset)."""
    return "/"


def sign_in_portal_customer(page: Any, base: str, world: World, database: Database) -> str:
    """The portal's visitor: a customer of acme with requests (seeded through the API first), signed in with the
    one-time code the portal mails (read from the outbox and composed, as the portal's own tests do)."""
    email = "customer0@example.com"  # seed_support's first customer: acme, with markup in their name
    page.goto(f"{base}/portal/acme/sign-in")
    page.get_by_label("Email address").fill(email)
    with page.expect_navigation():
        page.get_by_role("button", name="Email me a code").click()
    row = portal_notices(database, NoticeKind.PORTAL_SIGN_IN)[-1]
    mail = portal_mail(database, row, base_url=base)
    assert mail is not None and mail.to == email
    code, _link = code_and_link(mail)
    page.get_by_label("Code").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert urlsplit(page.url).path.startswith("/portal/acme/requests"), page.url
    return "/portal/acme/requests"


VISITORS = [Visitor("nobody", nobody), Visitor("admin", _agent("admin")), Visitor("agent", _agent("agent")),
            Visitor("portal", sign_in_portal_customer)]


def shape(url: str) -> str:
    parts = urlsplit(url)
    params = sorted({p.split("=", 1)[0] for p in parts.query.split("&") if p})
    return re.sub(r"/\d+(?=/|$)", "/{id}", parts.path) + ("?" + "&".join(params) if params else "")


@dataclass
class Crawl:
    base: str
    visited: dict[str, int] = field(default_factory=dict)  # url -> status
    shapes: dict[str, int] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)  # links asked for without a visit: url -> status
    problems: list[str] = field(default_factory=list)

    def same_origin(self, url: str) -> bool:
        return urlsplit(url).netloc == urlsplit(self.base).netloc

    def path(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + ("?" + parts.query if parts.query else "")


@pytest.fixture(scope="module")
def browser():
    axe_source()  # skip (or fail in CI) before starting anything when axe-core is not installed
    with sync_playwright() as p:
        chromium = launch(p)
        yield chromium
        chromium.close()


@pytest.fixture
def seeded(client, world) -> Seeded:
    return seed_support(client, Seeded(world), tickets=6, messages_on_busy=4)


@pytest.mark.parametrize("visitor", VISITORS, ids=[v.name for v in VISITORS])
def test_every_page_is_clean_accessible_and_has_no_broken_link(request, browser, visitor, database, settings, world):
    with serving(create_app(database, settings)) as served:
        context = browser.new_context()
        try:
            page = context.new_page()
            request.getfixturevalue("seeded")  # before signing in: the portal's customer must exist
            start = visitor.sign_in(page, served.url, world, database)
            crawl = Crawl(served.url)
            _crawl(page, crawl, start, FORM_TARGETS.get(visitor.name, []))
        finally:
            context.close()

    reached = {shape(u) for u, status in crawl.visited.items() if status < 400}
    missing = EXPECTED_PAGES[visitor.name] - {s.split("?")[0] for s in reached}
    assert not missing, f"{visitor.name}: no link leads to {sorted(missing)}; reached {sorted(reached)}"
    assert not crawl.problems, f"{visitor.name}: {len(crawl.problems)} problem(s) on {len(crawl.visited)} " \
        "page(s):\n\n" + "\n\n".join(crawl.problems)


def _crawl(page: Any, crawl: Crawl, start: str, submitted: tuple[str, ...] | list[str] = ()) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"script error: {e}"))
    page.on("response", lambda r: errors.append(f"{r.status} from {r.request.method} {r.url}")
            if r.status >= 400 else None)
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} ({r.failure})")
            if "ERR_ABORTED" not in (r.failure or "") else None)

    queue: dict[str, str] = {crawl.base + start: "(start)"}  # url to visit -> the page that links to it
    queue.update({crawl.base + target: "(a form)" for target in submitted})
    while queue and len(crawl.visited) < MAX_PAGES:
        url, referrer = next(iter(queue.items()))
        del queue[url]
        errors.clear()
        try:
            response = page.goto(url, wait_until="load")
        except PlaywrightError as exc:
            crawl.visited[url] = 599
            crawl.problems.append(f"{crawl.path(url)} (linked from {referrer}): could not be opened: {exc}")
            continue
        status = response.status if response else 0
        crawl.visited[url] = status
        crawl.shapes[shape(url)] = crawl.shapes.get(shape(url), 0) + 1
        found = [f"answered {status} (linked from {referrer})"] if status >= 400 else []
        if status < 400:
            # Fragments HTMX loads at once (hx-trigger="load") are part of the page.
            page.wait_for_function("() => !document.querySelector('.htmx-request')", timeout=5000)
            violations = axe_violations(page)
            if violations:
                found.append("accessibility (axe-core):\n" + describe_violations(violations))
            links = page.eval_on_selector_all("a[href]", "els => els.map(a => [a.href, a.hasAttribute('download')])")
            for href, is_download in links:
                target = urldefrag(urljoin(page.url, href)).url
                if not target.startswith(("http://", "https://")) or not crawl.same_origin(target):
                    continue  # mailto:, tel:, other sites (not reachable from the tests)
                found += _follow(page, crawl, queue, target, is_download)
        found[:0] = errors
        if found:
            crawl.problems.append(f"{crawl.path(url)}:\n  " + "\n  ".join(found))


def _follow(page: Any, crawl: Crawl, queue: dict[str, str], target: str, is_download: bool) -> list[str]:
    """Queue a link's page for a visit, or (already visited, pending, a file, enough of its shape) check its answer."""
    path = urlsplit(target).path
    if path.startswith(SKIP_PREFIXES):
        return []
    if target in crawl.visited or target in queue:
        return []  # its visit reports its own status
    if path in PENDING_PAGES and _status(page, crawl, target) == 404:
        return []
    visit = not (is_download or DOWNLOAD.search(path))
    if visit and crawl.shapes.get(shape(target), 0) + sum(shape(u) == shape(target) for u in queue) \
            < SAME_SHAPE_VISITS:
        queue[target] = crawl.path(page.url)
        return []
    status = _status(page, crawl, target)
    return [f"links to {crawl.path(target)}, which answers {status}"] if status >= 400 else []


def _status(page: Any, crawl: Crawl, target: str) -> int:
    """A link's answer without visiting it (the session's cookies go along)."""
    if target not in crawl.checked:
        crawl.checked[target] = page.request.get(target, max_redirects=5).status
    return crawl.checked[target]


def test_the_shape_of_a_page() -> None:
    assert shape("http://x/tickets/12?status=open&q=a") == "/tickets/{id}?q&status"
    assert shape("http://x/queues/3/waiting") == "/queues/{id}/waiting"


def test_the_crawler_finds_each_kind_of_problem(browser):
    """The checks themselves, on a small site of known faults: a field without a label (axe-core: critical), a
    broken link, a missing image, a script that throws; and a page of the same shape beyond the visits is only asked
    for, not visited."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route

    page_html = ("<!DOCTYPE html><html lang='en'><head><title>Faults</title><script src='/boom.js' defer></script>"
                 "</head><body><main><h1>Faults</h1><input type='text'><a href='/broken'>broken</a>"
                 "<img src='/missing.png' alt='missing'>{links}</main></body></html>")
    items = "".join(f"<a href='/items/{n}'>item {n}</a>" for n in range(1, 5))

    def home(_request):
        return HTMLResponse(page_html.format(links=items))

    def item(_request):
        return HTMLResponse("<!DOCTYPE html><html lang='en'><head><title>Item</title></head><body><main>"
                            "<h1>Item</h1><a href='/'>home</a></main></body></html>")

    site = Starlette(routes=[
        Route("/", home), Route("/items/{n:int}", item),
        Route("/boom.js", lambda _r: Response("throw new Error('boom')", media_type="text/javascript")),
        Route("/broken", lambda _r: PlainTextResponse("no", status_code=404)),
    ])
    with serving(site) as served:
        context = browser.new_context()
        try:
            crawl = Crawl(served.url)
            _crawl(context.new_page(), crawl, "/")
        finally:
            context.close()
    report = "\n".join(crawl.problems)
    assert "label" in report and "critical" in report, report
    assert any(p.startswith("/broken:") and "answered 404 (linked from /)" in p for p in crawl.problems), report
    assert "404 from GET" in report and "/missing.png" in report
    assert "script error" in report and "boom" in report
    assert sorted(crawl.path(u) for u in crawl.visited) == ["/", "/broken", "/items/1", "/items/2"]
    assert {crawl.path(u) for u in crawl.checked} == {"/items/3", "/items/4"}
