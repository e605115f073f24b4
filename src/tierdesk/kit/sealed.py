"""Secrets tierdesk must keep and use again (a mail relay's password, an IMAP password, a DKIM key) are stored
encrypted with a key derived from the deployment's secret key (Fernet: AES-128-CBC with HMAC-SHA256), so a copy of
the database alone does not give them away. They are never logged or shown back."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SealError(ValueError):
    """A sealed value cannot be opened: the secret key changed since it was stored."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tierdesk sealed secrets v1").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, value: str) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode()


def unseal(secret_key: str, sealed: str) -> str:
    try:
        return _fernet(secret_key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SealError("a stored secret cannot be decrypted: TIERDESK_SECRET_KEY changed since it was stored; "
                        "enter the secret again") from None
