"""A real `tierdesk serve` process on a free port, and a WebSocket client (the `websockets` package) that speaks
the chat protocol (src/tierdesk/channels/chat/sockets.py)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

SECRET = "test-secret-key"  # the `settings` fixture's: the world's tokens are keyed with it
WAIT = 20.0  # seconds a client waits for a frame before the test fails (never a timing the test depends on)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m tierdesk serve` against the test's database; stop and start it again on the same port."""

    def __init__(self, data_dir: Path, database_url: str, **extra: str):
        self.port = free_port()
        self.log = data_dir / f"serve-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIERDESK_")}
        env.update(TIERDESK_DATA_DIR=str(data_dir), TIERDESK_SECRET_KEY=SECRET, TIERDESK_DATABASE_URL=database_url,
                   TIERDESK_TRIAGE_CONFIDENCE_THRESHOLD="0", TIERDESK_WORKER_POLL_SECONDS="0.1", **extra)
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, *, worker: bool = True) -> Server:
        sink = self.log.open("a")
        args = [sys.executable, "-m", "tierdesk", "serve", "--port", str(self.port)]
        if not worker:
            args.append("--no-worker")
        self.process = subprocess.Popen(args, env=self.env, stdin=subprocess.DEVNULL, stdout=sink,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                assert self.process.poll() is None, self.log.read_text()
                time.sleep(0.1)
        raise AssertionError("the server did not start: " + self.log.read_text())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


@dataclass
class Client:
    """One chat socket: frames received are kept; `next` waits for the next one matching."""

    ws: ClientConnection
    frames: list[dict[str, Any]] = field(default_factory=list)
    seen: int = 0  # index into frames of the next unread one
    last_seq: dict[int, int] = field(default_factory=dict)

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def next(self, type_: str | None = None, **match: Any) -> dict[str, Any]:
        """The next frame (of this type, with these values) after the ones already read; others are kept."""
        async with asyncio.timeout(WAIT):
            while True:
                while self.seen < len(self.frames):
                    frame = self.frames[self.seen]
                    self.seen += 1
                    if (type_ is None or frame.get("type") == type_) and all(
                            frame.get(k) == v for k, v in match.items()):
                        return frame
                frame = json.loads(await self.ws.recv())
                if frame.get("type") == "event":
                    self.last_seq[frame["conversation"]] = frame["seq"]
                self.frames.append(frame)

    def events(self, conversation: int | None = None) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == "event"
                and (conversation is None or f["conversation"] == conversation)]

    async def close(self) -> None:
        await self.ws.close()


async def customer(server_url: str, brand: str = "acme", origin: str | None = None) -> Client:
    ws = await connect(f"{server_url}/channels/chat/ws/customer?brand={brand}", origin=origin)  # type: ignore[arg-type]
    client = Client(ws)
    await client.next("hello")
    return client


async def agent(server_url: str, token: str, after: dict[int, int] | None = None) -> Client:
    ws = await connect(f"{server_url}/channels/chat/ws/agent",
                       additional_headers={"Authorization": f"Bearer {token}"})
    client = Client(ws)
    await client.send(type="hello", after={str(k): v for k, v in (after or {}).items()})
    await client.next("welcome")
    return client
