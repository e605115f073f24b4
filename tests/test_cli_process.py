"""The command line as a user runs it: each command a fresh process (`python -m tierdesk ...`), its output a pipe.

The in-process CLI tests run in a process that has imported every model already, so they cannot see a command that
forgets to (escalate, transfer and de-escalate crashed that way); these can.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.routing.helpers import new_tickets

LONG_SLUG = "cs-billing-refunds-and-chargebacks-for-business-customers-emea"


@dataclass
class Done:
    code: int
    out: str
    err: str


def _environment(data_dir: Path, url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERDESK_") and k not in ("COLUMNS", "LINES")}
    env.update(TIERDESK_DATA_DIR=str(data_dir), TIERDESK_SECRET_KEY="cli-process-secret", **extra)
    if url:
        env["TIERDESK_DATABASE_URL"] = url
    return env


def run(env: dict[str, str], *args: str, timeout: float = 120) -> Done:
    p = subprocess.run([sys.executable, "-m", "tierdesk", *args], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    return Done(p.returncode, p.stdout, p.stderr)


def ok(done: Done) -> Done:
    assert done.code == 0, (done.out, done.err)
    assert "Traceback" not in done.err
    return done


def one_line_error(done: Done, *words: str) -> str:
    assert done.code != 0, done.out
    assert "Traceback" not in done.err and "Traceback" not in done.out, done.err
    lines = [line for line in done.err.splitlines() if line.strip()]
    assert len(lines) == 1, done.err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def env(tmp_path, database_url) -> dict[str, str]:
    """Every command pointed at a fresh migrated database of each backend."""
    return _environment(tmp_path / "process-data", database_url)


def test_tickets_escalate_transfer_and_de_escalate(world, database, env):
    [ticket_id] = new_tickets(database, 1)  # waiting in acme/ts-helpdesk, tier 1
    done = ok(run(env, "tickets", "escalate", str(ticket_id), "--reason", "needs a specialist",
                  "--summary", "rebooted the router, still red"))
    assert f"ticket {ticket_id} escalated" in done.out and "tier 2" in done.out
    done = ok(run(env, "tickets", "de-escalate", str(ticket_id), "--reason", "a tier 1 fix after all"))
    assert "tier 1" in done.out
    done = ok(run(env, "tickets", "transfer", str(ticket_id), "--reason", "a billing question",
                  "--queue", "cs-billing"))
    assert f"now in queue {world.queues['acme/cs-billing']}" in done.out
    ok(run(env, "tickets", "sla", str(ticket_id)))
    one_line_error(run(env, "tickets", "transfer", str(ticket_id), "--reason", "x", "--queue", "nowhere"), "nowhere")


def test_brands_agents_queues_and_dispositions(env):
    done = ok(run(env, "brands", "create", "initech", "--name", "Initech"))
    assert "initech" in done.out
    assert "initech" in ok(run(env, "brands", "list")).out
    done = ok(run(env, "queues", "create", "initech", LONG_SLUG, "--department", "CS", "--tier", "2",
                  "--skill", "billing:2", "--skill", "de"))
    assert "billing>=2" in done.out and "de>=1" in done.out
    listed = ok(run(env, "queues", "list")).out
    # piped: whole slugs, no "…" (a 80-column table would cut them)
    assert LONG_SLUG in listed and "…" not in listed
    for slug in ("triage", "cs", "ts"):  # a new brand's triage and entry queues
        assert f" {slug} " in listed, listed
    one_line_error(run(env, "queues", "create", "initech", "cs", "--department", "CS"), "has a queue 'cs' already")
    one_line_error(run(env, "queues", "create", "initech", "x", "--department", "HR"), "department")
    one_line_error(run(env, "queues", "create", "nope", "x", "--department", "TS"), "nope")

    ok(run(env, "agents", "create", "pat.long-address-for-a-table@initech.example", "--name", "Pat", "--brand",
           "initech", "--skill", "billing:4"))
    assert "pat.long-address-for-a-table@initech.example" in ok(run(env, "agents", "list")).out

    done = ok(run(env, "dispositions", "create", "initech", "refund-issued", "--label", "Refund or credit issued",
                  "--department", "CS"))
    assert "refund-issued" in done.out
    ok(run(env, "dispositions", "create", "initech", "duplicate", "--label", "Duplicate of another ticket"))
    listed = ok(run(env, "dispositions", "list")).out
    assert "Refund or credit issued" in listed and "Duplicate of another ticket" in listed and "…" not in listed
    one_line_error(run(env, "dispositions", "create", "initech", "refund-issued", "--label", "again"),
                   "'refund-issued' already")


def test_db_upgrade_and_check(env):
    assert "up to date" in ok(run(env, "db", "upgrade")).out
    assert "migrations match the models" in ok(run(env, "db", "check")).out


def test_a_missing_schema_names_the_database_and_the_fix(tmp_path):
    path = tmp_path / "fresh" / "tierdesk.db"
    env = _environment(tmp_path / "data", f"sqlite:///{path}")
    for command in (["brands", "list"], ["presence", "show", "x@example.com"], ["sla", "policies"],
                    ["integrations", "list"], ["tickets", "escalate", "1", "--reason", "r", "--summary", "s"]):
        line = one_line_error(run(env, *command), f"no tierdesk schema in sqlite:///{path}", "tierdesk db upgrade")
        assert line.startswith("error"), command
    assert not path.exists()  # no empty database file left behind to puzzle the next command
    done = run(env, "db", "check")
    assert done.code == 1 and "tierdesk db upgrade" in done.err
    ok(run(env, "db", "upgrade"))
    ok(run(env, "db", "check"))
    assert "tier" in ok(run(env, "queues", "list")).out  # an empty table now


def test_the_default_data_directory_is_the_same_for_the_cli_and_make_run(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERDESK_") and k != "XDG_DATA_HOME"}
    env["HOME"] = str(home)
    expected = home / ".local" / "share" / "tierdesk" / "tierdesk.db"
    one_line_error(run(env, "brands", "list"), f"sqlite:///{expected}")
    # `make run` uses the same: the Makefile sets no data directory of its own
    root = Path(__file__).resolve().parent.parent
    made = subprocess.run(["make", "-n", "-p", "run"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert "tierdesk serve" in made.stdout, made.stderr
    assert "TIERDESK_DATA_DIR" not in made.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_says_the_port_is_in_use_before_doing_anything(tmp_path):
    data_dir = tmp_path / "data"
    env = _environment(data_dir, None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(env, "serve", "--port", str(port), timeout=60)
        one_line_error(done, f"port {port} is in use", "--port")
        done = run(env, "serve", "--demo", "--port", str(port), timeout=60)
        one_line_error(done, f"port {port} is in use")
    assert not (data_dir / "tierdesk.db").exists()  # neither migrated nor loaded anything first


@pytest.mark.parametrize("level,logged", [(None, False), ("INFO", True)])
def test_serve_logs_requests_at_the_configured_level(tmp_path, database_url, level, logged):
    if not database_url.startswith("sqlite"):
        pytest.skip("the log level does not depend on the database")
    port = _free_port()
    env = _environment(tmp_path / "data", database_url, **({"TIERDESK_LOG_LEVEL": level} if level else {}))
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen([sys.executable, "-m", "tierdesk", "serve", "--port", str(port)], env=env,
                                  stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
        try:
            for _ in range(600):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                        assert r.status == 200
                    break
                except OSError:
                    assert server.poll() is None, log.read_text()
                    time.sleep(0.1)
            else:
                pytest.fail("the server did not start: " + log.read_text())
        finally:
            server.terminate()
            server.wait(timeout=30)
    text = log.read_text()
    assert "Traceback" not in text
    assert ('"GET /healthz' in text) is logged, text
    assert ("worker started" in text) is logged, text
