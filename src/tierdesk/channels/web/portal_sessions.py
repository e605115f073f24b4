"""Customers signed in to a brand's portal: a one-time code and a magic link by email, and portal sessions.

Asking for a code writes a PortalSignIn row with a random nonce; the 6-digit code and the link's token are both
derived from it with the secret key, composed into the mail only when the outbox sends it (kit.notices), so a copy
of the database or the outbox signs nobody in. A code lives CODE_MINUTES, works once (the code and the link are one
sign-in: using either ends both), and dies after MAX_WRONG_CODES wrong tries. Asking is limited per address and per
client IP. An address that is not the brand's customer is answered exactly as a known one (nothing is mailed), so the
form tells nobody who writes to the brand.

The session cookie (SESSION_COOKIE) holds a random token; the table keeps its keyed digest. A session belongs to
one customer in one brand: another brand's pages ask to sign in again.

The CSAT link in the solve mail is signed the same way (csat_token): it names the ticket and works without a
session, for that ticket only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tierdesk.agents.auth import token_digest
from tierdesk.brands.models import Brand
from tierdesk.channels.web import repository
from tierdesk.channels.web.models import PortalSession, PortalSignIn
from tierdesk.config import Settings
from tierdesk.customers.identity import normalise_email
from tierdesk.jobs import outbox
from tierdesk.kit.errors import DomainError, TooManyRequests
from tierdesk.kit.notices import Notice
from tierdesk.kit.vocabulary import NoticeKind, OutboxTopic, TicketStatus
from tierdesk.surveys.service import CSAT_WORDS
from tierdesk.tickets.models import Ticket

SESSION_COOKIE = "tierdesk_portal"
CODE_MINUTES = 15
MAX_WRONG_CODES = 5
# Codes an address may ask for per brand, and a client IP for any, in RATE_WINDOW.
PER_ADDRESS, PER_IP = 5, 30
RATE_WINDOW = dt.timedelta(minutes=CODE_MINUTES)
TOUCH_EVERY = dt.timedelta(seconds=60)
WRONG_CODE = "That code is wrong or no longer valid. Check the latest mail, or ask for a new code."


@dataclass(frozen=True)
class PortalCustomer:
    """The customer behind a portal page."""

    session_id: int
    brand: Brand
    customer_id: int
    email: str
    name: str | None


def _mac(secret_key: str, what: str) -> bytes:
    return hmac.new(secret_key.encode(), what.encode(), hashlib.sha256).digest()


def code_of(secret_key: str, sign_in: PortalSignIn) -> str:
    number = int.from_bytes(_mac(secret_key, f"portal-code|{sign_in.id}|{sign_in.nonce}")[:8], "big")
    return f"{number % 1_000_000:06d}"


def link_token(secret_key: str, sign_in: PortalSignIn) -> str:
    return f"{sign_in.id}.{_mac(secret_key, f'portal-link|{sign_in.id}|{sign_in.nonce}').hex()}"


def _alive(sign_in: PortalSignIn, now: dt.datetime) -> bool:
    return sign_in.used_at is None and sign_in.expires_at > now and sign_in.attempts < MAX_WRONG_CODES


# -- asking for a code ----------------------------------------------------------------------------------------------
def ask_code(db: Session, brand: Brand, raw_email: str, client_ip: str, base_url: str, now: dt.datetime) -> str:
    """Mail a code and a link when the address is the brand's customer; the same outcome either way. Returns the
    normalised address (InvalidInput naming `email` when it is none; TooManyRequests over the limits)."""
    email = normalise_email(raw_email)
    since = now - RATE_WINDOW
    if repository.sign_ins_since(db, brand_id=brand.id, email=email, since=since) >= PER_ADDRESS:
        raise TooManyRequests("too many codes were asked for this address; wait a few minutes and try again",
                              retry_after=int(RATE_WINDOW.total_seconds()))
    if repository.sign_ins_since(db, client_ip=client_ip[:64], since=since) >= PER_IP:
        raise TooManyRequests("too many codes were asked for from this network; wait a few minutes and try again",
                              retry_after=int(RATE_WINDOW.total_seconds()))
    customer_id = repository.portal_customer_of(db, brand.id, email)
    sign_in = PortalSignIn(brand_id=brand.id, email=email, customer_id=customer_id, nonce=secrets.token_hex(16),
                           attempts=0, client_ip=client_ip[:64], created_at=now,
                           expires_at=now + dt.timedelta(minutes=CODE_MINUTES))
    db.add(sign_in)
    db.flush()
    if customer_id is not None:
        outbox.enqueue(db, OutboxTopic.EMAIL_NOTICE,
                       {"kind": NoticeKind.PORTAL_SIGN_IN, "id": sign_in.id, "base_url": base_url.rstrip("/")})
    return email


def sign_in_notice(db: Session, secret_key: str, payload: dict[str, Any]) -> Notice | None:
    """The sign-in mail (kit.notices): the code and the link, composed when it is sent."""
    sign_in = db.get(PortalSignIn, int(payload["id"]))
    if sign_in is None or sign_in.customer_id is None or sign_in.used_at is not None:
        return None
    brand = db.get(Brand, sign_in.brand_id)
    if brand is None:
        return None
    link = f"{payload['base_url']}/portal/{brand.slug}/sign-in/link/{link_token(secret_key, sign_in)}"
    text = (f"Hello,\n\nyour code to sign in to {brand.name} support is:\n\n    {code_of(secret_key, sign_in)}\n\n"
            f"Or open this link to sign in:\n\n{link}\n\nThe code and the link work once, for {CODE_MINUTES} "
            "minutes. If you did not ask to sign in, ignore this mail: nobody can sign in without it.\n")
    return Notice(to=sign_in.email, subject=f"Your {brand.name} sign-in code", text=text, brand_ids=(brand.id,))


# -- signing in -----------------------------------------------------------------------------------------------------
def _open_session(db: Session, settings: Settings, sign_in: PortalSignIn, user_agent: str | None,
                  now: dt.datetime) -> str:
    assert sign_in.customer_id is not None  # checked by the callers
    sign_in.used_at = now
    token = secrets.token_urlsafe(32)
    db.add(PortalSession(brand_id=sign_in.brand_id, customer_id=sign_in.customer_id, email=sign_in.email,
                         digest=token_digest(token, settings.effective_secret_key()),
                         user_agent=(user_agent or "")[:300] or None, created_at=now, last_seen_at=now,
                         expires_at=now + dt.timedelta(hours=settings.web_session_hours)))
    db.flush()
    return token


def sign_in_with_code(db: Session, settings: Settings, brand: Brand, raw_email: str, code: str,
                      user_agent: str | None, now: dt.datetime) -> str | None:
    """A session token, or None for a wrong, used or expired code (a wrong one is counted: the caller commits)."""
    try:
        email = normalise_email(raw_email)
    except DomainError:  # a mangled hidden field is a wrong code like any other
        return None
    sign_in = repository.latest_sign_in(db, brand.id, email)
    if sign_in is None or not _alive(sign_in, now):
        return None
    given = "".join(code.split())
    if sign_in.customer_id is None or not hmac.compare_digest(code_of(settings.effective_secret_key(), sign_in),
                                                              given):
        sign_in.attempts += 1
        return None
    return _open_session(db, settings, sign_in, user_agent, now)


def valid_link(db: Session, settings: Settings, brand: Brand, token: str, now: dt.datetime) -> PortalSignIn | None:
    number, _, mac = token.partition(".")
    if not number.isdigit() or len(number) > 18 or not mac or len(token) > 120:
        return None
    sign_in = repository.sign_in_for_update(db, int(number))
    if (sign_in is None or sign_in.brand_id != brand.id or sign_in.customer_id is None
            or not _alive(sign_in, now)):
        return None
    if not hmac.compare_digest(link_token(settings.effective_secret_key(), sign_in), token):
        return None
    return sign_in


def sign_in_with_link(db: Session, settings: Settings, brand: Brand, token: str, user_agent: str | None,
                      now: dt.datetime) -> str | None:
    sign_in = valid_link(db, settings, brand, token, now)
    return None if sign_in is None else _open_session(db, settings, sign_in, user_agent, now)


def signed_in(db: Session, settings: Settings, brand: Brand, token: str,
              now: dt.datetime) -> tuple[PortalCustomer, bool] | None:
    """The customer this cookie stands for in this brand, and whether to touch the session; None otherwise."""
    found = repository.portal_session(db, token_digest(token, settings.effective_secret_key()))
    if found is None:
        return None
    session, name = found
    idle = dt.timedelta(minutes=settings.web_session_idle_minutes)
    if session.brand_id != brand.id or session.expires_at <= now or session.last_seen_at + idle <= now:
        return None
    who = PortalCustomer(session.id, brand, session.customer_id, session.email, name)
    return who, now - session.last_seen_at >= TOUCH_EVERY


def touch(db: Session, session_id: int, now: dt.datetime) -> None:
    repository.touch_portal_session(db, session_id, now)


def sign_out(db: Session, settings: Settings, token: str, now: dt.datetime) -> None:
    repository.end_portal_session(db, token_digest(token, settings.effective_secret_key()), now)


# -- the CSAT link ----------------------------------------------------------------------------------------------------
def csat_token(secret_key: str, ticket: Ticket) -> str:
    return f"{ticket.id}.{_mac(secret_key, f'csat|{ticket.id}|{ticket.brand_id}|{ticket.customer_id}').hex()[:40]}"


def ticket_of_csat_token(db: Session, secret_key: str, brand: Brand, token: str) -> Ticket | None:
    """The ticket a rating link names, locked, if the link is genuine and of this brand."""
    number, _, mac = token.partition(".")
    if not number.isdigit() or len(number) > 18 or not mac or len(token) > 80:
        return None
    ticket = db.get(Ticket, int(number), with_for_update=True)
    if ticket is None or ticket.brand_id != brand.id:
        return None
    return ticket if hmac.compare_digest(csat_token(secret_key, ticket), token) else None


def csat_request_notice(db: Session, secret_key: str, payload: dict[str, Any]) -> Notice | None:
    """The mail after a solve: how did we do? With the signed rating link (no sign-in needed). Nothing is sent when
    the ticket was reopened meanwhile, its customer has no deliverable address, or no public URL is known."""
    ticket = db.get(Ticket, int(payload["id"]))
    base_url = payload.get("base_url")
    if ticket is None or ticket.status is not TicketStatus.SOLVED or not base_url:
        return None
    to = repository.email_of_customer(db, ticket.customer_id)
    brand = db.get(Brand, ticket.brand_id)
    if to is None or brand is None:
        return None
    link = f"{base_url}/portal/{brand.slug}/rate/{csat_token(secret_key, ticket)}"
    text = (f"Hello,\n\nyour request \"{ticket.subject}\" (#{ticket.id}) is solved. How did we do?\n\n"
            + "".join(f"  {score} - {CSAT_WORDS[score]}: {link}?score={score}\n" for score in (5, 4, 3, 2, 1))
            + f"\nOr rate it here, with a comment if you like:\n\n{link}\n\nIf something is still wrong, just "
              "reply to our last mail and the request opens again.\n")
    return Notice(to=to, subject=f"How did we do? Rate your {brand.name} request #{ticket.id}", text=text,
                  brand_ids=(brand.id,))
