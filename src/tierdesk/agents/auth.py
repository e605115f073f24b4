"""Credentials: bearer API tokens, argon2 passwords, and the limit on failed authentications (the Principal they
stand for is in kit.actors)."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

TOKEN_PREFIX = "tdk_"
INTEGRATION_TOKEN_PREFIX = "tdi_"  # an integration's token: looked up among integrations, not agents' tokens
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def new_token(prefix: str = TOKEN_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str, secret_key: str) -> str:
    # Tokens carry 256 random bits, so a keyed SHA-256 is enough and costs microseconds per request;
    # argon2's deliberate slowness is for low-entropy secrets (passwords).
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


@dataclass
class _Client:
    window_start: float
    failures: int = 0
    blocked_until: float = 0.0
    strikes: int = 0  # blocks in a row: each doubles the next


class FailedAuthLimiter:
    """Failed authentications per client address, in process memory: `limit` in a window of `window` seconds, then
    the address is refused (429) for a window, doubled on each repeat up to an hour. Successful requests are never
    counted, and a token that authenticated recently still passes from a refused address (a gateway shared with a
    client that guesses). limit=0 turns it off."""

    MAX_BLOCK_SECONDS = 3600.0
    MAX_CLIENTS = 100_000  # addresses remembered at most; the oldest quiet ones go first
    MAX_GOOD_TOKENS = 10_000

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._clients: dict[str, _Client] = {}
        self._good: OrderedDict[str, None] = OrderedDict()  # digests of tokens recently accepted
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Seconds the client must wait, or None when it may try."""
        if not self.limit:
            return None
        with self._lock:
            state = self._clients.get(client)
            now = self._clock()
            if state is None or state.blocked_until <= now:
                return None
            return max(1, math.ceil(state.blocked_until - now))

    def failed(self, client: str) -> None:
        if not self.limit:
            return
        with self._lock:
            now = self._clock()
            state = self._clients.get(client)
            if state is None:
                if len(self._clients) >= self.MAX_CLIENTS:
                    self._forget_quiet(now)
                state = self._clients[client] = _Client(window_start=now)
            if state.strikes and now > state.blocked_until + self._block(state.strikes):
                state.strikes = 0  # quiet for as long as its last block: start afresh
            if now - state.window_start >= self.window:
                state.window_start, state.failures = now, 0
            state.failures += 1
            if state.failures >= self.limit:
                state.strikes += 1
                state.blocked_until = now + self._block(state.strikes)
                state.window_start, state.failures = now, 0

    def succeeded(self, digest: str) -> None:
        if not self.limit:
            return
        with self._lock:
            self._good[digest] = None
            self._good.move_to_end(digest)
            if len(self._good) > self.MAX_GOOD_TOKENS:
                self._good.popitem(last=False)

    def vouched_for(self, digest: str) -> bool:
        with self._lock:
            return digest in self._good

    def _block(self, strikes: int) -> float:
        # Capped: past the hour the doubling is moot, and 2 ** 1024 would not convert to float (a 500, not a 429).
        doubling: int = 2 ** (min(strikes, 32) - 1)  # typeshed: int ** int is Any; strikes >= 1
        return min(self.window * doubling, self.MAX_BLOCK_SECONDS)

    def _forget_quiet(self, now: float) -> None:
        for client in [c for c, s in self._clients.items() if s.blocked_until <= now]:
            del self._clients[client]
        while len(self._clients) >= self.MAX_CLIENTS:  # every one of them blocked: the oldest go
            del self._clients[next(iter(self._clients))]
