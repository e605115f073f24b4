"""Driving the customer portal as a customer's browser does: ask for a code, read the mail the outbox would send
(by calling its composer with the outbox row's payload), sign in."""

from __future__ import annotations

import re

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import contact
from tests.pages import csrf_of
from tierdesk.channels.web.portal_sessions import csat_request_notice, sign_in_notice
from tierdesk.db import Database
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit.notices import Notice
from tierdesk.kit.vocabulary import NoticeKind, OutboxTopic

SECRET = "test-secret-key"  # the settings fixture's
PORTAL = "/portal/acme"
API = "/api/v1"


def notices(database: Database, kind: NoticeKind) -> list[OutboxMessage]:
    """The notices of this kind in the outbox, oldest first."""
    with database.transaction(write=False) as db:
        rows = db.scalars(sa.select(OutboxMessage).where(OutboxMessage.topic == OutboxTopic.EMAIL_NOTICE)
                          .order_by(OutboxMessage.id))
        return [r for r in rows if r.payload.get("kind") == kind]


def mail_of(database: Database, row: OutboxMessage, base_url: str | None = None) -> Notice | None:
    payload = dict(row.payload)
    if base_url is not None:
        payload["base_url"] = base_url
    composer = sign_in_notice if payload["kind"] == NoticeKind.PORTAL_SIGN_IN else csat_request_notice
    with database.transaction(write=False) as db:
        return composer(db, SECRET, payload)


def code_and_link(notice: Notice) -> tuple[str, str]:
    code = re.search(r"^\s+(\d{6})$", notice.text, re.M)
    link = re.search(r"(https?://\S+/sign-in/link/\S+)", notice.text)
    assert code and link, notice.text
    return code.group(1), link.group(1)


def ask_code(browser: TestClient, email: str, brand: str = "acme", next: str = ""):
    token = csrf_of(browser.get(f"/portal/{brand}/sign-in").text)
    return browser.post(f"/portal/{brand}/sign-in", data={"email": email, "csrf_token": token, "next": next})


def enter_code(browser: TestClient, email: str, code: str, brand: str = "acme", next: str = ""):
    token = csrf_of(browser.get(f"/portal/{brand}/sign-in").text)
    return browser.post(f"/portal/{brand}/sign-in/code", follow_redirects=False,
                        data={"email": email, "code": code, "csrf_token": token, "next": next})


def sign_in(browser: TestClient, database: Database, email: str, brand: str = "acme") -> str:
    """Signs in with the mailed code; returns a CSRF token of a portal page."""
    r = ask_code(browser, email, brand)
    assert r.status_code == 200, r.text
    row = notices(database, NoticeKind.PORTAL_SIGN_IN)[-1]
    mail = mail_of(database, row)
    assert mail is not None and mail.to == email
    code, _link = code_and_link(mail)
    r = enter_code(browser, email, code, brand)
    assert r.status_code == 303, r.text
    return csrf_of(browser.get(f"/portal/{brand}/requests").text)


def open_ticket(client: TestClient, auth: dict[str, str], email: str, brand: str = "acme",
                subject: str = "My router blinks red", external_id: str | None = None) -> int:
    body = contact(brand=brand, sender={"email": email, "name": email.split("@")[0].title()}, subject=subject)
    if external_id:
        body["external_id"] = external_id
    r = client.post(f"{API}/contacts", json=body, headers=auth)
    assert r.status_code == 201, r.text
    return int(r.json()["ticket"]["id"])

