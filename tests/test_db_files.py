"""The SQLite file holds customers' messages and token digests: only its owner may read it."""

from __future__ import annotations

import stat

import sqlalchemy as sa

from tierdesk import migrate
from tierdesk.db import Database, make_engine


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_is_private(tmp_path):
    data_dir = tmp_path / "data"
    url = f"sqlite:///{data_dir / 'tierdesk.db'}"
    migrate.upgrade(url)
    database = Database(make_engine(url))
    with database.transaction() as db:
        db.execute(sa.text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "tierdesk.db") == 0o600
    for extra in ("tierdesk.db-wal", "tierdesk.db-shm"):
        if (data_dir / extra).exists():
            assert _mode(data_dir / extra) & 0o077 == 0, extra
    database.dispose()


def test_an_existing_directory_is_left_as_it_is(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    engine = make_engine(f"sqlite:///{shared / 'x.db'}")
    assert not (shared / "x.db").exists()  # made at the first connection, not before (a schema check makes none)
    engine.connect().close()
    engine.dispose()
    assert _mode(shared) == 0o755
    assert _mode(shared / "x.db") == 0o600
