"""Presence and capacity through the API; escalation, de-escalation and transfer; the escalation rules."""

from __future__ import annotations

import datetime as dt

from tests.routing.helpers import add_agent, backdate, events, new_tickets, route
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.vocabulary import MessageDirection
from tierdesk.routing import tasks
from tierdesk.tickets.models import Message, Ticket
from tierdesk.tickets.schemas import TicketUpdate
from tierdesk.tickets.service import update_ticket

API = "/api/v1"


def test_agents_set_their_presence_with_history(client, world):
    me = world.agents["agent"]
    r = client.put(f"{API}/agents/{me}/presence", json={"status": "available"}, headers=world.auth("agent"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "available" and body["capacity"] == {"phone": 1, "chat": 3, "email": 10}
    assert body["load"] == {"phone": 0, "chat": 0, "email": 0}
    r = client.put(f"{API}/agents/{me}/presence", json={"status": "away", "reason": "lunch"},
                   headers=world.auth("lead"))
    assert r.status_code == 200 and r.json()["status"] == "away"
    history = client.get(f"{API}/agents/{me}/presence/history", headers=world.auth("agent")).json()
    assert [(h["before"], h["after"], h["reason"]) for h in history] == [
        ("available", "away", "lunch"), ("offline", "available", None)]
    assert history[0]["changed_by_agent_id"] == world.agents["lead"]


def test_presence_refuses_bad_input_and_other_peoples_agents(client, world):
    me, lead = world.agents["agent"], world.agents["lead"]
    r = client.put(f"{API}/agents/{me}/presence", json={"status": "sleeping"}, headers=world.auth("agent"))
    assert r.status_code == 422
    r = client.put(f"{API}/agents/{lead}/presence", json={"status": "away"}, headers=world.auth("agent"))
    assert r.status_code == 403  # an agent sets only their own
    other = world.agents["globex_agent"]
    r = client.put(f"{API}/agents/{other}/presence", json={"status": "away"}, headers=world.auth("lead"))
    assert r.status_code == 404  # not in the lead's brands: not even visible
    assert client.put(f"{API}/agents/{me}/presence", json={"status": "away"}).status_code == 401


def test_capacity_is_set_by_leads_and_admins(client, world):
    me = world.agents["agent"]
    r = client.put(f"{API}/agents/{me}/capacity", json={"chat": 2}, headers=world.auth("agent"))
    assert r.status_code == 403
    r = client.put(f"{API}/agents/{me}/capacity", json={"chat": 2, "phone": 0}, headers=world.auth("lead"))
    assert r.status_code == 200 and r.json()["capacity"] == {"phone": 0, "chat": 2, "email": 10}
    r = client.put(f"{API}/agents/{me}/capacity", json={"email": -1}, headers=world.auth("admin"))
    assert r.status_code == 422 and "email" in r.text


def test_escalation_carries_reason_and_summary_to_the_next_tier(client, world, database):
    agent = add_agent(database, "t1@x.com", skills={"connectivity": 3})
    [ticket_id] = new_tickets(database, 1)
    route(database)
    url = f"{API}/tickets/{ticket_id}/escalate"
    r = client.post(url, json={"reason": "line fault"}, headers=world.auth("agent"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "summary"
    r = client.post(url, json={"reason": " ", "summary": "x"}, headers=world.auth("agent"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    summary = "Rebooted router, checked cables, line test shows sync loss every 10 min."
    r = client.post(url, json={"reason": "line fault", "summary": summary}, headers=world.auth("agent"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["queue_id"] == world.queues["acme/ts-specialists"] and body["tier"] == 2
    assert body["assignee_id"] is None and body["waiting_since"] is not None
    [event] = events(database, ticket_id, "escalated")
    assert event.before == {"queue_id": world.queues["acme/ts-helpdesk"], "tier": 1, "assignee_id": agent}
    assert event.after["summary"] == summary and event.reason == "line fault"
    assert event.actor_agent_id == world.agents["agent"]
    with database.transaction(write=False) as db:
        note = db.get(Message, event.message_id)
        assert note.direction is MessageDirection.NOTE and summary in note.body_text
    # a tier-2 specialist gets it from the router
    specialist = add_agent(database, "t2@x.com", skills={"connectivity": 4}, tier=2)
    assert [a.agent_id for a in route(database)] == [specialist]
    # no tier above 2 in TS for this brand
    r = client.post(url, json={"reason": "vendor", "summary": "all checks done"}, headers=world.auth("agent"))
    assert r.status_code == 422 and "no active TS queue above tier 2" in r.json()["error"]["message"]


def test_de_escalation_and_transfer(client, world, database):
    [ticket_id] = new_tickets(database, 1, queue="ts-specialists")
    r = client.post(f"{API}/tickets/{ticket_id}/de-escalate", json={"reason": "simple reset"},
                    headers=world.auth("agent"))
    assert r.status_code == 200 and r.json()["tier"] == 1
    r = client.post(f"{API}/tickets/{ticket_id}/transfer", json={"reason": "billing question"},
                    headers=world.auth("agent"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "queue"
    r = client.post(f"{API}/tickets/{ticket_id}/transfer", json={"reason": "billing question", "queue": "cs-billing"},
                    headers=world.auth("agent"))
    assert r.status_code == 200 and r.json()["department"] == "CS"
    assert [e.kind for e in events(database, ticket_id) if e.kind in ("de_escalated", "transferred")] == [
        "de_escalated", "transferred"]
    other = new_tickets(database, 1)[0]
    r = client.post(f"{API}/tickets/{other}/transfer", json={"reason": "x", "queue": "ts-general"},
                    headers=world.auth("agent"))
    assert r.status_code == 422  # another brand's queue


def test_a_ts_ticket_reopened_twice_is_escalated_by_rule(world, database):
    [ticket_id] = new_tickets(database, 1)
    for _ in range(2):
        with database.transaction() as db:
            update_ticket(db, SYSTEM, ticket_id, TicketUpdate(status="solved"))
        with database.transaction() as db:
            assert tasks.apply_escalation_rules(db, 2, None) == 0
            update_ticket(db, SYSTEM, ticket_id, TicketUpdate(status="open", reason="still broken"))
    with database.transaction() as db:
        assert tasks.apply_escalation_rules(db, 2, None) == 1
    with database.transaction() as db:
        assert tasks.apply_escalation_rules(db, 2, None) == 0  # the rule acted on these reopens
    with database.transaction(write=False) as db:
        ticket = db.get(Ticket, ticket_id)
        assert ticket.tier == 2 and ticket.reopen_count == 2
    [event] = events(database, ticket_id, "escalated")
    assert event.reason == "reopened 2 times" and event.actor_kind.value == "system"


def test_an_urgent_ticket_waiting_too_long_is_escalated_by_rule(world, database):
    urgent = new_tickets(database, 1, priority="urgent")
    normal = new_tickets(database, 1)
    backdate(database, urgent + normal, dt.timedelta(minutes=31))
    with database.transaction() as db:
        assert tasks.apply_escalation_rules(db, 0, dt.timedelta(minutes=30)) == 1
    with database.transaction(write=False) as db:
        assert db.get(Ticket, urgent[0]).tier == 2 and db.get(Ticket, normal[0]).tier == 1
    [event] = events(database, urgent[0], "escalated")
    assert event.reason.startswith("urgent and unassigned for 3")
