"""`tierdesk smtp` and `tierdesk serve` with TIERDESK_SMTP_PORT as a user runs them: each a fresh process."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_cli_process import _environment, _free_port, ok, one_line_error, run


def _ehlo_when_listening(port: int, process: subprocess.Popen, log: Path) -> str:
    for _ in range(600):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                code, text = c.ehlo()
            assert code == 250
            return text.decode()
        except OSError:
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
    pytest.fail("the SMTP listener did not start: " + log.read_text())


def test_tierdesk_smtp_listens_answers_ehlo_and_stops_on_sigterm(tmp_path, database_url):
    env = _environment(tmp_path / "data", database_url, TIERDESK_SMTP_HOSTNAME="mx.tierdesk.test",
                       TIERDESK_SMTP_MAX_MESSAGE_BYTES="1000000")
    ok(run(env, "db", "upgrade"))
    port = _free_port()
    log = tmp_path / "smtp.log"
    with log.open("w") as out:
        listener = subprocess.Popen([sys.executable, "-m", "tierdesk", "smtp", "--port", str(port)], env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            text = _ehlo_when_listening(port, listener, log)
        finally:
            listener.send_signal(signal.SIGTERM)
            code = listener.wait(timeout=60)
    assert text.splitlines()[0] == "mx.tierdesk.test" and "SIZE 1000000" in text.splitlines()
    printed = log.read_text()
    assert code == 0, printed
    assert f"SMTP on 127.0.0.1:{port} as mx.tierdesk.test" in printed and "stopped" in printed
    assert "Traceback" not in printed


def test_tierdesk_serve_runs_the_listener_when_a_port_is_set(tmp_path):
    http_port, smtp_port = _free_port(), _free_port()
    env = _environment(tmp_path / "data", None, TIERDESK_SMTP_PORT=str(smtp_port))
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "tierdesk", "serve", "--port", str(http_port)], env=env,
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            text = _ehlo_when_listening(smtp_port, server, log)  # started before the HTTP server
            for _ in range(600):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=10) as r:
                        assert r.status == 200
                    break
                except OSError:
                    assert server.poll() is None, log.read_text()
                    time.sleep(0.1)
            else:
                pytest.fail("the HTTP server did not start: " + log.read_text())
            assert _ehlo_when_listening(smtp_port, server, log) == text  # and still there beside it
        finally:
            server.terminate()
            server.wait(timeout=60)
    assert "SIZE 26214400" in text.splitlines()
    printed = log.read_text()
    assert f"SMTP on 127.0.0.1:{smtp_port}" in printed and "Traceback" not in printed


def test_smtp_settings_that_cannot_work_end_in_one_line(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate")
    env = _environment(tmp_path / "data", None, TIERDESK_SMTP_TLS_CERT=str(cert))
    one_line_error(run(env, "smtp"), "TIERDESK_SMTP_TLS_CERT and TIERDESK_SMTP_TLS_KEY go together")
    env = _environment(tmp_path / "data", None, TIERDESK_SMTP_TLS_CERT=str(cert),
                       TIERDESK_SMTP_TLS_KEY=str(tmp_path / "missing.pem"))
    one_line_error(run(env, "smtp"), "TIERDESK_SMTP_TLS_KEY", "missing.pem", "not a file")
    env = _environment(tmp_path / "data", None, TIERDESK_SMTP_TLS_CERT=str(cert), TIERDESK_SMTP_TLS_KEY=str(cert))
    ok(run(env, "db", "upgrade"))
    one_line_error(run(env, "smtp", "--port", str(_free_port())), "cannot use", "cert.pem", "STARTTLS")


def test_a_port_in_use_ends_in_one_line(tmp_path):
    import socket

    env = _environment(tmp_path / "data", None)
    ok(run(env, "db", "upgrade"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line_error(run(env, "smtp", "--port", str(port)), f"port {port}", "smtp_port")
        env["TIERDESK_SMTP_PORT"] = str(port)
        one_line_error(run(env, "serve", "--port", str(_free_port())), f"port {port} is in use",
                       "TIERDESK_SMTP_PORT")
