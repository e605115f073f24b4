"""The tierdesk command line: serve, worker, smtp, db, agents, tokens, brands, triage, presence, queues, tickets, sla,
dispositions, email, imap, voice, webform, webhooks, demo."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from tierdesk.agents.cli import integrations_app
from tierdesk.channels.email.cli import email_app
from tierdesk.channels.email.imap_cli import imap_app
from tierdesk.channels.email.relay_cli import dkim_app, relay_app
from tierdesk.channels.email.smtp_cli import smtp as smtp_command
from tierdesk.channels.voice.cli import voice_app
from tierdesk.channels.web.cli import webform_app
from tierdesk.config import get_settings
from tierdesk.kit.console import err, friendly_errors, out
from tierdesk.routing.cli import presence_app, queues_app, tickets_app
from tierdesk.sla.cli import sla_app
from tierdesk.triage.cli import triage_app
from tierdesk.webhooks.cli import webhooks_app

app = typer.Typer(help="tierdesk: inbound support, helpdesk and contact distributor in one service.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
agents_app = typer.Typer(help="Agents (users).", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
brands_app = typer.Typer(help="Brands.", no_args_is_help=True)
dispositions_app = typer.Typer(help="Disposition codes: how tickets end.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(agents_app, name="agents")
app.add_typer(tokens_app, name="tokens")
app.add_typer(brands_app, name="brands")
app.add_typer(triage_app, name="triage")
app.add_typer(presence_app, name="presence")
app.add_typer(queues_app, name="queues")
app.add_typer(tickets_app, name="tickets")
app.add_typer(sla_app, name="sla")
app.add_typer(dispositions_app, name="dispositions")
app.add_typer(integrations_app, name="integrations")
email_app.add_typer(relay_app, name="relay")
email_app.add_typer(dkim_app, name="dkim")
app.add_typer(email_app, name="email")
app.command("smtp")(smtp_command)
app.add_typer(imap_app, name="imap")
app.add_typer(voice_app, name="voice")
app.add_typer(webform_app, name="webform")
app.add_typer(webhooks_app, name="webhooks")

DEMO_TOKEN_FILE = "demo-admin-token"
DEMO_SIGN_IN_FILE = "demo-sign-in"  # the demo agents' password for the web UI, made once per data directory


def _database():
    """The configured database, every model imported and its schema checked (a readable error if it is missing)."""
    from tierdesk.migrate import database_for_command

    return database_for_command()


def _database_unchecked():
    from tierdesk.db import get_database

    return get_database()


def _migrate() -> None:
    from tierdesk import migrate

    migrate.upgrade(get_settings().effective_database_url)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ---- db -------------------------------------------------------------------------------------------------------


@db_app.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    _migrate()
    out.print(f"database at {_safe_url(get_settings().effective_database_url)} is up to date")


@db_app.command("check")
@friendly_errors
def db_check() -> None:
    """Exit 1 if the database is not at the newest migration or the migrations do not match the models."""
    from tierdesk import migrate

    url = get_settings().effective_database_url
    try:
        migrate.require_schema(_database_unchecked())
    except migrate.SchemaMissing as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    head = migrate.head_revision()
    drift = migrate.schema_drift(url)
    if drift:
        err.print("[red]the models differ from the migrations:[/red]")
        for diff in drift:
            err.print(f"  {diff}")
        raise typer.Exit(1)
    out.print(f"schema at {head}: migrations match the models")


# ---- serve and worker -----------------------------------------------------------------------------------------


def _port_free(host: str, port: int) -> bool:
    """Whether the server could listen on host:port now (checked before migrating or loading anything)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is not "in use"
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _log_config(level: str) -> dict:
    """uvicorn's logging, with tierdesk's own loggers (worker, outbox, errors) at the same level, in every process."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["tierdesk"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        config["loggers"][name]["level"] = level.upper()
    return config


@app.command()
@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="run the background worker in-process")] = True,
    workers: Annotated[int, typer.Option("--processes", min=1, help="HTTP server processes")] = 1,
    with_demo: Annotated[bool, typer.Option("--demo", help="load the demo data first (once), as `make run` does")]
    = False,
):
    """Run the HTTP API (and the background worker, and the SMTP listener when TIERDESK_SMTP_PORT is set).
    Migrates the database first."""
    import uvicorn

    from tierdesk.channels.email.smtp_cli import describe, smtp_listener, start_listener

    settings = get_settings()
    if workers > 1 and settings.effective_database_url.startswith("sqlite"):
        # One SQLite file has one writer: processes would queue in SQLite's busy handler, with second-long stalls.
        err.print("[red]error (--processes):[/red] several server processes need PostgreSQL "
                  "(set TIERDESK_DATABASE_URL); on SQLite run one")
        raise typer.Exit(2)
    if not _port_free(host, port):
        err.print(f"[red]error (port):[/red] port {port} is in use on {host}: stop what uses it, or choose another "
                  f"port with --port (PORT={port + 1} make run)")
        raise typer.Exit(2)
    if settings.smtp_port is not None and not _port_free(settings.smtp_host, settings.smtp_port):
        err.print(f"[red]error (smtp_port):[/red] port {settings.smtp_port} is in use on {settings.smtp_host}: stop "
                  "what uses it, or choose another with TIERDESK_SMTP_PORT")
        raise typer.Exit(2)
    if with_demo:
        demo()
    else:
        _migrate()
    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
    out.print(f"tierdesk on [bold]{url}[/bold]  (API docs {url}/docs)")
    hint = " (TIERDESK_LOG_LEVEL=info logs every request)" if settings.log_level in ("warning", "error") else ""
    out.print(f"database {_safe_url(settings.effective_database_url)}; log level {settings.log_level}{hint}")
    token_file = settings.data_dir / DEMO_TOKEN_FILE
    if token_file.exists():
        out.print(f"demo admin token in {token_file}; try: curl -H \"Authorization: Bearer $(cat {token_file})\" "
                  f"{url}/api/v1/tickets")
    sign_in_file = settings.data_dir / DEMO_SIGN_IN_FILE
    if sign_in_file.exists():
        email, _, password = sign_in_file.read_text().splitlines()[0].partition(" ")
        out.print(f"web UI: sign in at {url} as [bold]{email}[/bold] with the password [bold]{password}[/bold] "
                  f"(an agent; the admin's is in {sign_in_file})")
    # The SMTP listener runs in this process beside uvicorn (in its own thread and event loop): one listener however
    # many server processes, started before and stopped after them (a message being stored still gets its 250).
    listener = smtp_listener(_database(), settings) if settings.smtp_port is not None else None
    if listener is not None:
        start_listener(listener)
        out.print(describe(listener))
    os.environ["TIERDESK_RUN_WORKER"] = "1" if worker else "0"  # for the server processes' own settings
    get_settings.cache_clear()  # and this one's, where uvicorn builds the app in-process
    try:
        uvicorn.run("tierdesk.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level=settings.log_level, log_config=_log_config(settings.log_level),
                    access_log=settings.log_level in ("debug", "info"))
    finally:
        if listener is not None:
            listener.stop()


@app.command("worker")
@friendly_errors
def run_worker(once: Annotated[bool, typer.Option(help="one pass over the due work, then exit")] = False) -> None:
    """Run the background worker: due work (auto-closing solved tickets, ...) claimed safely beside other workers."""
    from tierdesk.jobs.worker import Worker
    from tierdesk.wiring import default_jobs, keep_settings_webhook

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _migrate()
    keep_settings_webhook(_database(), settings)
    w = Worker(_database(), default_jobs(settings), settings.worker_poll_seconds)
    if once:
        out.print(w.run_once())
        return
    try:
        w.run_forever()
    except KeyboardInterrupt:
        w.stop()


# ---- brands, agents, tokens -----------------------------------------------------------------------------------


@brands_app.command("create")
@friendly_errors
def brands_create(slug: str, name: Annotated[str, typer.Option(help="display name")]) -> None:
    """Create a brand (with its triage queue)."""
    from tierdesk.brands.schemas import BrandCreate
    from tierdesk.brands.service import create_brand
    from tierdesk.kit.actors import SYSTEM

    _migrate()
    with _database().transaction() as db:
        brand = create_brand(db, SYSTEM, BrandCreate(slug=slug, name=name))
        out.print(f"brand {brand.id} '{brand.slug}' created")


@brands_app.command("list")
@friendly_errors
def brands_list() -> None:
    from tierdesk.brands.repository import list_visible
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction(write=False) as db:
        table = Table("id", "slug", "name")
        for b in list_visible(db, SYSTEM):
            table.add_row(str(b.id), b.slug, b.name)
        out.print(table)


def _parse_skills(skills: list[str]):
    from tierdesk.agents.schemas import SkillLevel
    from tierdesk.kit.errors import InvalidInput

    parsed = []
    for item in skills:
        name, _, level = item.partition(":")
        if level and not level.isdigit():
            raise InvalidInput(f"'{item}' is not SKILL or SKILL:LEVEL (level 1-5)", field="skill")
        parsed.append(SkillLevel(skill=name, level=int(level or 3)))
    return parsed


@agents_app.command("create")
@friendly_errors
def agents_create(
    email: str,
    name: Annotated[str, typer.Option(help="display name")],
    role: Annotated[str, typer.Option(help="admin, lead or agent")] = "agent",
    tier: Annotated[int, typer.Option(help="0-3")] = 1,
    skill: Annotated[list[str] | None, typer.Option(help="SKILL or SKILL:LEVEL (1-5); repeat")] = None,
    brand: Annotated[list[str] | None, typer.Option(help="brand slug the agent works; repeat")] = None,
    password: Annotated[bool, typer.Option("--password", help="ask for a password (for the web UI)")] = False,
) -> None:
    """Create an agent."""
    from tierdesk.agents.schemas import AgentCreate
    from tierdesk.agents.service import create_agent
    from tierdesk.kit.actors import SYSTEM

    secret = typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    data = AgentCreate(email=email, display_name=name, role=role, tier=tier, skills=_parse_skills(skill or []),
                       brands=brand or [], password=secret)
    _migrate()
    with _database().transaction() as db:
        agent = create_agent(db, SYSTEM, data)
        out.print(f"agent {agent.id} {agent.email} ({agent.role.value}, tier {agent.tier}) created")


@agents_app.command("list")
@friendly_errors
def agents_list() -> None:
    from tierdesk.agents.repository import list_visible
    from tierdesk.kit.actors import SYSTEM

    with _database().transaction(write=False) as db:
        table = Table("id", "email", "name", "role", "tier", "skills", "brands", "active")
        for a in list_visible(db, SYSTEM, after_id=None, limit=10_000):
            table.add_row(str(a.id), a.email, a.display_name, a.role.value, str(a.tier),
                          ", ".join(f"{s.skill}:{s.level}" for s in a.skills), ", ".join(b.slug for b in a.brands),
                          "yes" if a.is_active else "no")
        out.print(table)


@tokens_app.command("create")
@friendly_errors
def tokens_create(
    agent: Annotated[str, typer.Option(help="email of the agent the token acts as")],
    name: Annotated[str, typer.Option(help="what the token is for, e.g. 'email gateway'")] = "cli",
    expires_days: Annotated[int | None, typer.Option(min=1, help="expire after this many days")] = None,
) -> None:
    """Create an API token. It is printed once; only a digest is stored."""
    from tierdesk.agents.repository import by_email
    from tierdesk.agents.service import create_token
    from tierdesk.kit.errors import InvalidInput
    from tierdesk.kit.time import utcnow

    settings = get_settings()
    with _database().transaction() as db:
        owner = by_email(db, agent)
        if owner is None:
            raise InvalidInput(f"no agent with email {agent}", field="agent")
        expires = utcnow() + dt.timedelta(days=expires_days) if expires_days else None
        row, token = create_token(db, owner, name, settings.effective_secret_key(), expires)
    err.print(f"token {row.id} for {owner.email} created; it is shown only now:")
    print(token)  # plain stdout, so scripts can capture it


@tokens_app.command("list")
@friendly_errors
def tokens_list() -> None:
    from tierdesk.agents.repository import tokens_of

    with _database().transaction(write=False) as db:
        table = Table("id", "agent", "name", "prefix", "created", "expires", "revoked")
        for t in tokens_of(db):
            table.add_row(str(t.id), str(t.agent_id), t.name, t.prefix + "…", f"{t.created_at:%Y-%m-%d %H:%M}",
                          f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "-",
                          f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "-")
        out.print(table)


@tokens_app.command("revoke")
@friendly_errors
def tokens_revoke(token_id: int) -> None:
    from tierdesk.agents.service import revoke_token

    with _database().transaction() as db:
        revoke_token(db, token_id)
    out.print(f"token {token_id} revoked")


@dispositions_app.command("create")
@friendly_errors
def dispositions_create(
    brand: Annotated[str, typer.Argument(help="slug of the brand")],
    code: Annotated[str, typer.Argument(help="e.g. refund-issued")],
    label: Annotated[str, typer.Option(help="what agents read, e.g. 'Refund or credit issued'")],
    department: Annotated[str | None, typer.Option(help="CS or TS; default either")] = None,
):
    """Create a disposition code: an outcome agents choose when they solve a ticket."""
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.tickets.schemas import DispositionCreate
    from tierdesk.tickets.service import create_disposition

    data = DispositionCreate(brand=brand, code=code, label=label, department=department)
    with _database().transaction() as db:
        row = create_disposition(db, SYSTEM, data)
        out.print(f"disposition {row.id} '{brand}/{row.code}' created")


@dispositions_app.command("list")
@friendly_errors
def dispositions_list():
    """Every disposition code of every brand."""
    from tierdesk.brands.repository import list_visible as brands_visible
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.tickets.repository import dispositions_visible

    with _database().transaction(write=False) as db:
        brand_slugs = {b.id: b.slug for b in brands_visible(db, SYSTEM)}
        table = Table("id", "brand", "code", "label", "dept", "active")
        for d in dispositions_visible(db, SYSTEM, None):
            table.add_row(str(d.id), brand_slugs.get(d.brand_id, str(d.brand_id)), d.code, d.label,
                          d.department.value if d.department else "any", "yes" if d.is_active else "no")
        out.print(table)


# ---- demo -----------------------------------------------------------------------------------------------------


@app.command()
@friendly_errors
def demo() -> None:
    """Load demo brands, queues, agents and tickets (once), and write a demo admin token to the data directory."""
    from tierdesk.agents.repository import by_email
    from tierdesk.agents.service import create_token
    from tierdesk.demo import ADMIN_EMAIL, BRANDS, CONTACTS, DEMO_AGENT_EMAIL, load_demo, set_demo_passwords
    from tierdesk.kit.errors import NotFound
    from tierdesk.triage.service import TriagerSource

    settings = get_settings()
    _migrate()
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("loading demo data", total=4 + len(CONTACTS) + 1)
        with _database().transaction() as db:
            triager = TriagerSource(settings.effective_triage_model_path, settings.triage_confidence_threshold)
            loaded = load_demo(db, lambda step: progress.advance(task), triager)
    where = _safe_url(settings.effective_database_url)
    out.print(f"demo data loaded into {where}" if loaded else f"demo data present already in {where}")
    token_file = settings.data_dir / DEMO_TOKEN_FILE
    if not token_file.exists():
        with _database().transaction() as db:
            admin = by_email(db, ADMIN_EMAIL)
            if admin is None:  # the demo data counts as present when its first brand exists
                raise NotFound(f"no demo admin {ADMIN_EMAIL} to make a token for (brand {BRANDS[0][0]!r} exists)")
            _row, token = create_token(db, admin, "demo", settings.effective_secret_key())
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.touch(mode=0o600)
        token_file.write_text(token + "\n")
        out.print(f"demo admin token written to {token_file}")
    sign_in_file = settings.data_dir / DEMO_SIGN_IN_FILE
    if not sign_in_file.exists():
        password = secrets.token_urlsafe(12)  # random per installation: no demo password is published anywhere
        with _database().transaction() as db:
            set_demo_passwords(db, password)
        sign_in_file.parent.mkdir(parents=True, exist_ok=True)
        sign_in_file.touch(mode=0o600)
        sign_in_file.write_text(f"{DEMO_AGENT_EMAIL} {password}\n{ADMIN_EMAIL} {password}\n")
        out.print(f"demo agents' web sign-in written to {sign_in_file}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()  # Typer exits with the command's code
