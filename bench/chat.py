"""Chat benchmark: N concurrent customer chats with agents answering, over real WebSockets, on PostgreSQL with two
`tierdesk serve` processes (the first runs the worker that routes the chats; the second serves sockets only, so half
of every conversation crosses between processes by LISTEN/NOTIFY).

Set-up: a fresh database, a brand, A agents (available, chat capacity high enough for every chat). Then N customer
sockets (alternating between the two servers) each start a chat; the router gives each to an agent, whose socket
(also alternating) is offered it. Each chat then runs R rounds: the customer writes, the agent answers as soon as
the customer's message reaches them, the customer writes again when the answer reaches them. Latency is from the
send on one side to the event on the other (both sides are in this process, so one clock).

Halfway, every client is cut at once: each customer sends its next message and closes its socket without waiting,
every agent socket closes too. Then all reconnect (customers resume after their last seq, agents say hello with
theirs) and the rounds go on. At the end every side's received seqs are compared with the stored log: a seq never
received is lost, one received twice is duplicated.

Prints the figures and the conditions; the last line is JSON:
{"chats", "rounds", "messages", "messages_per_s", "p50_ms", "p99_ms", "steady_p50_ms", "steady_p99_ms", "lost",
 "duplicated", "undelivered", "conditions"} (steady: without each chat's first message, which goes through triage
and routing, and the message sent across the cut)

With --think the customers take that long (0.5-1.5 x) to write each next message, as people do; without, each
chat is a closed loop and the figures are those of a saturated service.

    python bench/chat.py [--chats 1000] [--agents 20] [--rounds 6] [--think 0] [--ramp 5] [--pg-url URL]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py would hide the standard library's `email` package (the script's folder comes first on sys.path).
BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from typing import Any  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/tierdesk_bench_chat"
SECRET = "bench-chat-secret"
TEXT = "I was charged twice for my invoice this month, please refund the duplicate payment ({n})."


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(url: str) -> None:
    admin = sa.create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        name = make_url(url).database
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()


def prepare(url: str, agents: int) -> list[str]:
    """Schema, a brand, available agents; returns their API tokens."""
    os.environ["TIERDESK_SECRET_KEY"] = SECRET
    from tierdesk import migrate
    from tierdesk.agents import presence
    from tierdesk.agents import service as agents_service
    from tierdesk.agents.schemas import AgentCreate
    from tierdesk.brands.schemas import BrandCreate
    from tierdesk.brands.service import create_brand
    from tierdesk.db import Database, make_engine
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.kit.vocabulary import PresenceStatus

    migrate.upgrade(url)
    database = Database(make_engine(url))
    tokens = []
    with database.transaction() as db:
        create_brand(db, SYSTEM, BrandCreate(slug="bench", name="Bench"))
        for i in range(agents):
            agent = agents_service.create_agent(db, SYSTEM, AgentCreate(
                email=f"agent{i}@bench.example", display_name=f"Agent {i}", role="agent", tier=1, brands=["bench"]))
            presence.set_presence(db, SYSTEM, agent.id, PresenceStatus.AVAILABLE)
            tokens.append(agents_service.create_token(db, agent, "bench", SECRET)[1])
    database.dispose()
    return tokens


def start_servers(url: str, data_dir: Path, capacity: int) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERDESK_")}
    env.update(TIERDESK_DATABASE_URL=url, TIERDESK_DATA_DIR=str(data_dir), TIERDESK_SECRET_KEY=SECRET,
               TIERDESK_TRIAGE_CONFIDENCE_THRESHOLD="0", TIERDESK_CAPACITY_CHAT=str(capacity),
               TIERDESK_CHAT_RATE_LIMIT="1000", TIERDESK_CHAT_MAX_WAIT_SECONDS="3600",
               TIERDESK_CHAT_CUSTOMER_GRACE_SECONDS="3600", TIERDESK_CHAT_QUEUE_UPDATE_SECONDS="60",
               TIERDESK_DB_POOL_SIZE="20", TIERDESK_DB_MAX_OVERFLOW="40")
    processes, urls = [], []
    for n in range(2):
        port = free_port()
        args = [sys.executable, "-m", "tierdesk", "serve", "--port", str(port)] + (["--no-worker"] if n else [])
        log = (data_dir / f"serve-{n}.log").open("w")
        processes.append(subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT))
        urls.append(f"127.0.0.1:{port}")
    import urllib.request

    for proc, base in zip(processes, urls, strict=True):
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://{base}/healthz", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log_text = "".join(p.read_text() for p in data_dir.glob("serve-*.log"))
                    raise RuntimeError(f"server {base} did not start:\n{log_text}") from None
                time.sleep(0.2)
    return processes, urls


async def reconnect(url: str, **options: Any) -> ClientConnection:
    """Connect, trying again (as the widget does) when the handshake fails or times out: a thousand clients
    reconnecting at once can wait longer than a handshake's timeout, and one that gave up would stall the run."""
    for attempt in range(30):
        try:
            return await connect(url, max_queue=None, **options)
        except Exception:  # noqa: BLE001 (refused, reset, timed out: all mean try again)
            await asyncio.sleep(min(5.0, 0.5 * (attempt + 1)) * random.uniform(0.5, 1.5))
    return await connect(url, max_queue=None, **options)


class Stats:
    def __init__(self) -> None:
        self.sent: dict[str, float] = {}  # message text -> when it was sent
        self.latencies: list[float] = []
        self.steady: list[float] = []  # without each chat's first message and the one sent across the cut
        self.bursts: set[str] = set()
        self.delivered = 0

    def arrived(self, text: str) -> None:
        started = self.sent.pop(text, None)
        if started is not None:
            took = time.perf_counter() - started
            self.latencies.append(took)
            if text not in self.bursts and text.removeprefix("re ") not in self.bursts:
                self.steady.append(took)
            self.delivered += 1


class Customer:
    def __init__(self, n: int, base: str, rounds: int, stats: Stats, think: float = 0.0):
        self.n, self.base, self.rounds, self.stats, self.think = n, base, rounds, stats, think
        self.ws: ClientConnection | None = None
        self.conversation = 0
        self.token = ""
        self.last = 0
        self.seqs: list[int] = []
        self.round = 0
        self.pending: dict[str, dict[str, Any]] = {}  # client_id -> frame, until acknowledged
        self.done = asyncio.Event()
        self.halfway = asyncio.Event()
        self.cut = False

    async def send(self, **frame: Any) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(frame))

    async def write(self) -> None:
        text = f"c{self.n}-{self.round}: " + TEXT.format(n=self.n)
        frame = {"type": "message", "text": text, "client_id": f"m{self.round}"}
        self.pending[frame["client_id"]] = frame
        if self.round in (0, self.rounds // 2):  # the chat's first message (intake, triage, routing), the cut
            self.stats.bursts.add(text)
        self.stats.sent[text] = time.perf_counter()
        await self.send(**frame)

    async def open(self) -> None:
        self.ws = await reconnect(f"ws://{self.base}/channels/chat/ws/customer?brand=bench")
        await self.ws.recv()  # hello
        if self.conversation:
            await self.send(type="resume", conversation=self.conversation, token=self.token, after=self.last)
            for frame in list(self.pending.values()):  # unacknowledged: resent, stored once
                await self.send(**frame)
        else:
            await self.send(type="start", visitor=f"bench-visitor-{self.n:06d}")

    async def run(self) -> None:
        await self.open()
        while True:
            try:
                assert self.ws is not None
                async for raw in self.ws:
                    await self.on(json.loads(raw))
            except Exception:  # noqa: BLE001 (a cut connection)
                pass
            if self.done.is_set() or not self.cut:
                return
            await self.reconnected.wait()
            self.cut = False
            await self.open()

    reconnected = asyncio.Event()

    async def on(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "started":
            self.conversation, self.token = frame["conversation"], frame["token"]
            await self.write()
        elif kind == "ack":
            self.pending.pop(frame["client_id"], None)
        elif kind == "event":
            self.seqs.append(frame["seq"])
            self.last = max(self.last, frame["seq"])
            if frame["kind"] == "message" and frame["from"] == "agent":
                self.stats.arrived(frame["text"])
                self.round += 1
                if self.round >= self.rounds:
                    self.done.set()
                elif self.round == self.rounds // 2 and not self.halfway.is_set():
                    self.halfway.set()  # the cut: write, and go away without waiting
                elif self.think:
                    asyncio.get_running_loop().call_later(self.think * random.uniform(0.5, 1.5),
                                                          lambda: asyncio.ensure_future(self.write()))
                else:
                    await self.write()

    async def cut_now(self) -> None:
        self.cut = True
        await self.write()
        assert self.ws is not None
        await self.ws.close()


class Agent:
    def __init__(self, token: str, base: str, stats: Stats):
        self.token, self.base, self.stats = token, base, stats
        self.ws: ClientConnection | None = None
        self.last: dict[int, int] = {}
        self.seqs: dict[int, list[int]] = defaultdict(list)
        self.answered: set[str] = set()
        self.cut = False

    async def open(self) -> None:
        self.ws = await reconnect(f"ws://{self.base}/channels/chat/ws/agent",
                                  additional_headers={"Authorization": f"Bearer {self.token}"})
        await self.ws.send(json.dumps({"type": "hello", "after": {str(k): v for k, v in self.last.items()}}))

    async def run(self, reconnected: asyncio.Event) -> None:
        await self.open()
        while True:
            try:
                assert self.ws is not None
                async for raw in self.ws:
                    await self.on(json.loads(raw))
            except Exception:  # noqa: BLE001 (a cut connection)
                pass
            if not self.cut:
                return
            await reconnected.wait()
            self.cut = False
            await self.open()

    async def on(self, frame: dict[str, Any]) -> None:
        if frame.get("type") != "event":
            return
        conversation = frame["conversation"]
        self.seqs[conversation].append(frame["seq"])
        self.last[conversation] = max(self.last.get(conversation, 0), frame["seq"])
        if frame["kind"] == "message" and frame["from"] == "customer":
            self.stats.arrived(frame["text"])
            key = f"{conversation}:{frame['client_id']}"
            if key in self.answered:
                return
            self.answered.add(key)
            reply = "re " + frame["text"]
            self.stats.sent[reply] = time.perf_counter()
            assert self.ws is not None
            await self.ws.send(json.dumps({"type": "message", "conversation": conversation, "text": reply}))

    async def cut_now(self) -> None:
        self.cut = True
        assert self.ws is not None
        await self.ws.close()


async def scenario(urls: list[str], tokens: list[str], chats: int, rounds: int, think: float,
                   ramp: float) -> dict[str, Any]:
    stats = Stats()
    reconnected = asyncio.Event()
    Customer.reconnected = reconnected
    agents = [Agent(t, urls[i % 2], stats) for i, t in enumerate(tokens)]
    customers = [Customer(n, urls[(n + 1) % 2], rounds, stats, think) for n in range(chats)]
    agent_tasks = [asyncio.create_task(a.run(reconnected)) for a in agents]
    await asyncio.sleep(1)  # the agents are signed in
    started = time.perf_counter()
    customer_tasks = []
    for c in customers:  # chats start spread over the ramp, as customers arrive
        customer_tasks.append(asyncio.create_task(c.run()))
        if ramp:
            await asyncio.sleep(ramp / chats)
    if rounds >= 2:
        await asyncio.wait_for(asyncio.gather(*(c.halfway.wait() for c in customers)), 600)
        cut = time.perf_counter()
        for a in agents:
            await a.cut_now()
        await asyncio.gather(*(c.cut_now() for c in customers))
        reconnected.set()
        print(f"cut every client after {cut - started:.1f} s; reconnecting", file=sys.stderr)
    await asyncio.wait_for(asyncio.gather(*(c.done.wait() for c in customers)), 900)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(2)  # the agents' own last replies reach them
    for c in customers:
        if c.ws is not None:
            await c.ws.close()
    for a in agents:
        a.cut = False
        if a.ws is not None:
            await a.ws.close()
    await asyncio.gather(*customer_tasks, *agent_tasks, return_exceptions=True)
    return {"stats": stats, "customers": customers, "agents": agents, "elapsed": elapsed}


def count_losses(url: str, customers: list[Customer], agents: list[Agent]) -> tuple[int, int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        last = dict(conn.exec_driver_sql("SELECT conversation_id, max(seq) FROM chat_events GROUP BY 1").all())
    engine.dispose()
    lost = duplicated = 0
    views: list[tuple[int, list[int]]] = [(c.conversation, c.seqs) for c in customers]
    for a in agents:
        views.extend(a.seqs.items())
    for conversation, seqs in views:
        counts = Counter(seqs)
        duplicated += sum(n - 1 for n in counts.values() if n > 1)
        lost += sum(1 for s in range(1, last.get(conversation, 0) + 1) if s not in counts)
    return lost, duplicated


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6, help="customer messages per chat (each answered)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a customer takes to write the next message (0: at once, a closed loop)")
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds over which the chats start")
    parser.add_argument("--pg-url", default=os.environ.get("TIERDESK_BENCH_PG_URL", DEFAULT_PG))
    args = parser.parse_args()
    fresh_database(args.pg_url)
    tokens = prepare(args.pg_url, args.agents)
    with tempfile.TemporaryDirectory() as tmp:
        capacity = min(1000, -(-args.chats // args.agents) + 5)  # every chat finds an agent with room
        processes, urls = start_servers(args.pg_url, Path(tmp), capacity)
        try:
            outcome = asyncio.run(scenario(urls, tokens, args.chats, args.rounds, args.think, args.ramp))
        finally:
            for proc in processes:
                proc.terminate()
                proc.wait(timeout=30)
    stats: Stats = outcome["stats"]
    lost, duplicated = count_losses(args.pg_url, outcome["customers"], outcome["agents"])
    p50, p99 = _percentiles(stats.latencies)
    steady50, steady99 = _percentiles(stats.steady)
    conditions = {"think_seconds": args.think, "ramp_seconds": args.ramp,
                  "machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
                  "database": "postgresql", "serve_processes": 2, "agents": args.agents,
                  "clients": "one asyncio process for every customer and agent socket (its own load counts in the "
                             "latency)"}
    result = {"chats": args.chats, "rounds": args.rounds, "messages": stats.delivered,
              "messages_per_s": round(stats.delivered / outcome["elapsed"], 1), "p50_ms": p50 and round(p50, 1),
              "p99_ms": p99 and round(p99, 1), "steady_p50_ms": steady50 and round(steady50, 1),
              "steady_p99_ms": steady99 and round(steady99, 1), "lost": lost, "duplicated": duplicated,
              "undelivered": len(stats.sent), "conditions": conditions}
    print(f"{args.chats} chats x {args.rounds} rounds on 2 serve processes: {stats.delivered} messages delivered in "
          f"{outcome['elapsed']:.1f} s ({result['messages_per_s']}/s); delivery p50 {result['p50_ms']} ms, "
          f"p99 {result['p99_ms']} ms (without first messages and the cut: p50 {result['steady_p50_ms']} ms, "
          f"p99 {result['steady_p99_ms']} ms); lost {lost}, duplicated {duplicated} across a forced reconnect of "
          "every client")
    print("conditions:", json.dumps(conditions))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
