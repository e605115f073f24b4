"""`tierdesk imap add|list|remove|poll` on a real database and a real Dovecot, with one-line errors."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa

from tests.channels.email.dovecot import PASSWORD
from tests.test_cli import _clear_caches, _environment
from tierdesk.cli import app
from tierdesk.db import get_database


@pytest.fixture
def cli(monkeypatch, tmp_path, database_url):
    runner = _environment(monkeypatch, tmp_path / "cli-data", database_url)
    assert runner("brands", "create", "acme", "--name", "Acme").exit_code == 0
    yield runner
    _clear_caches()


def typed(cli, *args, password="pw"):
    """A command given the password on stdin."""
    return cli.runner.invoke(app, list(args), input=password + "\n")


def add(cli, dovecot, account, *extra):
    return typed(cli, "imap", "add", "support", "--brand", "acme", "--host", dovecot.host, "--port", str(dovecot.port),
                 "--security", "plain", "--username", account, "--password-stdin", *extra, password=PASSWORD)


def test_add_list_poll_remove(cli, dovecot):
    account = dovecot.account()
    added = add(cli, dovecot, account, "--after", "flag")
    assert added.exit_code == 0, added.output
    assert f"{account} at {dovecot.host}:{dovecot.port} (plain), folder INBOX added" in added.output
    with get_database().transaction(write=False) as db:
        sealed = db.scalar(sa.text("SELECT password_sealed FROM imap_mailboxes"))
    assert PASSWORD not in sealed

    polled = cli("imap", "poll", "--once")
    assert polled.exit_code == 0 and "0 message(s) fetched" in polled.output

    listed = cli("imap", "list")
    assert listed.exit_code == 0
    assert "support" in listed.output and account in listed.output and "flag" in listed.output
    assert PASSWORD not in listed.output and "never" not in listed.output  # polled now

    assert add(cli, dovecot, account).exit_code == 2  # the name is taken in the brand
    removed = cli("imap", "remove", "support", "--brand", "acme")
    assert removed.exit_code == 0 and "removed" in removed.output
    again = cli("imap", "remove", "support", "--brand", "acme")
    assert again.exit_code == 2 and "brand 'acme' has no mailbox named 'support'" in again.output


def test_readable_errors(cli, dovecot):
    account = dovecot.account()
    unknown = typed(cli, "imap", "add", "x", "--brand", "nope", "--host", "h", "--username", "u", "--password-stdin")
    assert unknown.exit_code == 2 and "no brand 'nope'" in unknown.output and "Traceback" not in unknown.output
    bad_port = add(cli, dovecot, account, "--port", "70000")
    assert bad_port.exit_code == 2 and "error (port)" in bad_port.output
    bad_host = typed(cli, "imap", "add", "x", "--brand", "acme", "--host", "imaps://mail.example.com",
                     "--username", "u", "--password-stdin")
    assert bad_host.exit_code == 2 and "error (host)" in bad_host.output

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert add(cli, dovecot, account, "--port", str(closed)).exit_code == 0
    polled = cli("imap", "poll", "--once")
    assert polled.exit_code == 0, polled.output
    assert f"acme/support: cannot connect to 127.0.0.1:{closed}: connection failed: Connection refused" in \
        " ".join(polled.output.split())
    assert "Traceback" not in polled.output


def test_poll_watches_until_terminated_and_frees_the_mailbox(cli, dovecot):
    import os
    import signal
    import subprocess
    import sys
    import time

    assert add(cli, dovecot, dovecot.account()).exit_code == 0

    def claimed() -> bool:
        with get_database().transaction(write=False) as db:
            return db.scalar(sa.text("SELECT claimed_until FROM imap_mailboxes")) is not None

    watcher = subprocess.Popen([sys.executable, "-m", "tierdesk", "imap", "poll"], env=os.environ.copy(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not claimed():  # it holds the mailbox while it waits in IDLE
            assert watcher.poll() is None, watcher.stderr.read() if watcher.stderr else ""
            assert time.monotonic() < deadline, "the watcher never took the mailbox"
            time.sleep(0.1)
        watcher.send_signal(signal.SIGTERM)
        _, stderr = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert not claimed()
