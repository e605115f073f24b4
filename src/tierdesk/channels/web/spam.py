"""What keeps robots out of a public form without a puzzle for people: a honeypot field, a minimum fill time and
rate limits.

The form token is issued with the page: the time it was served, a random part and an HMAC of both and the brand under
the deployment's secret key. A post must bring it back; one sent sooner than the minimum fill time after the page was
served (a robot fills forms at once), a token of another brand, an altered or an expired one is refused. The random
part makes each served page's token unique, so a double click is recognised as the same request (intake.py).

The rate limits count the requests the channel accepted (web_submissions), so they hold across processes and
restarts; a refused post counts nothing (it writes nothing).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tierdesk.channels.web import repository
from tierdesk.kit.errors import InvalidInput, TooManyRequests

HONEYPOT = "website"  # robots fill in a "website"; people never see the field
_MAC_LENGTH = 22  # base64 characters: 132 bits


class TokenRefused(InvalidInput):
    """The form token is missing, forged, of another brand, expired or too fresh."""

    def __init__(self, message: str, *, too_fast: bool = False):
        super().__init__(message, field="form_token")
        self.too_fast = too_fast


def _mac(secret_key: str, brand_id: int, issued: int, nonce: str) -> str:
    digest = hmac.new(secret_key.encode(), f"web-form:{brand_id}:{issued}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_MAC_LENGTH]


def issue_token(secret_key: str, brand_id: int, now: dt.datetime) -> str:
    issued = int(now.timestamp() * 1000)
    nonce = secrets.token_urlsafe(9)
    return f"{issued}.{nonce}.{_mac(secret_key, brand_id, issued, nonce)}"


def check_token(secret_key: str, brand_id: int, token: str | None, now: dt.datetime, *, min_fill_seconds: float,
                max_age_hours: float) -> dt.datetime:
    """When the page was served, if the token is this brand's, genuine, old enough and not expired."""
    if not token:
        raise TokenRefused("the form token is missing: load the form again and send it from there")
    issued_text, _, rest = token.partition(".")
    nonce, _, mac = rest.partition(".")
    if not (issued_text.isdigit() and len(issued_text) <= 15 and nonce and mac
            and hmac.compare_digest(mac.encode(), _mac(secret_key, brand_id, int(issued_text), nonce).encode())):
        raise TokenRefused("the form token is not valid (altered, or from another form): load the form again")
    issued = dt.datetime.fromtimestamp(int(issued_text) / 1000, tz=dt.UTC)
    age = (now - issued).total_seconds()
    if age > max_age_hours * 3600:
        raise TokenRefused("the form was opened too long ago: load it again and send it from there")
    if age < min_fill_seconds:
        wait = max(1, math.ceil(min_fill_seconds - age))
        raise TokenRefused(f"the form was sent too quickly after it was opened, as robots do: wait {wait} "
                           f"second{'s' if wait != 1 else ''} and send it again", too_fast=True)
    return issued


def check_honeypot(value: str | None) -> None:
    if value and value.strip():
        raise InvalidInput(f"the hidden field {HONEYPOT!r} was filled in, as robots do: if you are a person, leave "
                           "it empty and send the form again", field=HONEYPOT)


@dataclass(frozen=True)
class RateLimits:
    address_limit: int  # 0: off
    ip_limit: int  # 0: off
    window: dt.timedelta


def check_rate(db: Session, limits: RateLimits, brand_id: int, email: str, client_ip: str, now: dt.datetime) -> None:
    """Refuse (429, with when to try again) an address or a client IP that sent its share within the window."""
    since = now - limits.window
    if limits.address_limit:
        _refuse_past(limits.address_limit, *repository.from_address_since(db, brand_id, email, since),
                     f"the address {email} has sent", limits.window, now)
    if limits.ip_limit:
        _refuse_past(limits.ip_limit, *repository.from_ip_since(db, client_ip, since), "this network has sent",
                     limits.window, now)


def _refuse_past(limit: int, sent: int, oldest: dt.datetime | None, who: str, window: dt.timedelta,
                 now: dt.datetime) -> None:
    if sent < limit:
        return
    # Once the oldest of them leaves the window, one more may come.
    retry = math.ceil(((oldest or now) + window - now).total_seconds())
    raise TooManyRequests(f"{who} {sent} requests within {window.total_seconds() / 60:g} minutes, the most this "
                          f"form takes: please try again in {_readable(max(1, retry))}", retry_after=max(1, retry))


def _readable(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"
