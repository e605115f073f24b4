"""Test fixtures: every test that touches the database gets a fresh one, built by the migrations.

SQLite always; PostgreSQL too when TIERDESK_TEST_DATABASE_URL is set (CI sets it). Migrations run once per backend
into a template; each test gets a copy (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL), so tests
commit for real, may use several connections at once, and never see each other's data.
"""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

os.environ.setdefault("TIERDESK_SECRET_KEY", "test-secret-key-not-for-production")

from tierdesk import migrate  # noqa: E402
from tierdesk.agents import service as agents_service  # noqa: E402
from tierdesk.agents.schemas import AgentCreate, SkillLevel  # noqa: E402
from tierdesk.app import create_app  # noqa: E402
from tierdesk.brands.schemas import BrandCreate  # noqa: E402
from tierdesk.brands.service import create_brand  # noqa: E402
from tierdesk.config import Settings  # noqa: E402
from tierdesk.db import Database, make_engine  # noqa: E402
from tierdesk.kit.actors import SYSTEM  # noqa: E402
from tierdesk.routing.schemas import QueueCreate, RequiredSkill  # noqa: E402
from tierdesk.routing.service import create_queue  # noqa: E402

PG_URL = os.environ.get("TIERDESK_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"]
_counter = itertools.count()


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def pg_template() -> str:
    if not PG_URL:
        pytest.skip("PostgreSQL tests need TIERDESK_TEST_DATABASE_URL")
    name = f"{make_url(PG_URL).database}_tpl_{os.getpid()}"
    admin = _admin_engine(PG_URL)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    migrate.upgrade(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """The URL of a fresh, migrated, empty database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "tierdesk.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"{template}_{next(_counter)}"
    admin = _admin_engine(PG_URL)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def database(database_url) -> Database:
    db = Database(make_engine(database_url))
    yield db
    db.dispose()


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, secret_key="test-secret-key")


@pytest.fixture
def client(database, settings) -> TestClient:
    with TestClient(create_app(database, settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def web(database, settings) -> TestClient:
    """A browser's view of the app (the web UI's pages): over HTTPS, so the Secure session cookie comes back."""
    with TestClient(create_app(database, settings), base_url="https://testserver",
                    raise_server_exceptions=False) as c:
        yield c


@dataclass
class World:
    """A small support operation: two brands with queues, agents of each role, and their API tokens."""

    brands: dict[str, int] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)  # "brand/slug" -> id
    agents: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def world(database, settings) -> World:
    w = World()
    # Each brand's tier-1 queues here are the entry queues create_brand makes, under these slugs.
    entry = {"acme": {"CS": "cs-billing", "TS": "ts-helpdesk"}, "globex": {"CS": "cs-general", "TS": "ts-general"}}
    with database.transaction() as db:
        for slug in ("acme", "globex"):
            w.brands[slug] = create_brand(db, SYSTEM, BrandCreate(slug=slug, name=slug.title()),
                                          entry_queues=entry[slug]).id
        from tierdesk.queues.repository import in_brand
        from tierdesk.routing.schemas import QueueUpdate
        from tierdesk.routing.service import update_queue

        for brand, slug, dept, tier, skills in (
            ("acme", "cs-billing", "CS", 1, [("billing", 2)]),
            ("acme", "ts-helpdesk", "TS", 1, [("connectivity", 2)]),
            ("acme", "ts-specialists", "TS", 2, [("connectivity", 4)]),
            ("globex", "cs-general", "CS", 1, []),
            ("globex", "ts-general", "TS", 1, []),
        ):
            required = [RequiredSkill(skill=s, min_level=lvl) for s, lvl in skills]
            if slug in entry[brand].values():
                q = update_queue(db, SYSTEM, in_brand(db, w.brands[brand], slug).id,
                                 QueueUpdate(name=slug, required_skills=required))
            else:
                q = create_queue(db, SYSTEM, QueueCreate(
                    brand=brand, slug=slug, name=slug, department=dept, tier=tier, required_skills=required))
            w.queues[f"{brand}/{slug}"] = q.id
        from tierdesk.queues.repository import triage_queue

        for brand, brand_id in w.brands.items():
            w.queues[f"{brand}/triage"] = triage_queue(db, brand_id).id
        for who, role, brands, tier in (
            ("admin", "admin", [], 3),
            ("lead", "lead", ["acme"], 2),
            ("agent", "agent", ["acme"], 1),
            ("globex_agent", "agent", ["globex"], 1),
        ):
            agent = agents_service.create_agent(db, SYSTEM, AgentCreate(
                email=f"{who}@example.com", display_name=who, role=role, tier=tier, brands=brands,
                skills=[SkillLevel(skill="billing", level=3)]))
            w.agents[who] = agent.id
            _row, w.tokens[who] = agents_service.create_token(db, agent, "test", settings.effective_secret_key())
    return w


def contact(**overrides) -> dict:
    """A valid contact payload for POST /api/v1/contacts."""
    body = {
        "brand": "acme",
        "channel": "email",
        "sender": {"email": "maria@example.com", "name": "Maria"},
        "subject": "My router blinks red",
        "body": "Since this morning the router blinks red and nothing loads.",
    }
    body.update(overrides)
    return body
