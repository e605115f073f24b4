"""CSAT: the solve mail with its signed rating link, rating without signing in (and signed in on the portal), once
per ticket (changeable while it is solved, final once closed), the score's range checked (422 naming the field),
a tampered link refused, and each answer a survey_answered event on the ticket (webhooks hear of it)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.channels.web.portal_helpers import API, PORTAL, mail_of, notices, open_ticket, sign_in
from tests.conftest import contact
from tests.pages import csrf_of
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.vocabulary import EventKind, NoticeKind, SurveyKind
from tierdesk.surveys.models import SurveyResponse
from tierdesk.tickets.models import Ticket, TicketEvent
from tierdesk.tickets.schemas import TicketUpdate
from tierdesk.tickets.service import update_ticket

MARIA = "maria@example.com"


@pytest.fixture
def portal(web):
    return web  # a browser, over HTTPS


@pytest.fixture
def api(client):
    return client


def solved_ticket(api, world, email: str = MARIA, brand: str = "acme") -> int:
    admin = world.auth("admin")
    ticket = open_ticket(api, admin, email, brand=brand)
    assert api.patch(f"{API}/tickets/{ticket}", headers=admin,
                     json={"assignee_id": world.agents["admin"]}).status_code == 200
    assert api.post(f"{API}/tickets/{ticket}/messages", headers=admin, json={"body": "Fixed."}).status_code == 201
    assert api.patch(f"{API}/tickets/{ticket}", headers=admin, json={"status": "solved"}).status_code == 200
    return ticket


def rating_link(database, ticket: int) -> str:
    rows = [r for r in notices(database, NoticeKind.CSAT_REQUEST) if r.payload["id"] == ticket]
    assert len(rows) == 1 and rows[0].payload["base_url"] is None  # no link in the outbox
    mail = mail_of(database, rows[0], base_url="https://testserver")
    assert mail is not None and mail.to == MARIA and f"#{ticket}" in mail.subject
    found = re.search(r"^(https://testserver/portal/\w+/rate/\S+)$", mail.text, re.M)
    assert found, mail.text
    return found.group(1).removeprefix("https://testserver")


def answers(database) -> list[SurveyResponse]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(SurveyResponse)))


def survey_events(database, ticket: int) -> list[TicketEvent]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket,
                                                            TicketEvent.kind == EventKind.SURVEY_ANSWERED)))


def test_the_solve_mail_links_to_a_rating_without_sign_in(portal, api, world, database):
    ticket = solved_ticket(api, world)
    path = rating_link(database, ticket)
    page = portal.get(path + "?score=4")
    assert page.status_code == 200 and "How did we do" in page.text
    assert re.search(r'value="4" required checked', page.text)  # the score clicked in the mail is chosen
    r = portal.post(path, data={"score": "4", "comment": "Quick <b>and</b> kind", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and "Thank you" in r.text and "4/5" in r.text
    assert "Quick &lt;b&gt;and&lt;/b&gt; kind" not in r.text or "<b>and</b>" not in r.text
    [answer] = answers(database)
    assert (answer.ticket_id, answer.kind, answer.score, answer.comment) == (ticket, SurveyKind.CSAT, 4,
                                                                             "Quick <b>and</b> kind")
    assert answer.agent_id == world.agents["admin"] and answer.brand_id == world.brands["acme"]
    with database.transaction(write=False) as db:
        t = db.get(Ticket, ticket)
        assert t is not None and answer.customer_id == t.customer_id and answer.department == t.department
    [event] = survey_events(database, ticket)
    assert event.after == {"kind": "csat", "score": 4, "comment": "Quick <b>and</b> kind"}
    assert event.actor_kind.value == "customer"


def test_the_score_is_checked_and_the_field_named(portal, api, world, database):
    path = rating_link(database, solved_ticket(api, world))
    token = csrf_of(portal.get(path).text)
    for bad in ("6", "0", "abc", ""):
        r = portal.post(path, data={"score": bad, "csrf_token": token})
        assert r.status_code == 422, bad
        assert "Choose a score from 1 to 5" in r.text and 'aria-invalid="true"' in r.text
    r = portal.post(path, data={"score": "5", "comment": "x" * 2001, "csrf_token": token})
    assert r.status_code == 422 and "at most 2,000" in r.text
    assert answers(database) == []


def test_once_per_ticket_changeable_until_closed(portal, api, world, database):
    ticket = solved_ticket(api, world)
    path = rating_link(database, ticket)
    token = csrf_of(portal.get(path).text)
    assert portal.post(path, data={"score": "2", "csrf_token": token}).status_code == 200
    assert portal.post(path, data={"score": "5", "comment": "Better now", "csrf_token": token}).status_code == 200
    [answer] = answers(database)
    assert answer.score == 5 and answer.comment == "Better now"
    first, second = survey_events(database, ticket)
    assert second.before == {"kind": "csat", "score": 2, "comment": None}
    assert api.patch(f"{API}/tickets/{ticket}", headers=world.auth("admin"),
                     json={"status": "closed"}).status_code == 200
    r = portal.post(path, data={"score": "1", "csrf_token": token})
    assert r.status_code == 409 and "can no longer change" in r.text
    assert answers(database)[0].score == 5
    assert "It is closed now" in portal.get(path).text


def test_a_ticket_closed_before_anyone_rated_it_may_be_rated_once(portal, api, world, database):
    ticket = solved_ticket(api, world)
    path = rating_link(database, ticket)
    api.patch(f"{API}/tickets/{ticket}", headers=world.auth("admin"), json={"status": "closed"})
    token = csrf_of(portal.get(path).text)
    assert portal.post(path, data={"score": "3", "csrf_token": token}).status_code == 200
    assert portal.post(path, data={"score": "4", "csrf_token": token}).status_code == 409


def test_a_tampered_or_foreign_link_is_refused(portal, api, world, database):
    ticket = solved_ticket(api, world)
    path = rating_link(database, ticket)
    number, _, mac = path.rsplit("/", 1)[1].partition(".")
    for bad in (f"{number}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}", f"{int(number) + 1}.{mac}", "abc", number):
        assert portal.get(f"{PORTAL}/rate/{bad}").status_code == 404
    assert portal.get(path.replace("/portal/acme/", "/portal/globex/")).status_code == 404
    token = csrf_of(portal.get(path).text)
    assert portal.post(f"{PORTAL}/rate/{number}.{mac[:-2]}00", data={"score": "5", "csrf_token": token}
                       ).status_code == 404
    assert portal.post(path, data={"score": "5"}).status_code == 403  # no CSRF token
    assert answers(database) == []


def test_no_mail_for_a_ticket_reopened_before_sending(api, world, database):
    ticket = solved_ticket(api, world)
    api.patch(f"{API}/tickets/{ticket}", headers=world.auth("admin"), json={"status": "open"})
    [row] = notices(database, NoticeKind.CSAT_REQUEST)
    assert mail_of(database, row, base_url="https://testserver") is None
    assert mail_of(database, row) is None  # and none without a public URL


def test_rating_on_the_portal_signed_in(portal, api, world, database):
    ticket = solved_ticket(api, world)
    open_one = open_ticket(api, world.auth("admin"), MARIA, subject="Still open", external_id="x-2")
    sign_in(portal, database, MARIA)
    page = portal.get(f"{PORTAL}/requests/{ticket}/rating")
    assert page.status_code == 200
    r = portal.post(f"{PORTAL}/requests/{ticket}/rating", follow_redirects=False,
                    data={"score": "5", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert "You rated this request <strong>5/5</strong>" in portal.get(r.headers["location"]).text
    assert "rated 5/5" in portal.get(f"{PORTAL}/requests").text
    r = portal.post(f"{PORTAL}/requests/{open_one}/rating", data={"score": "5", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 409 and "only a solved request" in r.text.lower()


def test_only_mail_and_web_tickets_solved_by_an_agent_ask_for_a_rating(api, world, database):

    admin = world.auth("admin")
    chat = open_ticket_on(api, admin, "chat")
    assert api.patch(f"{API}/tickets/{chat}", headers=admin, json={"status": "solved"}).status_code == 200
    with database.transaction() as db:  # a solve by the system (a command)
        ticket = default_pipeline().receive(db, SYSTEM, ContactIn(**contact(external_id="sys-1"))).ticket.id
        update_ticket(db, SYSTEM, ticket, TicketUpdate(status="solved"))
    assert notices(database, NoticeKind.CSAT_REQUEST) == []


def open_ticket_on(api, auth, channel: str) -> int:

    r = api.post(f"{API}/contacts", headers=auth, json=contact(channel=channel, external_id=f"{channel}-1"))
    assert r.status_code == 201, r.text
    return int(r.json()["ticket"]["id"])
