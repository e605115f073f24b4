"""Intake benchmark: contacts per second and latency of POST /api/v1/contacts over real HTTP.

For each database (SQLite; PostgreSQL when a server is reachable) it starts `tierdesk serve` on a fresh database,
creates a brand, queues and an API token, then C concurrent clients post N contacts: most from new senders, some
continuing an earlier thread, across every channel. Then, with the same server processes still running (so whatever
their connections prepared while the tables were small stays prepared), it adds --preload messages to the brand with
bulk SQL (no ANALYZE: this machine's PostgreSQL runs without autovacuum) and measures again, so that a cost per
contact that grows with the data shows.

Each phase also runs a few hundred contacts in this process through the app's TestClient, with an SQLAlchemy
`before_cursor_execute` counter on its engine: SQL statements per contact (every statement the driver executes,
BEGIN and SAVEPOINT included) and commits per contact, and the CPU of that loop (app plus TestClient).

Prints the figures and the conditions; the last line is JSON:
{"sqlite": {"start": {"contacts_per_s", "p50_ms", "p99_ms", "cpu_ms_per_contact", "statements_per_contact", ...},
            "after_preload": {...}}, "postgresql": {...}, "conditions": {...}}

    python bench/intake.py [--contacts 5000] [--clients 16] [--processes 2] [--preload 100000] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
TIERDESK = [sys.executable, "-m", "tierdesk"]
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/tierdesk_bench"
CHANNELS = ["email", "web", "chat", "phone", "api"]
BODIES = [
    "My internet drops every evening around 8pm and comes back after 20 minutes.",
    "I was charged twice for my November bill, please refund one of the charges.",
    "The app crashes as soon as I open the settings page on Android 14.",
    "Where is my order? Tracking has not moved for a week. Order W-{n}.",
    "Ich kann mich seit dem Update nicht mehr anmelden, das Passwort wird abgelehnt.",
    "Please change the billing address on my account to 12 High Street.",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes, from /proc (Linux); 0 where a process is gone."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run(cmd: list[str], env: dict) -> str:
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def prepare(env: dict) -> str:
    """Schema, brand (with its CS and TS entry queues), an admin and their token; returns the token."""
    run([*TIERDESK, "db", "upgrade"], env)
    run([*TIERDESK, "brands", "create", "bench", "--name", "Bench Brand"], env)
    run([*TIERDESK, "agents", "create", "bench@example.com", "--name", "Bench", "--role", "admin"], env)
    return run([*TIERDESK, "tokens", "create", "--agent", "bench@example.com", "--name", "bench"], env)


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


def contacts(n: int, seed: int = 0, start: int = 0) -> list[dict]:
    """N contacts: 80% from new senders, 20% continuing an earlier contact's thread (same sender). Numbered from
    `start`, so later phases bring new senders and new message ids."""
    rng = random.Random(seed)
    out = []
    for i in range(start, start + n):
        if out and rng.random() < 0.2:
            earlier = out[rng.randrange(len(out))]
            out.append({**earlier, "external_id": f"<b{i}@bench>", "thread_ref": earlier["external_id"],
                        "body": "Any news on this? It is still happening."})
            continue
        payload = {
            "brand": "bench",
            "channel": rng.choice(CHANNELS),
            "sender": {"email": f"customer{i}@example.com", "name": f"Customer {i}"},
            "subject": f"Contact {i}",
            "body": rng.choice(BODIES).format(n=i),
            "external_id": f"<b{i}@bench>",
        }
        if rng.random() < 0.5:
            payload["department"] = rng.choice(["CS", "TS"])
        out.append(payload)
    return out


async def load(bases: list[str], token: str, payloads: list[dict], clients: int) -> tuple[list[float], float, int]:
    """Each client keeps one connection to one server process, spread evenly as a load balancer would."""
    queue: asyncio.Queue = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}

    async def client(base: str) -> None:
        nonlocal errors
        async with aiohttp.ClientSession(base, headers=headers, connector=aiohttp.TCPConnector(limit=1)) as session:
            while not queue.empty():
                payload = queue.get_nowait()
                t0 = time.perf_counter()
                async with session.post("/api/v1/contacts", json=payload) as resp:
                    await resp.read()
                    if resp.status not in (200, 201):
                        errors += 1
                latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(client(bases[i % len(bases)]) for i in range(clients)))
    elapsed = time.perf_counter() - start
    return latencies, elapsed, errors


def backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL backends serving the bench database (not other databases' on a shared server)."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")))
    finally:
        engine.dispose()


def http_phase(name: str, bases: list[str], token: str, payloads: list[dict], server_pids: list[int],
               clients: int, processes: int, label: str, database_url: str) -> dict:
    # Where the CPU goes (all on the same two cores): tierdesk, the database server, the load generator. The
    # server's connections are open after the warm-up, and their pool keeps them.
    db_pids = backend_pids(database_url) if name == "postgresql" else []
    cpu_before = cpu_seconds(server_pids), cpu_seconds(db_pids), time.process_time()
    latencies, elapsed, errors = asyncio.run(load(bases, token, payloads, clients))
    cpu_after = cpu_seconds(server_pids), cpu_seconds(db_pids), time.process_time()
    ms = sorted(x * 1000 for x in latencies)
    result = {
        "contacts_per_s": round(len(ms) / elapsed, 1),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
        "errors": errors,
        "cpu_ms_per_contact": {
            part: round((after - before) / len(ms) * 1000, 2)
            for part, before, after in zip(("tierdesk", "postgresql_backends", "load_generator"), cpu_before,
                                           cpu_after, strict=True)
            if part != "postgresql_backends" or name == "postgresql"
        },
    }
    cpu = ", ".join(f"{part} {value}" for part, value in result["cpu_ms_per_contact"].items())
    print(f"{name:>10} {label:>13}: {result['contacts_per_s']:8.1f} contacts/s   p50 {result['p50_ms']:6.2f} ms   "
          f"p99 {result['p99_ms']:6.2f} ms   errors {errors}   ({len(ms)} contacts in {elapsed:.1f} s, "
          f"{processes} server process{'es' if processes > 1 else ''}; CPU ms per contact: {cpu})")
    return result


def in_process_phase(name: str, database_url: str, data_dir: Path, token: str, payloads: list[dict],
                     label: str, show_statements: bool) -> dict:
    """Contacts through the app in this process, counting the SQL its engine executes (honest: every statement the
    driver is given, BEGIN/SAVEPOINT/RELEASE included) and the commits. Warm-up contacts are not counted."""
    from fastapi.testclient import TestClient

    from tierdesk.app import create_app
    from tierdesk.config import Settings
    from tierdesk.db import Database, make_engine

    database = Database(make_engine(database_url))
    statements: list[str] = []
    commits = 0

    @sa.event.listens_for(database.engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, _params, _context, _executemany):
        statements.append(statement)

    @sa.event.listens_for(database.engine, "commit")
    def _commit(_conn):
        nonlocal commits
        commits += 1

    settings = Settings(data_dir=data_dir, database_url=database_url, secret_key="bench-secret")
    headers = {"Authorization": f"Bearer {token}"}
    warmup, measured = payloads[:30], payloads[30:]
    try:
        with TestClient(create_app(database, settings)) as client:
            for p in warmup:
                client.post("/api/v1/contacts", json=p, headers=headers).raise_for_status()
            statements.clear()
            commits = 0
            per_kind: dict[str, list[int]] = {"new sender": [], "thread follow-up": []}
            samples: dict[str, list[str]] = {}
            cpu0, t0 = time.process_time(), time.perf_counter()
            for p in measured:
                before = len(statements)
                client.post("/api/v1/contacts", json=p, headers=headers).raise_for_status()
                kind = "thread follow-up" if p.get("thread_ref") else "new sender"
                per_kind[kind].append(len(statements) - before)
                samples.setdefault(kind, statements[before:])
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    finally:
        database.dispose()
    n = len(measured)
    result = {
        "statements_per_contact": round(len(statements) / n, 2),
        "statements_by_kind": {k: round(statistics.mean(v), 2) for k, v in per_kind.items() if v},
        "commits_per_contact": round(commits / n, 2),
        "in_process_cpu_ms_per_contact": round(cpu / n * 1000, 2),
        "in_process_wall_ms_per_contact": round(wall / n * 1000, 2),
    }
    print(f"{name:>10} {label:>13}: {result['statements_per_contact']} SQL statements per contact "
          f"({', '.join(f'{k} {v}' for k, v in result['statements_by_kind'].items())}), "
          f"{result['commits_per_contact']} commits; in process, one client: "
          f"{result['in_process_cpu_ms_per_contact']} ms CPU per contact (app + TestClient)")
    if show_statements:
        for kind, sample in samples.items():
            print(f"    statements of one contact ({kind}):")
            for sql in sample:
                print("      " + " ".join(sql.split())[:150])
    return result


def preload_messages(database_url: str, count: int) -> float:
    """`count` more inbound messages in the bench brand, spread over its tickets, in bulk (no ANALYZE after)."""
    from tierdesk.kit.time import utcnow
    from tierdesk.kit.vocabulary import Channel, MessageDirection
    from tierdesk.tickets.models import Message

    t0 = time.perf_counter()
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            tickets = conn.execute(sa.text("SELECT id, brand_id, customer_id FROM tickets ORDER BY id")).all()
            now = utcnow()
            rows = [
                {"ticket_id": t.id, "brand_id": t.brand_id, "direction": MessageDirection.INBOUND,
                 "channel": Channel.EMAIL, "author_customer_id": t.customer_id, "body_text": "Still broken.",
                 "body_html": "<p>Still broken.</p>", "external_id": f"<preload{i}@bench>",
                 "thread_ref": f"<preload-thread{i}@bench>", "created_at": now}
                for i, t in ((i, tickets[i % len(tickets)]) for i in range(count))
            ]
            for chunk in range(0, len(rows), 5000):
                conn.execute(sa.insert(Message.__table__), rows[chunk:chunk + 5000])
    finally:
        engine.dispose()
    return time.perf_counter() - t0


def bench_backend(name: str, database_url: str, processes: int, args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"tierdesk-bench-{name}-"))
    env = {**os.environ, "TIERDESK_DATA_DIR": str(data_dir), "TIERDESK_DATABASE_URL": database_url,
           "TIERDESK_SECRET_KEY": "bench-secret"}
    results: dict = {}
    try:
        token = prepare(env)
        # Separate server processes on their own ports, as behind a load balancer (one shared socket lets the
        # kernel hand most keep-alive connections to one process, which measures the balancing, not tierdesk).
        servers, bases = [], []
        for _ in range(processes):
            port = free_port()
            servers.append(subprocess.Popen(
                [*TIERDESK, "serve", "--no-worker", "--port", str(port)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
            bases.append(f"http://127.0.0.1:{port}")
        try:
            for base, server in zip(bases, servers, strict=True):
                wait_healthy(base, server)
            server_pids = [s.pid for s in servers]
            after_n = args.contacts_after
            payloads = contacts(args.warmup + args.contacts)
            later = contacts(args.in_process, seed=1, start=10_000_000)
            asyncio.run(load(bases, token, payloads[: args.warmup], args.clients))  # warm-up, not counted
            start = http_phase(name, bases, token, payloads[args.warmup:], server_pids, args.clients, processes,
                               "start", database_url)
            start.update(in_process_phase(name, database_url, data_dir, token, later, "start",
                                          args.show_statements))
            results["start"] = start
            if args.preload:
                took = preload_messages(database_url, args.preload)
                print(f"{name:>10}: preloaded {args.preload} messages in {took:.1f} s (bulk INSERT, no ANALYZE)")
                more = contacts(after_n, seed=2, start=20_000_000)
                after = http_phase(name, bases, token, more, server_pids, args.clients, processes,
                                   f"+{args.preload // 1000}k messages", database_url)
                after.update(in_process_phase(name, database_url, data_dir, token,
                                              contacts(args.in_process, seed=3, start=30_000_000),
                                              f"+{args.preload // 1000}k messages", False))
                results["after_preload"] = after
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:  # a server that cannot finish its requests must not outlive us
                    server.kill()
                    server.wait()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return results


def fresh_pg_database(url: str) -> bool:
    admin_url = make_url(url).set(database="postgres")
    try:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            name = make_url(url).database
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return True
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL skipped: {exc.orig}", file=sys.stderr)
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--processes", type=int, default=2,
                        help="server processes on PostgreSQL (SQLite, the single-process embedded mode, gets one)")
    parser.add_argument("--pg-url", default=os.environ.get("TIERDESK_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--preload", type=int, default=100_000,
                        help="messages added in bulk before measuring again (0: skip that phase)")
    parser.add_argument("--contacts-after", type=int, default=2000, help="contacts posted after the preload")
    parser.add_argument("--in-process", type=int, default=330,
                        help="contacts run in process to count statements (the first 30 not counted)")
    parser.add_argument("--show-statements", action="store_true", help="print the SQL of one contact of each kind")
    args = parser.parse_args()

    conditions = {
        "contacts": args.contacts, "clients": args.clients,
        "server_processes": {"sqlite": 1, "postgresql": args.processes},
        "cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
        "load_generator": "aiohttp, same machine", "mix": "80% new senders, 20% thread follow-ups",
        "preload_messages": args.preload, "contacts_after_preload": args.contacts_after,
        "in_process_contacts": args.in_process - 30,
        "git": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip(),
        "load_average": os.getloadavg()[0],
    }
    print("conditions:", json.dumps(conditions))
    results: dict = {}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = bench_backend("sqlite", f"sqlite:///{tmp}/bench.db", 1, args)
    if args.only in (None, "postgresql") and fresh_pg_database(args.pg_url):
        results["postgresql"] = bench_backend("postgresql", args.pg_url, args.processes, args)
    results["conditions"] = conditions
    print(json.dumps(results))


if __name__ == "__main__":
    main()
