"""Mail sent with the standard library's SMTP client to a running `tierdesk smtp` becomes tickets; a message that got
its 250 survives a kill -9 of the listener the next instant, exactly once."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.channels.email.helpers import mail, message_id_of
from tests.channels.email.test_smtp_process import _ehlo_when_listening
from tests.test_cli_process import _environment, _free_port, ok, run


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    out = log.open("a")
    process = subprocess.Popen([sys.executable, "-m", "tierdesk", "smtp", "--port", str(port)], env=env,
                               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    _ehlo_when_listening(port, process, log)
    return process


def _engine(env: dict[str, str]) -> sa.Engine:
    url = env.get("TIERDESK_DATABASE_URL") or f"sqlite:///{env['TIERDESK_DATA_DIR']}/tierdesk.db"
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def _setup(tmp_path, database_url) -> dict[str, str]:
    env = _environment(tmp_path / "data", database_url)
    ok(run(env, "db", "upgrade"))
    ok(run(env, "brands", "create", "acme", "--name", "Acme"))
    ok(run(env, "email", "addresses", "add", "support@acme.example", "--brand", "acme"))
    return env


def test_mail_from_smtplib_becomes_a_ticket_and_unknown_recipients_are_refused(tmp_path, database_url):
    env = _setup(tmp_path, database_url)
    port = _free_port()
    listener = _start(env, port, tmp_path / "smtp.log")
    try:
        first = mail(to="support+billing@acme.example", subject="Charged twice",
                     body="I was charged twice for my November invoice, please refund one.")
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            refused = client.sendmail("maria@example.com", ["support+billing@acme.example", "sales@acme.example"],
                                      first)
            assert refused == {"sales@acme.example": (550, b"5.1.1 <sales@acme.example>: no such recipient here")}
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("maria@example.com", ["nobody@elsewhere.example"], mail())
            reply = mail(subject="Re: Charged twice", body="Any news?", in_reply_to=message_id_of(first))
            assert client.sendmail("maria@example.com", ["support@acme.example"], reply) == {}
    finally:
        listener.send_signal(signal.SIGTERM)
        listener.wait(timeout=60)
    with _engine(env).connect() as conn:
        tickets = conn.execute(sa.text("SELECT id, subject, channel FROM tickets")).all()
        assert [(t.subject, t.channel) for t in tickets] == [("Charged twice", "email")]
        assert conn.execute(sa.text("SELECT count(*) FROM messages WHERE ticket_id = :t"),
                            {"t": tickets[0].id}).scalar() == 2


def test_every_acknowledged_message_survives_a_kill_9_exactly_once(tmp_path, database_url):
    env = _setup(tmp_path, database_url)
    port = _free_port()
    log = tmp_path / "smtp.log"
    listener = _start(env, port, log)
    acknowledged: list[str] = []
    attempted: list[bytes] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            raw = mail(sender=f"customer{worker}-{n}@example.com", subject=f"Question {worker}/{n}",
                       body=f"My router number {worker}-{n} blinks red since this morning.")
            with lock:
                attempted.append(raw)
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                    client.sendmail(f"customer{worker}-{n}@example.com", ["support@acme.example"], raw)
            except (OSError, smtplib.SMTPException):
                return  # the listener is gone: this message was not acknowledged
            with lock:
                acknowledged.append(message_id_of(raw))

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    # Kill it in the middle of the load: at least some messages acknowledged, some in flight.
    for _ in range(600):
        with lock:
            if len(acknowledged) >= 30:
                break
        stop.wait(0.05)
    listener.send_signal(signal.SIGKILL)
    listener.wait(timeout=60)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(acknowledged) >= 30, log.read_text()

    def stored() -> dict[str, int]:
        with _engine(env).connect() as conn:
            rows = conn.execute(sa.text("SELECT rfc_message_id, count(*) AS n FROM email_records "
                                        "GROUP BY rfc_message_id")).all()
        return {r.rfc_message_id: r.n for r in rows}

    after_kill = stored()
    assert [m for m in acknowledged if after_kill.get(m) != 1] == []
    # The senders that got no answer try again (as mail servers do): everything ends up stored, each once.
    listener = _start(env, port, log)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            for raw in attempted:
                client.sendmail("retry@example.com", ["support@acme.example"], raw)
    finally:
        listener.send_signal(signal.SIGTERM)
        listener.wait(timeout=60)
    final = stored()
    assert {message_id_of(raw) for raw in attempted} == set(final) and set(final.values()) == {1}
