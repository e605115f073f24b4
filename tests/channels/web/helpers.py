"""Posting a brand's web form as a browser does: load the page, read its form token, send multipart."""

from __future__ import annotations

import datetime as dt
import html
import re
import struct
import zlib

from tierdesk.channels.web import spam
from tierdesk.kit.time import utcnow

FORM = "/channels/web/acme/form"
REQUESTS = "/channels/web/acme/requests"
SECRET = "test-secret-key"  # the settings fixture's


def png(width: int = 1, height: int = 1) -> bytes:
    """A real PNG (signature, IHDR, IDAT, IEND)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def token_of(page: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return html.unescape(found.group(1))


def aged_token(brand_id: int, seconds: float = 60) -> str:
    """A token as the page would have issued it `seconds` ago (instead of waiting that long in a test)."""
    return spam.issue_token(SECRET, brand_id, utcnow() - dt.timedelta(seconds=seconds))


def fields(**overrides: str) -> dict[str, str]:
    values = {"email": "maria@example.com", "name": "Maria", "subject": "My router blinks red",
              "message": "Since this morning the router blinks red and nothing loads.", "website": ""}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def errors_of(page: str) -> dict[str, str]:
    """The error shown beside each field: {field name: message}."""
    return {m.group(1): html.unescape(m.group(2))
            for m in re.finditer(r'<p class="error" id="error-([a-z0-9_]+)">(.*?)</p>', page, re.S)}
