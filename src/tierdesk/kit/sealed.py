"""Secrets tierdesk must give back in clear (a mailbox's or a relay's password), kept encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) with a key derived from the deployment's secret key by
HKDF-SHA256; `purpose` separates the keys of different uses, so a value sealed for one cannot be opened as another.
Changing the secret key makes the sealed values unreadable: they must be entered again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SealBroken(Exception):
    """The value was sealed with another secret key (or altered)."""


def _fernet(secret_key: str, purpose: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"tierdesk:{purpose}".encode()).derive(
        secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, purpose: str, plaintext: str) -> str:
    return _fernet(secret_key, purpose).encrypt(plaintext.encode()).decode("ascii")


def unseal(secret_key: str, purpose: str, token: str) -> str:
    try:
        return _fernet(secret_key, purpose).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise SealBroken(f"a stored {purpose} cannot be decrypted: was TIERDESK_SECRET_KEY changed? "
                         "Enter it again.") from None
