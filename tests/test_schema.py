"""The database itself: migrations match the models, engine settings, UTC timestamps."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from tierdesk import migrate
from tierdesk.brands.models import Brand


def test_migrations_match_the_models(database_url):
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert migrate.schema_drift(database_url) == []


def test_upgrade_twice_is_harmless(database_url):
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(database):
    if database.dialect != "sqlite":
        return
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_foreign_keys_are_enforced(database):
    from tierdesk.customers.models import Customer

    try:
        with database.transaction() as db:
            db.add(Customer(brand_id=999_999))
            db.flush()
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("a customer of a brand that does not exist was stored")


def test_timestamps_come_back_timezone_aware_utc(database):
    moment = dt.datetime(2026, 3, 29, 3, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with database.transaction() as db:
        db.add(Brand(slug="tz", name="tz", created_at=moment))
    with database.transaction(write=False) as db:
        stored = db.scalar(sa.select(Brand.created_at).where(Brand.slug == "tz"))
    assert stored.tzinfo is not None and stored.utcoffset() == dt.timedelta(0)
    assert stored == moment
