"""Tickets through the REST API: the status machine, updates and their events, messages, listing and the timeline."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa

from tests.conftest import contact
from tierdesk.config import Settings
from tierdesk.tickets.models import TicketEvent

API = "/api/v1"

STATUSES = ["new", "open", "pending", "on_hold", "solved", "closed"]

# The status machine, written out independently of tierdesk.tickets.lifecycle: which changes an agent may make.
# Setting a ticket to the status it already has is not a change (a no-op that succeeds):
# see test_same_status_is_a_no_op.
LEGAL = {
    "new": {"open", "pending", "on_hold", "solved"},
    "open": {"pending", "on_hold", "solved"},
    "pending": {"open", "on_hold", "solved"},
    "on_hold": {"open", "pending", "solved"},
    "solved": {"open", "closed"},
    "closed": set(),
}

# Legal steps that bring a new ticket to each status.
PATH_TO = {
    "new": [],
    "open": ["open"],
    "pending": ["pending"],
    "on_hold": ["on_hold"],
    "solved": ["solved"],
    "closed": ["solved", "closed"],
}


# ---- helpers --------------------------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    """Agents work these tickets by hand: every new one waits in the human-triage queue (the model only suggests),
    unless the contact names its department or queue. Triage itself is tested in tests/triage."""
    return Settings(data_dir=tmp_path / "data", database_url=database_url, secret_key="test-secret-key",
                    triage_confidence_threshold=1.0)


def new_ticket(client, world, who: str = "agent", **overrides) -> dict:
    overrides.setdefault("priority", "normal")  # as the contact says, whatever triage would make of the message
    r = client.post(f"{API}/contacts", json=contact(**overrides), headers=world.auth(who))
    assert r.status_code == 201, r.text
    return r.json()["ticket"]


def patch(client, world, ticket_id: int, who: str = "agent", **body):
    return client.patch(f"{API}/tickets/{ticket_id}", json=body, headers=world.auth(who))


def get_ticket(client, world, ticket_id: int, who: str = "agent") -> dict:
    r = client.get(f"{API}/tickets/{ticket_id}", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


def timeline(client, world, ticket_id: int, who: str = "agent") -> list[dict]:
    r = client.get(f"{API}/tickets/{ticket_id}/timeline", params={"limit": 200}, headers=world.auth(who))
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return r.json()["items"]


def events(database, ticket_id: int) -> list[dict]:
    """The ticket's audit trail as stored, oldest first (the timeline endpoint is tested on its own below)."""
    with database.transaction(write=False) as db:
        rows = db.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id))
        return [
            {"id": e.id, "ticket_id": e.ticket_id, "kind": e.kind, "actor_kind": e.actor_kind.value,
             "actor_agent_id": e.actor_agent_id, "before": e.before, "after": e.after, "reason": e.reason,
             "message_id": e.message_id}
            for e in rows
        ]


def kinds(events: list[dict]) -> list[str]:
    return [e["kind"] for e in events]


def drive_to(client, world, ticket_id: int, status: str) -> None:
    for step in PATH_TO[status]:
        r = patch(client, world, ticket_id, status=step)
        assert r.status_code == 200, f"legal step to {step}: {r.text}"
    assert get_ticket(client, world, ticket_id)["status"] == status


def list_ids(client, world, who: str = "admin", **params) -> list[int]:
    params.setdefault("limit", 200)
    r = client.get(f"{API}/tickets", params=params, headers=world.auth(who))
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return [t["id"] for t in r.json()["items"]]


def cursor_of(position) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


# ---- the status machine ---------------------------------------------------------------------------------------


def test_expectation_table_covers_every_pair():
    assert set(LEGAL) == set(STATUSES)
    assert all(targets <= set(STATUSES) and src not in targets for src, targets in LEGAL.items())


@pytest.mark.parametrize("source", STATUSES)
def test_status_machine_from(client, world, source, database):
    """From `source`, every other status is reachable by PATCH exactly when the machine allows it."""
    mismatches = []
    for target in STATUSES:
        if target == source:
            continue
        ticket = new_ticket(client, world)
        drive_to(client, world, ticket["id"], source)
        events_before = events(database, ticket["id"])
        r = patch(client, world, ticket["id"], status=target)
        after = get_ticket(client, world, ticket["id"])
        events_after = events(database, ticket["id"])
        if target in LEGAL[source]:
            if r.status_code != 200 or after["status"] != target:
                mismatches.append(f"{source}->{target}: expected 200, got {r.status_code} {r.text}")
                continue
            new_events = events_after[len(events_before):]
            assert [(e["kind"], e["before"], e["after"]) for e in new_events] == [
                ("status_changed", {"status": source}, {"status": target})
            ]
            assert new_events[0]["actor_kind"] == "agent"
            assert new_events[0]["actor_agent_id"] == world.agents["agent"]
        else:
            body = r.json()
            if r.status_code != 422 or body["error"].get("field") != "status":
                mismatches.append(f"{source}->{target}: expected 422 on status, got {r.status_code} {r.text}")
                continue
            assert after["status"] == source
            assert events_after == events_before
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("status", STATUSES)
def test_same_status_is_a_no_op(client, world, status, database):
    ticket = new_ticket(client, world)
    drive_to(client, world, ticket["id"], status)
    before = events(database, ticket["id"])
    r = patch(client, world, ticket["id"], status=status)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == status
    assert events(database, ticket["id"]) == before


def test_solving_and_closing_stamp_their_times(client, world):
    ticket = new_ticket(client, world)
    assert ticket["solved_at"] is None and ticket["closed_at"] is None
    solved = patch(client, world, ticket["id"], status="solved").json()
    assert solved["status"] == "solved"
    assert solved["solved_at"] is not None
    assert solved["closed_at"] is None
    closed = patch(client, world, ticket["id"], status="closed").json()
    assert closed["status"] == "closed"
    assert closed["closed_at"] is not None
    assert closed["solved_at"] == solved["solved_at"]
    assert closed["closed_at"] >= closed["solved_at"]


def test_reopening_a_solved_ticket_clears_solved_at_and_disposition(client, world, database):
    r = client.post(f"{API}/dispositions", json={"brand": "acme", "code": "fixed-remotely", "label": "Fixed"},
                    headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    ticket = new_ticket(client, world)
    solved = patch(client, world, ticket["id"], status="solved", disposition="fixed-remotely").json()
    assert solved["disposition_id"] == r.json()["id"]
    assert solved["solved_at"] is not None
    reopened = patch(client, world, ticket["id"], status="open", reason="customer says it is broken again")
    assert reopened.status_code == 200, reopened.text
    body = reopened.json()
    assert body["status"] == "open"
    assert body["solved_at"] is None
    assert body["disposition_id"] is None
    assert get_ticket(client, world, ticket["id"])["disposition_id"] is None
    last = events(database, ticket["id"])[-1]
    assert (last["kind"], last["before"], last["after"]) == ("status_changed", {"status": "solved"}, {"status": "open"})
    assert last["reason"] == "customer says it is broken again"


@pytest.mark.parametrize("change", [
    {"priority": "urgent"},
    {"subject": "something else"},
    {"intent": "device_fault"},
    {"assignee_id": "agent"},
    {"queue_id": "acme/ts-specialists"},
    {"department": "CS"},
    {"status": "open"},
    {"disposition": "fixed-remotely"},
])
def test_a_closed_ticket_refuses_any_change(client, world, change, database):
    client.post(f"{API}/dispositions", json={"brand": "acme", "code": "fixed-remotely", "label": "Fixed"},
                headers=world.auth("admin"))
    ticket = new_ticket(client, world)
    drive_to(client, world, ticket["id"], "closed")
    before = get_ticket(client, world, ticket["id"])
    trail = events(database, ticket["id"])
    body = dict(change)
    if body.get("assignee_id"):
        body["assignee_id"] = world.agents[body["assignee_id"]]
    if body.get("queue_id"):
        body["queue_id"] = world.queues[body["queue_id"]]
    r = patch(client, world, ticket["id"], **body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid"
    assert get_ticket(client, world, ticket["id"]) == before
    assert events(database, ticket["id"]) == trail


def test_a_closed_ticket_takes_no_reply(client, world):
    ticket = new_ticket(client, world)
    drive_to(client, world, ticket["id"], "closed")
    r = client.post(f"{API}/tickets/{ticket['id']}/messages", json={"body": "hello?"}, headers=world.auth("agent"))
    assert r.status_code == 422, r.text
    assert get_ticket(client, world, ticket["id"])["message_count"] == 1


# ---- field changes and their events ---------------------------------------------------------------------------


def test_priority_subject_intent_changes_are_events(client, world, database):
    ticket = new_ticket(client, world)
    assert ticket["priority"] == "normal" and ticket["intent"] is None
    before = events(database, ticket["id"])
    r = patch(client, world, ticket["id"], priority="high", subject="Router dead", intent="device_fault",
              reason="customer called")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["priority"], body["subject"], body["intent"]) == ("high", "Router dead", "device_fault")
    new = events(database, ticket["id"])[len(before):]
    assert sorted(kinds(new)) == ["intent_changed", "priority_changed", "subject_changed"]
    by_kind = {e["kind"]: e for e in new}
    assert by_kind["priority_changed"]["before"] == {"priority": "normal"}
    assert by_kind["priority_changed"]["after"] == {"priority": "high"}
    assert by_kind["subject_changed"]["before"] == {"subject": "My router blinks red"}
    assert by_kind["subject_changed"]["after"] == {"subject": "Router dead"}
    assert by_kind["intent_changed"]["before"] == {"intent": None}
    assert by_kind["intent_changed"]["after"] == {"intent": "device_fault"}
    for e in new:
        assert e["actor_kind"] == "agent"
        assert e["actor_agent_id"] == world.agents["agent"]
        assert e["reason"] == "customer called"
        assert e["ticket_id"] == ticket["id"]


def test_a_change_without_reason_records_none_and_an_unchanged_value_records_nothing(client, world, database):
    ticket = new_ticket(client, world)
    before = events(database, ticket["id"])
    assert patch(client, world, ticket["id"], priority="low").status_code == 200
    new = events(database, ticket["id"])[len(before):]
    assert kinds(new) == ["priority_changed"]
    assert new[0]["reason"] is None
    r = patch(client, world, ticket["id"], priority="low", subject=ticket["subject"])
    assert r.status_code == 200
    assert kinds(events(database, ticket["id"])[len(before):]) == ["priority_changed"]


def test_null_for_a_required_field_is_refused(client, world):
    ticket = new_ticket(client, world)
    for field in ("status", "priority", "queue_id", "department", "subject"):
        r = patch(client, world, ticket["id"], **{field: None})
        assert r.status_code == 422, (field, r.text)
        assert r.json()["error"]["field"] == field
    assert get_ticket(client, world, ticket["id"]) == ticket


def test_moving_to_a_tier_2_queue_changes_tier_and_department(client, world, database):
    ticket = new_ticket(client, world)
    assert ticket["queue_id"] == world.queues["acme/triage"]
    assert ticket["tier"] == 1
    target = world.queues["acme/ts-specialists"]
    before = events(database, ticket["id"])
    r = patch(client, world, ticket["id"], queue_id=target, reason="needs a specialist")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["queue_id"], body["tier"], body["department"]) == (target, 2, "TS")
    new = events(database, ticket["id"])[len(before):]
    # One move, one trail (the same as overflow's and escalation's): the move with queue and tier, the department
    # that follows the queue, and the correction triage learns from.
    assert [e["kind"] for e in new] == ["queue_changed", "department_changed", "retriaged"]
    queue_event, department_event, retriage_event = new
    assert retriage_event["before"] == {"department": None, "queue_id": world.queues["acme/triage"]}
    assert retriage_event["after"] == {"department": "TS", "queue_id": target}
    assert queue_event["before"] == {"queue_id": world.queues["acme/triage"], "tier": 1}
    assert queue_event["after"] == {"queue_id": target, "tier": 2}
    assert (department_event["before"], department_event["after"]) == ({"department": None}, {"department": "TS"})
    for e in new:
        assert e["reason"] == "needs a specialist"
        assert (e["actor_kind"], e["actor_agent_id"]) == ("agent", world.agents["agent"])


def test_a_queue_of_another_brand_is_refused(client, world):
    ticket = new_ticket(client, world)
    r = patch(client, world, ticket["id"], queue_id=world.queues["globex/ts-general"])
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "queue_id"
    r = patch(client, world, ticket["id"], queue_id=999_999)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "queue_id"
    assert get_ticket(client, world, ticket["id"])["queue_id"] == world.queues["acme/triage"]


def test_a_department_conflicting_with_the_new_queue_is_refused(client, world, database):
    ticket = new_ticket(client, world)
    trail = events(database, ticket["id"])
    r = patch(client, world, ticket["id"], queue_id=world.queues["acme/ts-specialists"], department="CS")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "department"
    after = get_ticket(client, world, ticket["id"])
    assert (after["queue_id"], after["tier"], after["department"]) == (world.queues["acme/triage"], 1, None)
    assert events(database, ticket["id"]) == trail


def test_changing_the_department_alone_moves_the_ticket_to_that_departments_entry_queue(client, world, database):
    """The ticket sits in a TS queue; re-triaged to CS it must not stay a CS ticket in a TS queue."""
    ticket = new_ticket(client, world, department="TS")
    assert ticket["queue_id"] == world.queues["acme/ts-helpdesk"]
    r = patch(client, world, ticket["id"], department="CS", reason="a billing question after all")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["department"], body["queue_id"], body["tier"]) == ("CS", world.queues["acme/cs-billing"], 1)
    kinds = [e["kind"] for e in events(database, ticket["id"])]
    assert "queue_changed" in kinds and "department_changed" in kinds


def test_setting_the_department_of_an_untriaged_ticket_takes_it_out_of_triage(client, world):
    ticket = new_ticket(client, world)
    assert ticket["queue_id"] == world.queues["acme/triage"] and ticket["department"] is None
    r = patch(client, world, ticket["id"], department="TS", reason="the router is faulty")
    assert r.status_code == 200, r.text
    assert (r.json()["department"], r.json()["queue_id"]) == ("TS", world.queues["acme/ts-helpdesk"])


def test_a_department_without_a_queue_in_the_brand_is_refused(client, world, database):
    from tierdesk.queues.models import Queue

    ticket = new_ticket(client, world, department="TS")
    with database.transaction() as db:
        db.query(Queue).filter(Queue.department == "CS").update({"is_active": False})
    r = patch(client, world, ticket["id"], department="CS")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "department"
    assert get_ticket(client, world, ticket["id"])["department"] == "TS"


def test_a_matching_department_with_the_queue_is_accepted(client, world):
    ticket = new_ticket(client, world)
    r = patch(client, world, ticket["id"], queue_id=world.queues["acme/cs-billing"], department="CS",
              reason="asks about the bill")
    assert r.status_code == 200, r.text
    assert (r.json()["department"], r.json()["queue_id"]) == ("CS", world.queues["acme/cs-billing"])


# ---- assignment -----------------------------------------------------------------------------------------------


def test_assigning_opens_a_new_ticket(client, world, database):
    ticket = new_ticket(client, world)
    assert ticket["status"] == "new" and ticket["assignee_id"] is None
    before = events(database, ticket["id"])
    r = patch(client, world, ticket["id"], assignee_id=world.agents["agent"])
    assert r.status_code == 200, r.text
    assert r.json()["assignee_id"] == world.agents["agent"]
    assert r.json()["status"] == "open"
    new = events(database, ticket["id"])[len(before):]
    assert len(new) == 2
    assert new[0]["kind"].startswith("assignee") and new[0]["kind"].endswith("_changed")
    assert new[1]["kind"] == "status_changed"
    assert new[0]["before"] == {"assignee_id": None}
    assert new[0]["after"] == {"assignee_id": world.agents["agent"]}
    assert (new[1]["before"], new[1]["after"]) == ({"status": "new"}, {"status": "open"})


def test_assigning_a_pending_ticket_keeps_its_status(client, world):
    ticket = new_ticket(client, world)
    drive_to(client, world, ticket["id"], "pending")
    r = patch(client, world, ticket["id"], assignee_id=world.agents["lead"])
    assert r.status_code == 200, r.text
    assert (r.json()["assignee_id"], r.json()["status"]) == (world.agents["lead"], "pending")


def test_an_agent_of_another_brand_cannot_be_assigned(client, world):
    ticket = new_ticket(client, world)
    r = patch(client, world, ticket["id"], assignee_id=world.agents["globex_agent"])
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "assignee_id"
    r = patch(client, world, ticket["id"], assignee_id=999_999)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "assignee_id"
    after = get_ticket(client, world, ticket["id"])
    assert (after["assignee_id"], after["status"]) == (None, "new")


def test_a_deactivated_agent_cannot_be_assigned_but_an_admin_can(client, world):
    ticket = new_ticket(client, world)
    r = client.patch(f"{API}/agents/{world.agents['lead']}", json={"is_active": False}, headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    r = patch(client, world, ticket["id"], assignee_id=world.agents["lead"])
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "assignee_id"
    r = patch(client, world, ticket["id"], assignee_id=world.agents["admin"])
    assert r.status_code == 200, r.text
    assert r.json()["assignee_id"] == world.agents["admin"]


def test_assignee_null_unassigns(client, world, database):
    ticket = new_ticket(client, world)
    assert patch(client, world, ticket["id"], assignee_id=world.agents["agent"]).status_code == 200
    before = events(database, ticket["id"])
    r = patch(client, world, ticket["id"], assignee_id=None)
    assert r.status_code == 200, r.text
    assert r.json()["assignee_id"] is None
    assert r.json()["status"] == "open"
    new = events(database, ticket["id"])[len(before):]
    assert len(new) == 1
    assert new[0]["kind"].startswith("assignee") and new[0]["kind"].endswith("_changed")
    assert (new[0]["before"], new[0]["after"]) == ({"assignee_id": world.agents["agent"]}, {"assignee_id": None})


# ---- dispositions ---------------------------------------------------------------------------------------------


def test_solving_with_a_disposition(client, world, database):
    r = client.post(f"{API}/dispositions", json={"brand": "acme", "code": "refund-issued", "label": "Refund",
                                                 "department": "CS"}, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    code = r.json()
    assert (code["code"], code["brand_id"], code["is_active"]) == ("refund-issued", world.brands["acme"], True)
    listed = client.get(f"{API}/dispositions", params={"brand": "acme"}, headers=world.auth("agent"))
    assert [d["code"] for d in listed.json()] == ["refund-issued"]

    ticket = new_ticket(client, world)
    r = patch(client, world, ticket["id"], status="solved", disposition="refund-issued")
    assert r.status_code == 200, r.text
    assert r.json()["disposition_id"] == code["id"]
    assert r.json()["status"] == "solved"
    [change] = [e for e in events(database, ticket["id"]) if e["kind"].startswith("disposition")]
    assert change["kind"].endswith("_changed")
    assert (change["before"], change["after"]) == ({"disposition_id": None}, {"disposition_id": code["id"]})
    assert change["actor_agent_id"] == world.agents["agent"]


def test_an_unknown_disposition_is_refused(client, world):
    ticket = new_ticket(client, world)
    r = patch(client, world, ticket["id"], status="solved", disposition="no-such-code")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "disposition"
    after = get_ticket(client, world, ticket["id"])
    assert (after["status"], after["disposition_id"]) == ("new", None)


def test_a_disposition_of_another_brand_is_refused(client, world):
    r = client.post(f"{API}/dispositions", json={"brand": "globex", "code": "globex-only", "label": "G"},
                    headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    ticket = new_ticket(client, world)
    r = patch(client, world, ticket["id"], status="solved", disposition="globex-only")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "disposition"


@pytest.mark.parametrize("who", ["agent", "lead"])
def test_only_admins_create_dispositions(client, world, who):
    r = client.post(f"{API}/dispositions", json={"brand": "acme", "code": "sneaky", "label": "Sneaky"},
                    headers=world.auth(who))
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"
    listed = client.get(f"{API}/dispositions", headers=world.auth("admin"))
    assert listed.status_code == 200
    assert listed.json() == []


# ---- no partial writes, bad requests, scoping -----------------------------------------------------------------


def test_a_refused_patch_writes_nothing(client, world, database):
    ticket = new_ticket(client, world)
    trail = events(database, ticket["id"])
    r = patch(client, world, ticket["id"], priority="urgent", subject="changed", status="closed")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "status"
    after = get_ticket(client, world, ticket["id"])
    assert after["priority"] == "normal"
    assert after["subject"] == ticket["subject"]
    assert after["status"] == "new"
    assert events(database, ticket["id"]) == trail


def test_an_unknown_field_is_refused(client, world):
    ticket = new_ticket(client, world)
    r = patch(client, world, ticket["id"], colour="blue", priority="high")
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert err["field"] == "colour"
    assert get_ticket(client, world, ticket["id"])["priority"] == "normal"


def test_an_invalid_value_is_refused_with_its_field(client, world):
    ticket = new_ticket(client, world)
    r = patch(client, world, ticket["id"], priority="whenever")
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "priority"
    r = patch(client, world, ticket["id"], status="archived")
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "status"


def test_an_unknown_ticket_is_404(client, world):
    r = client.get(f"{API}/tickets/999999", headers=world.auth("agent"))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert patch(client, world, 999_999, priority="high").status_code == 404
    r = client.post(f"{API}/tickets/999999/messages", json={"body": "x"}, headers=world.auth("agent"))
    assert r.status_code == 404
    assert client.get(f"{API}/tickets/999999/timeline", headers=world.auth("agent")).status_code == 404


def test_a_ticket_of_another_brand_is_404(client, world):
    ticket = new_ticket(client, world)
    r = client.get(f"{API}/tickets/{ticket['id']}", headers=world.auth("globex_agent"))
    assert r.status_code == 404, r.text
    r = patch(client, world, ticket["id"], who="globex_agent", priority="urgent")
    assert r.status_code == 404, r.text
    assert client.get(f"{API}/tickets/{ticket['id']}/timeline", headers=world.auth("globex_agent")).status_code == 404
    r = client.post(f"{API}/tickets/{ticket['id']}/messages", json={"body": "x"}, headers=world.auth("globex_agent"))
    assert r.status_code == 404
    assert get_ticket(client, world, ticket["id"])["priority"] == "normal"
    # the admin sees every brand
    assert get_ticket(client, world, ticket["id"], who="admin")["id"] == ticket["id"]


def test_requests_without_a_token_are_401(client, world):
    ticket = new_ticket(client, world)
    r = client.get(f"{API}/tickets/{ticket['id']}")
    assert r.status_code == 401
    r = client.patch(f"{API}/tickets/{ticket['id']}", json={"priority": "urgent"})
    assert r.status_code == 401
    assert get_ticket(client, world, ticket["id"])["priority"] == "normal"


# ---- messages -------------------------------------------------------------------------------------------------


def test_an_outbound_reply_is_a_first_response_and_opens_the_ticket(client, world, database):
    ticket = new_ticket(client, world)
    assert ticket["first_response_at"] is None and ticket["status"] == "new"
    before = events(database, ticket["id"])
    r = client.post(f"{API}/tickets/{ticket['id']}/messages", json={"body": "We are on it."},
                    headers=world.auth("agent"))
    assert r.status_code == 201, r.text
    message = r.json()
    assert message["direction"] == "outbound"
    assert message["author_agent_id"] == world.agents["agent"]
    assert message["body_text"] == "We are on it."
    assert message["ticket_id"] == ticket["id"]
    after = get_ticket(client, world, ticket["id"])
    assert after["status"] == "open"
    assert after["first_response_at"] is not None
    assert after["message_count"] == 2
    new = events(database, ticket["id"])[len(before):]
    assert kinds(new) == ["reply_sent", "status_changed"]
    assert new[0]["message_id"] == message["id"]
    assert new[0]["actor_agent_id"] == world.agents["agent"]
    first = after["first_response_at"]
    # a second reply does not move the first response time
    client.post(f"{API}/tickets/{ticket['id']}/messages", json={"body": "Still on it."}, headers=world.auth("agent"))
    assert get_ticket(client, world, ticket["id"])["first_response_at"] == first


def test_a_note_changes_no_status(client, world, database):
    ticket = new_ticket(client, world)
    before = events(database, ticket["id"])
    r = client.post(f"{API}/tickets/{ticket['id']}/messages", json={"direction": "note", "body": "Line test failed"},
                    headers=world.auth("agent"))
    assert r.status_code == 201, r.text
    assert r.json()["direction"] == "note"
    after = get_ticket(client, world, ticket["id"])
    assert after["status"] == "new"
    assert after["first_response_at"] is None
    new = events(database, ticket["id"])[len(before):]
    assert kinds(new) == ["note_added"]
    assert new[0]["message_id"] == r.json()["id"]


@pytest.mark.parametrize("body", [{"body": ""}, {"body": "   \n "}, {}, {"body_html": "<script>alert(1)</script>"}])
def test_an_empty_message_is_refused(client, world, body):
    ticket = new_ticket(client, world)
    r = client.post(f"{API}/tickets/{ticket['id']}/messages", json=body, headers=world.auth("agent"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "body"
    assert get_ticket(client, world, ticket["id"])["message_count"] == 1


def test_a_message_with_a_bad_direction_is_refused(client, world):
    ticket = new_ticket(client, world)
    r = client.post(f"{API}/tickets/{ticket['id']}/messages", json={"direction": "inbound", "body": "pretend"},
                    headers=world.auth("agent"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "direction"


def test_message_html_is_sanitised(client, world):
    ticket = new_ticket(client, world)
    html = '<p onclick="steal()">Try <b>this</b></p><script>alert("x")</script><a href="javascript:evil()">link</a>'
    r = client.post(f"{API}/tickets/{ticket['id']}/messages", json={"body_html": html}, headers=world.auth("agent"))
    assert r.status_code == 201, r.text
    stored = r.json()["body_html"]
    assert "<script" not in stored.lower()
    assert "alert" not in stored
    assert "onclick" not in stored
    assert "javascript:" not in stored
    assert "<b>this</b>" in stored
    assert "Try" in r.json()["body_text"] and "<" not in r.json()["body_text"]
    listed = client.get(f"{API}/tickets/{ticket['id']}/messages", headers=world.auth("agent")).json()["items"]
    assert "<script" not in listed[-1]["body_html"].lower()


def test_a_plain_text_message_is_escaped_in_html(client, world):
    ticket = new_ticket(client, world)
    r = client.post(f"{API}/tickets/{ticket['id']}/messages", json={"body": "1 < 2 <script>x</script>"},
                    headers=world.auth("agent"))
    assert r.status_code == 201
    assert "<script" not in r.json()["body_html"]
    assert "&lt;script&gt;" in r.json()["body_html"]


# ---- listing --------------------------------------------------------------------------------------------------


@pytest.fixture
def board(client, world):
    """A varied set of tickets in both brands; returns their current state as the admin sees it, by id."""
    specs = [
        dict(who="agent", channel="email", department="TS", priority="high"),
        dict(who="agent", channel="chat", department="CS", priority="low",
             sender={"email": "tom@example.com", "name": "Tom"}),
        dict(who="agent", channel="phone", queue="ts-specialists", sender={"phone": "+442079460958"}),
        dict(who="agent", channel="web"),
        dict(who="agent", channel="email", priority="urgent", sender={"email": "tom@example.com"}),
        dict(who="globex_agent", brand="globex", channel="email", department="CS"),
        dict(who="globex_agent", brand="globex", channel="api", department="TS", priority="urgent",
             sender={"email": "tom@example.com"}),
    ]
    ids = []
    for spec in specs:
        who = spec.pop("who")
        ids.append(new_ticket(client, world, who=who, **spec)["id"])
    # work some of them
    assert patch(client, world, ids[1], assignee_id=world.agents["agent"]).status_code == 200  # open, assigned
    assert patch(client, world, ids[2], status="pending", assignee_id=world.agents["lead"]).status_code == 200
    assert patch(client, world, ids[3], status="solved").status_code == 200
    assert patch(client, world, ids[4], status="on_hold").status_code == 200
    assert patch(client, world, ids[6], who="globex_agent", status="solved").status_code == 200
    return {i: get_ticket(client, world, i, who="admin") for i in ids}


def _expect(board: dict, predicate) -> list[int]:
    return sorted((i for i, t in board.items() if predicate(t)), reverse=True)  # newest first


def test_list_filters_return_exactly_the_matching_tickets(client, world, board):
    acme, globex = world.brands["acme"], world.brands["globex"]
    some = next(iter(board.values()))
    tom = board[max(board)]["customer_id"]  # the globex "tom" is a different customer from acme's "tom"
    acme_tom = board[sorted(board)[1]]["customer_id"]
    cases = [
        ({"status": "new"}, lambda t: t["status"] == "new"),
        ({"status": ["pending", "solved"]}, lambda t: t["status"] in ("pending", "solved")),
        ({"status": ["open", "on_hold", "new"]}, lambda t: t["status"] in ("open", "on_hold", "new")),
        ({"priority": "urgent"}, lambda t: t["priority"] == "urgent"),
        ({"priority": "normal"}, lambda t: t["priority"] == "normal"),
        ({"department": "TS"}, lambda t: t["department"] == "TS"),
        ({"department": "CS"}, lambda t: t["department"] == "CS"),
        ({"queue_id": world.queues["acme/ts-specialists"]},
         lambda t: t["queue_id"] == world.queues["acme/ts-specialists"]),
        ({"queue_id": world.queues["acme/triage"]}, lambda t: t["queue_id"] == world.queues["acme/triage"]),
        ({"assignee_id": world.agents["agent"]}, lambda t: t["assignee_id"] == world.agents["agent"]),
        ({"assignee_id": world.agents["lead"]}, lambda t: t["assignee_id"] == world.agents["lead"]),
        ({"unassigned": "true"}, lambda t: t["assignee_id"] is None),
        ({"unassigned": "false"}, lambda t: t["assignee_id"] is not None),
        ({"customer_id": acme_tom}, lambda t: t["customer_id"] == acme_tom),
        ({"customer_id": tom}, lambda t: t["customer_id"] == tom),
        ({"customer_id": some["customer_id"]}, lambda t: t["customer_id"] == some["customer_id"]),
        ({"channel": "email"}, lambda t: t["channel"] == "email"),
        ({"channel": "phone"}, lambda t: t["channel"] == "phone"),
        ({"brand": "acme"}, lambda t: t["brand_id"] == acme),
        ({"brand": "globex"}, lambda t: t["brand_id"] == globex),
        ({"brand": "acme", "status": "solved"}, lambda t: t["brand_id"] == acme and t["status"] == "solved"),
        ({"channel": "email", "priority": "urgent", "unassigned": "true"},
         lambda t: t["channel"] == "email" and t["priority"] == "urgent" and t["assignee_id"] is None),
    ]
    for params, predicate in cases:
        expected = _expect(board, predicate)
        assert expected, f"the board should hold some tickets for {params}"
        assert list_ids(client, world, **params) == expected, params
    assert list_ids(client, world, channel="chat", department="TS") == []


def test_list_order_newest_and_oldest(client, world, board):
    ids = sorted(board)
    assert list_ids(client, world) == ids[::-1]
    assert list_ids(client, world, order="newest") == ids[::-1]
    assert list_ids(client, world, order="oldest") == ids
    r = client.get(f"{API}/tickets", params={"order": "random"}, headers=world.auth("admin"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "order"


def test_list_is_brand_scoped(client, world, board):
    acme = sorted((i for i, t in board.items() if t["brand_id"] == world.brands["acme"]), reverse=True)
    globex = sorted((i for i, t in board.items() if t["brand_id"] == world.brands["globex"]), reverse=True)
    assert acme and globex
    assert list_ids(client, world, who="globex_agent") == globex
    assert list_ids(client, world, who="agent") == acme
    assert list_ids(client, world, who="admin") == sorted(board, reverse=True)
    # asking for a brand one does not work shows nothing of it
    r = client.get(f"{API}/tickets", params={"brand": "acme"}, headers=world.auth("globex_agent"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "brand"  # answered as if it did not exist
    assert "items" not in r.json()
    # filters cannot reach around the scope
    acme_queue = world.queues["acme/ts-specialists"]
    assert list_ids(client, world, who="globex_agent", queue_id=acme_queue) == []


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_cursor_pagination_visits_each_ticket_once_in_order(client, world, order):
    created = [new_ticket(client, world, subject=f"ticket {n}")["id"] for n in range(10)]
    expected = sorted(created, reverse=order == "newest")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, "order": order}
        if cursor:
            params["cursor"] = cursor
        r = client.get(f"{API}/tickets", params=params, headers=world.auth("agent"))
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 3
        seen += [t["id"] for t in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10, "pagination does not end"
    assert seen == expected
    assert pages == 4


def test_a_new_ticket_does_not_disturb_a_walk_in_progress(client, world):
    created = [new_ticket(client, world)["id"] for _ in range(5)]
    r = client.get(f"{API}/tickets", params={"limit": 2, "order": "newest"}, headers=world.auth("agent")).json()
    first = [t["id"] for t in r["items"]]
    late = new_ticket(client, world)["id"]
    rest, cursor = [], r["next_cursor"]
    while cursor:
        page = client.get(f"{API}/tickets", params={"limit": 2, "order": "newest", "cursor": cursor},
                          headers=world.auth("agent")).json()
        rest += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
    assert first + rest == sorted(created, reverse=True)
    assert late not in rest


@pytest.mark.parametrize("cursor", [
    "garbage!!!",
    "not-a-cursor",
    "%%%",
    cursor_of({"x": 1}),
    cursor_of([1, 2]),
    cursor_of({"id": 1, "extra": 2}),
])
def test_a_garbage_cursor_is_422(client, world, cursor):
    new_ticket(client, world)
    r = client.get(f"{API}/tickets", params={"cursor": cursor}, headers=world.auth("agent"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "cursor"


def test_a_tampered_cursor_with_a_non_integer_id_is_422(client, world):
    """A cursor the API never returned ({"id": "abc"}) is bad input: 422 on the cursor, not a 500 or a silent 200."""
    new_ticket(client, world)
    r = client.get(f"{API}/tickets", params={"cursor": cursor_of({"id": "abc"})}, headers=world.auth("agent"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "cursor"


@pytest.mark.parametrize("limit", [0, -1, 201, 1000, "ten"])
def test_a_limit_out_of_range_is_422(client, world, limit):
    r = client.get(f"{API}/tickets", params={"limit": limit}, headers=world.auth("agent"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "limit"


@pytest.mark.parametrize("params,field", [
    ({"status": "archived"}, "status"),
    ({"priority": "meh"}, "priority"),
    ({"department": "HR"}, "department"),
    ({"channel": "fax"}, "channel"),
    ({"brand": "nope"}, "brand"),
])
def test_a_bad_filter_is_422_with_its_field(client, world, params, field):
    r = client.get(f"{API}/tickets", params=params, headers=world.auth("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"].split(".")[0] == field


# ---- timeline -------------------------------------------------------------------------------------------------


def test_timeline_shows_every_change_with_its_message(client, world, database):
    ticket = new_ticket(client, world)
    patch(client, world, ticket["id"], priority="high", reason="angry customer")
    note = client.post(f"{API}/tickets/{ticket['id']}/messages", json={"direction": "note", "body": "checked line"},
                       headers=world.auth("agent")).json()
    reply = client.post(f"{API}/tickets/{ticket['id']}/messages", json={"body": "fixed it"},
                        headers=world.auth("agent")).json()
    items = timeline(client, world, ticket["id"])
    stored = events(database, ticket["id"])
    assert [(e["id"], e["kind"], e["actor_kind"], e["actor_agent_id"], e["before"], e["after"], e["reason"])
            for e in items] == [
        (e["id"], e["kind"], e["actor_kind"], e["actor_agent_id"], e["before"], e["after"], e["reason"])
        for e in stored]
    assert kinds(items) == ["created", "message_received", "triaged", "priority_changed", "note_added",
                            "reply_sent", "status_changed"]
    by_kind = {e["kind"]: e for e in items}
    assert by_kind["message_received"]["actor_kind"] == "customer"
    assert by_kind["message_received"]["message"]["direction"] == "inbound"
    assert by_kind["message_received"]["message"]["body_text"] == contact()["body"]
    assert by_kind["note_added"]["message"]["id"] == note["id"]
    assert by_kind["note_added"]["message"]["direction"] == "note"
    assert by_kind["reply_sent"]["message"]["id"] == reply["id"]
    assert by_kind["reply_sent"]["message"]["body_text"] == "fixed it"
    assert by_kind["priority_changed"]["message"] is None
    assert by_kind["priority_changed"]["reason"] == "angry customer"


def test_timeline_pagination(client, world):
    ticket = new_ticket(client, world)
    for p in ("high", "low", "urgent", "normal", "high"):
        assert patch(client, world, ticket["id"], priority=p).status_code == 200
    client.post(f"{API}/tickets/{ticket['id']}/messages", json={"body": "reply"}, headers=world.auth("agent"))
    full = timeline(client, world, ticket["id"])
    assert kinds(full)[:3] == ["created", "message_received", "triaged"]
    assert kinds(full)[-2:] == ["reply_sent", "status_changed"]
    assert len(full) == 10
    ids = [e["id"] for e in full]
    assert ids == sorted(ids)

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = client.get(f"{API}/tickets/{ticket['id']}/timeline", params=params, headers=world.auth("agent"))
        assert r.status_code == 200, r.text
        page = r.json()
        assert 1 <= len(page["items"]) <= 2
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 20
    assert seen == full
    assert pages == 5

    r = client.get(f"{API}/tickets/{ticket['id']}/timeline", params={"cursor": "garbage!!!"},
                   headers=world.auth("agent"))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "cursor"
    r = client.get(f"{API}/tickets/{ticket['id']}/timeline", params={"limit": 0}, headers=world.auth("agent"))
    assert r.status_code == 422


def test_timeline_only_shows_its_own_ticket(client, world):
    a = new_ticket(client, world)
    b = new_ticket(client, world)
    patch(client, world, b["id"], priority="urgent")
    assert {e["ticket_id"] for e in timeline(client, world, a["id"])} == {a["id"]}
    assert "priority_changed" not in kinds(timeline(client, world, a["id"]))
