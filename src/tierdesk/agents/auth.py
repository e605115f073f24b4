"""Credentials: bearer API tokens and argon2 passwords (the Principal they stand for is in kit.actors)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

TOKEN_PREFIX = "tdk_"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters




def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


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
