"""The workspace's list pages: My work (SLA order, scoping, presence switch, load), /next, the queues with the
router's reasons, and the ticket list with its filters and saved views; CSRF, bad input and XSS on each."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from tests.pages import set_password, sign_in
from tests.workspace.helpers import ticket
from tierdesk.agents.models import Agent, PresenceChange
from tierdesk.kit.vocabulary import PresenceStatus
from tierdesk.workspace import views
from tierdesk.workspace.models import SavedView

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def agent(web, world, database):
    """The acme agent, signed in; returns the page's CSRF token."""
    set_password(database, world.agents["agent"])
    return sign_in(web, "agent@example.com")


def ticket_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-ticket="(\d+)"', html)]


def test_my_work_lists_my_workable_tickets_most_urgent_first(web, world, database, agent):
    me = world.agents["agent"]
    later = ticket(database, assignee=me, due_in=5 * HOUR, subject="Later one")
    breached = ticket(database, assignee=me, due_in=-HOUR, subject="Breached one")
    soon = ticket(database, assignee=me, due_in=dt.timedelta(minutes=10), subject="Soon one")
    no_clock_urgent = ticket(database, assignee=me, priority="urgent", subject="No clock urgent")
    no_clock_low = ticket(database, assignee=me, priority="low", subject="No clock low")
    ticket(database, subject="Nobody's")  # unassigned: not mine
    ticket(database, assignee=world.agents["lead"], subject="The lead's")
    page = web.get("/")
    assert page.status_code == 200
    assert ticket_ids(page.text) == [breached, soon, later, no_clock_urgent, no_clock_low]
    assert "Nobody&#39;s" not in page.text and "The lead" not in page.text
    row = page.text.split(f'<tr data-ticket="{breached}"')[1].split("</tr>")[0]
    assert "sla-breached" in row and "overdue by" in row and f'href="/tickets/{breached}"' in row
    assert "maria@example.com" in row or "Maria" in row
    assert "sla-warn" in page.text.split(f'<tr data-ticket="{soon}"')[1].split("</tr>")[0]
    assert "sla-ok" in page.text.split(f'<tr data-ticket="{later}"')[1].split("</tr>")[0]
    assert 'data-due="' in row and "/static/app/work.js" in page.text and "/static/app/live.js" in page.text
    # The fragment live.js refreshes holds the same list.
    fragment = web.get("/work/list", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and ticket_ids(fragment.text) == ticket_ids(page.text)
    assert "<html" not in fragment.text


def test_my_work_shows_tags_and_my_load_per_kind_of_work(web, world, database, agent):
    me = world.agents["agent"]
    ticket(database, assignee=me, tags=["vip", "refund"])
    ticket(database, assignee=me, channel="chat")
    page = web.get("/")
    assert '<span class="tag">refund</span>' in page.text and '<span class="tag">vip</span>' in page.text
    load = page.text.split('<table class="load">')[1].split("</table>")[0]
    assert re.search(r"<th scope=\"row\">email</th><td>1</td><td>\d+</td>", load)
    assert re.search(r"<th scope=\"row\">chat</th><td>1</td><td>\d+</td>", load)


def test_an_agent_never_sees_another_brands_tickets(web, world, database):
    globex_ticket = ticket(database, brand="globex", queue="cs-general", assignee=world.agents["globex_agent"],
                           subject="Globex secret")
    acme_ticket = ticket(database, assignee=world.agents["agent"], subject="Acme matter")
    set_password(database, world.agents["globex_agent"])
    sign_in(web, "globex_agent@example.com")
    assert ticket_ids(web.get("/").text) == [globex_ticket]
    listed = web.get("/tickets")
    assert "Globex secret" in listed.text and "Acme matter" not in listed.text
    refused = web.get("/tickets?brand=acme")  # another brand by filter: refused, nothing listed
    assert refused.status_code == 422 and "Acme matter" not in refused.text
    assert "no brand &#39;acme&#39; among the brands you work" in refused.text
    assert web.get(f"/queues/{world.queues['acme/cs-billing']}").status_code == 404
    assert "cs-billing" not in web.get("/queues").text
    assert web.get(f"/live?ticket={acme_ticket}").status_code == 404


def test_the_presence_switch_uses_the_presence_service(web, world, database, agent):
    me = world.agents["agent"]
    switched = web.post("/presence", data={"status": "available"},
                        headers={"HX-Request": "true", "X-CSRF-Token": agent})
    assert switched.status_code == 200
    assert 'id="my-presence" hx-swap-oob="true"' in switched.text and "presence-available" in switched.text
    with database.transaction(write=False) as db:
        assert db.get(Agent, me).presence is PresenceStatus.AVAILABLE
        change = db.scalars(sa.select(PresenceChange).where(PresenceChange.agent_id == me)).one()
        assert change.changed_by_agent_id == me
    assert 'class="presence presence-available" id="my-presence"' in web.get("/").text
    # Without JavaScript: a plain form post, then back to My work.
    plain = web.post("/presence", data={"status": "wrap_up", "csrf_token": agent}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/"
    bad = web.post("/presence", data={"status": "asleep"}, headers={"HX-Request": "true", "X-CSRF-Token": agent})
    assert bad.status_code == 422 and "choose available, away or wrap-up" in bad.text
    offline = web.post("/presence", data={"status": "offline", "csrf_token": agent})
    assert offline.status_code == 422 and "choose available, away or wrap-up here" in offline.text
    refused = web.post("/presence", data={"status": "away"})
    assert refused.status_code == 403
    with database.transaction(write=False) as db:
        assert db.get(Agent, me).presence is PresenceStatus.WRAP_UP


def test_next_opens_my_most_urgent_ticket_or_says_there_is_none(web, world, database, agent):
    empty = web.get("/next")
    assert empty.status_code == 200 and "No ticket to work on" in empty.text
    me = world.agents["agent"]
    ticket(database, assignee=me, due_in=2 * HOUR)
    urgent = ticket(database, assignee=me, due_in=dt.timedelta(minutes=3))
    went = web.get("/next", follow_redirects=False)
    assert went.status_code == 303 and went.headers["location"] == f"/tickets/{urgent}"
    assert 'data-key="n"' in web.get("/").text


def test_queues_show_waiting_oldest_and_agents(web, world, database, agent):
    ticket(database, subject="Waiting A")
    ticket(database, subject="Waiting B")
    with database.transaction() as db:
        from tierdesk.agents.presence import set_presence
        from tierdesk.kit.actors import SYSTEM

        set_presence(db, SYSTEM, world.agents["agent"], PresenceStatus.AVAILABLE)
    page = web.get("/queues")
    assert page.status_code == 200
    queue_id = world.queues["acme/cs-billing"]
    row = page.text.split(f'href="/queues/{queue_id}"')[1].split("</tr>")[0]
    assert '<td class="num">2</td>' in row and " ago" in row
    # agent (tier 1, billing 3) and lead (tier 2) fit cs-billing; only the agent is available
    assert "1 / 2" in row
    assert "globex" not in page.text.lower()
    detail = web.get(f"/queues/{queue_id}")
    assert detail.status_code == 200
    assert "Waiting A" in detail.text and "Waiting B" in detail.text
    assert "an agent has room: the next routing pass assigns it" in detail.text
    assert web.get("/queues/999999").status_code == 404


def test_the_ticket_list_filters_with_the_apis_vocabulary(web, world, database, agent):
    me = world.agents["agent"]
    ticket(database, assignee=me, priority="high", tags=["vip"], subject="Mine high vip")
    other = ticket(database, subject="Unassigned normal")
    globex = ticket(database, brand="globex", queue="cs-general", subject="Globex one")
    everything = web.get("/tickets")
    assert everything.status_code == 200
    assert "Mine high vip" in everything.text and "Unassigned normal" in everything.text
    assert "Globex one" not in everything.text and globex
    assert "Mine high vip" in web.get("/tickets?assignee=me").text
    assert "Unassigned normal" not in web.get("/tickets?assignee=me").text
    assert "Mine high vip" not in web.get("/tickets?assignee=unassigned").text
    assert "Unassigned normal" in web.get("/tickets?assignee=unassigned").text
    assert "Unassigned normal" not in web.get("/tickets?priority=high").text
    assert "Unassigned normal" not in web.get("/tickets?tag=VIP").text  # tags are written in any case
    assert "Mine high vip" in web.get("/tickets?tag=vip&status=open&status=new&department=CS&tier=1&channel=email"
                                      "&brand=acme").text
    assert "Mine high vip" not in web.get("/tickets?tier=2").text
    for query, message in (("status=sleeping", "status"), ("priority=asap", "priority"), ("tier=9", "tier"),
                           ("assignee=everyone", "assignee"), ("tag=%3Cb%3E", "tag"), ("channel=fax", "channel")):
        bad = web.get(f"/tickets?{query}")
        assert bad.status_code == 422, query
        assert f"{message} (" in bad.text and 'role="alert"' in bad.text, query
        assert "Mine high vip" not in bad.text
    assert other


def test_the_ticket_list_pages_by_keyset(web, world, database, agent, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    ids = [ticket(database, subject=f"Paged {i}") for i in range(5)]
    seen: list[int] = []
    url = "/tickets?assignee=unassigned"
    for _ in range(4):
        page = web.get(url)
        seen += [int(i) for i in re.findall(r'<a href="/tickets/(\d+)">Paged', page.text)]
        found = re.search(r'href="(/tickets\?[^"]*cursor=[^"]+)" rel="next"', page.text)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
    assert seen == sorted(ids, reverse=True)
    assert web.get("/tickets?cursor=garbage").status_code == 422


def test_saved_views_personal_and_shared(web, world, database, agent):
    ticket(database, assignee=world.agents["agent"], priority="high", subject="High one")
    saved = web.post("/tickets/views", data={"csrf_token": agent, "name": "My high ones", "priority": "high",
                                             "assignee": "me"}, follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"].startswith("/tickets?priority=high&assignee=me&view=")
    listed = web.get(saved.headers["location"])
    assert "High one" in listed.text and 'aria-current="page">My high ones' in listed.text
    # Saving under the same name replaces the view.
    web.post("/tickets/views", data={"csrf_token": agent, "name": "My high ones", "priority": "urgent"})
    with database.transaction(write=False) as db:
        views_saved = db.scalars(sa.select(SavedView)).all()
        assert [(v.name, v.filters, v.brand_id) for v in views_saved] == [("My high ones", {"priority": "urgent"},
                                                                          None)]
        view_id = views_saved[0].id
    # An agent may not share with a brand; bad names and filters re-render with the message.
    shared = web.post("/tickets/views", data={"csrf_token": agent, "name": "Team", "priority": "high",
                                              "share_with": "acme"})
    assert shared.status_code == 403 and "only leads and admins share views" in shared.text
    unnamed = web.post("/tickets/views", data={"csrf_token": agent, "name": "  ", "priority": "high"})
    assert unnamed.status_code == 422 and "give the view a name" in unnamed.text
    nothing = web.post("/tickets/views", data={"csrf_token": agent, "name": "All"})
    assert nothing.status_code == 422 and "choose at least one filter" in nothing.text
    bad = web.post("/tickets/views", data={"csrf_token": agent, "name": "Bad", "status": "sleeping"})
    assert bad.status_code == 422 and "status (" in bad.text
    assert web.post("/tickets/views", data={"name": "No token", "priority": "high"}).status_code == 403
    with database.transaction(write=False) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(SavedView)) == 1
    # Deleting: CSRF required, then gone.
    assert web.post(f"/tickets/views/{view_id}/delete").status_code == 403
    gone = web.post(f"/tickets/views/{view_id}/delete", data={"csrf_token": agent}, follow_redirects=False)
    assert gone.status_code == 303
    assert "My high ones" not in web.get("/tickets").text


def test_a_lead_shares_a_view_with_a_brand(web, world, database):
    set_password(database, world.agents["lead"])
    token = sign_in(web, "lead@example.com")
    shared = web.post("/tickets/views", data={"csrf_token": token, "name": "Urgent CS", "priority": "urgent",
                                              "department": "CS", "share_with": "acme"}, follow_redirects=False)
    assert shared.status_code == 303
    web.post("/sign-out", data={"csrf_token": token})
    for who, sees in (("agent", True), ("globex_agent", False)):
        set_password(database, world.agents[who])
        token = sign_in(web, f"{who}@example.com")
        assert ("Urgent CS" in web.get("/tickets").text) is sees, who
        web.post("/sign-out", data={"csrf_token": token})
    with database.transaction(write=False) as db:
        view_id = db.scalars(sa.select(SavedView.id)).one()
    token = sign_in(web, "globex_agent@example.com")
    assert web.post(f"/tickets/views/{view_id}/delete", data={"csrf_token": token}).status_code == 404


def test_outside_text_renders_inert(web, world, database, agent):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    ticket(database, assignee=world.agents["agent"], subject=f"Subject {payload}",
           sender={"email": "evil@example.com", "name": f"Eve {payload}"})
    for url in ("/", "/tickets", f"/queues/{world.queues['acme/cs-billing']}"):
        page = web.get(url)
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, url
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in web.get("/").text


def test_pages_ask_for_sign_in(web, world):
    for url in ("/queues", "/tickets?status=open", "/next", "/work/list", "/live"):
        away = web.get(url, follow_redirects=False)
        assert away.status_code == 303 and away.headers["location"].startswith("/?next="), url


@contextmanager
def counting(database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", count)


def test_each_page_runs_as_many_statements_however_many_tickets(web, world, database, agent):
    me = world.agents["agent"]
    pages = ("/", "/work/list", "/queues", f"/queues/{world.queues['acme/cs-billing']}", "/tickets",
             "/tickets?assignee=me&tag=vip", "/next")

    def statements() -> dict[str, int]:
        found = {}
        for url in pages:
            with counting(database) as seen:
                assert web.get(url, follow_redirects=False).status_code in (200, 303), url
            found[url] = len(seen)
        return found

    ticket(database, assignee=me, tags=["vip"], due_in=HOUR, sender={"email": "a@example.com", "name": None})
    ticket(database)
    few = statements()
    for i in range(6):
        ticket(database, assignee=me, tags=["vip", f"t{i}"], due_in=i * HOUR,
               sender={"email": f"c{i}@example.com", "name": None if i % 2 else f"C {i}"})
        ticket(database, sender={"email": f"w{i}@example.com"})
    web.post("/tickets/views", data={"csrf_token": agent, "name": "Mine", "assignee": "me"})
    web.post("/tickets/views", data={"csrf_token": agent, "name": "VIP", "tag": "vip"})
    many = statements()
    assert many == few
    assert max(many.values()) <= 24, many
