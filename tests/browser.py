"""What the browser tests share: headless Chromium (required in CI: TIERDESK_REQUIRE_BROWSER=1 fails rather than
skips), tierdesk on a real uvicorn server on loopback, and a shop's own site, a real HTTP server on another origin
whose page embeds one of tierdesk's scripts; and axe-core (from the npm registry: `make browser-tools`) in a page."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
# Where `make browser-tools` (and .ci/run) install axe-core with npm: gitignored, next to .venv.
AXE = Path(__file__).resolve().parent.parent / ".tools" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
# The impacts that fail a page (axe-core's scale: minor, moderate, serious, critical).
FAILING_IMPACTS = ("serious", "critical")


@dataclass
class Served:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serving(app: Any) -> Iterator[Served]:
    """The app on a real uvicorn server on a free loopback port, in a thread, for as long as the block runs."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(400):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield Served(port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def chromium() -> str:
    """The Chromium executable; skips the test without one, unless CI requires it."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("TIERDESK_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (CI installs it)")
        pytest.skip("chromium is not installed")
    return browser


def launch(playwright: Any) -> Any:
    """Headless Chromium, with the flags it needs in a container."""
    return playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)


@dataclass
class Shop:
    port: int

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def origin(self) -> str:
        """The origin a brand allows; the same server reached as localhost is another origin, not allowed."""
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def shop_site(page: str, headers: dict[str, str] | None = None) -> Iterator[Shop]:
    """The shop's own site: every path answers with `page` (and `headers`, e.g. its Content-Security-Policy)."""
    body = page.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Shop(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def axe_source() -> str:
    """axe-core's script; skips the test without it, unless CI requires it (TIERDESK_REQUIRE_BROWSER=1)."""
    if not AXE.is_file():
        message = f"axe-core is not installed at {AXE}: run `make browser-tools` (npm)"
        if os.environ.get("TIERDESK_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Any, impacts: tuple[str, ...] = FAILING_IMPACTS) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, of the given impacts. The script is evaluated through the
    browser's DevTools protocol rather than added as a <script> tag: the pages' CSP (script-src 'self') rightly
    blocks inline scripts, and a CSP-bypassing context would hide the very violations the tests look for."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;undefined")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary}))}));
    }""")
    return [v for v in result if v["impact"] in impacts]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """Violations as a reader fixes them: rule, impact, and each offending node's selector and markup."""
    lines = []
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:10]:
            lines.append(f"      at {json.dumps(node['target'])}: {node['html'][:200]}")
            if node.get("summary"):
                lines.extend(f"        {line}" for line in node["summary"].splitlines()[:4])
    return "\n".join(lines)
