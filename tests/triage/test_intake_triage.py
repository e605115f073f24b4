"""Triage inside intake: a new contact gets its department, queue, intent and priority from the model unless the
contact names them; an unsure decision waits for a person; agents' corrections are re-triage events."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from tests.conftest import contact
from tierdesk.app import create_app
from tierdesk.config import Settings

API = "/api/v1"


def post(client, world, **overrides) -> dict:
    r = client.post(f"{API}/contacts", json=contact(**overrides), headers=world.auth("agent"))
    assert r.status_code == 201, r.text
    return r.json()["ticket"]


def timeline(client, world, ticket_id: int) -> list[dict]:
    r = client.get(f"{API}/tickets/{ticket_id}/timeline", params={"limit": 200}, headers=world.auth("agent"))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_people_problem_goes_to_customer_service(client, world):
    ticket = post(client, world, subject="Charged twice", body="You charged my card twice for order 4411, "
                  "please refund one of the payments.")
    assert ticket["department"] == "CS" and ticket["queue_id"] == world.queues["acme/cs-billing"]
    assert ticket["intent"] in ("billing_dispute", "refund_request")
    [triaged] = [e for e in timeline(client, world, ticket["id"]) if e["kind"] == "triaged"]
    assert triaged["after"]["department"] == "CS" and triaged["after"]["intent"] == ticket["intent"]
    assert triaged["after"]["signals"]["department"]


def test_what_the_contact_says_wins_over_the_model(client, world):
    ticket = post(client, world, department="CS", priority="low", intent="billing_dispute")
    assert (ticket["department"], ticket["priority"], ticket["intent"]) == ("CS", "low", "billing_dispute")
    [triaged] = [e for e in timeline(client, world, ticket["id"]) if e["kind"] == "triaged"]
    assert triaged["after"]["department"] == "TS"  # the model's view is kept for the record and for learning


def test_an_urgent_message_is_urgent(client, world):
    ticket = post(client, world, subject="URGENT all offline",
                  body="Our whole office has been offline for an hour, nobody can work. Production down!")
    assert ticket["priority"] == "urgent" and ticket["department"] == "TS"


def test_an_unsure_decision_waits_in_the_triage_queue(database, world, tmp_path, database_url):
    settings = Settings(data_dir=tmp_path / "d", database_url=database_url, secret_key="test-secret-key",
                        triage_confidence_threshold=1.0)
    with TestClient(create_app(database, settings)) as client:
        ticket = post(client, world)
        assert ticket["queue_id"] == world.queues["acme/triage"] and ticket["department"] is None
        assert ticket["intent"] is None  # a guess of an unsure department is not set on the ticket
        events = timeline(client, world, ticket["id"])
        [created] = [e for e in events if e["kind"] == "created"]
        [triaged] = [e for e in events if e["kind"] == "triaged"]
        assert created["reason"].startswith("triage unsure")
        assert triaged["after"]["needs_human"] is True and "a person should check" in triaged["reason"]

        r = client.patch(f"{API}/tickets/{ticket['id']}", json={"department": "TS"}, headers=world.auth("agent"))
        assert r.status_code == 422 and r.json()["error"]["field"] == "department"  # a correction says why
        r = client.patch(f"{API}/tickets/{ticket['id']}", json={"department": "TS", "reason": "router fault"},
                         headers=world.auth("agent"))
        assert r.status_code == 200, r.text
        [retriaged] = [e for e in timeline(client, world, ticket["id"]) if e["kind"] == "retriaged"]
        assert retriaged["before"] == {"department": None, "queue_id": world.queues["acme/triage"]}
        assert retriaged["after"] == {"department": "TS", "queue_id": world.queues["acme/ts-helpdesk"]}
        assert retriaged["reason"] == "router fault" and retriaged["actor_agent_id"] == world.agents["agent"]


def test_a_queue_change_within_the_department_is_a_retriage_too(client, world):
    ticket = post(client, world)
    r = client.patch(f"{API}/tickets/{ticket['id']}", json={"queue_id": world.queues["acme/ts-specialists"]},
                     headers=world.auth("agent"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "queue_id"
    r = client.patch(f"{API}/tickets/{ticket['id']}",
                     json={"queue_id": world.queues["acme/ts-specialists"], "reason": "fibre fault, needs tier 2"},
                     headers=world.auth("agent"))
    assert r.status_code == 200, r.text
    [retriaged] = [e for e in timeline(client, world, ticket["id"]) if e["kind"] == "retriaged"]
    assert retriaged["after"]["queue_id"] == world.queues["acme/ts-specialists"]
    assert retriaged["reason"] == "fibre fault, needs tier 2"


def test_a_slow_triage_holds_up_no_other_contact(client, world, monkeypatch):
    """Triage reads a contact before its transaction opens: while one contact's triage is still working, another
    contact is accepted (on SQLite the single writer slot is not held while classifying)."""
    source = client.app.state.triage
    real = source.get()
    reading_slow, release = threading.Event(), threading.Event()
    released_in_time: list[bool] = []
    reads: list[str] = []

    class SlowTriager:
        def read(self, item):
            reads.append(item.text)
            if "SLOW" in item.text:
                reading_slow.set()
                released_in_time.append(release.wait(timeout=30))  # False: the other contact was held up
            return real.read(item)

    monkeypatch.setattr(source, "get", lambda: SlowTriager())
    results: dict[str, object] = {}

    def send_slow() -> None:
        results["slow"] = client.post(f"{API}/contacts", headers=world.auth("agent"), json=contact(
            body="SLOW: my router blinks red", sender={"email": "slow@example.com"}))

    slow = threading.Thread(target=send_slow, daemon=True)
    slow.start()
    assert reading_slow.wait(timeout=30)
    quick = client.post(f"{API}/contacts", headers=world.auth("agent"), json=contact(
        body="You charged me twice, please refund", sender={"email": "quick@example.com"}))
    release.set()
    slow.join(timeout=60)
    assert quick.status_code == 201, quick.text
    assert released_in_time == [True]  # the quick contact was accepted while the slow one was still in triage
    assert results["slow"].status_code == 201, results["slow"].text
    assert results["slow"].json()["ticket"]["department"] == "TS"  # and the slow one was triaged as usual
    # each contact was read once, before its transaction: inside it only the customer's history was added
    assert sorted(reads) == ["SLOW: my router blinks red", "You charged me twice, please refund"]
