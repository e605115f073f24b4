"""The outbox sender for OutboxTopic.EMAIL_NOTICE: mails to a person that are not ticket messages (kit.notices),
sent from the first of the notice's brands that has an address (any brand's when it names none), through that
brand's relay or the deployment's. Marked Auto-Submitted, so no auto-responder answers them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from tierdesk.brands.models import Brand
from tierdesk.channels.email import repository
from tierdesk.channels.email.models import EmailSettings
from tierdesk.channels.email.relay import Relay, RelayError, deliver, relay_for
from tierdesk.config import Settings
from tierdesk.db import Database
from tierdesk.jobs import outbox
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit import notices

log = logging.getLogger("tierdesk.email")


def _mime(from_name: str, from_address: str, notice: notices.Notice) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = Address(display_name=from_name, addr_spec=from_address)
    msg["To"] = notice.to
    msg["Subject"] = notice.subject
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    msg["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834
    msg.set_content(notice.text)
    return msg.as_bytes()


def notice_sender(database: Database, settings: Settings) -> Callable[[OutboxMessage], None]:
    secret = settings.effective_secret_key()

    def send(row: OutboxMessage) -> None:
        composer = notices.composer_for(str(row.payload.get("kind")))
        if composer is None:
            raise outbox.PermanentFailure(f"no composer for the notice {row.payload.get('kind')!r}")
        payload = row.payload
        if not payload.get("base_url") and settings.public_url:  # asked for outside a request (a survey)
            payload = {**payload, "base_url": settings.public_url.rstrip("/")}
        with database.transaction(write=False) as db:
            notice = composer(db, secret, payload)
            if notice is None:
                return  # nothing to send any more (a used or withdrawn link)
            found = repository.sending_address(db, list(notice.brand_ids))
            if found is None:
                raise outbox.Postpone("no brand has an email address to send from "
                                      "(tierdesk email addresses add --brand SLUG ADDRESS)")
            address, brand_id = found
            brand = db.get(Brand, brand_id)
            brand_settings = db.get(EmailSettings, brand_id)
            relay: Relay | None = relay_for(settings, brand_settings)
            from_name = (brand_settings.from_name if brand_settings and brand_settings.from_name else None) \
                or (brand.name if brand else "tierdesk")
        if relay is None:
            raise outbox.Postpone("no SMTP relay is configured: notices wait in the outbox until one is "
                                  "(TIERDESK_EMAIL_RELAY_HOST, or `tierdesk email relay set --brand SLUG --host H`)")
        try:
            deliver(relay, address, [notice.to], _mime(from_name, address, notice))
        except RelayError as exc:
            if exc.permanent:
                raise outbox.PermanentFailure(exc.answer) from None
            raise

    return send
