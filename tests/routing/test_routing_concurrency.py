"""Routing and SLA detection under load, on PostgreSQL: three `tierdesk worker` processes route and watch SLAs while
tickets arrive, agents change presence and finish work, and SLA due times come and go, all at once.

Checked: no ticket assigned twice, no agent ever above capacity (sampled throughout, in single-statement snapshots),
every ticket assigned or waiting for a stated reason, and every breach recorded exactly once.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from tests.routing.helpers import DEFAULTS, add_agent, new_tickets
from tierdesk.agents.models import AgentCapacity
from tierdesk.agents.presence import set_presence
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import WORK_KIND, PresenceStatus, TicketStatus
from tierdesk.routing.service import waiting_tickets
from tierdesk.sla.models import SlaClock
from tierdesk.sla.schemas import PolicyCreate
from tierdesk.sla.service import create_policy
from tierdesk.tickets.lifecycle import WORKABLE
from tierdesk.tickets.models import Ticket, TicketEvent
from tierdesk.tickets.schemas import TicketUpdate
from tierdesk.tickets.service import update_ticket

QUEUES = ("ts-helpdesk", "cs-billing", "ts-specialists")
ARRIVALS = 240
RUN_SECONDS = 12


def _start_workers(database_url: str, tmp_path, n: int) -> list[subprocess.Popen]:
    env = {**os.environ, "TIERDESK_DATABASE_URL": database_url, "TIERDESK_DATA_DIR": str(tmp_path / "w"),
           "TIERDESK_WORKER_POLL_SECONDS": "0.05", "TIERDESK_SECRET_KEY": "test"}
    return [subprocess.Popen([sys.executable, "-m", "tierdesk", "worker"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE) for _ in range(n)]


def _capacity_violations(database, capacities: dict[tuple[int, str], int]) -> list[tuple]:
    """Load per agent and kind of work in one statement (one snapshot), against capacity."""
    with database.transaction(write=False) as db:
        rows = db.execute(sa.select(Ticket.assignee_id, Ticket.channel, sa.func.count())
                          .where(Ticket.assignee_id.is_not(None),
                                 Ticket.status.in_(WORKABLE))
                          .group_by(Ticket.assignee_id, Ticket.channel)).all()
    load: Counter = Counter()
    for agent_id, channel, count in rows:
        load[(agent_id, WORK_KIND[channel].value)] += count
    return [(key, n, capacities.get(key, DEFAULTS[WORK_KIND_BY_NAME[key[1]]])) for key, n in load.items()
            if n > capacities.get(key, DEFAULTS[WORK_KIND_BY_NAME[key[1]]])]


WORK_KIND_BY_NAME = {k.value: k for k in DEFAULTS}


@pytest.mark.postgres_only
def test_workers_routing_and_detecting_breaches_side_by_side(world, database, database_url, tmp_path):
    if database.dialect != "postgresql":
        pytest.skip("several worker processes share a database only on PostgreSQL")
    rng = random.Random(7)
    with database.transaction() as db:
        create_policy(db, SYSTEM, PolicyCreate(brand="acme", slug="all", name="all", first_response_minutes=600,
                                               resolution_minutes=6000, warn_before_minutes=0))
    agents = []
    for i in range(24):
        skills = {"connectivity": rng.choice([2, 3, 4]), "billing": rng.choice([2, 3])}
        agents.append(add_agent(database, f"a{i}@x.com", skills=skills, tier=rng.choice([1, 1, 2]),
                                capacity={"email": rng.choice([1, 2, 3]), "chat": rng.choice([1, 2])},
                                status=rng.choice(["available", "available", "away"])))
    with database.transaction(write=False) as db:
        capacities = {(c.agent_id, c.work_kind.value): c.max_active for c in db.scalars(sa.select(AgentCapacity))}

    workers = _start_workers(database_url, tmp_path, 3)
    stop = threading.Event()
    violations: list = []
    errors: list[BaseException] = []
    made_due: set[int] = set()

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # surfaced by the test below
                errors.append(exc)
        return run

    def arrivals():
        for _ in range(ARRIVALS // 6):
            new_tickets(database, 3, queue=rng.choice(QUEUES), priority=rng.choice(["normal", "high", "urgent"]))
            new_tickets(database, 3, queue=rng.choice(QUEUES), channel="chat")
            time.sleep(RUN_SECONDS * 0.6 / (ARRIVALS // 6))

    def presence():
        r = random.Random(11)
        while not stop.is_set():
            with database.transaction() as db:
                set_presence(db, SYSTEM, r.choice(agents), r.choice(list(PresenceStatus)))
            time.sleep(0.01)

    def finishing():
        r = random.Random(13)
        while not stop.is_set():
            with database.transaction() as db:
                ids = db.scalars(sa.select(Ticket.id).where(Ticket.assignee_id.is_not(None),
                                                            Ticket.status == TicketStatus.OPEN).limit(20)).all()
                if ids:
                    update_ticket(db, SYSTEM, r.choice(ids), TicketUpdate(status="solved"))
            time.sleep(0.02)

    def deadlines():
        """Time passes for some clocks: their due time moves to now, for the workers to find."""
        r = random.Random(17)
        while not stop.is_set():
            with database.transaction(write=False) as db:
                running = db.execute(sa.select(SlaClock.id, SlaClock.ticket_id).where(
                    SlaClock.due_at.is_not(None), SlaClock.breached_at.is_(None)).limit(50)).all()
            for clock_id, ticket_id in r.sample(running, min(3, len(running))):
                with database.transaction() as db:  # as the application does: the ticket first, then its clock
                    db.execute(sa.select(Ticket.id).where(Ticket.id == ticket_id).with_for_update())
                    moved = db.execute(sa.update(SlaClock).where(SlaClock.id == clock_id, SlaClock.due_at.is_not(None))
                                       .values(due_at=utcnow()))
                    if moved.rowcount:
                        made_due.add(clock_id)
            time.sleep(0.05)

    def sampler():
        while not stop.is_set():
            violations.extend(_capacity_violations(database, capacities))
            time.sleep(0.01)

    threads = [threading.Thread(target=guarded(f)) for f in (presence, finishing, deadlines, sampler)]
    feeder = threading.Thread(target=guarded(arrivals))
    try:
        for t in [feeder, *threads]:
            t.start()
        feeder.join()
        time.sleep(RUN_SECONDS * 0.4)
        stop.set()
        for t in threads:
            t.join()
        # everyone available now: whatever still waits must be waiting for a reason other than "an agent has room"
        with database.transaction() as db:
            for agent_id in agents:
                set_presence(db, SYSTEM, agent_id, PresenceStatus.AVAILABLE)
        time.sleep(2.0)
    finally:
        for w in workers:
            w.terminate()
        outputs = [w.communicate(timeout=30)[1].decode() for w in workers]
    assert not errors, errors
    assert all(w.returncode is not None for w in workers)
    assert not any("Traceback" in o for o in outputs), outputs

    violations.extend(_capacity_violations(database, capacities))
    assert violations == []

    with database.transaction(write=False) as db:
        routed = Counter(db.scalars(sa.select(TicketEvent.ticket_id).where(TicketEvent.kind == "assignee_changed")))
        assert routed and max(routed.values()) == 1  # nothing is ever assigned twice
        tickets = db.execute(sa.select(Ticket.id, Ticket.assignee_id, Ticket.queue_id, Ticket.routable_since)).all()
        assert len(tickets) == ARRIVALS
        for t in tickets:
            assert (t.assignee_id is None) == (t.id not in routed)
            assert (t.assignee_id is None) == (t.routable_since is not None)
        waiting = {}
        for queue in QUEUES:
            for w in waiting_tickets(db, SYSTEM, world.queues[f"acme/{queue}"], DEFAULTS):
                waiting[w.ticket_id] = w.reason
        unassigned = {t.id for t in tickets if t.assignee_id is None}
        assert set(waiting) == unassigned
        assert all(r and "next routing pass" not in r for r in waiting.values()), waiting

        breaches = Counter(db.scalars(sa.select(TicketEvent.ticket_id).where(TicketEvent.kind == "sla_breach")))
        breached = db.execute(sa.select(SlaClock.id, SlaClock.ticket_id)
                              .where(SlaClock.breached_at.is_not(None))).all()
        assert breached, "the test made clocks due: some must have been breached"
        assert sum(breaches.values()) == len(breached)  # one event per breached clock
        assert Counter(t for _, t in breached) == breaches
        missed = db.scalars(sa.select(SlaClock.id).where(SlaClock.id.in_(made_due), SlaClock.breached_at.is_(None),
                                                         SlaClock.stopped_at.is_(None),
                                                         SlaClock.due_at.is_not(None))).all()
        assert missed == []  # every clock that fell due while running was caught
