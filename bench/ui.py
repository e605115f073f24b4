"""Web UI benchmark on PostgreSQL: server time per page over real HTTP with a signed-in session, at support-team scale.

1. Seeds (once: a database whose counts match is reused; --reseed rebuilds it) 100,000 tickets and 1,000,000 messages
   over 2 brands, ~30,000 customers with their identities, 50 agents; subjects and bodies from tierdesk's own triage
   examples; statuses, priorities, queues, channels and SLA due times spread as a working helpdesk has them (most
   tickets closed, a backlog of new, open, pending and on-hold ones); one ticket with 200 messages; 40 open tickets
   assigned to the benchmark agent. The schema is built by the migrations (`tierdesk db upgrade`), the rows by
   INSERT ... SELECT over generate_series in PostgreSQL itself; brands, queues, SLA policies and agents through
   tierdesk's services.
2. Starts `tierdesk serve --no-worker` on it (TIERDESK_COUNT_QUERIES=1), signs in over HTTP with the sign-in form (and
   its CSRF token) as the benchmark agent and as an admin, and requests each page --runs times after a warm-up:
   p50 and p99 of the server's time (its Server-Timing header) and of the wall time, and the statements per page
   (X-Query-Count). A page this build does not have (404) is reported as missing.

Prints the conditions (CPU, cores, PostgreSQL version, row counts) and a table; the last line is JSON. Target: p99
server time under 100 ms for every page.

    python bench/ui.py [--database-url URL] [--reseed] [--runs 100] [--tickets 100000] [--messages 1000000]
    (URL default: TIERDESK_BENCH_DATABASE_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/tierdesk_bench_ui)
"""

from __future__ import annotations

import argparse
import csv
import html
import http.client
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from tierdesk.agents import service as agents_service  # noqa: E402
from tierdesk.agents.schemas import AgentCreate, SkillLevel  # noqa: E402
from tierdesk.brands.schemas import BrandCreate  # noqa: E402
from tierdesk.brands.service import create_brand  # noqa: E402
from tierdesk.db import Database, make_engine  # noqa: E402
from tierdesk.kit.actors import SYSTEM  # noqa: E402
from tierdesk.routing.schemas import QueueCreate, RequiredSkill  # noqa: E402
from tierdesk.routing.service import create_queue  # noqa: E402
from tierdesk.sla.schemas import PolicyCreate  # noqa: E402
from tierdesk.sla.service import create_policy  # noqa: E402
from tierdesk.triage.corpus import EXAMPLES_DIR  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tierdesk_bench_ui"
TARGET_P99_MS = 100.0
AGENT_EMAIL, ADMIN_EMAIL = "bench-agent@bench.example", "bench-admin@bench.example"
SECRET_KEY = "bench-ui-secret"  # the server's, so the bench can compose the portal's sign-in mail as the worker would
PASSWORD = "bench password 1234"
BRANDS = {"acme": "Acme Broadband", "globex": "Globex Mobile"}
# Queues per brand besides the entry queues create_brand makes: (slug, department, tier, required skill).
QUEUES = [("cs-refunds", "CS", 1, "refunds"), ("cs-escalations", "CS", 2, "billing"),
          ("ts-devices", "TS", 1, "devices"), ("ts-specialists", "TS", 2, "connectivity")]
SKILLS = ["billing", "refunds", "orders", "connectivity", "mobile", "devices", "software", "accounts"]
MY_TICKETS = 40
BUSY_MESSAGES = 200
FIRST = ["Maria", "Jon", "Aisha", "Wei", "Lukas", "Sofia", "Omar", "Emma", "Kenji", "Priya", "Lea", "Carlos", "Anna",
         "Tom", "Fatima", "Noah", "Ines", "Mateo", "Yuki", "Olga"]
LAST = ["Schmidt", "Garcia", "Okafor", "Chen", "Novak", "Rossi", "Haddad", "Smith", "Tanaka", "Patel", "Dubois",
        "Silva", "Kowalski", "Jensen", "Nguyen", "Murphy", "Costa", "Weber", "Ito", "Ivanova"]
console = Console(width=None if sys.stdout.isatty() else 150)


# --- seeding -------------------------------------------------------------------------------------------------------


@dataclass
class Scale:
    tickets: int
    messages: int
    customers: int

    @property
    def backlog(self) -> int:
        """Tickets not yet solved: the newest tenth (a helpdesk solves most of what comes in)."""
        return self.tickets // 10


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608 (fixed names)
                for t in ("brands", "agents", "customers", "customer_identities", "tickets", "messages",
                          "ticket_events", "sla_clocks", "ticket_tags")}


def bench_made(url: str) -> bool:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        made = conn.execute(sa.text("SELECT 1 FROM agents WHERE email = :e"), {"e": AGENT_EMAIL}).first()
    engine.dispose()
    return made is not None


def ensure_database(url: str, *, fresh: bool) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                              {"d": target.database}).first()
        if fresh and exists:
            conn.exec_driver_sql(f'DROP DATABASE "{target.database}" WITH (FORCE)')
        if fresh or not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()
    # The schema as a deployment builds it.
    subprocess.run([sys.executable, "-m", "tierdesk", "db", "upgrade"], check=True, env=_env(url),
                   stdout=subprocess.DEVNULL)


def _env(url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "TIERDESK_DATABASE_URL": url, "TIERDESK_SECRET_KEY": SECRET_KEY,
            "PYTHONPATH": str(REPO / "src"), **extra}


def example_texts() -> list[tuple[str, str, str, str, str]]:
    """(subject, body, department, intent, priority) from tierdesk's own triage examples; a subject for those
    without one (chat and form style) from the body's first words."""
    rows = []
    for path in sorted(EXAMPLES_DIR.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                subject = r["subject"] or " ".join(r["text"].split()[:8]).rstrip(".,!?") + "..."
                rows.append((subject[:500], r["text"], r["department"], r["intent"][:100], r["priority"]))
    return rows


def set_up_operation(database: Database, n_agents: int) -> None:
    """Brands, queues, SLA policies and agents, through tierdesk's services (so they are exactly what admins make)."""
    with database.transaction() as db:
        for slug, name in BRANDS.items():
            create_brand(db, SYSTEM, BrandCreate(slug=slug, name=name))
            for q_slug, dept, tier, skill in QUEUES:
                create_queue(db, SYSTEM, QueueCreate(brand=slug, slug=q_slug, name=q_slug.replace("-", " ").title(),
                                                     department=dept, tier=tier,
                                                     required_skills=[RequiredSkill(skill=skill, min_level=2)]))
            create_policy(db, SYSTEM, PolicyCreate(brand=slug, slug="standard", name="Standard",
                                                   first_response_minutes=240, resolution_minutes=2880))
            create_policy(db, SYSTEM, PolicyCreate(brand=slug, slug="urgent", name="Urgent", priority="urgent",
                                                   first_response_minutes=30, resolution_minutes=480))
        agents_service.create_agent(db, SYSTEM, AgentCreate(
            email=AGENT_EMAIL, display_name="Bench Agent", tier=1, brands=list(BRANDS), password=PASSWORD,
            skills=[SkillLevel(skill=s, level=3) for s in SKILLS]))
        agents_service.create_agent(db, SYSTEM, AgentCreate(
            email=ADMIN_EMAIL, display_name="Bench Admin", role="admin", tier=3, password=PASSWORD))
        for i in range(n_agents - 2):
            brands = [list(BRANDS)[i % 2]] if i % 5 else list(BRANDS)
            agents_service.create_agent(db, SYSTEM, AgentCreate(
                email=f"agent{i}@bench.example", display_name=f"{FIRST[i % 20]} {LAST[(i * 7) % 20]}",
                role="lead" if i % 12 == 0 else "agent", tier=2 if i % 4 == 0 else 1, brands=brands,
                skills=[SkillLevel(skill=SKILLS[(i + k) % len(SKILLS)], level=2 + (i + k) % 4) for k in range(3)]))


# The bulk rows, in PostgreSQL itself. :parameters are bound; every choice is arithmetic on the row number, so the
# data is the same on every run.
BULK = [
    ("customers", """
        INSERT INTO customers (brand_id, display_name, created_at, updated_at)
        SELECT CASE WHEN g % 5 < 3 THEN (SELECT id FROM brands WHERE slug = 'acme')
                    ELSE (SELECT id FROM brands WHERE slug = 'globex') END,
               (CAST(:first AS text[]))[1 + g % 20] || ' ' || (CAST(:last AS text[]))[1 + (g / 20) % 20],
               now() - (g % 720) * interval '1 day', now() - (g % 30) * interval '1 day'
        FROM generate_series(0, :customers - 1) g"""),
    ("customer identities", """
        INSERT INTO customer_identities (brand_id, customer_id, kind, value, created_at)
        SELECT brand_id, id, 'email',
               lower(replace(display_name, ' ', '.')) || '.' || id || '@example.com', created_at
        FROM customers
        UNION ALL
        SELECT brand_id, id, 'phone', '+49151' || lpad(id::text, 8, '0'), created_at
        FROM customers WHERE id % 3 = 0"""),
    ("helper tables", """
        CREATE TEMP TABLE bench_customers AS
            SELECT id, brand_id, (row_number() OVER (ORDER BY id)) - 1 AS rn FROM customers;
        CREATE TEMP TABLE bench_queues AS
            SELECT q.id, q.brand_id, q.department, q.tier,
                   (row_number() OVER (PARTITION BY q.brand_id, q.department ORDER BY q.tier, q.id)) - 1 AS rn,
                   count(*) OVER (PARTITION BY q.brand_id, q.department) AS n
            FROM queues q WHERE q.department IS NOT NULL;
        CREATE TEMP TABLE bench_agents AS
            SELECT ab.agent_id AS id, ab.brand_id,
                   (row_number() OVER (PARTITION BY ab.brand_id ORDER BY ab.agent_id)) - 1 AS rn,
                   count(*) OVER (PARTITION BY ab.brand_id) AS n
            FROM agent_brands ab JOIN agents a ON a.id = ab.agent_id WHERE a.email <> :agent_email;
        CREATE INDEX ON bench_customers (rn); CREATE INDEX ON bench_queues (brand_id, department, rn);
        CREATE INDEX ON bench_agents (brand_id, rn); ANALYZE bench_customers; ANALYZE bench_queues;
        ANALYZE bench_agents"""),
    # g = 0 is the oldest ticket, g = tickets - 1 the newest; the newest tenth is the backlog.
    ("tickets", """
        INSERT INTO tickets (brand_id, customer_id, subject, status, priority, department, intent, language,
                             sentiment, triage_confidence, queue_id, tier, assignee_id, channel, message_count,
                             created_at, updated_at, last_inbound_at, first_response_at, solved_at, closed_at,
                             routable_since, sla_due_at, reopen_count, reopens_escalated)
        SELECT c.brand_id, c.id, t.subject, s.status,
               CASE WHEN g % 50 = 0 THEN 'urgent' WHEN g % 13 = 0 THEN 'high' ELSE t.priority END,
               t.department, t.intent, 'en', 0.0, 0.55 + (g % 45) / 100.0,
               q.id, q.tier,
               CASE WHEN s.status = 'new' THEN NULL ELSE a.id END,
               (ARRAY['email','email','email','email','web','web','chat','chat','phone','api'])[1 + g % 10],
               0, x.created, x.created + interval '1 hour', x.created,
               CASE WHEN s.status <> 'new' THEN x.created + (g % 120) * interval '1 minute' END,
               CASE WHEN s.status IN ('solved', 'closed') THEN x.created + (1 + g % 48) * interval '1 hour' END,
               CASE WHEN s.status = 'closed' THEN x.created + (1 + g % 48) * interval '1 hour' + interval '4 days'
               END,
               CASE WHEN s.status = 'new' THEN x.created END,
               CASE WHEN s.status NOT IN ('solved', 'closed')
                    THEN x.created + (CASE WHEN g % 50 = 0 THEN 30 ELSE 240 + (g % 9) * 300 END) * interval '1 minute'
               END,
               0, 0
        FROM generate_series(0, :tickets - 1) g
        CROSS JOIN LATERAL (SELECT now() - ((:tickets - g) * (365.0 * 86400 / :tickets)) * interval '1 second'
                            AS created) x
        CROSS JOIN LATERAL (SELECT CASE
            WHEN g < :tickets - 2 * :backlog THEN 'closed'
            WHEN g < :tickets - :backlog THEN 'solved'
            ELSE (ARRAY['new','new','new','open','open','open','open','pending','pending','on_hold'])[1 + g % 10]
            END AS status) s
        JOIN bench_customers c ON c.rn = (g::bigint * 7919) % :customers
        JOIN bench_texts t ON t.n = g % :texts
        JOIN bench_queues q ON q.brand_id = c.brand_id AND q.department = t.department
                           AND q.rn = CASE WHEN g % 9 = 0 THEN (g / 9) % q.n ELSE 0 END
        JOIN bench_agents a ON a.brand_id = c.brand_id AND a.rn = (g::bigint * 31) % a.n
        ORDER BY g"""),
    ("my tickets", """
        UPDATE tickets SET assignee_id = (SELECT id FROM agents WHERE email = :agent_email),
                           status = CASE WHEN id % 4 = 0 THEN 'pending' ELSE 'open' END, routable_since = NULL,
                           first_response_at = COALESCE(first_response_at, created_at + interval '20 minutes')
        WHERE id IN (SELECT id FROM tickets WHERE status NOT IN ('solved', 'closed') ORDER BY id DESC
                     OFFSET 25 LIMIT :my_tickets)"""),
    ("the busy ticket", """
        CREATE TEMP TABLE bench_ticket_order AS
            SELECT id, brand_id, customer_id, assignee_id, status, created_at,
                   (row_number() OVER (ORDER BY id)) - 1 AS rn
            FROM tickets WHERE id <> (SELECT min(id) FROM tickets WHERE assignee_id =
                                      (SELECT id FROM agents WHERE email = :agent_email));
        CREATE INDEX ON bench_ticket_order (rn); ANALYZE bench_ticket_order"""),
    # Message i goes to ticket (i * p) mod N (p prime to N: each ticket gets its share), the k-th of that ticket
    # being k = i / N: the first is the customer's, then replies, customer answers and internal notes in turn.
    ("messages", """
        INSERT INTO messages (ticket_id, brand_id, direction, channel, author_agent_id, author_customer_id,
                              body_text, body_html, created_at)
        SELECT o.id, o.brand_id, d.direction, 'email',
               CASE WHEN d.direction <> 'inbound' THEN o.assignee_id END,
               CASE WHEN d.direction = 'inbound' THEN o.customer_id END,
               d.body, '<p>' || d.html || '</p>',
               o.created_at + (now() - o.created_at) * (m.k / (m.k + 2.0))
        FROM generate_series(0, :messages - :busy - 1) i
        CROSS JOIN LATERAL (SELECT (i::bigint * 100003) % :others AS rn, i / :others AS k) m
        JOIN bench_ticket_order o ON o.rn = m.rn
        JOIN bench_texts t ON t.n = (i % :texts)
        CROSS JOIN LATERAL (SELECT
            CASE WHEN m.k = 0 OR o.status = 'new' THEN 'inbound'
                 WHEN m.k % 4 = 3 THEN 'note' WHEN m.k % 2 = 1 THEN 'outbound' ELSE 'inbound' END AS direction,
            CASE WHEN m.k = 0 OR o.status = 'new' THEN t.body
                 WHEN m.k % 4 = 3 THEN 'Checked the account: ' || t.intent || '. Next step noted in the runbook.'
                 WHEN m.k % 2 = 1 THEN 'Thanks for writing. ' || t.reply
                 ELSE 'Still the same here. ' || t.body END AS body,
            CASE WHEN m.k = 0 OR o.status = 'new' THEN t.html
                 WHEN m.k % 4 = 3 THEN 'Checked the account: ' || t.intent || '. Next step noted in the runbook.'
                 WHEN m.k % 2 = 1 THEN 'Thanks for writing. ' || t.reply
                 ELSE 'Still the same here. ' || t.html END AS html) d"""),
    ("messages of the busy ticket", """
        INSERT INTO messages (ticket_id, brand_id, direction, channel, author_agent_id, author_customer_id,
                              body_text, body_html, created_at)
        SELECT b.id, b.brand_id, CASE WHEN k = 0 OR k % 2 = 0 THEN 'inbound' WHEN k % 5 = 3 THEN 'note'
                                      ELSE 'outbound' END,
               'email', CASE WHEN k % 2 = 1 THEN b.assignee_id END, CASE WHEN k % 2 = 0 THEN b.customer_id END,
               'Message ' || k || ': ' || t.body, '<p>Message ' || k || ': ' || t.html || '</p>',
               b.created_at + (now() - b.created_at) * (k / (:busy + 1.0))
        FROM (SELECT * FROM tickets WHERE assignee_id = (SELECT id FROM agents WHERE email = :agent_email)
              ORDER BY id LIMIT 1) b
        CROSS JOIN generate_series(0, :busy - 1) k
        JOIN bench_texts t ON t.n = k % :texts"""),
    ("message counts", """
        UPDATE tickets SET message_count = m.n, updated_at = m.last
        FROM (SELECT ticket_id, count(*) AS n, max(created_at) AS last FROM messages GROUP BY ticket_id) m
        WHERE tickets.id = m.ticket_id"""),
    ("ticket events", """
        INSERT INTO ticket_events (ticket_id, brand_id, customer_id, kind, actor_kind, actor_agent_id, message_id,
                                   created_at)
        SELECT id, brand_id, customer_id, 'created', 'customer', NULL, NULL, created_at FROM tickets
        UNION ALL
        SELECT m.ticket_id, m.brand_id, t.customer_id,
               CASE m.direction WHEN 'inbound' THEN 'message_received' WHEN 'outbound' THEN 'reply_sent'
                                ELSE 'note_added' END,
               CASE WHEN m.direction = 'inbound' THEN 'customer' ELSE 'agent' END,
               m.author_agent_id, m.id, m.created_at
        FROM messages m JOIN tickets t ON t.id = m.ticket_id"""),
    ("SLA clocks", """
        INSERT INTO sla_clocks (ticket_id, brand_id, policy_id, metric, target_seconds, started_at, elapsed_seconds,
                                running_since, due_at, warn_at, warned_at, breached_at, stopped_at)
        SELECT t.id, t.brand_id, p.id, 'resolution', extract(epoch FROM t.sla_due_at - t.created_at)::int,
               t.created_at, 0, CASE WHEN t.status IN ('new', 'open') THEN t.created_at END,
               CASE WHEN t.status IN ('new', 'open') THEN t.sla_due_at END,
               CASE WHEN t.status IN ('new', 'open') THEN t.sla_due_at - interval '15 minutes' END,
               CASE WHEN t.status IN ('new', 'open') AND t.sla_due_at - interval '15 minutes' < now()
                    THEN t.sla_due_at - interval '15 minutes' END,
               CASE WHEN t.status IN ('new', 'open') AND t.sla_due_at < now() THEN t.sla_due_at END, NULL
        FROM tickets t JOIN sla_policies p ON p.brand_id = t.brand_id AND p.slug = 'standard'
        WHERE t.sla_due_at IS NOT NULL"""),
    ("tags", """
        INSERT INTO ticket_tags (ticket_id, tag)
        SELECT id, (ARRAY['vip', 'outage-2026-11', 'firmware-2-1', 'refund', 'social-media'])[1 + id % 5]
        FROM tickets WHERE id % 6 = 0"""),
]


# The big tables: their secondary indexes and foreign keys are set aside while the rows go in, then built in one
# pass each (an index built once over a million rows costs a fraction of a million single insertions into it; a foreign
# key added back is checked in one join instead of a lookup per row). Whatever indexes the migrations define, full-text
# ones included, are rebuilt exactly as they were (from pg_get_indexdef and pg_get_constraintdef).
BULK_TABLES = ("customer_identities", "tickets", "messages", "ticket_events", "sla_clocks", "ticket_tags")


def set_aside_indexes(conn: sa.Connection, tables: tuple[str, ...]) -> list[str]:
    """Drop the tables' foreign keys and their indexes that back no constraint; returns the statements that put
    them back (indexes first, then the foreign keys)."""
    indexes = conn.execute(sa.text("""
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
        WHERE i.indrelid = ANY(CAST(:tables AS regclass[]))
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"""),
        {"tables": list(tables)}).all()
    fks = conn.execute(sa.text("""
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE contype = 'f' AND conrelid = ANY(CAST(:tables AS regclass[]))"""), {"tables": list(tables)}).all()
    for table, name, _definition in fks:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    return [definition for _name, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in fks]


def seed(url: str, scale: Scale, n_agents: int) -> None:
    database = Database(make_engine(url))
    texts = example_texts()
    started = time.perf_counter()
    with Progress(console=console) as progress:
        task = progress.add_task("brands, queues, SLA policies, agents", total=len(BULK) + 3)
        set_up_operation(database, n_agents)
        progress.update(task, advance=1, description="example texts")
        params = {"first": FIRST, "last": LAST, "customers": scale.customers, "tickets": scale.tickets,
                  "backlog": scale.backlog, "texts": len(texts), "agent_email": AGENT_EMAIL,
                  "my_tickets": MY_TICKETS, "messages": scale.messages, "busy": BUSY_MESSAGES,
                  "others": scale.tickets - 1}
        with database.engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
            conn.exec_driver_sql("CREATE TEMP TABLE bench_texts (n int PRIMARY KEY, subject text, body text, "
                                 "department text, intent text, priority text, reply text, html text) ON COMMIT DROP")
            replies = ["We are looking into it and will get back to you today.",
                       "Could you send us a photo of the device's lights?", "The refund is on its way: 3-5 days.",
                       "We reset the line from our side; please restart the router."]
            # The HTML as tierdesk stores it: sanitised, here simply the text escaped.
            conn.execute(sa.text("INSERT INTO bench_texts VALUES (:n, :s, :b, :d, :i, :p, :r, :h)"),
                         [{"n": n, "s": s, "b": b, "d": d, "i": i, "p": p, "r": replies[n % len(replies)],
                           "h": html.escape(b, quote=False)}
                          for n, (s, b, d, i, p) in enumerate(texts)])
            progress.update(task, advance=1)
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
            rebuild = set_aside_indexes(conn, BULK_TABLES)
            for name, sql in BULK:
                progress.update(task, description=name)
                for statement in filter(str.strip, sql.split(";")):
                    names = set(re.findall(r"(?<!:):(\w+)", statement))
                    conn.execute(sa.text(statement), {k: v for k, v in params.items() if k in names})
                progress.update(task, advance=1)
            progress.update(task, description="indexes and foreign keys")
            for statement in rebuild:
                conn.exec_driver_sql(statement)
        progress.update(task, description="VACUUM ANALYZE")
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        progress.update(task, advance=1, description=f"seeded in {time.perf_counter() - started:.0f} s")
    database.dispose()


# --- measuring -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageCase:
    name: str
    url: Callable[[dict[str, object]], str]  # from the ids the bench looked up
    who: str  # "agent" or "admin"


PAGES = [
    PageCase("sign-in", lambda ids: "/sign-in", "nobody"),
    PageCase("my work", lambda ids: "/", "agent"),
    PageCase("queues", lambda ids: "/queues", "agent"),
    PageCase("a queue", lambda ids: f"/queues/{ids['queue']}", "agent"),
    PageCase("tickets (a view)", lambda ids: "/tickets?status=open", "agent"),
    PageCase("ticket, 200 messages", lambda ids: f"/tickets/{ids['busy_ticket']}", "agent"),
    PageCase("search", lambda ids: "/search?q=router", "agent"),
    PageCase("portal: my requests", lambda ids: "/portal/acme/requests", "portal"),
    PageCase("admin", lambda ids: "/admin", "admin"),
    PageCase("admin: agents", lambda ids: "/admin/agents", "admin"),
    PageCase("admin: queues", lambda ids: "/admin/queues", "admin"),
    PageCase("admin: audit", lambda ids: "/admin/audit", "admin"),
]


@dataclass
class Measured:
    status: str  # "ok", "missing" (404 on this build), or what went wrong
    server_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    queries: set[int] = field(default_factory=set)

    def summary(self) -> dict[str, object]:
        if self.status != "ok":
            return {"status": self.status}
        return {"status": "ok", "runs": len(self.wall_ms),
                "server_p50_ms": round(pct(self.server_ms, 50), 1), "server_p99_ms": round(pct(self.server_ms, 99), 1),
                "wall_p50_ms": round(pct(self.wall_ms, 50), 1), "wall_p99_ms": round(pct(self.wall_ms, 99), 1),
                "queries": max(self.queries) if self.queries else None,
                "queries_vary": len(self.queries) > 1}


def pct(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[min(98, max(0, int(p) - 1))]


def lookup_ids(url: str) -> dict[str, object]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        agent = conn.execute(sa.text("SELECT id FROM agents WHERE email = :e"), {"e": AGENT_EMAIL}).scalar_one()
        busy = conn.execute(sa.text("SELECT ticket_id FROM messages GROUP BY ticket_id ORDER BY count(*) DESC "
                                    "LIMIT 1")).scalar_one()
        queue = conn.execute(sa.text(
            "SELECT queue_id FROM tickets WHERE routable_since IS NOT NULL GROUP BY queue_id "
            "ORDER BY count(*) DESC LIMIT 1")).scalar_one()
        # The portal's customer: acme's customer with the most requests (their list is the heaviest).
        portal_email = conn.execute(sa.text(
            "SELECT ci.value FROM customer_identities ci JOIN tickets t ON t.customer_id = ci.customer_id "
            "JOIN brands b ON b.id = t.brand_id WHERE b.slug = 'acme' AND ci.kind = 'email' "
            "GROUP BY ci.value ORDER BY count(*) DESC LIMIT 1")).scalar_one()
    engine.dispose()
    return {"agent": agent, "busy_ticket": busy, "queue": queue, "portal_email": portal_email}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    """One keep-alive HTTP connection with a cookie jar, as a browser tab holds it: what the pages are timed over."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
        headers = {"Accept": "text/html,application/xhtml+xml", "User-Agent": "tierdesk-bench-ui"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            raw = self.conn.getresponse()
        except (http.client.HTTPException, OSError):  # the server closed the kept-alive connection: once more
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body=body, headers=headers)
            raw = self.conn.getresponse()
        text = raw.read().decode("utf-8", "replace")
        for header in raw.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(raw.status, {k.lower(): v for k, v in raw.headers.items()}, text)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def close(self) -> None:
        self.conn.close()


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]
    text: str


def start_server(url: str, data_dir: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    # Plain HTTP on loopback: the session cookie may not be Secure here (a browser would send it to localhost).
    env = _env(url, TIERDESK_COUNT_QUERIES="1", TIERDESK_DATA_DIR=data_dir, TIERDESK_SECURE_COOKIES="false",
               TIERDESK_AUTH_FAILURE_LIMIT="0")
    server = subprocess.Popen([sys.executable, "-m", "tierdesk", "serve", "--no-worker", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"tierdesk serve exited: {server.stderr.read().decode()[-2000:] if server.stderr else ''}")
        try:
            probe = Browser(port)
            status = probe.get("/healthz").status_code
            probe.close()
            if status == 200:
                return server, port
        except OSError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit("tierdesk serve did not answer /healthz within 2 minutes")


_TOKEN = re.compile(r'name="csrf-token" content="([0-9a-f]{64})"')


def signed_in(port: int, email: str) -> Browser:
    """A session as a browser gets one: the sign-in page (its CSRF cookie and token), then the form posted."""
    browser = Browser(port)
    token = _TOKEN.search(browser.get("/sign-in").text)
    if token is None:
        raise SystemExit("the sign-in page carries no CSRF token")
    r = browser.request("POST", "/sign-in", {"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    if r.status_code != 303:
        raise SystemExit(f"signing in as {email} failed: {r.status_code} {r.text[:300]}")
    return browser


def sign_in_portal_customer(port: int, url: str, email: str) -> Browser | None:
    """The portal's session for a customer of acme, as the customer gets one: the code the portal mails (read from
    the outbox, which no worker empties here, and composed as the worker would), typed into the code form. None when
    the portal is not on this build."""
    from sqlalchemy.orm import Session

    from tierdesk.channels.web.portal_sessions import sign_in_notice

    browser = Browser(port)
    page = browser.get("/portal/acme/sign-in")
    if page.status_code == 404:
        return None
    token = _TOKEN.search(page.text)
    if token is None:
        raise SystemExit("the portal's sign-in page carries no CSRF token")
    r = browser.request("POST", "/portal/acme/sign-in", {"email": email, "csrf_token": token.group(1)})
    if r.status_code != 200:
        raise SystemExit(f"asking for a portal code failed: {r.status_code} {r.text[:300]}")
    engine = sa.create_engine(url)
    with Session(engine) as db:
        payload = db.execute(sa.text(
            "SELECT payload FROM outbox WHERE topic = 'email.notice' AND payload->>'kind' = 'portal_sign_in' "
            "ORDER BY id DESC LIMIT 1")).scalar_one()
        mail = sign_in_notice(db, SECRET_KEY, {**payload, "base_url": f"http://127.0.0.1:{port}"})
    engine.dispose()
    code = re.search(r"^\s+(\d{6})$", mail.text if mail else "", re.M)
    if code is None:
        raise SystemExit("the portal's sign-in mail carries no code")
    r = browser.request("POST", "/portal/acme/sign-in/code",
                        {"email": email, "code": code.group(1), "csrf_token": token.group(1)})
    if r.status_code != 303:
        raise SystemExit(f"signing in to the portal as {email} failed: {r.status_code} {r.text[:300]}")
    return browser


def server_ms(response: Response) -> float | None:
    found = re.search(r"app;dur=([0-9.]+)", response.headers.get("server-timing", ""))
    return float(found.group(1)) if found else None


def measure(clients: dict[str, Browser | None], case: PageCase, ids: dict[str, object], runs: int,
            warmup: int) -> Measured:
    client = clients.get(case.who)
    url = case.url(ids)
    if client is None:
        nobody = clients["nobody"]
        assert nobody is not None
        probe = nobody.get(url)
        return Measured("missing" if probe.status_code == 404 else "not signed in")
    first = client.get(url)
    if first.status_code == 404:
        return Measured("missing")
    if first.status_code != 200:
        return Measured(f"answered {first.status_code}")
    for _ in range(warmup):
        client.get(url)
    measured = Measured("ok")
    for _ in range(runs):
        started = time.perf_counter()
        r = client.get(url)
        measured.wall_ms.append((time.perf_counter() - started) * 1000)
        if r.status_code != 200:
            return Measured(f"answered {r.status_code} on a later run")
        ms = server_ms(r)
        if ms is None:
            return Measured("no Server-Timing header")
        measured.server_ms.append(ms)
        if "x-query-count" in r.headers:
            measured.queries.add(int(r.headers["x-query-count"]))
    return measured


def conditions(url: str, rows: dict[str, int]) -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        version = conn.execute(sa.text("SHOW server_version")).scalar_one()
    engine.dispose()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "postgresql": version,
            "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=os.environ.get("TIERDESK_BENCH_DATABASE_URL", DEFAULT_URL))
    ap.add_argument("--reseed", action="store_true", help="rebuild the database even if its counts match")
    ap.add_argument("--runs", type=int, default=100, help="measured requests per page")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=30_000)
    ap.add_argument("--agents", type=int, default=50)
    args = ap.parse_args()
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("bench/ui.py measures PostgreSQL: give a postgresql+psycopg:// URL")
    if args.messages < args.tickets + BUSY_MESSAGES:
        raise SystemExit("--messages must be at least --tickets + 200 (every ticket has its first message)")
    scale = Scale(args.tickets, args.messages, args.customers)
    url = args.database_url

    ensure_database(url, fresh=False)
    engine = sa.create_engine(url)
    rows = counts(engine)
    engine.dispose()
    wanted = {"tickets": scale.tickets, "messages": scale.messages, "customers": scale.customers,
              "agents": args.agents}
    if rows["tickets"] and not args.reseed and not bench_made(url):
        raise SystemExit(f"{make_url(url).database} holds data bench/ui.py did not make: refusing to rebuild it "
                         "(--reseed to drop it anyway)")
    if args.reseed or any(rows[k] != v for k, v in wanted.items()):
        if args.reseed or any(rows.values()):  # a partial seeding (interrupted) is rebuilt too
            console.print(f"rebuilding {make_url(url).database} (counts {rows} differ from {wanted}, or --reseed)")
            ensure_database(url, fresh=True)
        seed(url, scale, args.agents)
        engine = sa.create_engine(url)
        rows = counts(engine)
        engine.dispose()
    else:
        console.print(f"reusing {make_url(url).database}: its counts match (--reseed to rebuild)")

    ids = lookup_ids(url)
    cond = conditions(url, rows)
    results: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        server, port = start_server(url, data_dir)
        try:
            clients: dict[str, Browser | None] = {
                "nobody": Browser(port), "agent": signed_in(port, AGENT_EMAIL),
                "admin": signed_in(port, ADMIN_EMAIL),
                "portal": sign_in_portal_customer(port, url, str(ids["portal_email"]))}
            with Progress(console=console) as progress:
                task = progress.add_task("pages", total=len(PAGES))
                for case in PAGES:
                    progress.update(task, description=case.name)
                    results[case.name] = measure(clients, case, ids, args.runs, args.warmup)
                    progress.update(task, advance=1)
            for client in clients.values():
                if client is not None:
                    client.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()

    console.print(f"CPU: {cond['cpu']}, {cond['cores']} cores; PostgreSQL {cond['postgresql']}; Python "
                  f"{cond['python']}; tierdesk serve --no-worker, 1 process, requests one at a time")
    console.print("rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    table = Table(title=f"web UI pages: {args.runs} requests each after {args.warmup} to warm up "
                        f"(target: server p99 < {TARGET_P99_MS:.0f} ms)")
    for col in ("page", "URL", "server p50 ms", "server p99 ms", "wall p50 ms", "wall p99 ms", "queries"):
        table.add_column(col, justify="left" if col in ("page", "URL") else "right")
    for case in PAGES:
        s = results[case.name].summary()
        if s["status"] != "ok":
            table.add_row(case.name, case.url(ids), f"[yellow]{s['status']}[/yellow]", "", "", "", "")
            continue
        over = float(str(s["server_p99_ms"])) >= TARGET_P99_MS
        p99 = f"[red]{s['server_p99_ms']}[/red]" if over else str(s["server_p99_ms"])
        queries = f"{s['queries']}{' (varies)' if s['queries_vary'] else ''}"
        table.add_row(case.name, case.url(ids), str(s["server_p50_ms"]), p99, str(s["wall_p50_ms"]),
                      str(s["wall_p99_ms"]), queries)
    console.print(table)
    measured = {name: m.summary() for name, m in results.items()}
    ok = [s for s in measured.values() if s["status"] == "ok"]
    print(json.dumps({
        "target_p99_ms": TARGET_P99_MS,
        "all_measured_under_target": all(float(str(s["server_p99_ms"])) < TARGET_P99_MS for s in ok),
        "missing": [n for n, s in measured.items() if s["status"] != "ok"],
        "pages": measured, "conditions": cond, "runs": args.runs,
    }, separators=(",", ":")))


if __name__ == "__main__":
    main()
