"""Search benchmark: full-text search over 1,000,000 messages on 100,000 tickets (PostgreSQL; SQLite with --sqlite).

Seeds a fresh database (created, or emptied, by this script) through the migrations, then fills it in the database
itself (INSERT ... SELECT over generate_series / a recursive counter): two brands, 50,000 customers with an email
address each, 100,000 tickets and 1,000,000 messages whose texts are built from the triage examples that ship with
tierdesk (src/tierdesk/triage/examples: real support requests), two or three sentences each, with an order number.
On PostgreSQL the GIN indexes are built after the load (as the migration builds them over existing rows), then
VACUUM ANALYZE; on SQLite the triggers index every row as it is inserted, then the FTS5 index is optimised.

Then times searches as customers.search runs them for a page (every statement, ranking, snippets), in-process:
common words, rare words, prefixes (the last word being typed) and a customer's email address; as an admin (every
brand) and as an agent of one brand. Prints p50/p99 per kind and overall; the last line is JSON.

    python bench/search.py [--database-url URL] [--messages 1000000] [--tickets 100000] [--searches 200]
    python bench/search.py --sqlite [--messages 1000000]      (a file in a temporary directory)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from rich.progress import Progress
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from tierdesk import migrate  # noqa: E402
from tierdesk.brands.schemas import BrandCreate  # noqa: E402
from tierdesk.brands.service import create_brand  # noqa: E402
from tierdesk.customers import search  # noqa: E402
from tierdesk.db import Database, make_engine  # noqa: E402
from tierdesk.kit.actors import SYSTEM, Principal  # noqa: E402
from tierdesk.kit.vocabulary import AgentRole  # noqa: E402
from tierdesk.queues.repository import triage_queue  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/tierdesk_bench_search"
EXAMPLES = REPO / "src" / "tierdesk" / "triage" / "examples"
BATCH = 100_000
COMMON = ["refund", "router", "password", "charged twice", "internet", "invoice", "delivery", "app crashes",
          "order", "account"]
PREFIX = ["rou", "passw", "refu", "deliv", "inter", "subscr", "cancel", "wifi", "charg", "batter"]


def examples() -> tuple[list[str], list[str]]:
    texts, subjects = [], []
    for path in sorted(EXAMPLES.glob("*.csv")):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get("text"):
                    texts.append(" ".join(row["text"].split()))
                if row.get("subject"):
                    subjects.append(row["subject"].strip())
    return texts, subjects or ["Help"]


def fresh_postgres(url: str) -> None:
    target = make_url(url)
    admin = make_engine(target.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()


# The search index's DDL, dropped before the load and built after it (as the migration builds it over existing rows).
PG_INDEXES = {
    "ix_search_messages": "CREATE INDEX ix_search_messages ON messages USING gin (search_vector)",
    "ix_search_tickets_subject": "CREATE INDEX ix_search_tickets_subject ON tickets USING gin "
                                 "(to_tsvector('english'::regconfig, subject))",
    "ix_search_customers_name": "CREATE INDEX ix_search_customers_name ON customers USING gin "
                                "(to_tsvector('simple'::regconfig, coalesce(display_name, '')))",
}


def seed(database: Database, n_messages: int, n_tickets: int, progress: Progress) -> dict[str, int]:
    texts, subjects = examples()
    pg = database.dialect == "postgresql"
    with database.transaction() as db:
        brands = [create_brand(db, SYSTEM, BrandCreate(slug=s, name=s.title())).id for s in ("acme", "globex")]
        queues = [triage_queue(db, b).id for b in brands]
    n_customers = max(1, n_tickets // 2)
    engine = database.engine
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE bench_texts (i integer primary key, body text)")
        conn.exec_driver_sql("CREATE TEMP TABLE bench_subjects (i integer primary key, subject text)")
        conn.execute(sa.text("INSERT INTO bench_texts VALUES (:i, :t)"),
                     [{"i": i, "t": t} for i, t in enumerate(texts)])
        conn.execute(sa.text("INSERT INTO bench_subjects VALUES (:i, :t)"),
                     [{"i": i, "t": t} for i, t in enumerate(subjects)])
        if pg:
            for name in PG_INDEXES:
                conn.exec_driver_sql(f"DROP INDEX {name}")
        series = "generate_series(1, :n) AS g(n)" if pg else \
            "(WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < :n) SELECT n FROM c) AS g"
        now = "now()" if pg else "strftime('%Y-%m-%d %H:%M:%S.000000', 'now')"
        ago = (lambda col: f"now() - ({col} || ' minutes')::interval") if pg else \
            (lambda col: f"strftime('%Y-%m-%d %H:%M:%S.000000', 'now', '-' || ({col}) || ' minutes')")
        cast = "::text" if pg else ""
        b0, b1 = brands
        q0, q1 = queues
        n_texts, n_subjects = len(texts), len(subjects)
        task = progress.add_task("customers", total=n_customers)
        conn.execute(sa.text(
            f"INSERT INTO customers (id, brand_id, display_name, created_at, updated_at) "
            f"SELECT n, CASE WHEN n % 5 = 0 THEN {b1} ELSE {b0} END, "
            f"(ARRAY['Maria','Oskar','Wei','Ada','Grace','Linus','Amara','Kenji','Sofia','Ravi'])[1 + n % 10] "
            f"|| ' ' || (ARRAY['Gonzalez','Lindqvist','Chen','Lovelace','Hopper','Okafor','Tanaka','Rossi',"
            f"'Patel','Novak'])[1 + (n / 10) % 10] || ' ' || n{cast}, {now}, {now} FROM {series}"
            if pg else
            f"INSERT INTO customers (id, brand_id, display_name, created_at, updated_at) "
            f"SELECT n, CASE WHEN n % 5 = 0 THEN {b1} ELSE {b0} END, 'Customer ' || n, {now}, {now} FROM {series}"),
            {"n": n_customers})
        conn.execute(sa.text(
            f"INSERT INTO customer_identities (brand_id, customer_id, kind, value, created_at) "
            f"SELECT CASE WHEN n % 5 = 0 THEN {b1} ELSE {b0} END, n, 'email', 'customer' || n || '@example.com', "
            f"{now} FROM {series}"), {"n": n_customers})
        progress.update(task, completed=n_customers)
        task = progress.add_task("tickets", total=n_tickets)
        for start in range(0, n_tickets, BATCH):
            size = min(BATCH, n_tickets - start)
            conn.execute(sa.text(
                f"INSERT INTO tickets (id, brand_id, customer_id, subject, status, priority, queue_id, tier, "
                f"channel, message_count, created_at, updated_at, reopen_count, reopens_escalated) "
                f"SELECT n + :start, CASE WHEN (1 + (n + :start) % :nc) % 5 = 0 THEN {b1} ELSE {b0} END, "
                f"1 + (n + :start) % :nc, s.subject, "
                f"CASE WHEN n % 3 = 0 THEN 'solved' ELSE 'open' END, 'normal', "
                f"CASE WHEN (1 + (n + :start) % :nc) % 5 = 0 THEN {q1} ELSE {q0} END, 1, 'email', :per, "
                f"{ago(':total - n - :start')}, {ago(':total - n - :start')}, 0, 0 "
                f"FROM {series} JOIN bench_subjects s ON s.i = ((n + :start) * 7919) % {n_subjects}"),
                {"n": size, "start": start, "nc": n_customers, "per": n_messages // n_tickets, "total": n_tickets})
            progress.update(task, advance=size)
        task = progress.add_task("messages", total=n_messages)
        for start in range(0, n_messages, BATCH):
            size = min(BATCH, n_messages - start)
            # Two example texts and an order number: 1,000,000 messages that read like a support inbox.
            big = "::bigint" if pg else ""
            body = f"a.body || ' ' || b.body || ' Order ' || (((n + :start){big} * 104729) % 9000000 + 1000000){cast}"
            conn.execute(sa.text(
                f"INSERT INTO messages (ticket_id, brand_id, direction, channel, author_customer_id, body_text, "
                f"body_html, created_at) "
                f"SELECT t.id, t.brand_id, CASE WHEN n % 2 = 0 THEN 'inbound' ELSE 'outbound' END, 'email', "
                f"t.customer_id, {body}, '', t.created_at "
                f"FROM {series} "
                f"JOIN tickets t ON t.id = 1 + ((n + :start) % :nt) "
                f"JOIN bench_texts a ON a.i = ((n + :start) * 31) % {n_texts} "
                f"JOIN bench_texts b ON b.i = ((n + :start) * 7) % {n_texts}"),
                {"n": size, "start": start, "nt": n_tickets})
            progress.update(task, advance=size)
    task = progress.add_task("search index", total=1)
    with engine.begin() as conn:
        if pg:
            for ddl in PG_INDEXES.values():
                conn.exec_driver_sql(ddl)
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('tickets', 'id'), "
                                 "(SELECT max(id) FROM tickets))")
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('customers', 'id'), "
                                 "(SELECT max(id) FROM customers))")
        else:  # SQLite's index was kept by its triggers during the load; merge its segments as a quiet hour would
            for fts in ("search_messages", "search_tickets", "search_customers"):
                conn.exec_driver_sql(f"INSERT INTO {fts}({fts}) VALUES ('optimize')")
    if pg:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    progress.update(task, completed=1)
    return {"brand_acme": brands[0], "brand_globex": brands[1], "customers": n_customers}


def timed(database: Database, principal: Principal, text: str) -> tuple[float, int]:
    start = time.perf_counter()
    with database.read_sessions() as db:
        found = search.search(db, principal, search.parse(text), limit=25)
    return (time.perf_counter() - start) * 1000, len(found.results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("TIERDESK_BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--sqlite", action="store_true", help="measure SQLite (a file in a temporary directory)")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="search the database a previous run seeded (PostgreSQL)")
    args = parser.parse_args()
    tmp = None
    if args.sqlite:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/bench.db"
    else:
        url = args.database_url
        if not args.reuse:
            fresh_postgres(url)
    started = time.perf_counter()
    if args.reuse:
        database = Database(make_engine(url))
        with database.read_sessions() as db:
            brands = list(db.scalars(sa.text("SELECT id FROM brands ORDER BY slug")))
            facts = {"brand_acme": brands[0], "brand_globex": brands[1],
                     "customers": db.scalar(sa.text("SELECT count(*) FROM customers"))}
            args.messages = db.scalar(sa.text("SELECT count(*) FROM messages"))
            args.tickets = db.scalar(sa.text("SELECT count(*) FROM tickets"))
    else:
        migrate.upgrade(url)
        database = Database(make_engine(url))
        with Progress() as progress:
            facts = seed(database, args.messages, args.tickets, progress)
    seed_s = time.perf_counter() - started
    if args.sqlite:
        database.engine.dispose()
        database = Database(make_engine(url))
    rng = random.Random(11)
    with database.read_sessions() as db:
        rare = [r[0] for r in db.execute(sa.text(
            "SELECT body_text FROM messages WHERE id IN (SELECT 1 + (n * 48271) % :m FROM "
            + ("generate_series(1, 60) AS g(n)" if database.dialect == "postgresql" else
               "(WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 60) SELECT n FROM c)")
            + ")"), {"m": args.messages})]
    rare_terms = [body.rsplit(" ", 1)[-1] for body in rare]  # an order number: in one or two messages
    kinds = {
        "common": lambda: rng.choice(COMMON),
        "rare": lambda: rng.choice(rare_terms),
        "prefix": lambda: rng.choice(PREFIX),
        "email": lambda: f"customer{rng.randint(1, facts['customers'])}@example.com",
    }
    admin = Principal(agent_id=1, role=AgentRole.ADMIN, brand_ids=frozenset())
    agent = Principal(agent_id=2, role=AgentRole.AGENT, brand_ids=frozenset({facts["brand_acme"]}))
    for _ in range(10):  # warm the caches a little, as a running server has them
        timed(database, admin, rng.choice(COMMON))
    times: dict[str, list[float]] = {k: [] for k in kinds}
    results: dict[str, list[int]] = {k: [] for k in kinds}
    with Progress() as progress:
        task = progress.add_task("searches", total=args.searches)
        for i in range(args.searches):
            kind = list(kinds)[i % len(kinds)]
            ms, n = timed(database, admin if i % 2 else agent, kinds[kind]())
            times[kind].append(ms)
            results[kind].append(n)
            progress.advance(task)

    def pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)

    every = [t for ts in times.values() for t in ts]
    print(f"tierdesk search benchmark on {database.dialect} ({platform.python_version()}, {os.cpu_count()} cores, "
          f"{platform.machine()}): {args.messages:,} messages on {args.tickets:,} tickets, "
          f"{facts['customers']:,} customers in 2 brands; " + ("reused" if args.reuse else f"seeded in {seed_s:.0f} s"))
    print(f"{args.searches} searches, in-process (every statement of a results page of 25, ranking and snippets), "
          "half as an admin (every brand), half as an agent of one brand")
    for kind, ts in times.items():
        print(f"  {kind:7} p50 {pct(ts, .5):7.1f} ms   p99 {pct(ts, .99):7.1f} ms   "
              f"mean results {statistics.mean(results[kind]):.1f}")
    print(f"  all     p50 {pct(every, .5):7.1f} ms   p99 {pct(every, .99):7.1f} ms")
    print(json.dumps({"backend": database.dialect, "messages": args.messages, "tickets": args.tickets,
                      "searches": args.searches, "p50_ms": pct(every, .5), "p99_ms": pct(every, .99),
                      **{f"{k}_p99_ms": pct(ts, .99) for k, ts in times.items()}}))
    database.engine.dispose()
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
