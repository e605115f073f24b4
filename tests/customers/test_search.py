"""Full-text search (customers.search, GET /api/v1/search, the /search page) on both backends: what it finds, how it
ranks, brand scoping, hostile queries, safe highlighting, and a bounded number of statements per page."""

from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa

from tests.conftest import contact
from tests.pages import set_password, sign_in
from tierdesk.customers import search

API = "/api/v1/search"


def _contact(client, world, who="agent", **overrides) -> dict:
    response = client.post("/api/v1/contacts", json=contact(**overrides), headers=world.auth(who))
    assert response.status_code in (200, 201), response.text
    return response.json()


def _ticket_id(body: dict) -> int:
    return body["ticket_id"] if "ticket_id" in body else body["ticket"]["id"]


def _search(client, world, q, who="agent", **params) -> dict:
    response = client.get(API, params={"q": q, **params}, headers=world.auth(who))
    assert response.status_code == 200, response.text
    return response.json()


def _ids(page: dict) -> list[int]:
    return [item["ticket"]["id"] for item in page["items"]]


@pytest.fixture
def tickets(client, world) -> dict[str, int]:
    made = {}
    for key, overrides in {
        "router": dict(subject="My router blinks red", body="Since this morning the router blinks red.",
                       sender={"email": "maria@example.com", "name": "Maria Gonzalez", "phone": "+442079460000"}),
        "refund": dict(subject="Refund for a double charge",
                       body="I was charged twice for the annual plan; please refund the duplicate payment.",
                       sender={"email": "oskar@example.org", "name": "Oskar Lindqvist"}),
        "globex": dict(brand="globex", subject="Refund request for the blender",
                       body="The blender arrived broken, I want a refund.",
                       sender={"email": "wei@example.net", "name": "Wei Chen"}),
    }.items():
        made[key] = _ticket_id(_contact(client, world, "admin", **overrides))
    return made


def test_parse_reads_words_and_never_syntax():
    q = search.parse('refund "AND" NEAR(x* -late) OR col:val \\ \x00 café 👍')
    assert q.terms == ("refund", "and", "near", "x", "late", "or", "col", "val")
    assert search.parse("#123").ticket_id == 123 and search.parse("#123").terms == ()
    assert search.parse("123").ticket_id == 123 and search.parse("123").terms == ("123",)
    assert search.parse(" Ada@Example.COM ").identities == ("ada@example.com",)
    assert search.parse("+44 20 7946 0000").identities == ("+442079460000",)
    assert search.parse("ada@exa").identity_prefix == "ada@exa"
    for junk in ("", "   ", '"', "*", "-", "()", "'", "\\", "\x00", "👍"):
        assert search.parse(junk).problem, junk
    long = search.parse("refund " * 300)
    assert long.truncated and long.terms == ("refund",)


def test_finds_by_subject_body_customer_and_number(client, world, tickets):
    assert _ids(_search(client, world, "blinks", "admin"))[0] == tickets["router"]
    assert tickets["refund"] in _ids(_search(client, world, "duplicate payment", "admin"))  # body only
    assert tickets["refund"] in _ids(_search(client, world, "charged", "admin"))  # stemmed: charged ~ charge
    assert tickets["refund"] in _ids(_search(client, world, "dupl", "admin"))  # the last word is a prefix
    assert _ids(_search(client, world, "Lindqvist", "admin")) == [tickets["refund"]]
    assert _ids(_search(client, world, "OSKAR@example.org", "admin")) == [tickets["refund"]]
    assert _ids(_search(client, world, "oskar@exa", "admin")) == [tickets["refund"]]
    assert _ids(_search(client, world, "+44 20 7946 0000", "admin"))[0] == tickets["router"]
    by_number = _search(client, world, f"#{tickets['router']}", "admin")
    assert _ids(by_number) == [tickets["router"]] and by_number["items"][0]["matched_in"] == ["number"]
    assert _ids(_search(client, world, str(tickets["refund"]), "admin"))[0] == tickets["refund"]
    assert _search(client, world, "nothingmatchesthis", "admin")["items"] == []


def test_ranks_best_first_then_newest(client, world, tickets):
    # "refund" is in both acme's refund ticket (subject and body) and globex's (subject and body); a ticket that
    # only mentions it once in passing comes after them.
    passing = _ticket_id(_contact(client, world, "admin", subject="Login trouble",
                                  body="I cannot log in. (No refund needed, just access.)",
                                  sender={"email": "late@example.com"}))
    ids = _ids(_search(client, world, "refund", "admin"))
    assert set(ids[:2]) == {tickets["refund"], tickets["globex"]}
    assert ids[-1] == passing
    # Equal texts: the newest first.
    a = _ticket_id(_contact(client, world, "admin", subject="Toaster smokes", body="toaster",
                            sender={"email": "t1@example.com"}))
    b = _ticket_id(_contact(client, world, "admin", subject="Toaster smokes", body="toaster",
                            sender={"email": "t2@example.com"}))
    assert _ids(_search(client, world, "toaster smokes", "admin"))[:2] == [b, a]


def test_scoped_to_the_agents_brands(client, world, tickets):
    assert _ids(_search(client, world, "refund", "globex_agent")) == [tickets["globex"]]
    assert tickets["globex"] not in _ids(_search(client, world, "refund", "agent"))
    assert _search(client, world, f"#{tickets['refund']}", "globex_agent")["items"] == []
    assert _search(client, world, "oskar@example.org", "globex_agent")["items"] == []
    assert _search(client, world, "Lindqvist", "globex_agent")["items"] == []
    refused = client.get(API, params={"q": "refund", "brand": "acme"}, headers=world.auth("globex_agent"))
    assert refused.status_code == 422
    assert _ids(_search(client, world, "refund", "admin", brand="globex")) == [tickets["globex"]]


def test_a_new_message_is_found_at_once(client, world, tickets):
    assert _search(client, world, "xylophone", "admin")["items"] == []
    reply = client.post(f"/api/v1/tickets/{tickets['router']}/messages",
                        json={"body": "Try the xylophone reset procedure."}, headers=world.auth("admin"))
    assert reply.status_code in (200, 201), reply.text
    found = _search(client, world, "xylophone", "admin")
    assert _ids(found) == [tickets["router"]]
    assert {"text": "xylophone", "match": True} in found["items"][0]["snippet"]


HOSTILE = ['"', "*", "NEAR(", "-", "OR", "'", "\\", "a" * 1000, "👍", "\x00", 'refund"', "refund*", "-refund",
           "NEAR(refund late)", "refund OR", "subject:refund", "(refund", "refund AND", "'; DROP TABLE tickets; --",
           "%_", "café", "日本語", "+", "@", "#", "#99999999999999999999", "+1 (555)", "a@", "\u0000refund",
           "refund\\", "x" * 5000 + " refund"]


def test_hostile_queries_answer_200(client, web, world, tickets, database):
    set_password(database, world.agents["admin"])
    sign_in(web, "admin@example.com")
    for q in HOSTILE:
        api = client.get(API, params={"q": q}, headers=world.auth("admin"))
        assert api.status_code == 200 or (api.status_code == 422 and len(q) > 2000), (q, api.text)
        if api.status_code == 200:
            body = api.json()
            assert body["items"] or body["message"], q
        page = web.get("/search", params={"q": q})
        assert page.status_code == 200, q
        assert "Traceback" not in page.text


def test_hostile_queries_still_find(client, world, tickets):
    assert tickets["refund"] in _ids(_search(client, world, 'refund"', "admin"))
    assert tickets["refund"] in _ids(_search(client, world, "(refund*)", "admin"))
    assert tickets["refund"] in _ids(_search(client, world, "-refund: \\'", "admin"))


def test_empty_query_gives_a_message(client, world):
    body = _search(client, world, "", "agent")
    assert body["items"] == [] and "Type a word" in body["message"]


def test_pages_with_a_cursor(client, world):
    made = [_ticket_id(_contact(client, world, "admin", subject=f"Printer jam {i}", body="printer jam",
                                sender={"email": f"p{i}@example.com"})) for i in range(5)]
    first = _search(client, world, "printer", "admin", limit=2)
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen = _ids(first)
    cursor = first["next_cursor"]
    while cursor:
        page = _search(client, world, "printer", "admin", limit=2, cursor=cursor)
        seen += _ids(page)
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(made)
    bad = client.get(API, params={"q": "printer", "cursor": "nonsense"}, headers=world.auth("admin"))
    assert bad.status_code == 422


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)> refundable'


def test_xss_in_a_message_renders_inert(client, web, world, database):
    tid = _ticket_id(_contact(client, world, "admin", subject='<b onmouseover="x">Sneaky</b> refundable',
                              body=XSS, sender={"email": "evil@example.com", "name": "<i>Evil</i>"}))
    set_password(database, world.agents["agent"])
    sign_in(web, "agent@example.com")
    page = web.get("/search", params={"q": "refundable"})
    assert page.status_code == 200
    html = page.text
    assert f"/tickets/{tid}" in html
    assert "<script>alert" not in html and "<img src=x" not in html and '<b onmouseover' not in html
    # The passage around the match (PostgreSQL's ts_headline trims it differently from FTS5's snippet) is text.
    assert "onerror=alert(1)&gt;" in html
    assert "&lt;b onmouseover=&#34;x&#34;&gt;Sneaky&lt;/b&gt;" in html or "&lt;b onmouseover=&quot;x&quot;&gt;" in html
    assert "<mark>refundable</mark>" in html
    # By name: the name is text, its matched word marked inside the escaped text.
    by_name = web.get("/search", params={"q": "evil"}).text
    assert "<i>Evil</i>" not in by_name and "&lt;i&gt;<mark>Evil</mark>&lt;/i&gt;" in by_name


def test_page_is_scoped_and_shows_the_ticket(client, web, world, database, tickets):
    set_password(database, world.agents["globex_agent"])
    sign_in(web, "globex_agent@example.com")
    page = web.get("/search", params={"q": "refund"})
    assert page.status_code == 200
    assert f"/tickets/{tickets['globex']}" in page.text
    assert f"/tickets/{tickets['refund']}" not in page.text
    assert "Wei Chen" in page.text and "Globex" in page.text
    assert f"/tickets/{tickets['refund']}" not in web.get("/search", params={"q": f"#{tickets['refund']}"}).text
    # Another brand by name in the URL: ignored, with a word.
    other = web.get("/search", params={"q": "refund", "brand": "acme"})
    assert other.status_code == 200 and f"/tickets/{tickets['refund']}" not in other.text
    assert "not one you work" in other.text


def test_page_needs_sign_in(web):
    response = web.get("/search", params={"q": "refund"}, follow_redirects=False)
    assert response.status_code == 303


def test_htmx_asks_for_the_results_only(client, web, world, database, tickets):
    set_password(database, world.agents["agent"])
    sign_in(web, "agent@example.com")
    part = web.get("/search", params={"q": "blinks"}, headers={"HX-Request": "true", "HX-Target": "search-results"})
    assert part.status_code == 200 and "<h1>" not in part.text and f"/tickets/{tickets['router']}" in part.text


@contextlib.contextmanager
def _counting(database):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", count)


def test_page_statements_do_not_grow_with_results(client, web, world, database):
    set_password(database, world.agents["admin"])
    sign_in(web, "admin@example.com")

    def statements_for_page() -> int:
        with _counting(database) as statements:
            assert web.get("/search", params={"q": "kettle"}).status_code == 200
        return len(statements)

    _contact(client, world, "admin", subject="Kettle leaks", body="the kettle leaks",
             sender={"email": "k0@example.com", "name": "Kettle Owner 0"})
    few = statements_for_page()
    for i in range(1, 12):
        _contact(client, world, "admin", subject="Kettle leaks", body="the kettle leaks again",
                 sender={"email": f"k{i}@example.com", "name": f"Kettle Owner {i}"})
    assert statements_for_page() == few


def test_deleted_rows_leave_the_index(client, world, database, tickets):
    """The index follows deletes (the triggers on SQLite; the column on PostgreSQL)."""
    from tierdesk.tickets.models import Ticket

    with database.transaction() as db:
        db.execute(sa.delete(Ticket).where(Ticket.id == tickets["router"]))
    assert _search(client, world, "blinks", "admin")["items"] == []


def test_upgrade_puts_back_triggers_a_batch_migration_dropped(client, world, database, database_url, tickets):
    """SQLite drops a table's triggers with the table (a batch migration copies, drops and renames it): every
    upgrade puts missing ones back and rebuilds that index, so nothing written meanwhile stays unfindable."""
    if database.dialect != "sqlite":
        return
    from tierdesk import migrate

    with database.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER search_messages_insert")
    reply = client.post(f"/api/v1/tickets/{tickets['router']}/messages",
                        json={"body": "The marimba procedure fixed it."}, headers=world.auth("admin"))
    assert reply.status_code in (200, 201)
    assert _search(client, world, "marimba", "admin")["items"] == []  # the index fell behind
    migrate.upgrade(database_url)
    assert _ids(_search(client, world, "marimba", "admin")) == [tickets["router"]]
    with database.engine.connect() as conn:
        triggers = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert "search_messages_insert" in triggers


def test_markers_in_the_text_cannot_fake_a_match():
    """The marks come from the search alone: marker characters inside a message are dropped, and each piece is
    plain text for the template to escape."""
    from tierdesk.customers import repository

    text = "before \x01<b>fake</b>\x02 the refund arrived"
    marked = repository._marked(text, ("refund",), window=24)
    parts = search.segments(marked)
    assert [t for t, hit in parts if hit] == ["refund"]
    assert "".join(t for t, _ in parts) == "before <b>fake</b> the refund arrived"
    assert search.segments("a\x01b\x01c\x02d\x02") == [("a", False), ("b", True), ("c", True), ("d", False)]
