"""The command line: schema, demo data, agents and tokens, and its one-line errors."""

from __future__ import annotations

import os
import re
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tierdesk.app import create_app
from tierdesk.cli import DEMO_TOKEN_FILE, app
from tierdesk.config import get_settings
from tierdesk.db import get_database

CLI_SECRET = "cli-test-secret-key"


def _clear_caches() -> None:
    if get_database.cache_info().currsize:
        get_database().dispose()
    get_database.cache_clear()
    get_settings.cache_clear()


@dataclass
class Cli:
    runner: CliRunner
    data_dir: Path

    def __call__(self, *args: str):
        return self.runner.invoke(app, list(args))

    @contextmanager
    def api(self):
        """The HTTP API on the database the CLI works on, with the same settings (and so the same secret key)."""
        with TestClient(create_app(get_database(), get_settings()), raise_server_exceptions=False) as client:
            yield client


def _environment(monkeypatch, data_dir: Path, url: str) -> Cli:
    monkeypatch.setenv("TIERDESK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TIERDESK_DATABASE_URL", url)
    monkeypatch.setenv("TIERDESK_SECRET_KEY", CLI_SECRET)
    _clear_caches()
    return Cli(CliRunner(), data_dir)


@pytest.fixture
def cli(monkeypatch, tmp_path, database_url):
    """The CLI pointed (through the environment) at a fresh migrated database of each backend."""
    yield _environment(monkeypatch, tmp_path / "cli-data", database_url)
    _clear_caches()


@pytest.fixture
def bare_cli(monkeypatch, tmp_path):
    """The CLI pointed at a SQLite file that does not exist yet (no schema at all)."""
    yield _environment(monkeypatch, tmp_path / "bare-data", f"sqlite:///{tmp_path / 'bare' / 'tierdesk.db'}")
    _clear_caches()


def assert_one_line_error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error")
    for word in words:
        assert word in lines[0], lines[0]


def token_from(result) -> str:
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert re.fullmatch(r"tdk_[A-Za-z0-9_-]{20,}", token), result.stdout
    return token


# ---- db -------------------------------------------------------------------------------------------------------


def test_db_upgrade_then_check(cli):
    r = cli("db", "upgrade")
    assert r.exit_code == 0, r.output
    assert "up to date" in r.stdout
    r = cli("db", "check")
    assert r.exit_code == 0, r.output
    assert "migrations match the models" in r.stdout


def test_db_check_fails_before_upgrade(bare_cli):
    r = bare_cli("db", "check")
    assert r.exit_code == 1, r.output
    assert "tierdesk db upgrade" in r.stderr
    assert bare_cli("db", "upgrade").exit_code == 0
    r = bare_cli("db", "check")
    assert r.exit_code == 0, r.output


# ---- demo -----------------------------------------------------------------------------------------------------


def test_demo_loads_once_and_writes_a_private_admin_token(cli):
    from tierdesk.demo import CONTACTS

    first = cli("demo")
    assert first.exit_code == 0, first.output
    assert "demo data loaded" in first.stdout
    token_file = cli.data_dir / DEMO_TOKEN_FILE
    assert token_file.exists()
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token.startswith("tdk_")

    second = cli("demo")
    assert second.exit_code == 0, second.output
    assert "present already" in second.stdout
    assert "demo data loaded" not in second.stdout
    assert token_file.read_text().strip() == token  # not replaced
    sign_in_file = cli.data_dir / "demo-sign-in"
    assert stat.S_IMODE(os.stat(sign_in_file).st_mode) == 0o600
    email, password = sign_in_file.read_text().splitlines()[0].split(" ")
    assert email == "sam@tierdesk.example" and len(password) >= 12

    with cli.api() as client:
        headers = {"Authorization": f"Bearer {token}"}
        me = client.get("/api/v1/agents/me", headers=headers)
        assert me.status_code == 200, me.text
        assert (me.json()["email"], me.json()["role"]) == ("admin@tierdesk.example", "admin")
        tickets = client.get("/api/v1/tickets", params={"limit": 200}, headers=headers)
        assert tickets.status_code == 200, tickets.text
        items = tickets.json()["items"]
        assert len(items) == len(CONTACTS)  # loaded once, not twice
        assert {t["status"] for t in items} >= {"new", "open", "solved"}
        assert client.get("/api/v1/tickets").status_code == 401


# ---- brands, agents, tokens -----------------------------------------------------------------------------------


def test_demo_over_a_brand_of_the_same_slug_without_the_demo_admin_is_a_readable_error(cli):
    # found by mypy: the demo data counts as loaded when its first brand exists, and the token was then made for
    # an admin who may not exist (AttributeError on None)
    assert cli("brands", "create", "acme", "--name", "Our own Acme").exit_code == 0
    r = cli("demo")
    assert_one_line_error(r, "admin@tierdesk.example")
    assert not (cli.data_dir / DEMO_TOKEN_FILE).exists()


def _agent(email: str):
    from tierdesk.agents.repository import by_email

    with get_database().transaction(write=False) as db:
        agent = by_email(db, email)
        if agent is None:
            return None
        return {
            "role": agent.role.value,
            "tier": agent.tier,
            "name": agent.display_name,
            "skills": [(s.skill, s.level) for s in agent.skills],
            "brands": [b.slug for b in agent.brands],
        }


def test_agents_create(cli):
    r = cli("brands", "create", "acme", "--name", "Acme")
    assert r.exit_code == 0, r.output
    r = cli("agents", "create", "x@example.com", "--name", "X", "--role", "lead", "--tier", "2",
            "--skill", "billing:4", "--brand", "acme")
    assert r.exit_code == 0, r.output
    assert "x@example.com" in r.stdout and "created" in r.stdout
    assert _agent("x@example.com") == {
        "role": "lead", "tier": 2, "name": "X", "skills": [("billing", 4)], "brands": ["acme"]}
    listed = cli("agents", "list")
    assert listed.exit_code == 0, listed.output
    assert "x@example.com" in listed.stdout


def test_agents_create_twice_is_a_readable_error(cli):
    assert cli("agents", "create", "x@example.com", "--name", "X").exit_code == 0
    r = cli("agents", "create", "X@example.com", "--name", "X again")
    assert_one_line_error(r, "exists already")
    assert _agent("x@example.com")["name"] == "X"


def test_agents_create_with_an_unknown_brand_is_a_readable_error(cli):
    r = cli("agents", "create", "y@example.com", "--name", "Y", "--brand", "nope")
    assert_one_line_error(r, "brand", "nope")
    assert _agent("y@example.com") is None


@pytest.mark.parametrize("skill", ["billing:x", "billing:9", "billing:0", "Bad Skill:3"])
def test_agents_create_with_a_bad_skill_is_a_readable_error(cli, skill):
    r = cli("agents", "create", "z@example.com", "--name", "Z", "--skill", skill)
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    assert r.stderr.strip().startswith("error")
    assert _agent("z@example.com") is None


@pytest.mark.parametrize("args,words", [
    (["--role", "overlord"], ["role"]),
    (["--tier", "7"], ["tier"]),
])
def test_agents_create_with_bad_values_is_a_readable_error(cli, args, words):
    r = cli("agents", "create", "w@example.com", "--name", "W", *args)
    assert_one_line_error(r, *words)
    assert _agent("w@example.com") is None


def test_tokens_create_prints_a_working_token(cli):
    assert cli("brands", "create", "acme", "--name", "Acme").exit_code == 0
    assert cli("agents", "create", "x@example.com", "--name", "X", "--brand", "acme").exit_code == 0
    r = cli("tokens", "create", "--agent", "x@example.com")
    token = token_from(r)
    assert token not in r.stderr  # the token alone on stdout; the chatter on stderr
    with cli.api() as client:
        me = client.get("/api/v1/agents/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "x@example.com"
        assert me.json()["brands"] == ["acme"]


def test_tokens_create_for_an_unknown_agent_is_a_readable_error(cli):
    r = cli("tokens", "create", "--agent", "ghost@example.com")
    assert_one_line_error(r, "ghost@example.com")
    assert r.stdout.strip() == ""


def test_tokens_revoke(cli):
    from tierdesk.agents.repository import tokens_of

    assert cli("agents", "create", "x@example.com", "--name", "X").exit_code == 0
    keep = token_from(cli("tokens", "create", "--agent", "x@example.com", "--name", "keep"))
    gone = token_from(cli("tokens", "create", "--agent", "x@example.com", "--name", "gone"))
    with get_database().transaction(write=False) as db:
        rows = {t.name: t.id for t in tokens_of(db)}
    r = cli("tokens", "revoke", str(rows["gone"]))
    assert r.exit_code == 0, r.output
    assert "revoked" in r.stdout
    with get_database().transaction(write=False) as db:
        revoked = {t.name: t.revoked_at for t in tokens_of(db)}
    assert revoked["gone"] is not None and revoked["keep"] is None
    with cli.api() as client:
        r = client.get("/api/v1/agents/me", headers={"Authorization": f"Bearer {gone}"})
        assert r.status_code == 401
        assert client.get("/api/v1/agents/me", headers={"Authorization": f"Bearer {keep}"}).status_code == 200
    assert_one_line_error(cli("tokens", "revoke", "999999"), "999999")


def test_the_cli_uses_the_configured_database(cli, database_url):
    assert get_settings().effective_database_url == database_url
    assert get_database().dialect == database_url.split(":")[0].split("+")[0]


def test_serve_refuses_several_processes_on_sqlite(bare_cli):
    r = bare_cli("serve", "--processes", "2")
    assert_one_line_error(r, "PostgreSQL")
