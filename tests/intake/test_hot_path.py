"""Intake's hot path: what each contact costs the database, and plans that stay right as the tables grow."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import contact
from tierdesk.brands import repository as brands_repo
from tierdesk.customers import repository as customers_repo
from tierdesk.customers import service as customers_service
from tierdesk.customers.models import Customer, CustomerIdentity
from tierdesk.customers.schemas import Sender
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import Channel, MessageDirection
from tierdesk.tickets import repository as tickets_repo
from tierdesk.tickets.models import Message, Ticket

API = "/api/v1"


class Statements:
    """The SQL an engine runs while counting."""

    def __init__(self, engine: sa.Engine):
        self.seen: list[str] = []
        self.params: list = []
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, parameters, *_args):
        self.seen.append(" ".join(statement.split()))
        self.params.append(parameters)

    def about(self, table: str) -> list[str]:
        return [s for s in self.seen if f"FROM {table} " in s or s.endswith(f"FROM {table}")]


def test_a_returning_sender_is_found_with_their_customer_in_one_statement(client, world, database):
    first = client.post(f"{API}/contacts", json=contact(), headers=world.auth("admin"))
    assert first.status_code == 201, first.text
    sql = Statements(database.engine)
    again = client.post(f"{API}/contacts", json=contact(body="Still blinking."), headers=world.auth("admin"))
    assert again.status_code == 201, again.text
    assert again.json()["customer_id"] == first.json()["customer_id"]
    assert len(sql.about("customer_identities")) == 1
    assert sql.about("customers") == []  # the customer came with its identity
    assert sql.about("brands") == []  # the brand came from this process's cache


def test_the_brand_cache_never_answers_for_another_database(database, tmp_path, world):
    from tierdesk import migrate
    from tierdesk.db import Database, make_engine

    with database.transaction() as db:
        acme = brands_repo.by_slug_cached(db, "acme")
        assert acme.id == world.brands["acme"]
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    migrate.upgrade(other_url)
    other = Database(make_engine(other_url))
    try:
        with other.transaction() as db:
            assert brands_repo.by_slug_cached(db, "acme") is None
    finally:
        other.dispose()


def test_a_renamed_brand_is_seen_at_once_in_this_process(client, world):
    assert client.post(f"{API}/contacts", json=contact(), headers=world.auth("admin")).status_code == 201
    r = client.patch(f"{API}/brands/{world.brands['acme']}", json={"name": "Acme Renamed"}, headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    from tierdesk.brands.service import resolve_brand
    from tierdesk.kit.actors import SYSTEM

    with client.app.state.database.transaction() as db:
        assert resolve_brand(db, SYSTEM, "acme").name == "Acme Renamed"


def test_a_first_contact_that_loses_the_race_for_its_address_joins_the_winner(database, world, monkeypatch):
    """Two first contacts from one new address at once: both look and find nothing, one commits the identity first.
    The other's insert does nothing (no IntegrityError, no savepoint needed); it drops the customer it made and uses
    the winner's."""
    brand_id = world.brands["acme"]
    with database.transaction() as db:
        winner = customers_service.identify(db, brand_id, Sender(email="race@example.com", name="Winner"), None)
    looked = []
    real = customers_repo.identities_matching

    def stale_first_look(db, brand_id, wanted):
        looked.append(wanted)
        return [] if len(looked) == 1 else real(db, brand_id, wanted)  # the first look predates the winner's commit

    monkeypatch.setattr(customers_repo, "identities_matching", stale_first_look)
    with database.transaction() as db:
        found = customers_service.identify(db, brand_id, Sender(email="race@example.com", name="Loser"), None)
        assert (found.customer.id, found.created) == (winner.customer.id, False)
    assert len(looked) == 2
    with database.transaction() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Customer)) == 1
        assert db.scalar(sa.select(sa.func.count()).select_from(CustomerIdentity)) == 1


def _many_messages(database, brand_id: int, customer_id: int, ticket_id: int, n: int) -> None:
    now = utcnow()
    with database.transaction() as db:
        db.execute(sa.insert(Message.__table__), [
            {"ticket_id": ticket_id, "brand_id": brand_id, "direction": MessageDirection.INBOUND,
             "channel": Channel.EMAIL, "author_customer_id": customer_id, "body_text": "x", "body_html": "<p>x</p>",
             "external_id": f"<m{i}@example.com>", "thread_ref": f"<t{i}@example.com>", "created_at": now}
            for i in range(n)])


def test_thread_lookup_reads_an_index_entry_not_every_message_of_the_brand(client, world, database):
    """Without statistics (a new SQLite database), an OR of external_id and thread_ref let SQLite search the brand
    prefix of an index: every message of the brand, on every follow-up."""
    first = client.post(f"{API}/contacts", json=contact(external_id="<first@example.com>"), headers=world.auth("admin"))
    assert first.status_code == 201, first.text
    ticket, customer_id = first.json()["ticket"]["id"], first.json()["customer_id"]
    _many_messages(database, world.brands["acme"], customer_id, ticket, 200)
    sql = Statements(database.engine)
    with database.transaction() as db:
        found = tickets_repo.find_thread(db, world.brands["acme"], customer_id, "<first@example.com>")
        assert found is not None and found.id == ticket
    [(lookup, params)] = [(s, p) for s, p in zip(sql.seen, sql.params, strict=True) if "FROM tickets" in s]
    if database.dialect != "sqlite":
        return  # PostgreSQL: see test_plans_follow_the_tables_as_they_grow
    with database.engine.connect() as conn:
        plan = " | ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + lookup, params).all())
    assert "(brand_id=?)" not in plan, plan
    assert "brand_id=? AND external_id=?" in plan and "brand_id=? AND thread_ref=?" in plan, plan


def test_plans_follow_the_tables_as_they_grow(database, world):
    """PostgreSQL: a statement prepared while the tables were empty (psycopg prepares after five runs) must not keep a
    plan that reads every message of the brand once there are many (the intake duplicate check did, until ANALYZE)."""
    if database.dialect != "postgresql":
        return
    brand_id = world.brands["acme"]
    dup_check = "SELECT id FROM messages WHERE brand_id = $1 AND external_id = $2"
    with database.engine.connect() as conn:  # a connection of the service's own engine, with its options
        conn.exec_driver_sql(f"PREPARE dup_check(bigint, text) AS {dup_check}")
        for i in range(12):  # past the five custom plans after which PostgreSQL may settle on a generic one
            conn.exec_driver_sql(f"EXECUTE dup_check({brand_id}, '<nothing{i}>')").all()
        with database.transaction() as db:
            ticket_id, customer_id = _a_ticket(db, brand_id)
        _many_messages(database, brand_id, customer_id, ticket_id, 3000)
        plan = " | ".join(r[0] for r in conn.exec_driver_sql(
            f"EXPLAIN EXECUTE dup_check({brand_id}, '<m5@example.com>')").all())
    assert "uq_messages_brand_id_external_id" in plan, plan


def _a_ticket(db, brand_id: int) -> tuple[int, int]:
    customer = customers_service.identify(db, brand_id, Sender(email="many@example.com"), None).customer
    queue_id = db.scalar(sa.text("SELECT id FROM queues WHERE brand_id = :b ORDER BY id LIMIT 1"), {"b": brand_id})
    ticket = Ticket(brand_id=brand_id, customer_id=customer.id, subject="s", status="new", priority="normal",
                    queue_id=queue_id, tier=1, channel=Channel.EMAIL, message_count=0, created_at=utcnow(),
                    updated_at=utcnow(), reopen_count=0, reopens_escalated=0)
    db.add(ticket)
    db.flush()
    return ticket.id, customer.id
