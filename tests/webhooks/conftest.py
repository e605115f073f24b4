"""A real HTTP receiver for webhook deliveries, scripted per path, that verifies each signature with the code README.md
(section Webhooks) gives a receiver, not with tierdesk's own: a drift in the scheme or its documentation fails here."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HANG = "hang"  # an answer that never comes (until the test ends): the sender's timeout must give up


def readme_verify():
    """The receiver's check exactly as README.md prints it (section Webhooks, "Verifying a delivery"): the test's
    receiver runs the documented code, so the scheme and its documentation cannot drift apart."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("**Verifying a delivery.**"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "README.md shows no Python receiver under 'Verifying a delivery'"
    namespace: dict = {}
    exec(code.group(1), namespace)  # noqa: S102 (our own README)
    return namespace["verify"]


verify = readme_verify()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict
    answered: int | None
    signed_ok: bool | None  # None: no secret known for the path

    @property
    def event(self) -> str:
        return self.body["event"]


@dataclass
class Receiver:
    base: str
    scripts: dict[str, list] = field(default_factory=dict)  # path -> answers in turn (then 200)
    secrets: dict[str, str] = field(default_factory=dict)  # path -> signing secret
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return self.base + path

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@pytest.fixture
def receiver():
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            r = box["r"]
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            script = r.scripts.get(self.path, [])
            answer = script.pop(0) if script else 200
            secret = r.secrets.get(self.path)
            signed_ok = verify(secret, self.headers, raw) if secret is not None else None
            if answer == HANG:
                r.received.append(Received(self.path, dict(self.headers), json.loads(raw), None, signed_ok))
                r.release.wait(30)
                return  # closes without an answer
            r.received.append(Received(self.path, dict(self.headers), json.loads(raw), answer, signed_ok))
            self.send_response(answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box["r"]
    box["r"].release.set()
    server.shutdown()
    server.server_close()
