"""The ACD: skills, tiers, capacity, the three agent-selection policies, serving order, waiting reasons, overflow."""

from __future__ import annotations

import datetime as dt

from tests.routing.helpers import (
    DEFAULTS,
    add_agent,
    assignees,
    backdate,
    events,
    new_tickets,
    route,
    set_idle_since,
)
from tierdesk.agents.presence import set_presence
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.vocabulary import PresenceStatus, RoutingPolicy, TicketStatus
from tierdesk.routing import router, tasks
from tierdesk.routing.schemas import QueueUpdate
from tierdesk.routing.service import update_queue, waiting_tickets
from tierdesk.tickets.models import Ticket
from tierdesk.tickets.schemas import TicketUpdate
from tierdesk.tickets.service import update_ticket

API = "/api/v1"


def test_only_agents_with_the_skills_brand_and_tier_get_the_work(world, database):
    skilled = add_agent(database, "skilled@x.com", skills={"connectivity": 3})
    add_agent(database, "weak@x.com", skills={"connectivity": 1})  # below the queue's minimum level 2
    add_agent(database, "other-brand@x.com", skills={"connectivity": 5}, brands=("globex",))
    add_agent(database, "away@x.com", skills={"connectivity": 5}, status="away")
    ids = new_tickets(database, 3)
    made = route(database)
    assert {a.agent_id for a in made} == {skilled}
    assert set(assignees(database, ids).values()) == {skilled}
    # the tier-2 queue needs connectivity 4 and a tier-2 agent: the tier-1 expert does not qualify
    add_agent(database, "t1-expert@x.com", skills={"connectivity": 5}, tier=1)
    specialist = add_agent(database, "t2@x.com", skills={"connectivity": 4}, tier=2)
    hard = new_tickets(database, 1, queue="ts-specialists")
    route(database)
    assert assignees(database, hard) == {hard[0]: specialist}


def test_an_assignment_opens_the_ticket_and_is_in_the_timeline(world, database):
    agent = add_agent(database, "a@x.com", skills={"connectivity": 3})
    [ticket_id] = new_tickets(database, 1)
    route(database)
    [assigned] = events(database, ticket_id, "assignee_changed")
    assert assigned.after["assignee_id"] == agent and assigned.actor_kind.value == "system"
    assert "ts-helpdesk" in assigned.reason and "longest idle" in assigned.reason
    assert assigned.after["waited_seconds"] >= 0
    [opened] = events(database, ticket_id, "status_changed")
    assert opened.after == {"status": "open"}
    with database.transaction(write=False) as db:
        ticket = db.get(Ticket, ticket_id)
        assert ticket.status is TicketStatus.OPEN and ticket.routable_since is None


def test_capacity_is_never_exceeded_and_freed_capacity_is_used(world, database):
    agent = add_agent(database, "a@x.com", skills={"connectivity": 3}, capacity={"email": 2, "chat": 1})
    emails = new_tickets(database, 3)
    chats = new_tickets(database, 2, channel="chat")
    route(database)
    got = assignees(database, emails + chats)
    assert sum(1 for t in emails if got[t] == agent) == 2
    assert sum(1 for t in chats if got[t] == agent) == 1
    assert route(database) == []  # full: nothing more
    done = next(t for t in emails if got[t] == agent)
    with database.transaction() as db:
        update_ticket(db, SYSTEM, done, TicketUpdate(status="solved"))
    [again] = route(database)
    assert again.agent_id == agent and again.ticket_id in emails and again.ticket_id != done


def test_urgent_work_first_then_the_nearest_sla_then_the_longest_wait(world, database):
    agent = add_agent(database, "a@x.com", skills={"connectivity": 3}, capacity={"email": 1})
    old_normal = new_tickets(database, 1)
    backdate(database, old_normal, dt.timedelta(minutes=30))
    urgent = new_tickets(database, 1, priority="urgent")
    route(database)
    assert assignees(database, urgent + old_normal) == {urgent[0]: agent, old_normal[0]: None}


def test_longest_idle_least_loaded_and_round_robin(world, database):
    a = add_agent(database, "a@x.com", skills={"connectivity": 3}, capacity={"email": 5})
    b = add_agent(database, "b@x.com", skills={"connectivity": 3}, capacity={"email": 5})
    c = add_agent(database, "c@x.com", skills={"connectivity": 3}, capacity={"email": 5})
    set_idle_since(database, a, dt.timedelta(minutes=5))
    set_idle_since(database, b, dt.timedelta(minutes=50))
    set_idle_since(database, c, dt.timedelta(minutes=20))
    [first] = new_tickets(database, 1)
    route(database)
    assert assignees(database, [first]) == {first: b}  # waited longest
    # longest idle spreads a burst: each assignment resets the agent's idle time
    burst = new_tickets(database, 3)
    route(database)
    assert sorted(assignees(database, burst).values()) == sorted([a, b, c])

    queue_id = world.queues["acme/ts-helpdesk"]
    with database.transaction() as db:
        update_queue(db, SYSTEM, queue_id, QueueUpdate(routing_policy=RoutingPolicy.LEAST_LOADED))
    # loads now: b 2, a 1, c 1; least loaded share wins
    [next_one] = new_tickets(database, 1)
    route(database)
    assert assignees(database, [next_one])[next_one] in (a, c)

    with database.transaction() as db:
        update_queue(db, SYSTEM, queue_id, QueueUpdate(routing_policy=RoutingPolicy.ROUND_ROBIN))
    turns = []
    for _ in range(6):
        [t] = new_tickets(database, 1)
        route(database)
        turns.append(assignees(database, [t])[t])
    assert turns[:3] == sorted(turns[:3]) and turns[3:] == turns[:3]  # in id order, then around again
    assert set(turns) == {a, b, c}


def test_hybrid_agents_take_matching_technical_work(world, database):
    """A CS agent with a Tier-0/1 technical skill is eligible for the TS queue that needs it."""
    hybrid = add_agent(database, "hybrid@x.com", skills={"billing": 4, "connectivity": 2})
    add_agent(database, "cs-only@x.com", skills={"billing": 5})
    ts = new_tickets(database, 1)
    cs = new_tickets(database, 1, queue="cs-billing")
    route(database)
    assert assignees(database, ts) == {ts[0]: hybrid}
    assert assignees(database, cs)[cs[0]] is not None


def test_waiting_tickets_say_why_they_wait(world, database):
    queue_id = world.queues["acme/ts-helpdesk"]
    new_tickets(database, 2)

    def reasons():
        with database.transaction(write=False) as db:
            return {w.ticket_id: w.reason for w in waiting_tickets(db, SYSTEM, queue_id, DEFAULTS)}

    assert all("has the skills it needs (connectivity>=2)" in r for r in reasons().values())
    agent = add_agent(database, "a@x.com", skills={"connectivity": 3}, status="away", capacity={"email": 1})
    assert all(r == "no eligible agent is available (1 away)" for r in reasons().values())
    with database.transaction() as db:
        set_presence(db, SYSTEM, agent, PresenceStatus.AVAILABLE)
    assert all("the next routing pass assigns it" in r for r in reasons().values())
    route(database)
    left = reasons()
    assert len(left) == 1 and "at capacity for email work" in next(iter(left.values()))


def test_presence_becoming_available_picks_up_waiting_work(world, database):
    agent = add_agent(database, "a@x.com", skills={"connectivity": 3}, status="busy")
    ids = new_tickets(database, 1)
    assert route(database) == []
    with database.transaction() as db:
        set_presence(db, SYSTEM, agent, PresenceStatus.AVAILABLE)
    assert [a.ticket_id for a in route(database)] == ids


def test_overflow_moves_long_waiters_to_the_other_queue(world, database):
    source, target = world.queues["acme/ts-helpdesk"], world.queues["acme/cs-billing"]
    with database.transaction() as db:
        update_queue(db, SYSTEM, source, QueueUpdate(overflow_queue="cs-billing", overflow_after_seconds=60))
    old, fresh = new_tickets(database, 1), new_tickets(database, 1)
    backdate(database, old, dt.timedelta(seconds=61))
    with database.transaction() as db:
        assert tasks.overflow(db) == 1
    with database.transaction() as db:
        assert tasks.overflow(db) == 0  # once
    with database.transaction(write=False) as db:
        moved, stayed = db.get(Ticket, old[0]), db.get(Ticket, fresh[0])
        assert moved.queue_id == target and stayed.queue_id == source
        assert moved.routable_since > moved.created_at  # waits anew in the overflow queue
    [event] = events(database, old[0], "queue_changed")
    assert event.before["queue_id"] == source and "overflow" in event.reason


def test_queue_routing_settings_through_the_api(client, world):
    queue_id = world.queues["acme/ts-helpdesk"]
    r = client.patch(f"{API}/queues/{queue_id}", json={"routing_policy": "round_robin", "overflow_queue": "nope",
                                                        "overflow_after_seconds": 30}, headers=world.auth("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "overflow_queue"
    r = client.patch(f"{API}/queues/{queue_id}", json={"overflow_queue": "ts-specialists"}, headers=world.auth("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "overflow_after_seconds"
    settings = {"routing_policy": "round_robin", "overflow_queue": "ts-specialists", "overflow_after_seconds": 30}
    r = client.patch(f"{API}/queues/{queue_id}", json=settings, headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["routing_policy"] == "round_robin" and body["overflow_queue_id"] == world.queues["acme/ts-specialists"]
    r = client.patch(f"{API}/queues/{queue_id}", json={"routing_policy": "fastest"}, headers=world.auth("admin"))
    assert r.status_code == 422
    r = client.patch(f"{API}/queues/{queue_id}", json={"routing_policy": "least_loaded"}, headers=world.auth("agent"))
    assert r.status_code == 403


def test_queue_waiting_and_agents_through_the_api(client, world, database):
    queue_id = world.queues["acme/ts-helpdesk"]
    new_tickets(database, 2)
    add_agent(database, "a@x.com", skills={"connectivity": 3}, status="away")
    r = client.get(f"{API}/queues/{queue_id}/waiting", headers=world.auth("agent"))
    assert r.status_code == 200
    assert [w["reason"] for w in r.json()] == ["no eligible agent is available (1 away)"] * 2
    r = client.get(f"{API}/queues/{queue_id}/agents", headers=world.auth("agent"))
    assert [(a["display_name"], a["status"], a["load"]["email"]) for a in r.json()] == [("a", "away", 0)]
    other = world.queues["globex/ts-general"]
    assert client.get(f"{API}/queues/{other}/waiting", headers=world.auth("agent")).status_code == 404
    assert client.get(f"{API}/queues/{queue_id}/waiting").status_code == 401


def test_overflow_limits_are_per_queue(world, database):
    """A queue with a long limit and old tickets does not hide another queue's due tickets."""
    slow, fast = world.queues["acme/cs-billing"], world.queues["acme/ts-helpdesk"]
    with database.transaction() as db:
        update_queue(db, SYSTEM, slow, QueueUpdate(overflow_queue="ts-specialists", overflow_after_seconds=3600))
        update_queue(db, SYSTEM, fast, QueueUpdate(overflow_queue="ts-specialists", overflow_after_seconds=60))
    old_slow = new_tickets(database, 8, queue="cs-billing")
    backdate(database, old_slow, dt.timedelta(minutes=30))  # older, but not past their queue's hour
    due_fast = new_tickets(database, 1)
    backdate(database, due_fast, dt.timedelta(minutes=2))
    with database.transaction(write=False) as db:
        assert tasks.overflow_due(db)
    with database.transaction() as db:
        assert tasks.overflow(db) == 1
    with database.transaction(write=False) as db:
        assert db.get(Ticket, due_fast[0]).queue_id == world.queues["acme/ts-specialists"]
        assert {db.get(Ticket, t).queue_id for t in old_slow} == {slow}


def test_work_of_a_full_kind_never_holds_back_other_work(world, database):
    """Calls waiting for a free line do not stop the router from giving the same agent the emails behind them."""
    agent = add_agent(database, "a@x.com", skills={"connectivity": 3}, capacity={"phone": 1, "email": 2})
    first_call = new_tickets(database, 1, channel="phone")
    route(database)
    assert assignees(database, first_call) == {first_call[0]: agent}  # the line is busy now
    calls = new_tickets(database, 5, channel="phone", priority="urgent")
    emails = new_tickets(database, 2)
    for dry_run in (True, False):
        with database.transaction() as db:
            planned = router.route_waiting(db, DEFAULTS, apply=not dry_run)
        assert planned and {a.ticket_id for a in planned} <= set(emails)
    assert assignees(database, emails) == {t: agent for t in emails}
    assert set(assignees(database, calls).values()) == {None}
