from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.channels.email import dovecot as dovecot_server


@pytest.fixture(scope="session")
def dovecot():
    """A private Dovecot for the session (tests/channels/email/dovecot.py). Its directory is not under pytest's
    (mode 0700 from the top), since Dovecot's own users must reach their files in it."""
    directory = Path(tempfile.mkdtemp(prefix="tierdesk-dovecot-"))
    server = dovecot_server.start(directory)
    yield server
    dovecot_server.stop(server)
    shutil.rmtree(directory, ignore_errors=True)
