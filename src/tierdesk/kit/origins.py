"""Web origins (scheme, host, port) of the sites a brand lets embed its chat widget or web form: one spelling, so
what an admin types and what a browser sends compare equal."""

from __future__ import annotations

from urllib.parse import urlsplit


def normalise_origin(value: str) -> str:
    """'https://www.Acme.com/' -> 'https://www.acme.com'. ValueError, naming the value, for anything else."""
    raw = value.strip()
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"{value!r} is not an origin like https://www.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{value!r}: an origin has no path, query or fragment (https://www.example.com)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} has a port that is not a number") from None
    if any(c in parts.hostname for c in " ;,'\"*"):
        raise ValueError(f"{value!r} is not an origin like https://www.example.com")
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}" + (f":{port}" if port else "")


def normalise_origins(values: list[str]) -> list[str]:
    """Each origin normalised, once, in the order given."""
    cleaned: list[str] = []
    for value in values:
        origin = normalise_origin(value)
        if origin not in cleaned:
            cleaned.append(origin)
    return cleaned


def same_origin(origin: str | None, allowed: list[str] | set[str]) -> bool:
    """Whether a browser's Origin header names one of the allowed origins (normalised both sides)."""
    if not origin:
        return False
    try:
        wanted = normalise_origin(origin)
    except ValueError:
        return False  # "null" (a sandboxed frame, a file) or garbage: no origin anyone allowed
    return any(_spelled(o) == wanted for o in allowed)


def _spelled(origin: str) -> str | None:
    try:
        return normalise_origin(origin)
    except ValueError:
        return None
