"""Every page runs a bounded number of SQL statements, whatever the data: each page of the table is requested with
small data and again with ten times the tickets, messages and customers, and must run no more statements the second
time, under its stated bound. An N+1 (a query per ticket, per message, per customer) shows up as growth. (A page may
run fewer with more data: the ticket page looks up the queues and customers its latest entries name, only when they
name some.)

Adding a page: one row in PAGES (its URL from what was seeded, who is signed in, and its bound)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi.testclient import TestClient

from tests.pages import set_password, sign_in
from tests.queries import Statements, counting
from tests.ui_data import Seeded, seed_support
from tierdesk.app import create_app


@dataclass(frozen=True)
class PageCase:
    name: str
    url: Callable[[Seeded], str]
    who: str | None  # a World agent ("admin", "agent", ...) signed in, or None: nobody
    bound: int  # statements, BEGIN included (SQLite)


PAGES = [
    PageCase("sign-in page", lambda s: "/sign-in", None, 2),
    PageCase("/ to nobody (sign-in)", lambda s: "/", None, 2),
    # My work: the session, my tickets with their tags, customers and brands, counts by status, presence and my load
    # per kind of work (the router's own workload query): 13 statements, whatever the number of tickets.
    PageCase("my work (agent)", lambda s: "/", "agent", 16),
    PageCase("my work (admin)", lambda s: "/", "admin", 16),
    PageCase("queues", lambda s: "/queues", "agent", 24),
    PageCase("a queue", lambda s: f"/queues/{s.world.queues['acme/ts-helpdesk']}", "agent", 24),
    PageCase("tickets list", lambda s: "/tickets?status=open&status=new", "agent", 12),
    PageCase("tickets list (admin)", lambda s: "/tickets", "admin", 12),
    PageCase("canned responses admin", lambda s: "/admin/canned-responses", "admin", 12),
    PageCase("macros admin", lambda s: "/admin/macros", "admin", 12),
    PageCase("the busy ticket", lambda s: f"/tickets/{s.busy_ticket}", "admin", 40),
    PageCase("a ticket of mine", lambda s: f"/tickets/{s.mine[0]}", "agent", 40),
    PageCase("search", lambda s: "/search?q=router+blinks", "agent", 12),
    PageCase("search by email", lambda s: "/search?q=customer1%40example.com", "agent", 12),
    PageCase("macro panel", lambda s: f"/tickets/{s.mine[0]}/macros", "agent", 16),
    PageCase("queues admin", lambda s: "/admin/queues", "admin", 12),
    PageCase("a queue's admin form", lambda s: f"/admin/queues/{s.world.queues['acme/ts-helpdesk']}", "admin", 12),
    PageCase("SLA admin", lambda s: "/admin/sla", "admin", 12),
    PageCase("webhooks admin", lambda s: "/admin/webhooks", "admin", 12),
    PageCase("channels admin", lambda s: "/admin/channels", "admin", 12),
    PageCase("email channel admin", lambda s: "/admin/channels/acme/email", "admin", 12),
]

SMALL = {"tickets": 3, "messages_on_busy": 3}
SCALE = 10


def _measure(clients: dict[str | None, TestClient], engine, seeded: Seeded) -> dict[str, Statements]:
    counts = {}
    for case in PAGES:
        url = case.url(seeded)
        client = clients[case.who]
        # Once unmeasured: the first request of a session may do one-off work (a cookie set, a cache filled).
        assert client.get(url).status_code == 200, f"{case.name}: {url}"
        with counting(engine) as seen:
            response = client.get(url)
        assert response.status_code == 200, f"{case.name}: {url} answered {response.status_code}"
        counts[case.name] = seen
    return counts


def test_no_page_runs_more_statements_at_ten_times_the_data(database, settings, world,
                                                                                     client):
    clients: dict[str | None, TestClient] = {}
    for who in {case.who for case in PAGES}:
        web = TestClient(create_app(database, settings), base_url="https://testserver")
        clients[who] = web.__enter__()
        if who is not None:
            set_password(database, world.agents[who])
            sign_in(web, f"{who}@example.com")
    try:
        seeded = seed_support(client, Seeded(world), **SMALL)
        small = _measure(clients, database.engine, seeded)
        seed_support(client, seeded, tickets=SMALL["tickets"] * (SCALE - 1),
                     messages_on_busy=SMALL["messages_on_busy"] * (SCALE - 1))
        large = _measure(clients, database.engine, seeded)
    finally:
        for web in clients.values():
            web.__exit__(None, None, None)

    problems = []
    for case in PAGES:
        a, b = small[case.name], large[case.name]
        if b.count > a.count:
            problems.append(f"{case.name}: {a.count} statements with small data, {b.count} with 10x:\n"
                            f"small:\n{a}\n10x:\n{b}")
        elif b.count > case.bound:
            problems.append(f"{case.name}: {b.count} statements, over its bound of {case.bound}:\n{b}")
    assert not problems, "\n\n".join(problems)


def test_the_counter_sees_every_statement(database):
    import sqlalchemy as sa

    with counting(database.engine) as seen, database.transaction(write=False) as db:
        db.execute(sa.text("SELECT 1"))
        db.execute(sa.text("SELECT 2"))
    assert [s for s in seen.sql if s.startswith("SELECT")] == ["SELECT 1", "SELECT 2"]

