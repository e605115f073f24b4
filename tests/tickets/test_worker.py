"""The worker: closing solved tickets after a while, exactly once, beside any number of other workers."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from tests.conftest import contact
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.jobs.worker import Job, Worker
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.time import utcnow
from tierdesk.tickets.models import Ticket, TicketEvent
from tierdesk.tickets.schemas import TicketUpdate
from tierdesk.tickets.service import update_ticket
from tierdesk.tickets.tasks import close_solved_tickets
from tierdesk.wiring import default_jobs

AFTER = dt.timedelta(hours=96)
# The other default jobs, with nothing due.
IDLE = {"sla": 0, "route": 0, "overflow": 0, "escalation_rules": 0, "outbox": 0, "imap": 0,
        "voice_wrap_up": 0,  # channels/voice: after-call work whose time is over
        "chat_assignments": 0, "chat_email_offers": 0, "chat_customers_gone": 0}  # the chat channel's jobs


def open_tickets(database, n: int, status: str | None = "solved") -> list[int]:
    """n tickets opened through intake (and solved through the ticket service), in one transaction."""
    pipeline = default_pipeline()
    ids = []
    with database.transaction() as db:
        for i in range(n):
            result = pipeline.receive(db, SYSTEM, ContactIn(**contact(subject=f"ticket {i}")))
            ids.append(result.ticket.id)
            if status:
                update_ticket(db, SYSTEM, result.ticket.id, TicketUpdate(status=status))
    return ids


def set_solved_at(database, ids: list[int], ago: dt.timedelta) -> None:
    with database.transaction() as db:
        db.execute(sa.update(Ticket).where(Ticket.id.in_(ids)).values(solved_at=utcnow() - ago))


def state(database, ids: list[int]) -> dict[int, tuple]:
    with database.transaction(write=False) as db:
        rows = db.execute(sa.select(Ticket.id, Ticket.status, Ticket.closed_at).where(Ticket.id.in_(ids)))
        return {r.id: (r.status.value, r.closed_at) for r in rows}


def closing_events(database) -> list[TicketEvent]:
    with database.transaction(write=False) as db:
        events = db.scalars(sa.select(TicketEvent).where(TicketEvent.kind == "status_changed").order_by(TicketEvent.id))
        return [e for e in events if (e.after or {}).get("status") == "closed"]


def test_close_solved_tickets_closes_only_the_due_ones(world, database):
    due = open_tickets(database, 3)
    recent = open_tickets(database, 2)
    still_open = open_tickets(database, 1, status="open")
    set_solved_at(database, due, AFTER + dt.timedelta(hours=1))
    set_solved_at(database, recent, AFTER - dt.timedelta(hours=1))
    set_solved_at(database, still_open, AFTER * 2)  # a stray solved_at on an open ticket does not make it due

    started = utcnow()
    with database.transaction() as db:
        assert close_solved_tickets(db, after=AFTER) == 3

    now = state(database, due + recent + still_open)
    for ticket_id in due:
        status, closed_at = now[ticket_id]
        assert status == "closed"
        assert closed_at is not None and closed_at >= started
    for ticket_id in recent:
        assert now[ticket_id] == ("solved", None)
    assert now[still_open[0]] == ("open", None)

    events = closing_events(database)
    assert sorted(e.ticket_id for e in events) == sorted(due)
    for e in events:
        assert e.actor_kind.value == "system"
        assert e.actor_agent_id is None
        assert e.before == {"status": "solved"}
        assert e.after == {"status": "closed"}
        assert e.reason
        assert e.brand_id == world.brands["acme"]


def test_closing_again_does_nothing(world, database):
    due = open_tickets(database, 2)
    set_solved_at(database, due, AFTER * 2)
    with database.transaction() as db:
        assert close_solved_tickets(db, after=AFTER) == 2
    before = state(database, due)
    with database.transaction() as db:
        assert close_solved_tickets(db, after=AFTER) == 0
    assert state(database, due) == before
    assert len(closing_events(database)) == 2


def test_closed_tickets_show_up_as_closed_in_the_api(client, world, database):
    [ticket_id] = open_tickets(database, 1)
    set_solved_at(database, [ticket_id], AFTER * 2)
    with database.transaction() as db:
        close_solved_tickets(db, after=AFTER)
    r = client.get(f"/api/v1/tickets/{ticket_id}", headers=world.auth("agent"))
    assert r.json()["status"] == "closed"
    assert r.json()["closed_at"] is not None
    listed = client.get("/api/v1/tickets", params={"status": "closed"}, headers=world.auth("agent")).json()
    assert [t["id"] for t in listed["items"]] == [ticket_id]
    # closed is final: an agent cannot reopen it
    r = client.patch(f"/api/v1/tickets/{ticket_id}", json={"status": "open"}, headers=world.auth("agent"))
    assert r.status_code == 422


def test_worker_run_once_returns_counts(world, database, settings):
    due = open_tickets(database, 2)
    recent = open_tickets(database, 1)
    set_solved_at(database, due, dt.timedelta(hours=settings.auto_close_after_hours + 1))
    worker = Worker(database, default_jobs(settings))
    assert worker.run_once() == {**IDLE, "close_solved_tickets": 2}
    assert worker.run_once() == {**IDLE, "close_solved_tickets": 0}
    assert {s for s, _ in state(database, due).values()} == {"closed"}
    assert state(database, recent)[recent[0]][0] == "solved"


def test_a_failing_job_does_not_stop_the_others(world, database, settings):
    due = open_tickets(database, 1)
    set_solved_at(database, due, AFTER * 2)

    def broken(_db):
        raise RuntimeError("boom")

    worker = Worker(database, [Job("broken", broken), *default_jobs(settings)])
    assert worker.run_once() == {"broken": 0, **IDLE, "close_solved_tickets": 1}


def test_concurrent_workers_close_each_ticket_exactly_once(world, database):
    if database.dialect != "postgresql":
        pytest.skip("concurrent claiming (SKIP LOCKED) is tested on PostgreSQL")
    due = open_tickets(database, 50)
    set_solved_at(database, due, AFTER * 2)

    threads_n = 4
    barrier = threading.Barrier(threads_n)
    results: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work():
        try:
            barrier.wait(timeout=30)
            with database.transaction() as db:
                n = close_solved_tickets(db, after=AFTER)
            with lock:
                results.append(n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(results) == threads_n
    assert sum(results) == 50

    events = closing_events(database)
    assert len(events) == 50
    assert sorted(e.ticket_id for e in events) == sorted(due)
    assert {s for s, _ in state(database, due).values()} == {"closed"}


def test_an_idle_worker_opens_no_write_transaction(database, settings):
    """Nothing due: the worker only reads, so it never takes SQLite's write lock away from requests."""
    opened = []
    real = database.write_sessions

    def counting_write_sessions():
        opened.append(1)
        return real()

    database.write_sessions = counting_write_sessions
    try:
        done = Worker(database, default_jobs(settings)).run_once()
    finally:
        database.write_sessions = real
    assert done == {**IDLE, "close_solved_tickets": 0}
    assert opened == []
