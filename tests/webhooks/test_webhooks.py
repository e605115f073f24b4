"""Webhooks out: ticket events captured in their transaction, delivered through the outbox to a real HTTP receiver
(tests/webhooks/conftest.py) that verifies every signature, retried, logged, disabled, redelivered."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from tests.conftest import contact
from tests.routing.helpers import add_agent, new_tickets, route
from tests.webhooks.conftest import HANG
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.jobs import outbox
from tierdesk.jobs.models import OutboxMessage
from tierdesk.jobs.worker import Worker
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.time import utcnow
from tierdesk.sla.models import SlaClock
from tierdesk.sla.schemas import PolicyCreate
from tierdesk.sla.service import create_policy
from tierdesk.tickets.tasks import detect_sla_events
from tierdesk.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tierdesk.wiring import default_jobs, keep_settings_webhook, outbox_sender

API = "/api/v1"


# -- helpers ------------------------------------------------------------------------------------------------------
def subscribe(client, world, url: str, events: list[str], who: str = "admin", **fields) -> dict:
    r = client.post(f"{API}/webhooks", json={"brand": "acme", "url": url, "events": events, **fields},
                    headers=world.auth(who))
    assert r.status_code == 201, r.text
    return r.json()


def listen(client, world, receiver, path: str, events: list[str], **fields) -> dict:
    """A subscription of acme to `events` at the receiver's `path`, whose secret the receiver verifies with."""
    created = subscribe(client, world, receiver.url(path), events, **fields)
    receiver.secrets[path] = created["secret"]
    return created


def post_contact(client, world, **fields) -> dict:
    r = client.post(f"{API}/contacts", json=contact(**fields), headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    return r.json()["ticket"]


def deliver(database, settings, **overrides) -> int:
    """One pass of the worker's outbox job, with the app's sender."""
    return outbox.deliver_due(database, outbox_sender(database, settings.model_copy(update=overrides)))


def retry_now(database) -> None:
    """Skip the backoff: every pending outbox row is due."""
    with database.transaction() as db:
        db.execute(sa.update(OutboxMessage).where(OutboxMessage.delivered_at.is_(None),
                                                  OutboxMessage.failed_at.is_(None))
                   .values(next_attempt_at=utcnow()))


def deliveries(database, subscription_id: int | None = None) -> list[WebhookDelivery]:
    with database.transaction(write=False) as db:
        stmt = sa.select(WebhookDelivery).order_by(WebhookDelivery.id)
        if subscription_id is not None:
            stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
        return list(db.scalars(stmt))


def subscription(database, subscription_id: int) -> WebhookSubscription:
    with database.transaction(write=False) as db:
        return db.get_one(WebhookSubscription, subscription_id)


# -- delivery -----------------------------------------------------------------------------------------------------
def test_a_new_ticket_is_delivered_signed(client, world, database, settings, receiver):
    sub = listen(client, world, receiver, "/hook", ["ticket_created"])
    assert sub["secret"].startswith("whsec_") and sub["signed"] and sub["is_active"]
    ticket = post_contact(client, world)
    [delivery] = deliveries(database, sub["id"])
    assert delivery.status == "pending" and delivery.ticket_id == ticket["id"]
    assert Worker(database, default_jobs(settings)).run_once()["outbox"] == 1  # the worker's own outbox job
    [got] = receiver.at("/hook")
    assert got.signed_ok is True
    assert got.headers["X-Tierdesk-Event"] == "ticket_created"
    assert got.headers["X-Tierdesk-Delivery"] == str(delivery.id) == str(got.body["id"])
    assert got.body["event"] == "ticket_created"
    assert got.body["ticket"]["id"] == ticket["id"] and got.body["ticket"]["queue_id"] == ticket["queue_id"]
    assert got.body["change"]["kind"] == "created" and got.body["brand_id"] == world.brands["acme"]
    [done] = deliveries(database, sub["id"])
    assert done.status == "delivered" and done.attempts == 1 and done.last_response_code == 200
    r = client.get(f"{API}/webhooks/{sub['id']}/deliveries", headers=world.auth("admin"))
    [shown] = r.json()["items"]
    assert shown["body"] == got.body  # the API shows the very JSON that was posted
    [attempt] = shown["attempt_log"]
    assert attempt["number"] == 1 and attempt["status"] == "delivered" and attempt["response_code"] == 200
    assert attempt["duration_ms"] >= 0
    assert deliver(database, settings) == 0  # once


def test_a_receiver_that_fails_first_gets_it_on_the_retry(client, world, database, settings, receiver):
    sub = listen(client, world, receiver, "/flaky", ["ticket_created"])
    receiver.scripts["/flaky"] = [500]
    post_contact(client, world)
    assert deliver(database, settings) == 0
    [delivery] = deliveries(database, sub["id"])
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_response_code == 500
    assert "500" in delivery.last_error
    with database.transaction(write=False) as db:
        [row] = db.scalars(sa.select(OutboxMessage)).all()
        assert row.next_attempt_at > utcnow() + dt.timedelta(seconds=3)  # backed off
    assert deliver(database, settings) == 0  # not due yet
    retry_now(database)
    assert deliver(database, settings) == 1
    first, second = receiver.at("/flaky")
    assert first.body == second.body and first.answered == 500 and second.answered == 200
    assert first.signed_ok and second.signed_ok
    [delivery] = deliveries(database, sub["id"])
    assert delivery.status == "delivered" and delivery.attempts == 2
    with database.transaction(write=False) as db:
        log = db.scalars(sa.select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
        assert [(a.number, a.status, a.response_code) for a in log] == [(1, "failed", 500), (2, "delivered", 200)]
    assert subscription(database, sub["id"]).consecutive_failures == 0


def test_a_receiver_that_always_fails_gets_its_subscription_disabled(client, world, database, settings,
                                                                        receiver):
    sub = listen(client, world, receiver, "/down", ["ticket_created"])
    receiver.scripts["/down"] = [503] * (2 * outbox.MAX_ATTEMPTS)
    post_contact(client, world, sender={"email": "a@example.com"})
    post_contact(client, world, sender={"email": "b@example.com"})
    for _ in range(outbox.MAX_ATTEMPTS):
        retry_now(database)
        assert deliver(database, settings, webhook_disable_after_failures=2) == 0
    assert len(receiver.at("/down")) == 2 * outbox.MAX_ATTEMPTS  # every retry was made
    assert {d.status for d in deliveries(database, sub["id"])} == {"failed"}
    shown = client.get(f"{API}/webhooks/{sub['id']}", headers=world.auth("admin")).json()
    assert shown["is_active"] is False and shown["disabled_at"] is not None
    assert "2 deliveries in a row failed" in shown["disabled_reason"] and "503" in shown["disabled_reason"]
    post_contact(client, world, sender={"email": "c@example.com"})
    assert len(deliveries(database, sub["id"])) == 2  # a disabled subscription hears of nothing
    r = client.post(f"{API}/webhooks/deliveries/{deliveries(database)[0].id}/redeliver", headers=world.auth("admin"))
    assert r.status_code == 409 and "enable it first" in r.json()["error"]["message"]
    # enabled again, its count starts over and it hears again
    r = client.patch(f"{API}/webhooks/{sub['id']}", json={"is_active": True}, headers=world.auth("admin"))
    assert r.json()["is_active"] is True and r.json()["disabled_reason"] is None
    assert r.json()["consecutive_failures"] == 0
    post_contact(client, world, sender={"email": "d@example.com"})
    assert deliver(database, settings) == 1


def test_a_redirect_is_not_followed(client, world, database, settings, receiver):
    sub = listen(client, world, receiver, "/moved", ["ticket_created"])
    receiver.scripts["/moved"] = [308]  # Location-less: a follower would fail differently, or post elsewhere
    post_contact(client, world)
    assert deliver(database, settings) == 0
    [delivery] = deliveries(database, sub["id"])
    assert delivery.status == "pending" and delivery.last_response_code == 308 and len(receiver.at("/moved")) == 1


def test_410_disables_the_subscription_at_once(client, world, database, settings, receiver):
    sub = listen(client, world, receiver, "/gone", ["ticket_created"])
    other = listen(client, world, receiver, "/fine", ["ticket_created"])
    receiver.scripts["/gone"] = [410]
    post_contact(client, world)
    assert deliver(database, settings) == 1  # the other subscription's
    [gone] = deliveries(database, sub["id"])
    assert gone.status == "failed" and gone.last_response_code == 410 and gone.attempts == 1
    shown = subscription(database, sub["id"])
    assert not shown.is_active and "410" in shown.disabled_reason
    assert subscription(database, other["id"]).is_active
    retry_now(database)
    assert deliver(database, settings) == 0 and len(receiver.at("/gone")) == 1  # never retried


def test_a_receiver_that_does_not_answer_times_out_and_is_retried(client, world, database, settings, receiver):
    sub = listen(client, world, receiver, "/slow", ["ticket_created"])
    receiver.scripts["/slow"] = [HANG]
    post_contact(client, world)
    assert deliver(database, settings, webhook_timeout_seconds=0.5) == 0
    [delivery] = deliveries(database, sub["id"])
    assert delivery.status == "pending" and delivery.last_response_code is None
    assert "timed out" in delivery.last_error
    receiver.release.set()
    retry_now(database)
    assert deliver(database, settings, webhook_timeout_seconds=0.5) == 1
    assert deliveries(database, sub["id"])[0].status == "delivered"


def test_a_redelivery_sends_the_same_body_again(client, world, database, settings, receiver):
    sub = listen(client, world, receiver, "/hook", ["ticket_created"])
    post_contact(client, world)
    assert deliver(database, settings) == 1
    [delivery] = deliveries(database, sub["id"])
    r = client.post(f"{API}/webhooks/deliveries/{delivery.id}/redeliver", headers=world.auth("lead"))
    assert r.status_code == 202 and r.json()["status"] == "pending"
    assert deliver(database, settings) == 1
    first, again = receiver.at("/hook")
    assert first.body == again.body and again.signed_ok
    r = client.get(f"{API}/webhooks/deliveries/{delivery.id}", headers=world.auth("admin"))
    assert r.json()["status"] == "delivered" and [a["number"] for a in r.json()["attempt_log"]] == [1, 2]
    assert client.post(f"{API}/webhooks/deliveries/{delivery.id}/redeliver",
                       headers=world.auth("globex_agent")).status_code == 403
    assert client.post(f"{API}/webhooks/deliveries/999999/redeliver",
                       headers=world.auth("admin")).status_code == 404


def test_a_ping_reaches_the_receiver(client, world, database, settings, receiver):
    sub = listen(client, world, receiver, "/hook", ["sla_breach"])
    r = client.post(f"{API}/webhooks/{sub['id']}/ping", headers=world.auth("admin"))
    assert r.status_code == 202 and r.json()["event"] == "ping"
    assert deliver(database, settings) == 1
    [got] = receiver.at("/hook")
    assert got.event == "ping" and got.signed_ok


# -- capture ------------------------------------------------------------------------------------------------------
def test_filters_by_queue_and_department(client, world, database):
    billing = subscribe(client, world, "http://127.0.0.1:9/billing", ["ticket_created"], queues=["cs-billing"])
    technical = subscribe(client, world, "http://127.0.0.1:9/ts", ["ticket_created"], departments=["TS"])
    everything = subscribe(client, world, "http://127.0.0.1:9/all", ["ticket_created"])
    globex = subscribe(client, world, "http://127.0.0.1:9/globex", ["ticket_created"], brand="globex")
    cs = post_contact(client, world, queue="cs-billing", sender={"email": "a@example.com"})
    ts = post_contact(client, world, queue="ts-specialists", sender={"email": "b@example.com"})

    def tickets_of(sub: dict) -> set[int]:
        return {d.ticket_id for d in deliveries(database, sub["id"])}

    assert tickets_of(billing) == {cs["id"]}
    assert tickets_of(technical) == {ts["id"]}
    assert tickets_of(everything) == {cs["id"], ts["id"]}
    assert tickets_of(globex) == set()
    with database.transaction(write=False) as db:  # each delivery has its outbox row, and only one
        rows = db.scalars(sa.select(OutboxMessage)).all()
    assert sorted(r.payload["delivery_id"] for r in rows) == [d.id for d in deliveries(database)]
    assert {r.topic for r in rows} == {"webhook.deliver"}


def test_nothing_is_delivered_for_a_change_that_rolled_back(client, world, database):
    sub = subscribe(client, world, "http://127.0.0.1:9/hook", ["ticket_created", "ticket_updated"])
    pipeline = default_pipeline()
    with pytest.raises(RuntimeError), database.transaction() as db:
        pipeline.receive(db, SYSTEM, ContactIn(**contact()))
        db.flush()
        assert len(db.scalars(sa.select(WebhookDelivery)).all()) == 2  # written, in the transaction
        raise RuntimeError("the request failed after the change")
    assert deliveries(database, sub["id"]) == []
    with database.transaction(write=False) as db:
        assert db.scalars(sa.select(OutboxMessage)).all() == []


def test_status_changes_solved_and_assignments_by_the_router(client, world, database):
    sub = subscribe(client, world, "http://127.0.0.1:9/hook", ["status_changed", "solved", "ticket_assigned"],
                    departments=["TS"])
    add_agent(database, "tess@example.com", skills={"connectivity": 3})
    [ticket_id] = new_tickets(database, 1)  # acme/ts-helpdesk
    [assigned] = route(database)  # the router's bulk form: assignee_changed and status_changed in one insert
    assert assigned.ticket_id == ticket_id
    got = [(d.event, d.payload["change"]["kind"]) for d in deliveries(database, sub["id"])]
    assert got == [("ticket_assigned", "assignee_changed"), ("status_changed", "status_changed")]
    first = deliveries(database, sub["id"])[0]
    assert first.ticket_id == ticket_id and first.payload["ticket"]["department"] == "TS"
    r = client.patch(f"{API}/tickets/{ticket_id}", json={"status": "solved"}, headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    got = [d.event for d in deliveries(database, sub["id"])]
    assert got[2:] == ["status_changed", "solved"]
    assert deliveries(database, sub["id"])[-1].payload["change"]["after"] == {"status": "solved"}


def test_a_brand_without_subscriptions_costs_one_query_per_transaction(client, world, database):
    """The capture runs on every ticket event: without subscriptions it looks once per transaction and brand."""
    looks = []

    def count(_conn, _cursor, statement, *_args):
        if "webhook_subscriptions" in statement:
            looks.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", count)
    try:
        [ticket_id] = new_tickets(database, 1)  # created, message_received, triaged... in one transaction
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", count)
    assert len(looks) == 1
    assert deliveries(database) == []


# -- the SLA webhook of the settings ------------------------------------------------------------------------------
def test_the_settings_webhook_is_the_subscription_of_every_brand_to_sla_events(world, database, settings,
                                                                               receiver):
    configured = settings.model_copy(update={"notification_webhook_url": receiver.url("/sla"),
                                             "notification_webhook_secret": "sla-secret-from-the-settings"})
    receiver.secrets["/sla"] = "sla-secret-from-the-settings"
    keep_settings_webhook(database, configured)
    keep_settings_webhook(database, configured)  # every start: still one
    with database.transaction() as db:
        create_policy(db, SYSTEM, PolicyCreate(brand="globex", slug="p", name="p", first_response_minutes=60))
    [ticket_id] = new_tickets(database, 1, queue="ts-general", brand="globex")
    with database.transaction() as db:
        db.execute(sa.update(SlaClock).where(SlaClock.ticket_id == ticket_id)
                   .values(due_at=utcnow() - dt.timedelta(seconds=1)))
    with database.transaction() as db:
        assert detect_sla_events(db) == 1
    assert deliver(database, configured) == 1
    [got] = receiver.at("/sla")
    assert got.signed_ok and got.event == "sla_breach" and got.body["ticket"]["id"] == ticket_id
    assert got.body["change"]["after"]["metric"] == "first_response"
    with database.transaction(write=False) as db:
        [row] = db.scalars(sa.select(WebhookSubscription)).all()
    assert row.from_settings and row.brand_id is None and row.events == ["sla_warning", "sla_breach"]
    # unset: disabled with the reason; set again: back
    keep_settings_webhook(database, settings)
    row = subscription(database, row.id)
    assert not row.is_active and "no longer set" in row.disabled_reason
    keep_settings_webhook(database, configured)
    assert subscription(database, row.id).is_active


def test_the_settings_subscription_is_for_admins_and_follows_the_settings(client, world, database, settings):
    keep_settings_webhook(database, settings.model_copy(update={"notification_webhook_url": "http://127.0.0.1:9/"}))
    [row] = client.get(f"{API}/webhooks", headers=world.auth("admin")).json()
    assert row["from_settings"] and row["brand_id"] is None and row["signed"] is False
    assert client.get(f"{API}/webhooks", headers=world.auth("lead")).json() == []
    r = client.patch(f"{API}/webhooks/{row['id']}", json={"url": "http://elsewhere.example/"},
                     headers=world.auth("admin"))
    assert r.status_code == 409 and "TIERDESK_NOTIFICATION_WEBHOOK_URL" in r.json()["error"]["message"]
    assert client.delete(f"{API}/webhooks/{row['id']}", headers=world.auth("admin")).status_code == 409


# -- API ----------------------------------------------------------------------------------------------------------
def test_the_api_validates_and_scopes(client, world, database):
    def create(who: str = "admin", **body):
        body = {"brand": "acme", "url": "https://hooks.example.com/x", "events": ["ticket_created"], **body}
        return client.post(f"{API}/webhooks", json=body, headers=world.auth(who))

    for url in ("ftp://hooks.example.com/x", "hooks.example.com/x", "https:///nohost", "javascript:alert(1)"):
        r = create(url=url)
        assert r.status_code == 422 and r.json()["error"]["field"] == "url", (url, r.text)
    r = create(events=["ticket_exploded"])
    assert r.status_code == 422 and r.json()["error"]["field"].startswith("events")
    assert create(events=[]).json()["error"]["field"] == "events"
    assert create(events=["ping"]).status_code == 422
    r = create(queues=["nowhere"])
    assert r.status_code == 422 and r.json()["error"]["field"] == "queues"
    r = create(queues=["cs-general"])  # globex's queue, not acme's
    assert r.status_code == 422 and r.json()["error"]["field"] == "queues"
    assert create(departments=["XX"]).status_code == 422
    assert create("agent").status_code == 403
    r = create("lead", brand="globex")  # a lead works acme only
    assert r.status_code == 422 and r.json()["error"]["field"] == "brand"
    mine = create("lead", queues=["cs-billing"], secret="a-secret-of-my-own-choosing")
    assert mine.status_code == 201 and mine.json()["secret"] == "a-secret-of-my-own-choosing"
    assert mine.json()["queue_ids"] == [world.queues["acme/cs-billing"]]
    theirs = create(brand="globex").json()
    assert [s["id"] for s in client.get(f"{API}/webhooks", headers=world.auth("lead")).json()] == [mine.json()["id"]]
    assert "secret" not in client.get(f"{API}/webhooks/{mine.json()['id']}", headers=world.auth("lead")).json()
    assert client.get(f"{API}/webhooks/{theirs['id']}", headers=world.auth("lead")).status_code == 404
    r = client.patch(f"{API}/webhooks/{mine.json()['id']}", json={"url": "gopher://x"}, headers=world.auth("lead"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "url"
    r = client.patch(f"{API}/webhooks/{mine.json()['id']}", json={"events": ["solved", "sla_breach"],
                                                                   "is_active": False}, headers=world.auth("lead"))
    assert r.json()["events"] == ["solved", "sla_breach"] and r.json()["disabled_reason"] == "disabled by hand"
    assert client.delete(f"{API}/webhooks/{mine.json()['id']}", headers=world.auth("lead")).status_code == 204
    assert client.get(f"{API}/webhooks/{mine.json()['id']}", headers=world.auth("lead")).status_code == 404
    r = client.get(f"{API}/webhooks/{theirs['id']}/deliveries?status=lost", headers=world.auth("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "status"
