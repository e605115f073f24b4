"""A ticket stays consistent with its department: intents, dispositions and assignees of the other department are
refused or let go, and nobody learns from an error which agents exist in other brands. (Before issue 8 every one of
these was accepted or answered differently, except that an eligible assignee keeps the ticket.)"""

from __future__ import annotations

from tests.tickets.test_tickets import API, events, new_ticket, patch
from tests.tickets.test_tickets import settings as settings  # noqa: F401 (people triage: the model only suggests)


def ts_ticket(client, world, **overrides) -> dict:
    return new_ticket(client, world, queue="ts-helpdesk", **overrides)


def test_an_intent_of_the_other_department_is_refused_on_patch(client, world):
    ticket = ts_ticket(client, world)
    r = patch(client, world, ticket["id"], intent="refund_request")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == "intent" and "belongs to CS, not TS" in error["message"]
    assert "connectivity" in error["message"]  # the TS intents are listed
    assert patch(client, world, ticket["id"], intent="connectivity").status_code == 200


def test_an_unknown_intent_is_refused(client, world):
    r = patch(client, world, ts_ticket(client, world)["id"], intent="make_coffee")
    assert r.status_code == 422 and r.json()["error"]["field"] == "intent"


def test_an_intent_is_checked_against_the_department_it_moves_to(client, world):
    ticket = ts_ticket(client, world)
    r = patch(client, world, ticket["id"], department="CS", intent="connectivity", reason="billing after all")
    assert r.status_code == 422 and r.json()["error"]["field"] == "intent"
    r = patch(client, world, ticket["id"], department="CS", intent="billing_dispute", reason="billing after all")
    assert r.status_code == 200, r.text
    assert (r.json()["department"], r.json()["intent"]) == ("CS", "billing_dispute")


def test_a_department_change_drops_the_old_departments_intent(client, world, database):
    ticket = ts_ticket(client, world, intent="connectivity")
    r = patch(client, world, ticket["id"], department="CS", reason="it is a billing question")
    assert r.status_code == 200, r.text
    assert (r.json()["department"], r.json()["intent"]) == ("CS", None)
    [dropped] = [e for e in events(database, ticket["id"]) if e["kind"] == "intent_changed"]
    assert (dropped["before"], dropped["after"]) == ({"intent": "connectivity"}, {"intent": None})


def test_intake_refuses_an_intent_of_another_department_than_the_one_given(client, world):
    for given in ({"department": "TS"}, {"queue": "ts-helpdesk"}):
        r = client.post(f"{API}/contacts", json={**_contact(intent="refund_request"), **given},
                        headers=world.auth("agent"))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "intent"
    r = client.post(f"{API}/contacts", json=_contact(intent="bogus"), headers=world.auth("agent"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "intent"


def test_an_intent_given_alone_decides_the_department(client, world):
    r = client.post(f"{API}/contacts", json=_contact(intent="refund_request"), headers=world.auth("agent"))
    assert r.status_code == 201, r.text
    ticket = r.json()["ticket"]
    assert (ticket["department"], ticket["intent"], ticket["queue_id"]) == (
        "CS", "refund_request", world.queues["acme/cs-billing"])


def test_a_disposition_of_the_other_department_cannot_solve_a_ticket(client, world):
    for code, dept in (("refund-issued", "CS"), ("fixed-remotely", "TS"), ("duplicate", None)):
        r = client.post(f"{API}/dispositions", json={"brand": "acme", "code": code, "label": code, "department": dept},
                        headers=world.auth("admin"))
        assert r.status_code == 201, r.text
    ticket = ts_ticket(client, world)
    r = patch(client, world, ticket["id"], status="solved", disposition="refund-issued")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "disposition" and "CS tickets" in r.json()["error"]["message"]
    assert patch(client, world, ticket["id"], status="solved", disposition="fixed-remotely").status_code == 200
    other = ts_ticket(client, world, subject="another")
    assert patch(client, world, other["id"], status="solved", disposition="duplicate").status_code == 200


def test_an_assignee_who_may_not_work_the_new_queue_is_let_go(client, world, database):
    # "agent" is tier 1 with billing 3: eligible for cs-billing (billing>=2), not for ts-specialists (tier 2)
    ticket = new_ticket(client, world, queue="cs-billing")
    assert patch(client, world, ticket["id"], assignee_id=world.agents["agent"]).status_code == 200
    r = patch(client, world, ticket["id"], queue_id=world.queues["acme/ts-specialists"], reason="needs a specialist")
    assert r.status_code == 200, r.text
    assert r.json()["assignee_id"] is None
    [move] = [e for e in events(database, ticket["id"]) if e["kind"] == "queue_changed"]
    assert move["before"]["assignee_id"] == world.agents["agent"] and move["after"]["assignee_id"] is None


def test_an_assignee_who_may_work_the_new_queue_keeps_the_ticket(client, world):
    # "lead" is tier 2 with billing 3 in acme: eligible for cs-billing
    ticket = ts_ticket(client, world)
    assert patch(client, world, ticket["id"], assignee_id=world.agents["lead"]).status_code == 200
    r = patch(client, world, ticket["id"], department="CS", reason="billing question")
    assert r.status_code == 200, r.text
    assert (r.json()["queue_id"], r.json()["assignee_id"]) == (world.queues["acme/cs-billing"], world.agents["lead"])


def test_assigning_another_brands_agent_answers_as_for_an_unknown_one(client, world):
    ticket = ts_ticket(client, world)
    other = patch(client, world, ticket["id"], assignee_id=world.agents["globex_agent"]).json()["error"]
    unknown = patch(client, world, ticket["id"], assignee_id=999_999).json()["error"]
    assert other["field"] == unknown["field"] == "assignee_id"
    assert other["message"].replace(str(world.agents["globex_agent"]), "N") == unknown["message"].replace("999999", "N")


def _contact(**overrides) -> dict:
    from tests.conftest import contact

    return contact(priority="normal", **overrides)
