"""Email benchmark: messages per second through the SMTP listener, parsed, threaded and committed, against the API's
contact intake measured in the same run on the same server processes; memory while 25 MB attachments stream in; and
threading accuracy on the corpus of real-world messages.

For each database (SQLite; PostgreSQL when a server is reachable) it starts `tierdesk serve --no-worker` with
TIERDESK_SMTP_PORT set (one SMTP listener beside each HTTP server), on a fresh database with a brand, its address
and an admin token. Then C client threads, each with its own SMTP connection kept open as a mail server keeps it,
send N messages with smtplib (80% from new senders, 20% replies to an earlier message with In-Reply-To and
References; text and HTML parts; every tenth with a 60 KB PDF): the time from DATA to 250 is the latency, and the
250 comes only after the commit. Then C aiohttp clients post N contacts of the same mix to POST /api/v1/contacts.

Threading accuracy: every person's message of tests/channels/email/corpus/ opens a ticket, an agent answers it
(the reply is built as outbound.py sends it), and the customer answers back the ways real clients do (In-Reply-To
and References kept; Outlook-style with only "AW:" and the ticket token in the subject; a client that drops headers
and token, leaving "Re: <subject>"; the token only in the quoted body), then a stranger answers with forged headers
and the customer writes about something new. Accuracy is the share that land where they must.

Prints the figures and the conditions; the last line is JSON:
{"sqlite": {"messages_per_s", "p99_ms", ...}, "postgresql": {...}, "api_contacts_per_s": {...},
 "threading_accuracy": ..., "memory": {...}, "conditions": {...}}

    python bench/email_channel.py [--messages 2000] [--clients 8] [--processes 1] [--big 6] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import random
import shutil
import smtplib
import statistics
import subprocess
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent  # its sibling scripts are loaded by path


def _bench_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The intake benchmark's helpers: the same server set-up and HTTP load.
intake = _bench_script("intake")
DEFAULT_PG, TIERDESK, contacts, fresh_pg_database = intake.DEFAULT_PG, intake.TIERDESK, intake.contacts, \
    intake.fresh_pg_database
free_port, load, prepare, run, wait_healthy = intake.free_port, intake.load, intake.prepare, intake.run, \
    intake.wait_healthy

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "channels" / "email" / "corpus"
ADDRESS = "support@bench.example"
BODIES = [
    "My internet drops every evening around 8pm and comes back after 20 minutes.",
    "I was charged twice for my November bill, please refund one of the charges.",
    "The app crashes as soon as I open the settings page on Android 14.",
    "Where is my order? Tracking has not moved for a week. Order W-{n}.",
    "Ich kann mich seit dem Update nicht mehr anmelden, das Passwort wird abgelehnt.",
    "Please change the billing address on my account to 12 High Street.",
]
PDF = b"%PDF-1.4\n" + os.urandom(60_000)


def messages(n: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """(envelope sender, raw MIME): 80% new senders, 20% replies to an earlier message of the same sender."""
    rng = random.Random(seed)
    made: list[tuple[str, str, str]] = []  # sender, message id, subject
    out = []
    for i in range(n):
        msg = EmailMessage()
        if made and rng.random() < 0.2:
            sender, parent, subject = made[rng.randrange(len(made))]
            msg["In-Reply-To"] = parent
            msg["References"] = parent
            subject = "Re: " + subject.removeprefix("Re: ")
        else:
            sender, subject = f"customer{seed}-{i}@example.com", f"Question number {i}"
        body = rng.choice(BODIES).format(n=i)
        msg["From"] = f"Customer {i} <{sender}>"
        msg["To"] = ADDRESS
        msg["Subject"] = subject
        msg["Date"] = format_datetime(time_now())
        message_id = make_msgid(f"b{seed}-{i}", domain="mail.example.com")
        msg["Message-ID"] = message_id
        msg.set_content(body + "\n\n-- \nSent from my phone")
        msg.add_alternative(f"<p>{body}</p><p>-- <br>Sent from my phone</p>", subtype="html")
        if i % 10 == 9:
            msg.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"invoice-{i}.pdf")
        made.append((sender, message_id, subject))
        out.append((sender, msg.as_bytes(policy=SMTP)))
    return out


def time_now():  # noqa: ANN201
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def smtp_phase(ports: list[int], batch: list[tuple[str, bytes]], clients: int) -> tuple[list[float], float, int]:
    """Each client thread keeps one connection (to the listeners in turn) and sends its share in order."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    shares = [batch[k::clients] for k in range(clients)]

    def client(k: int) -> None:
        nonlocal errors
        conn = smtplib.SMTP("127.0.0.1", ports[k % len(ports)], timeout=120)
        try:
            for sender, raw in shares[k]:
                began = time.perf_counter()
                try:
                    conn.sendmail(sender, [ADDRESS], raw)
                except smtplib.SMTPException:
                    with lock:
                        errors += 1
                    continue
                took = time.perf_counter() - began
                with lock:
                    latencies.append(took)
        finally:
            conn.quit()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - began, errors


def summary(latencies: list[float], elapsed: float, errors: int, unit: str) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    return {f"{unit}_per_s": round(len(ms) / elapsed, 1), "p50_ms": round(statistics.median(ms), 2),
            "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2), "errors": errors, "count": len(ms)}


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, in MB, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = {line.split(":")[0]: line.split(":")[1] for line in status.splitlines() if ":" in line}
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def memory_phase(port: int, pid: int, count: int) -> dict:
    """25 MB attachments, one after another: the listener's memory must come back, not grow with each."""
    before = rss_mb(pid)[0]
    after_each = []
    conn = smtplib.SMTP("127.0.0.1", port, timeout=600)
    try:
        for i in range(count):
            msg = EmailMessage()
            msg["From"] = f"big{i}@example.com"
            msg["To"] = ADDRESS
            msg["Subject"] = f"Logs {i}"
            msg["Message-ID"] = make_msgid(f"big{i}", domain="mail.example.com")
            msg.set_content("The full logs are attached.")
            msg.add_attachment(os.urandom(18 * 1024 * 1024), maintype="application", subtype="octet-stream",
                               filename=f"logs-{i}.bin")  # 18 MB of bytes are 24.6 MB in base64
            conn.sendmail(f"big{i}@example.com", [ADDRESS], msg.as_bytes(policy=SMTP))
            after_each.append(round(rss_mb(pid)[0], 1))
    finally:
        conn.quit()
    return {"messages": count, "message_mb": 24.6, "rss_before_mb": round(before, 1), "rss_after_each_mb": after_each,
            "peak_rss_mb": round(rss_mb(pid)[1], 1)}


def bench_backend(name: str, database_url: str, args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"tierdesk-bench-email-{name}-"))
    env = {**os.environ, "TIERDESK_DATA_DIR": str(data_dir), "TIERDESK_DATABASE_URL": database_url,
           "TIERDESK_SECRET_KEY": "bench-secret", "TIERDESK_EMAIL_SENDER_LIMIT": "0"}
    processes = args.processes if name == "postgresql" else 1
    results: dict = {}
    try:
        token = prepare(env)
        run([*TIERDESK, "email", "addresses", "add", ADDRESS, "--brand", "bench"], env)
        servers, bases, smtp_ports = [], [], []
        for _ in range(processes):
            port, smtp_port = free_port(), free_port()
            servers.append(subprocess.Popen(
                [*TIERDESK, "serve", "--no-worker", "--port", str(port)],
                env={**env, "TIERDESK_SMTP_PORT": str(smtp_port)},
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
            bases.append(f"http://127.0.0.1:{port}")
            smtp_ports.append(smtp_port)
        try:
            for base, server in zip(bases, servers, strict=True):
                wait_healthy(base, server)
            smtp_phase(smtp_ports, messages(args.warmup, seed=9), args.clients)  # warm-up, not counted
            asyncio.run(load(bases, token, contacts(args.warmup, seed=9, start=90_000_000), args.clients))
            email = summary(*smtp_phase(smtp_ports, messages(args.messages, seed=1), args.clients), "messages")
            api = summary(*asyncio.run(load(bases, token, contacts(args.messages, seed=1, start=10_000_000),
                                            args.clients)), "contacts")
            results = {**email, "api": api, "ratio_to_api": round(email["messages_per_s"] / api["contacts_per_s"], 3)}
            print(f"{name:>10}: email {email['messages_per_s']:7.1f} messages/s p50 {email['p50_ms']:.1f} ms "
                  f"p99 {email['p99_ms']:.1f} ms errors {email['errors']} | API {api['contacts_per_s']:7.1f} "
                  f"contacts/s p50 {api['p50_ms']:.1f} ms p99 {api['p99_ms']:.1f} ms | ratio "
                  f"{results['ratio_to_api']}")
            if args.big:
                results["memory"] = memory_phase(smtp_ports[0], servers[0].pid, args.big)
                print(f"{name:>10}: memory with {args.big} x 24.6 MB messages: {json.dumps(results['memory'])}")
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                try:
                    server.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return results


def threading_accuracy() -> dict:
    """In this process, on a fresh SQLite database (threading is the same code on both)."""
    return _bench_script("threading_corpus").measure(CORPUS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--processes", type=int, default=1, help="server processes on PostgreSQL, each with a "
                        "listener (SQLite, the single-process embedded mode, gets one)")
    parser.add_argument("--big", type=int, default=6, help="25 MB messages for the memory figure (0: skip)")
    default_pg = DEFAULT_PG.replace("tierdesk_bench", "tierdesk_bench_email")
    parser.add_argument("--pg-url", default=os.environ.get("TIERDESK_BENCH_PG_URL", default_pg))
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    conditions = {
        "messages": args.messages, "clients": args.clients, "cpus": os.cpu_count(),
        "server_processes": {"sqlite": 1, "postgresql": args.processes},
        "python": platform.python_version(), "machine": platform.machine(),
        "load_generator": "smtplib threads (one connection each) and aiohttp, same machine",
        "mix": "80% new senders, 20% replies; text+HTML; every 10th with a 60 KB PDF",
        "git": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip(),
        "load_average": os.getloadavg()[0],
    }
    print("conditions:", json.dumps(conditions))
    results: dict = {}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = bench_backend("sqlite", f"sqlite:///{tmp}/bench.db", args)
    if args.only in (None, "postgresql") and fresh_pg_database(args.pg_url):
        results["postgresql"] = bench_backend("postgresql", args.pg_url, args)
    results["api_contacts_per_s"] = {k: v["api"]["contacts_per_s"] for k, v in results.items() if "api" in v}
    accuracy = threading_accuracy()
    print(f"threading: {accuracy['correct']}/{accuracy['cases']} right ({json.dumps(accuracy['by_style'])})")
    for miss in accuracy["misses"][:20]:
        print("  missed:", miss)
    results["threading_accuracy"] = accuracy["accuracy"]
    results["threading"] = {k: v for k, v in accuracy.items() if k != "misses"}
    results["conditions"] = conditions
    print(json.dumps(results))


if __name__ == "__main__":
    main()
