"""SLA policies and clocks: targets in business hours, pauses, retargeting, warnings and breaches detected exactly
once, the outbox's retries, escalation on breach."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa

from tests.conftest import contact
from tests.routing.helpers import events, new_tickets
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.jobs import outbox
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import SlaMetric, TicketStatus
from tierdesk.routing.tasks import escalate_after_breach
from tierdesk.sla import clocks as sla_clocks
from tierdesk.sla.models import SlaClock
from tierdesk.sla.schemas import CalendarCreate, PolicyCreate
from tierdesk.sla.service import create_calendar, create_policy
from tierdesk.tickets.models import Ticket
from tierdesk.tickets.schemas import MessageCreate, TicketUpdate
from tierdesk.tickets.service import reply, ticket_sla, update_ticket
from tierdesk.tickets.tasks import detect_sla_events
from tierdesk.webhooks.models import WebhookDelivery
from tierdesk.wiring import keep_settings_webhook

API = "/api/v1"


def policy(database, **fields) -> int:
    data = {"brand": "acme", "slug": "p", "name": "p", **fields}
    with database.transaction() as db:
        return create_policy(db, SYSTEM, PolicyCreate(**data)).id


def clocks(database, ticket_id: int) -> dict[str, SlaClock]:
    with database.transaction(write=False) as db:
        rows = db.scalars(sa.select(SlaClock).where(SlaClock.ticket_id == ticket_id).order_by(SlaClock.id))
        return {c.metric.value: c for c in rows}


def make_due(database, ticket_id: int, metric: str, ago: dt.timedelta, column: str = "due_at") -> None:
    with database.transaction() as db:
        db.execute(sa.update(SlaClock).where(SlaClock.ticket_id == ticket_id, SlaClock.metric == metric)
                   .values({column: utcnow() - ago}))


def test_a_new_ticket_gets_the_most_specific_policy_and_its_due_times(world, database):
    policy(database, slug="any", first_response_minutes=600)
    specific = policy(database, slug="ts-urgent", department="TS", priority="urgent", first_response_minutes=30,
                      resolution_minutes=240)
    policy(database, slug="ts", department="TS", first_response_minutes=120)
    before = utcnow()
    [ticket_id] = new_tickets(database, 1, priority="urgent")
    got = clocks(database, ticket_id)
    assert set(got) == {"first_response", "resolution"}
    assert {c.policy_id for c in got.values()} == {specific}
    first = got["first_response"]
    assert before + dt.timedelta(minutes=30) <= first.due_at <= utcnow() + dt.timedelta(minutes=30)
    assert first.warn_at == first.due_at - dt.timedelta(minutes=15)  # 24x7: plain arithmetic
    with database.transaction(write=False) as db:
        assert db.get(Ticket, ticket_id).sla_due_at == first.due_at
    [normal] = new_tickets(database, 1)
    assert clocks(database, normal)["first_response"].target_seconds == 120 * 60


def test_due_times_count_business_hours_of_the_calendar(world, database):
    with database.transaction() as db:
        create_calendar(db, SYSTEM, CalendarCreate(
            brand="acme", slug="berlin", name="Berlin office", timezone="Europe/Berlin",
            weekly_hours={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}, holidays=["2026-12-25"]))
    policy(database, calendar="berlin", first_response_minutes=120)
    [ticket_id] = new_tickets(database, 1)
    # move the clock's start to Thursday 24 Dec 2026, 16:00 Berlin, and reschedule: 1 h that day, the holiday and
    # the weekend skipped, 1 h on Monday 28 Dec: due 10:00 Berlin (09:00 UTC)
    start = dt.datetime(2026, 12, 24, 15, 0, tzinfo=dt.UTC)
    with database.transaction() as db:
        clock = db.scalar(sa.select(SlaClock).where(SlaClock.ticket_id == ticket_id,
                                                    SlaClock.metric == SlaMetric.FIRST_RESPONSE))
        clock.running_since = clock.started_at = start
        sla_clocks._schedule(db, clock, sla_clocks.policy_for(db, db.get(Ticket, ticket_id)), start)
        assert clock.due_at == dt.datetime(2026, 12, 28, 9, 0, tzinfo=dt.UTC)
        assert clock.warn_at == dt.datetime(2026, 12, 28, 8, 45, tzinfo=dt.UTC)


def test_a_public_reply_meets_first_response_and_a_customer_message_starts_next_response(world, database):
    policy(database, first_response_minutes=60, next_response_minutes=30, resolution_minutes=600)
    [ticket_id] = new_tickets(database, 1)
    with database.transaction() as db:
        reply(db, SYSTEM, ticket_id, MessageCreate(body="We are on it."))
    got = clocks(database, ticket_id)
    assert got["first_response"].stopped_at is not None and got["first_response"].breached_at is None
    assert "next_response" not in got
    with database.transaction() as db:
        result = default_pipeline().receive(db, SYSTEM, ContactIn(**contact(
            body="Still broken", thread_ref=f"ticket:{ticket_id}")))
        assert result.threaded and result.ticket.id == ticket_id
    assert clocks(database, ticket_id)["next_response"].stopped_at is None
    with database.transaction() as db:
        reply(db, SYSTEM, ticket_id, MessageCreate(body="Try this."))
    assert clocks(database, ticket_id)["next_response"].stopped_at is not None


def _customer_writes(database, ticket_id: int, body: str = "Still broken") -> None:
    with database.transaction() as db:
        result = default_pipeline().receive(
            db, SYSTEM, ContactIn(**contact(body=body, thread_ref=f"ticket:{ticket_id}")))
        assert result.threaded and result.ticket.id == ticket_id


@pytest.mark.parametrize("newer", [
    {"first_response_minutes": 20},  # more specific, without a next-response target
    {"first_response_minutes": 20, "next_response_minutes": 5},  # more specific, with other targets
])
def test_next_response_runs_under_the_tickets_own_policy_when_a_more_specific_one_appears(world, database, newer):
    standard = policy(database, slug="standard", first_response_minutes=60, next_response_minutes=30,
                      resolution_minutes=600)
    [ticket_id] = new_tickets(database, 1)
    with database.transaction() as db:
        reply(db, SYSTEM, ticket_id, MessageCreate(body="We are on it."))
    policy(database, slug="ts-normal", department="TS", priority="normal", warn_before_minutes=1, **newer)
    _customer_writes(database, ticket_id)
    got = clocks(database, ticket_id)
    assert "next_response" in got, "the next-response clock did not start"
    assert got["next_response"].stopped_at is None
    assert (got["next_response"].policy_id, got["next_response"].target_seconds) == (standard, 30 * 60)
    assert {c.policy_id for c in got.values()} == {standard}
    with database.transaction(write=False) as db:
        assert ticket_sla(db, SYSTEM, ticket_id).policy_id == standard
    # a new ticket takes the new, more specific policy
    [later] = new_tickets(database, 1)
    assert {c.policy_id for c in clocks(database, later).values()} != {standard}


def test_a_retargeted_ticket_starts_next_response_under_its_new_policy(world, database):
    policy(database, slug="normal", priority="normal", first_response_minutes=240, next_response_minutes=240)
    urgent = policy(database, slug="urgent", priority="urgent", first_response_minutes=30, next_response_minutes=20,
                    resolution_minutes=120, warn_before_minutes=5)
    [ticket_id] = new_tickets(database, 1)
    with database.transaction() as db:
        reply(db, SYSTEM, ticket_id, MessageCreate(body="We are on it."))
        update_ticket(db, SYSTEM, ticket_id, TicketUpdate(priority="urgent"))
    _customer_writes(database, ticket_id)
    got = clocks(database, ticket_id)
    assert (got["next_response"].policy_id, got["next_response"].target_seconds) == (urgent, 20 * 60)


@pytest.mark.parametrize("targets", [
    {"first_response_minutes": 15},  # the default warning (15 min) is the whole target
    {"first_response_minutes": 60, "resolution_minutes": 10, "warn_before_minutes": 30},
    {"next_response_minutes": 5, "warn_before_minutes": 5},
])
def test_a_warning_at_or_past_a_target_is_refused(client, world, targets):
    r = client.post(f"{API}/sla/policies", json={"brand": "acme", "slug": "fast", "name": "Fast", **targets},
                    headers=world.auth("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "warn_before_minutes"
    assert "warn_before_minutes" in r.json()["error"]["message"]
    assert client.get(f"{API}/sla/policies", headers=world.auth("admin")).json() == []


def test_an_update_may_not_bring_a_target_below_the_warning(client, world):
    r = client.post(f"{API}/sla/policies", json={"brand": "acme", "slug": "std", "name": "Std",
                                                  "first_response_minutes": 60, "resolution_minutes": 600},
                    headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    url = f"{API}/sla/policies/{r.json()['id']}"
    for change in ({"resolution_minutes": 15}, {"next_response_minutes": 10}, {"warn_before_minutes": 60},
                   {"warn_before_minutes": 120, "first_response_minutes": 120}):
        r = client.patch(url, json=change, headers=world.auth("admin"))
        assert r.status_code == 422, (change, r.text)
        assert r.json()["error"]["field"] == "warn_before_minutes"
    kept = client.get(f"{API}/sla/policies", headers=world.auth("admin")).json()[0]
    assert (kept["first_response_minutes"], kept["resolution_minutes"], kept["warn_before_minutes"]) == (60, 600, 15)
    r = client.patch(url, json={"warn_before_minutes": 59}, headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    r = client.patch(url, json={"first_response_minutes": 10, "warn_before_minutes": 0}, headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["warn_before_minutes"] == 0, r.text


def test_pending_pauses_resolution_and_reopening_resumes_it(world, database):
    policy(database, resolution_minutes=60)
    [ticket_id] = new_tickets(database, 1)
    make_due(database, ticket_id, "resolution", dt.timedelta(minutes=-60), "due_at")  # due in an hour
    with database.transaction() as db:
        db.execute(sa.update(SlaClock).where(SlaClock.ticket_id == ticket_id)
                   .values(running_since=utcnow() - dt.timedelta(minutes=20)))
        update_ticket(db, SYSTEM, ticket_id, TicketUpdate(status="pending"))
    paused = clocks(database, ticket_id)["resolution"]
    assert paused.running_since is None and paused.due_at is None
    assert 19 * 60 < paused.elapsed_seconds < 21 * 60
    with database.transaction() as db:
        update_ticket(db, SYSTEM, ticket_id, TicketUpdate(status="open"))
    resumed = clocks(database, ticket_id)["resolution"]
    left = resumed.due_at - resumed.running_since
    assert dt.timedelta(minutes=39) < left < dt.timedelta(minutes=41)  # only what the pause left over


def test_a_priority_change_retargets_the_live_clocks(world, database):
    policy(database, slug="normal", priority="normal", first_response_minutes=240)
    policy(database, slug="urgent", priority="urgent", first_response_minutes=15, warn_before_minutes=5)
    [ticket_id] = new_tickets(database, 1)
    with database.transaction() as db:
        update_ticket(db, SYSTEM, ticket_id, TicketUpdate(priority="urgent"))
    clock = clocks(database, ticket_id)["first_response"]
    assert clock.target_seconds == 15 * 60
    assert clock.due_at - utcnow() < dt.timedelta(minutes=15)


def test_breaches_and_warnings_are_recorded_once(world, database):
    policy(database, first_response_minutes=60, resolution_minutes=600)
    [late, warned, fine] = new_tickets(database, 3)
    make_due(database, late, "first_response", dt.timedelta(seconds=2))
    make_due(database, warned, "first_response", dt.timedelta(seconds=1), "warn_at")
    with database.transaction() as db:
        assert detect_sla_events(db) == 2
    with database.transaction() as db:
        assert detect_sla_events(db) == 0
    [breach] = events(database, late, "sla_breach")
    assert breach.after["metric"] == "first_response" and breach.after["detected_after_seconds"] >= 2
    assert breach.reason == "first response target missed"
    assert events(database, warned, "sla_warning") and not events(database, warned, "sla_breach")
    assert not events(database, fine, "sla_breach") and not events(database, fine, "sla_warning")
    # a clock that was met is never breached afterwards
    with database.transaction() as db:
        reply(db, SYSTEM, warned, MessageCreate(body="Here is the fix."))
    make_due(database, warned, "first_response", dt.timedelta(seconds=1))
    with database.transaction() as db:
        assert detect_sla_events(db) == 0


def test_a_breach_escalates_when_the_policy_says_so(world, database, settings):
    policy(database, department="TS", first_response_minutes=60, escalate_on_breach=True)
    [ticket_id] = new_tickets(database, 1)
    make_due(database, ticket_id, "first_response", dt.timedelta(seconds=1))
    # TIERDESK_NOTIFICATION_WEBHOOK_URL is a webhook subscription to SLA warnings and breaches (tests/webhooks)
    keep_settings_webhook(database, settings.model_copy(update={"notification_webhook_url": "http://127.0.0.1:9/"}))
    with database.transaction() as db:
        assert detect_sla_events(db, on_breach=escalate_after_breach) == 1
    with database.transaction(write=False) as db:
        assert db.get(Ticket, ticket_id).tier == 2
        [message] = db.scalars(sa.select(OutboxMessage)).all()
        delivery = db.get(WebhookDelivery, message.payload["delivery_id"])
        assert message.topic == "webhook.deliver" and delivery.event == "sla_breach"
        assert delivery.ticket_id == ticket_id and delivery.payload["change"]["after"]["metric"] == "first_response"
    [event] = events(database, ticket_id, "escalated")
    assert event.reason.startswith("SLA breached: first response")


class _Receiver(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.answers.pop(0) if self.answers else 200
        if status == 200:
            self.received.append(json.loads(body))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.answers, _Receiver.received = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Receiver
    server.shutdown()


def test_the_outbox_delivers_with_retries_and_backoff(world, database, receiver):
    url, handler = receiver
    with database.transaction() as db:
        message = outbox.enqueue(db, "sla.breach", {"ticket_id": 1})
        outbox.enqueue(db, "sla.warning", {"ticket_id": 2})
        db.flush()
        first = message.id
    handler.answers = [500]  # the first post fails

    def send(message: OutboxMessage) -> None:  # the outbox's contract, whatever the sender (webhooks: tests/webhooks)
        request = urllib.request.Request(url, data=json.dumps({"topic": message.topic}).encode(), method="POST")
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"answered {exc.code}") from None

    assert outbox.deliver_due(database, send) == 1
    with database.transaction(write=False) as db:
        failed = db.get(OutboxMessage, first)
        assert failed.delivered_at is None and failed.attempts == 1 and "500" in failed.last_error
        assert failed.next_attempt_at > utcnow() + dt.timedelta(seconds=3)  # backed off
    assert outbox.deliver_due(database, send) == 0  # not due yet
    with database.transaction() as db:
        db.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
    assert outbox.deliver_due(database, send) == 1
    assert sorted(r["topic"] for r in handler.received) == ["sla.breach", "sla.warning"]
    assert outbox.deliver_due(database, send) == 0  # each once


def test_the_outbox_gives_up_after_the_last_attempt(world, database):
    with database.transaction() as db:
        message = outbox.enqueue(db, "sla.breach", {})
        db.flush()
        message_id = message.id

    def down(_message):
        raise ConnectionRefusedError("nobody listening")

    for _ in range(outbox.MAX_ATTEMPTS):
        with database.transaction() as db:
            db.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
        outbox.deliver_due(database, down)
    with database.transaction(write=False) as db:
        message = db.get(OutboxMessage, message_id)
        assert message.failed_at is not None and message.attempts == outbox.MAX_ATTEMPTS
        assert "nobody listening" in message.last_error


def test_sla_api(client, world, database):
    def post(path: str, who: str = "admin", **body):
        return client.post(f"{API}/sla/{path}", json={"brand": "acme", "name": "x", **body}, headers=world.auth(who))

    r = post("calendars", slug="ny", timezone="America/New_York",
             weekly_hours={"mon": ["09:00-17:00"], "funday": ["09:00-10:00"]})
    assert r.status_code == 422 and "funday" in r.json()["error"]["message"]
    r = post("calendars", slug="ny", timezone="Mars/Base", weekly_hours={"mon": ["09:00-17:00"]})
    assert r.status_code == 422 and "Mars/Base" in r.json()["error"]["message"]
    r = post("calendars", slug="ny", timezone="America/New_York", weekly_hours={"mon": ["09:00-17:00"]})
    assert r.status_code == 201, r.text
    assert post("policies", slug="x").status_code == 422  # no target at all
    assert post("policies", "agent", slug="x", calendar="ny", first_response_minutes=60).status_code == 403
    r = post("policies", slug="x", calendar="nowhere", first_response_minutes=60)
    assert r.status_code == 422 and r.json()["error"]["field"] == "calendar"
    r = post("policies", slug="x", calendar="ny", first_response_minutes=60)
    assert r.status_code == 201, r.text
    policy_id = r.json()["id"]
    r = client.patch(f"{API}/sla/policies/{policy_id}", json={"resolution_minutes": 0}, headers=world.auth("admin"))
    assert r.status_code == 422
    r = client.patch(f"{API}/sla/policies/{policy_id}", json={"resolution_minutes": 480}, headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["resolution_minutes"] == 480
    [ticket_id] = new_tickets(database, 1)
    r = client.get(f"{API}/tickets/{ticket_id}/sla", headers=world.auth("agent"))
    assert r.status_code == 200
    body = r.json()
    assert {c["metric"]: c["status"] for c in body["clocks"]} == {"first_response": "running",
                                                                   "resolution": "running"}
    assert client.get(f"{API}/tickets/{ticket_id}/sla", headers=world.auth("globex_agent")).status_code == 404
    assert [p["slug"] for p in client.get(f"{API}/sla/policies", headers=world.auth("globex_agent")).json()] == []


def test_a_pause_over_the_weekend_costs_no_business_time(world, database):
    with database.transaction() as db:
        create_calendar(db, SYSTEM, CalendarCreate(
            brand="acme", slug="office", name="office", timezone="UTC",
            weekly_hours={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}))
    policy(database, calendar="office", resolution_minutes=240)
    [ticket_id] = new_tickets(database, 1)
    friday_3pm = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
    with database.transaction() as db:
        ticket = db.get(Ticket, ticket_id)
        clock = db.scalar(sa.select(SlaClock).where(SlaClock.ticket_id == ticket_id))
        clock.started_at = clock.running_since = friday_3pm
        # pending at 16:00 on Friday (one business hour used), open again at 10:00 on Monday
        ticket.status = TicketStatus.PENDING
        sla_clocks.status_changed(db, ticket, friday_3pm + dt.timedelta(hours=1))
        assert clock.elapsed_seconds == 3600 and clock.due_at is None
        ticket.status = TicketStatus.OPEN
        monday_10am = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
        sla_clocks.status_changed(db, ticket, monday_10am)
        assert clock.due_at == dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)  # the 3 hours left, from Monday
        assert ticket.sla_due_at == clock.due_at
