from __future__ import annotations

import pytest

from tests.channels.email import dovecot as dovecot_server


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory):
    """A private Dovecot for the session (tests/channels/email/dovecot.py)."""
    server = dovecot_server.start(tmp_path_factory.mktemp("dovecot"))
    yield server
    dovecot_server.stop(server)
