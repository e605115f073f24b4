"""Routing benchmark on PostgreSQL: 200 agents with mixed skills, tickets across 10 queues, real worker processes.

1. Throughput: a backlog of tickets is created while no worker runs, then routed by the worker's routing pass,
   pass after pass until nothing more fits; assignments per second over the passes' time, commits included.
2. Latency: W `tierdesk worker` processes start, the agents' work is finished, and tickets arrive one per
   transaction at a steady rate; for each, the time from becoming routable (its intake) to its assignment (the
   router's clock).
3. SLA: running clocks are given due times a moment ahead; the time from each due time to its recorded breach.
Throughout, a sampler checks every agent's load against capacity in single-statement snapshots; at the end, tickets
assigned more than once are counted. Prints the figures and the conditions; the last line is JSON with
assignments_per_s, p50_ms, p99_ms, double_assignments, capacity_violations, breach_detect_p50_s, breach_detect_max_s.

    python bench/routing.py [--backlog 6000] [--stream 3000] [--rate 250] [--workers 2] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from rich.progress import Progress
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from tierdesk import migrate  # noqa: E402
from tierdesk.agents import service as agents_service  # noqa: E402
from tierdesk.agents.models import Agent, AgentCapacity  # noqa: E402
from tierdesk.agents.schemas import AgentCreate, SkillLevel  # noqa: E402
from tierdesk.brands.schemas import BrandCreate  # noqa: E402
from tierdesk.brands.service import create_brand  # noqa: E402
from tierdesk.config import Settings  # noqa: E402
from tierdesk.db import Database, make_engine  # noqa: E402
from tierdesk.intake.pipeline import default_pipeline  # noqa: E402
from tierdesk.intake.schemas import ContactIn  # noqa: E402
from tierdesk.kit.actors import SYSTEM  # noqa: E402
from tierdesk.kit.time import utcnow  # noqa: E402
from tierdesk.kit.vocabulary import (  # noqa: E402
    WORK_KIND,  # noqa: E402
    Department,  # noqa: E402
    PresenceStatus,
    TicketStatus,  # noqa: E402
    WorkKind,
)
from tierdesk.queues.repository import in_brand  # noqa: E402
from tierdesk.routing import router  # noqa: E402
from tierdesk.routing.schemas import QueueCreate, QueueUpdate, RequiredSkill  # noqa: E402
from tierdesk.routing.service import create_queue, update_queue  # noqa: E402
from tierdesk.sla.models import SlaClock  # noqa: E402
from tierdesk.sla.schemas import PolicyCreate  # noqa: E402
from tierdesk.sla.service import create_policy  # noqa: E402
from tierdesk.tickets.lifecycle import WORKABLE  # noqa: E402
from tierdesk.tickets.models import Ticket, TicketEvent  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/tierdesk_bench_routing"
SKILLS = ["billing", "refunds", "orders", "connectivity", "mobile", "devices", "software", "accounts"]
# 10 queues: (slug, department, tier, required skills)
QUEUES = [
    ("cs-billing", "CS", 1, {"billing": 2}), ("cs-refunds", "CS", 1, {"refunds": 2}),
    ("cs-orders", "CS", 1, {"orders": 2}), ("cs-accounts", "CS", 1, {"accounts": 2}),
    ("cs-escalations", "CS", 2, {"billing": 4}), ("ts-connectivity", "TS", 1, {"connectivity": 2}),
    ("ts-mobile", "TS", 1, {"mobile": 2}), ("ts-devices", "TS", 1, {"devices": 2}),
    ("ts-software", "TS", 1, {"software": 2}), ("ts-specialists", "TS", 2, {"connectivity": 4}),
]
CAPACITY = {WorkKind.PHONE: 1, WorkKind.CHAT: 3, WorkKind.EMAIL: 40}


def fresh_database(url: str) -> str:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()
    migrate.upgrade(url)
    return url


def set_up(database: Database, rng: random.Random, n_agents: int) -> list[int]:
    with database.transaction() as db:
        # The brand's entry queues are two of the bench's (a new brand makes them, without skills: given here).
        brand = create_brand(db, SYSTEM, BrandCreate(slug="bench", name="Bench"),
                             entry_queues={Department.CS: "cs-billing", Department.TS: "ts-connectivity"})
        for slug, dept, tier, skills in QUEUES:
            required = [RequiredSkill(skill=s, min_level=lvl) for s, lvl in skills.items()]
            entry = in_brand(db, brand.id, slug)
            if entry is not None:
                update_queue(db, SYSTEM, entry.id, QueueUpdate(required_skills=required))
                continue
            create_queue(db, SYSTEM, QueueCreate(
                brand="bench", slug=slug, name=slug, department=dept, tier=tier, required_skills=required))
        create_policy(db, SYSTEM, PolicyCreate(brand="bench", slug="std", name="standard",
                                               first_response_minutes=240, resolution_minutes=2400,
                                               warn_before_minutes=0))
        ids = []
        for i in range(n_agents):
            skills = {s: rng.randint(2, 5) for s in rng.sample(SKILLS, rng.randint(2, 4))}
            agent = agents_service.create_agent(db, SYSTEM, AgentCreate(
                email=f"agent{i}@bench.example", display_name=f"agent {i}", tier=rng.choice([1, 1, 1, 2]),
                brands=["bench"], skills=[SkillLevel(skill=s, level=lvl) for s, lvl in skills.items()]))
            ids.append(agent.id)
        db.flush()
        now = utcnow()
        db.execute(sa.update(Agent).where(Agent.id.in_(ids))
                   .values(presence=PresenceStatus.AVAILABLE, presence_since=now, idle_since=now))
        db.add_all(AgentCapacity(agent_id=a, work_kind=k, max_active=v) for a in ids for k, v in CAPACITY.items())
    return ids


def contact(rng: random.Random, i: int) -> ContactIn:
    queue = rng.choice(QUEUES)[0]
    return ContactIn(brand="bench", channel=rng.choice(["email", "email", "web", "chat"]),
                     sender={"email": f"customer{rng.randint(1, 5000)}@example.com"}, subject=f"case {i}",
                     body="Something about my account and my device, please help.", queue=queue,
                     priority=rng.choice(["low", "normal", "normal", "high", "urgent"]))


def create_backlog(database: Database, rng: random.Random, n: int, progress: Progress) -> None:
    pipeline = default_pipeline()
    task = progress.add_task("backlog", total=n)
    for start in range(0, n, 250):
        with database.transaction() as db:
            for i in range(start, min(n, start + 250)):
                pipeline.receive(db, SYSTEM, contact(rng, i))
        progress.update(task, completed=min(n, start + 250))


def start_workers(url: str, n: int, data_dir: str) -> list[subprocess.Popen]:
    env = {**os.environ, "TIERDESK_DATABASE_URL": url, "TIERDESK_DATA_DIR": data_dir, "TIERDESK_SECRET_KEY": "bench",
           "PYTHONPATH": str(REPO / "src"),
           "TIERDESK_CAPACITY_PHONE": "1", "TIERDESK_CAPACITY_CHAT": "3", "TIERDESK_CAPACITY_EMAIL": "40"}
    return [subprocess.Popen([sys.executable, "-m", "tierdesk", "worker"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for _ in range(n)]


class CapacitySampler(threading.Thread):
    """Compares every agent's load with capacity, in one statement (one snapshot) at a time, until stopped."""

    def __init__(self, database: Database):
        super().__init__(daemon=True)
        self.database, self.stopping, self.samples, self.violations = database, threading.Event(), 0, set()
        with database.transaction(write=False) as db:
            self.capacity = {(c.agent_id, c.work_kind): c.max_active for c in db.scalars(sa.select(AgentCapacity))}

    def check(self) -> None:
        with self.database.transaction(write=False) as db:
            rows = db.execute(sa.select(Ticket.assignee_id, Ticket.channel, sa.func.count())
                              .where(Ticket.assignee_id.is_not(None),
                                     Ticket.status.in_(WORKABLE))
                              .group_by(Ticket.assignee_id, Ticket.channel)).all()
        load = Counter()
        for agent_id, channel, n in rows:
            load[(agent_id, WORK_KIND[channel])] += n
        self.violations |= {key for key, n in load.items() if n > self.capacity[key]}
        self.samples += 1

    def run(self) -> None:
        while not self.stopping.is_set():
            self.check()
            time.sleep(0.05)


def wait_for_workers(database: Database, rng: random.Random, limit: float = 60) -> None:
    """Until a probe ticket is routed (a worker is up), then a moment for the others to finish starting."""
    with database.transaction() as db:
        probe = default_pipeline().receive(db, SYSTEM, contact(rng, -1)).ticket.id
    started = time.monotonic()
    while time.monotonic() - started < limit:
        with database.transaction(write=False) as db:
            if db.scalar(sa.select(Ticket.assignee_id).where(Ticket.id == probe)) is not None:
                break
        time.sleep(0.1)
    else:
        raise SystemExit("the workers did not start within a minute")
    time.sleep(3)


def route_backlog(database: Database) -> dict:
    """The worker's routing job, pass after pass in this process, until a pass assigns nothing; timed including
    each pass's commit."""
    defaults = router.default_capacity(Settings(capacity_phone=CAPACITY[WorkKind.PHONE],
                                                capacity_chat=CAPACITY[WorkKind.CHAT],
                                                capacity_email=CAPACITY[WorkKind.EMAIL]))
    assigned, passes, busy = 0, 0, 0.0
    while True:
        started = time.perf_counter()
        with database.transaction() as db:
            made = len(router.route_waiting(db, defaults))
        if not made:
            break
        busy += time.perf_counter() - started
        assigned, passes = assigned + made, passes + 1
    with database.transaction(write=False) as db:
        waiting = db.scalar(sa.select(sa.func.count()).select_from(Ticket)
                            .where(Ticket.routable_since.is_not(None))) or 0
    return {"assigned": assigned, "passes": passes, "left_waiting": waiting, "seconds": round(busy, 3),
            "assignments_per_s": round(assigned / busy, 1) if busy else None}


def finish_all_work(database: Database) -> None:
    """Agents finish everything they have (solved in bulk: this measures routing, not the solve endpoint), and the
    tickets nobody could take are set aside, so the stream starts on empty queues."""
    with database.transaction() as db:
        db.execute(sa.update(Ticket).where(Ticket.status.in_(WORKABLE))
                   .values(status=TicketStatus.SOLVED, solved_at=utcnow(), routable_since=None))


def stream(database: Database, rng: random.Random, n: int, rate: float, progress: Progress) -> list[int]:
    pipeline = default_pipeline()
    ids, interval = [], 1.0 / rate
    task = progress.add_task("stream", total=n)
    started = time.monotonic()
    for i in range(n):
        with database.transaction() as db:
            ids.append(pipeline.receive(db, SYSTEM, contact(rng, 100_000 + i)).ticket.id)
        progress.update(task, advance=1)
        delay = started + (i + 1) * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return ids


def latencies(database: Database, ids: list[int]) -> dict:
    with database.transaction(write=False) as db:
        rows = db.execute(sa.select(TicketEvent.ticket_id, TicketEvent.after)
                          .where(TicketEvent.kind == "assignee_changed", TicketEvent.ticket_id.in_(ids))).all()
    ms = sorted(r.after["waited_seconds"] * 1000 for r in rows)
    if not ms:
        return {"assigned": 0}
    return {"assigned": len(ms), "of": len(ids), "p50_ms": round(statistics.median(ms), 2),
            "p99_ms": round(ms[max(0, int(len(ms) * 0.99) - 1)], 2), "max_ms": round(ms[-1], 2)}


def breach_detection(database: Database, n: int) -> dict:
    """Give n running clocks due times 1-3 s ahead, wait, and read how late each breach was recorded."""
    with database.transaction() as db:
        clocks = db.scalars(sa.select(SlaClock.id).where(SlaClock.due_at.is_not(None), SlaClock.breached_at.is_(None),
                                                         SlaClock.stopped_at.is_(None)).limit(n)).all()
        now = utcnow()
        for i, clock_id in enumerate(clocks):
            due = now + dt.timedelta(seconds=1 + 2 * i / max(len(clocks), 1))
            db.execute(sa.update(SlaClock).where(SlaClock.id == clock_id).values(due_at=due))
    time.sleep(8)
    with database.transaction(write=False) as db:
        breaches = db.scalars(sa.select(TicketEvent).where(TicketEvent.kind == "sla_breach")).all()
    late = sorted(e.after["detected_after_seconds"] for e in breaches)
    per_clock = Counter((e.ticket_id, e.after["metric"]) for e in breaches)  # a ticket has one clock per metric
    return {"clocks": len(clocks), "detected": len(late), "recorded_twice": sum(1 for v in per_clock.values() if v > 1),
            "p50_s": round(statistics.median(late), 3) if late else None,
            "max_s": round(late[-1], 3) if late else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=6000)
    parser.add_argument("--stream", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=250.0, help="tickets per second in the latency phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--breaches", type=int, default=200)
    parser.add_argument("--pg-url", default=os.environ.get("TIERDESK_BENCH_PG_URL", DEFAULT_PG))
    args = parser.parse_args()
    rng = random.Random(42)
    conditions = {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
                  "agents": args.agents, "queues": len(QUEUES), "backlog": args.backlog, "stream": args.stream,
                  "rate_per_s": args.rate, "worker_processes": args.workers,
                  "database": make_url(args.pg_url).render_as_string(hide_password=True)}
    print("conditions:", json.dumps(conditions))
    url = fresh_database(args.pg_url)
    database = Database(make_engine(url))
    set_up(database, rng, args.agents)
    sampler = CapacitySampler(database)
    with Progress() as progress:
        create_backlog(database, rng, args.backlog, progress)
    sampler.start()
    routed = route_backlog(database)
    print(f"backlog: {routed['assigned']} assigned in {routed['passes']} passes, {routed['seconds']} s = "
          f"{routed['assignments_per_s']} assignments/s ({routed['left_waiting']} left: no eligible agent with room)")
    finish_all_work(database)
    with tempfile.TemporaryDirectory() as data_dir:
        workers = start_workers(url, args.workers, data_dir)
        try:
            wait_for_workers(database, rng)
            with Progress() as progress:
                ids = stream(database, rng, args.stream, args.rate, progress)
            time.sleep(2)
            lat = latencies(database, ids)
            print(f"stream at {args.rate:g}/s: {lat}")
            breach = breach_detection(database, args.breaches)
            print(f"breaches: {breach}")
        finally:
            sampler.stopping.set()
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=30)
    sampler.join()
    sampler.check()
    with database.transaction(write=False) as db:
        per_ticket = Counter(db.scalars(sa.select(TicketEvent.ticket_id)
                                        .where(TicketEvent.kind == "assignee_changed")))
    doubles = sum(1 for v in per_ticket.values() if v > 1)
    print(f"checks: {doubles} tickets assigned twice, {len(sampler.violations)} capacity violations "
          f"in {sampler.samples} snapshots")
    database.dispose()
    print(json.dumps({
        "assignments_per_s": routed["assignments_per_s"], "p50_ms": lat.get("p50_ms"), "p99_ms": lat.get("p99_ms"),
        "double_assignments": doubles, "capacity_violations": len(sampler.violations),
        "breach_detect_p50_s": breach["p50_s"], "breach_detect_max_s": breach["max_s"],
        "details": {"backlog": routed, "stream": lat, "breaches": breach, "capacity_snapshots": sampler.samples},
        "conditions": conditions,
    }))


if __name__ == "__main__":
    main()
