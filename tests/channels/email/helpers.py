"""Building mail for the email channel's tests (real MIME, as the standard library writes it)."""

from __future__ import annotations

import itertools
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from tierdesk.channels.email.inbound import EmailInbound
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.time import utcnow

_n = itertools.count(1)


def mail(*, sender: str = "maria@example.com", name: str = "Maria", to: str = "support@acme.example",
         cc: str | None = None, subject: str = "My router blinks red",
         body: str = "Since this morning the router blinks red and nothing loads.", message_id: str | None = None,
         in_reply_to: str | None = None, references: str | None = None, html: str | None = None,
         headers: dict[str, str] | None = None, attachments: list[tuple[str, str, bytes]] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id or make_msgid(f"t{next(_n)}", domain="mail.example.com")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def message_id_of(raw: bytes) -> str:
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise AssertionError("no Message-ID")


def add_addresses(database, **by_brand: str) -> None:
    from tierdesk.brands.repository import by_slug
    from tierdesk.channels.email.addresses import add_address

    with database.transaction() as db:
        for slug, address in by_brand.items():
            add_address(db, SYSTEM, by_slug(db, slug), address)


def inbound_for(database, settings) -> EmailInbound:
    from tierdesk.intake.pipeline import default_pipeline
    from tierdesk.triage.service import TriagerSource

    triage = TriagerSource(None, settings.triage_confidence_threshold)
    return EmailInbound(database, settings, triage, default_pipeline(None, triage))
