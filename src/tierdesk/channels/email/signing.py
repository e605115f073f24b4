"""DKIM: a brand's replies signed with its key (dkimpy), so receivers can tell they really come from its domain.

The key is kept sealed in the brand's email settings; `tierdesk email dkim show` prints the TXT record to publish at
<selector>._domainkey.<domain>."""

from __future__ import annotations

import base64

import dkim  # dkimpy (zlib licence)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tierdesk.kit.errors import InvalidInput

# What the signature covers: the headers a forger would change, and the body's shape. A header named here that a
# message does not have is signed as absent, so it cannot be added afterwards either.
SIGNED_HEADERS = [b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"in-reply-to", b"references",
                  b"mime-version", b"content-type", b"auto-submitted"]


def _load(private_key_pem: str) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a PEM private key without a passphrase: {exc}", field="key_file") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 1024:
            raise InvalidInput(f"an RSA key of {key.key_size} bits is too short for DKIM (2048 is usual)",
                               field="key_file")
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise InvalidInput("DKIM keys are RSA or Ed25519", field="key_file")


def check_private_key(private_key_pem: str) -> None:
    """InvalidInput unless the text is a usable DKIM signing key."""
    _load(private_key_pem)


def dns_record(private_key_pem: str) -> str:
    """The TXT record's value that publishes the public half of the key."""
    key = _load(private_key_pem)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


def sign(message: bytes, *, domain: str, selector: str, private_key_pem: str) -> bytes:
    """The message with its DKIM-Signature header in front."""
    algorithm = (b"ed25519-sha256" if isinstance(_load(private_key_pem), ed25519.Ed25519PrivateKey)
                 else b"rsa-sha256")
    signature: bytes = dkim.sign(message, selector.encode(), domain.encode(), private_key_pem.encode(),
                                 canonicalize=(b"relaxed", b"relaxed"), signature_algorithm=algorithm,
                                 include_headers=SIGNED_HEADERS)
    return signature + message
