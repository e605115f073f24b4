"""The provider's request signature (X-Twilio-Signature), checked the way Twilio documents it: HMAC-SHA1 keyed with
the account's auth token over the full URL it requested followed by every POST parameter, names sorted, each name
then its value; base64. A few lines of our own, so the server needs no provider library at run time.

Behind a proxy the URL the provider signed is the public one, not what the app sees: TIERDESK_VOICE_PUBLIC_URL
says what it is. Like the provider's own validator, a URL is also tried with its default port added or removed
(providers differ in whether they sign https://host/... or https://host:443/...).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

HEADER = "X-Twilio-Signature"
# Sent when the webhook is signed with a shared key and names its algorithm ("key=...,algorithm=HMAC_SHA256").
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
_ALGORITHMS = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}


def compute(secret: str, url: str, params: Iterable[tuple[str, str]], algorithm: str = "HMAC_SHA1") -> str:
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    text = url + "".join(name + value for name in sorted(by_name) for value in sorted(by_name[name]))
    digest = hmac.new(secret.encode(), text.encode(), _ALGORITHMS[algorithm]).digest()
    return base64.b64encode(digest).decode("ascii")


def algorithm_of(settings_header: str | None) -> str | None:
    """The algorithm the settings header names (HMAC_SHA1 without one); None for one we do not know."""
    for part in (settings_header or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "algorithm" and value.strip():
            return value.strip().upper() if value.strip().upper() in _ALGORITHMS else None
    return "HMAC_SHA1"


def _port_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    if parts.port is None:
        return [url, urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}"))]
    return [url, urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]))] if host else [url]


def valid(secret: str, url: str, params: list[tuple[str, str]], signature: str | None,
          settings_header: str | None = None) -> bool:
    if not signature:
        return False
    algorithm = algorithm_of(settings_header)
    if algorithm is None:
        return False
    return any(hmac.compare_digest(compute(secret, candidate, params, algorithm), signature)
               for candidate in _port_variants(url))
