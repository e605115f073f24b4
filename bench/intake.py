"""Intake benchmark: contacts per second and latency of POST /api/v1/contacts over real HTTP.

For each database (SQLite; PostgreSQL when a server is reachable) it starts `tierdesk serve` on a fresh database,
creates a brand, queues and an API token, then C concurrent clients post N contacts: most from new senders, some
continuing an earlier thread, across every channel. Prints the figures and the conditions; the last line is JSON:
{"sqlite": {"contacts_per_s", "p50_ms", "p99_ms"}, "postgresql": {...}, "conditions": {...}}

    python bench/intake.py [--contacts 5000] [--clients 16] [--processes 2] [--pg-url URL]
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


def pids_named(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def run(cmd: list[str], env: dict) -> str:
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def prepare(env: dict) -> str:
    """Schema, brand, queues, an admin and their token; returns the token."""
    run([*TIERDESK, "db", "upgrade"], env)
    run([*TIERDESK, "brands", "create", "bench", "--name", "Bench Brand"], env)
    run([*TIERDESK, "agents", "create", "bench@example.com", "--name", "Bench", "--role", "admin"], env)
    code = (
        "from tierdesk.db import get_database\n"
        "from tierdesk.agents.auth import SYSTEM\n"
        "from tierdesk.routing.service import create_queue\n"
        "from tierdesk.routing.schemas import QueueCreate\n"
        "with get_database().transaction() as db:\n"
        "    for slug, dept in (('cs', 'CS'), ('ts', 'TS')):\n"
        "        create_queue(db, SYSTEM, QueueCreate(brand='bench', slug=slug, name=slug, department=dept))\n"
    )
    run([sys.executable, "-c", code], env)
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


def contacts(n: int, seed: int = 0) -> list[dict]:
    """N contacts: 80% from new senders, 20% continuing an earlier contact's thread (same sender)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
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


def bench_backend(name: str, database_url: str, processes: int, args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"tierdesk-bench-{name}-"))
    env = {**os.environ, "TIERDESK_DATA_DIR": str(data_dir), "TIERDESK_DATABASE_URL": database_url,
           "TIERDESK_SECRET_KEY": "bench-secret"}
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
            payloads = contacts(args.warmup + args.contacts)
            asyncio.run(load(bases, token, payloads[: args.warmup], args.clients))  # warm-up, not counted
            # Where the CPU goes (all on the same two cores): tierdesk, the database server, the load generator.
            server_pids, db_pids = [s.pid for s in servers], pids_named("postgres")
            cpu_before = cpu_seconds(server_pids), cpu_seconds(db_pids), time.process_time()
            latencies, elapsed, errors = asyncio.run(load(bases, token, payloads[args.warmup:], args.clients))
            cpu_after = cpu_seconds(server_pids), cpu_seconds(db_pids), time.process_time()
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
    ms = sorted(x * 1000 for x in latencies)
    result = {
        "contacts_per_s": round(len(ms) / elapsed, 1),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
        "errors": errors,
        "cpu_ms_per_contact": {
            part: round((after - before) / len(ms) * 1000, 2)
            for part, before, after in zip(("tierdesk", "postgresql_server", "load_generator"), cpu_before,
                                           cpu_after, strict=True)
            if part != "postgresql_server" or name == "postgresql"
        },
    }
    cpu = ", ".join(f"{part} {value}" for part, value in result["cpu_ms_per_contact"].items())
    print(f"{name:>10}: {result['contacts_per_s']:8.1f} contacts/s   p50 {result['p50_ms']:6.2f} ms   "
          f"p99 {result['p99_ms']:6.2f} ms   errors {errors}   ({len(ms)} contacts in {elapsed:.1f} s, "
          f"{processes} server process{'es' if processes > 1 else ''}; CPU ms per contact: {cpu})")
    return result


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
    args = parser.parse_args()

    conditions = {
        "contacts": args.contacts, "clients": args.clients,
        "server_processes": {"sqlite": 1, "postgresql": args.processes},
        "cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
        "load_generator": "aiohttp, same machine", "mix": "80% new senders, 20% thread follow-ups",
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
