"""Outbound email: an agent's reply (and a brand's acknowledgement of a new ticket) as MIME, through the outbox to
the SMTP relay.

The reply service enqueues `email.send` {"message_id"} in the reply's own transaction (tickets.service.reply: for a
ticket the customer reached by email); intake's email side calls `queue_acknowledgement`. The worker's sender
(`email_sender`) then, for each row:

1. reads what the mail needs (a read-only transaction): From (the brand's default address), To (the customer's
   address they last wrote from, else their first deliverable one), Cc (the participants' addresses), the threading
   headers from the customer's last mail, the ticket token, the attachments;
2. builds the MIME, signs it (DKIM, when the brand has a key) and keeps it in the blob store;
3. records it (an EmailRecord, delivery "queued") before it leaves, so a reply to it threads by In-Reply-To even
   if it comes back at once;
4. hands it to the relay, outside any transaction, and records the outcome: sent; or for a temporary failure
   (relay down, 4xx) the error, the outbox retrying with backoff; or for a permanent one (5xx, an address flagged
   undeliverable) delivery "failed" with the server's answer and a `delivery_failed` event in the ticket's
   timeline, the outbox row failed at once.

The Message-ID is derived from the message's id (and the deployment's secret, so it cannot be guessed into another
brand's thread): every retry carries the same one, and a receiver drops a second copy. Without any relay configured
(neither the brand's nor TIERDESK_EMAIL_RELAY_HOST) mail waits in the outbox, not failed, and a warning says so.

An acknowledgement is not a ticket message (it is not an agent's answer and meets no SLA clock) and has no
EmailRecord; its Message-ID is derived from the customer's message it acknowledges and its References carry that
message's, so a customer answering the acknowledgement lands in the ticket (by References and by the token).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, cast

from sqlalchemy.orm import Session

from tierdesk.brands.models import Brand
from tierdesk.channels.email import repository
from tierdesk.channels.email.models import EmailRecord, EmailSettings
from tierdesk.channels.email.relay import DKIM_KEY, Relay, RelayError, deliver, relay_for
from tierdesk.channels.email.signing import sign
from tierdesk.channels.email.tokens import strip_tokens, ticket_token
from tierdesk.config import Settings
from tierdesk.customers.models import CustomerIdentity
from tierdesk.db import Database
from tierdesk.jobs import outbox
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit.actors import SYSTEM_ACTOR
from tierdesk.kit.blobs import BlobStore, blob_store
from tierdesk.kit.html import html_from_text
from tierdesk.kit.sealed import unseal
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import DeliveryStatus, EventKind, MessageDirection, OutboxTopic
from tierdesk.tickets.models import Message, Ticket
from tierdesk.tickets.mutations import participant_ids, record_event

log = logging.getLogger("tierdesk.email")

# References kept on a reply: the thread's first message and its latest ones (a long thread's header stays sane).
REFERENCES_HEAD, REFERENCES_TAIL = 1, 10
# Reply prefixes of the common mail clients and languages, stripped before our own "Re:" (no "Re: Re: AW:").
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|vs|antw|odp|ynt|r|rif|réf|ref|atb|vá|res)\s*(?:\[\d+\])?\s*:\s*)+",
                           re.IGNORECASE)
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message)


# -- enqueueing ----------------------------------------------------------------------------------------------------
def queue_acknowledgement(db: Session, ticket_id: int, message_id: int, *, asked: bool | None = None) -> None:
    """Acknowledge the customer's mail `message_id` that opened ticket `ticket_id`, if its brand asks for it
    (EmailSettings.acknowledge_new_tickets; another channel taking the same acknowledgement, the web form, says
    with `asked` whether its own setting asks for it). In the caller's transaction; the caller has checked the
    message is a person's (never an auto-reply or a bounce)."""
    ticket = db.get(Ticket, ticket_id)
    if ticket is None:
        return
    if asked is None:
        brand_settings = db.get(EmailSettings, ticket.brand_id)
        asked = brand_settings is not None and brand_settings.acknowledge_new_tickets
    if not asked:
        return
    outbox.enqueue(db, OutboxTopic.EMAIL_ACKNOWLEDGE, {"ticket_id": ticket_id, "message_id": message_id})


# -- the headers -----------------------------------------------------------------------------------------------------
def rfc_message_id(secret_key: str, brand_id: int, message_id: int, domain: str, *, kind: str = "reply") -> str:
    """The Message-ID of the mail sent for a message: the same on every retry, not guessable from outside."""
    mac = hmac.new(secret_key.encode(), f"message-id:{kind}:{brand_id}:{message_id}".encode(), hashlib.sha256)
    check = base64.b32encode(mac.digest()).decode().lower()[:10]
    prefix = "tierdesk" if kind == "reply" else f"tierdesk-{kind}"
    return f"<{prefix}-{message_id}-{check}@{domain}>"


def reply_subject(subject: str, token: str) -> str:
    """"Re: <subject> [#123-abcdef]": one "Re:", one token, whatever the subject already carried."""
    base = _REPLY_PREFIX.sub("", strip_tokens(subject or "")).strip()
    return f"Re: {base} {token}" if base else f"Re: {token}"


def thread_references(last: EmailRecord | None) -> tuple[list[str], list[str]]:
    """In-Reply-To and References of a mail answering `last`: its id, and its references followed by its id, the
    first and the latest few kept."""
    if last is None or not last.rfc_message_id:
        return [], []
    chain: list[str] = []
    for ref in [*(last.references or []), last.rfc_message_id]:
        if ref not in chain:
            chain.append(ref)
    if len(chain) > REFERENCES_HEAD + REFERENCES_TAIL:
        chain = chain[:REFERENCES_HEAD] + chain[-REFERENCES_TAIL:]
    return [last.rfc_message_id], chain


def _bare(address: str) -> str:
    """The address without a +tag, lower-case: support+x@acme.test is support@acme.test."""
    local, _, domain = address.lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


# -- what one mail needs ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MailAttachment:
    sha256: str
    filename: str | None
    content_type: str
    content_id: str | None
    inline: bool


@dataclass
class OutgoingMail:
    """Everything the MIME and the relay need, read in one transaction."""

    acknowledgement: bool
    ticket_id: int
    brand_id: int
    message_id: int  # the reply; for an acknowledgement, the customer's message it acknowledges
    from_name: str
    from_address: str
    to: str
    cc: list[str]
    subject: str
    rfc_message_id: str
    in_reply_to: list[str]
    references: list[str]
    token: str
    body_text: str
    body_html: str
    date: dt.datetime
    attachments: list[MailAttachment] = field(default_factory=list)
    dkim: tuple[str, str, str] | None = None  # domain, selector, private key (PEM)
    relay: Relay | None = None


class _Undeliverable(Exception):
    """No address the mail may go to (the reason says why): a permanent failure."""


def _recipients(db: Session, ticket: Ticket, last: EmailRecord | None, own: set[str]) -> tuple[str, list[str]]:
    """To: the address the customer last wrote from, else their first; Cc: each participant's first deliverable
    address. Never the brand's own addresses; undeliverable Cc addresses are left out, an undeliverable To fails."""
    others = sorted(participant_ids(db, ticket.id))
    identities = repository.email_identities(db, [ticket.customer_id, *others])
    mine = [i for i in identities if i.customer_id == ticket.customer_id and _bare(i.value) not in own]
    if not mine:
        raise _Undeliverable("the customer has no email address to reply to")
    wrote_from = last.from_address.lower() if last is not None and last.from_address else None
    to_identity: CustomerIdentity = next((i for i in mine if i.value == wrote_from), mine[0])
    if to_identity.undeliverable_since is not None:
        deliverable = [i for i in mine if i.undeliverable_since is None]
        if not deliverable:
            why = f": {to_identity.undeliverable_reason}" if to_identity.undeliverable_reason else ""
            raise _Undeliverable(f"the customer's address {to_identity.value} is flagged undeliverable{why}")
        to_identity = deliverable[0]
    cc: list[str] = []
    taken = {_bare(to_identity.value)}
    for customer_id in others:
        for identity in identities:
            bare = _bare(identity.value)
            if (identity.customer_id == customer_id and identity.undeliverable_since is None
                    and bare not in own and bare not in taken):
                cc.append(identity.value)
                taken.add(bare)
                break
    return to_identity.value, cc


class _NotConfigured(Exception):
    """The brand cannot send mail yet (no From address, no relay): the mail waits."""


def _prepare(db: Session, settings: Settings, topic: str, payload: dict[str, Any]) -> OutgoingMail | None:
    """What to send for an outbox row; None when there is nothing to send (a note, a deleted message, an
    acknowledgement of an automatic mail)."""
    secret = settings.effective_secret_key()
    acknowledgement = topic == OutboxTopic.EMAIL_ACKNOWLEDGE
    # An acknowledgement may carry its own text: a chat's transcript when the chat continues by email
    # (channels/chat: {"ticket_id", "message_id": the customer's last message, "transcript": text}).
    transcript = payload.get("transcript") if acknowledgement else None
    found = repository.message_and_ticket(db, int(payload["message_id"]))
    if found is None:
        return None
    message, ticket = found
    if acknowledgement:
        if message.direction is not MessageDirection.INBOUND:
            return None
        acknowledged = repository.email_record_of(db, message.id)
        if acknowledged is not None and acknowledged.auto_submitted:
            return None  # never answer an automatic mail (loops)
        last = acknowledged
    else:
        if message.direction is not MessageDirection.OUTBOUND:
            return None  # notes are never sent
        last = repository.last_inbound_email(db, ticket.id, up_to_message_id=message.id)
    brand = db.get(Brand, ticket.brand_id)
    assert brand is not None  # tickets.brand_id is a foreign key
    addresses = repository.addresses_of_brand(db, ticket.brand_id)
    if not addresses:
        raise _NotConfigured(f"brand '{brand.slug}' has no email address to send from "
                             f"(tierdesk email addresses add --brand {brand.slug} ADDRESS)")
    brand_settings = db.get(EmailSettings, ticket.brand_id)
    relay = relay_for(settings, brand_settings)
    if relay is None:
        raise _NotConfigured("no SMTP relay is configured: email replies wait in the outbox until one is "
                             "(TIERDESK_EMAIL_RELAY_HOST, or `tierdesk email relay set --brand SLUG --host H`)")
    sender = addresses[0].address
    domain = sender.rpartition("@")[2]
    token = ticket_token(secret, ticket.brand_id, ticket.id)
    in_reply_to, references = thread_references(last)
    from_name = (brand_settings.from_name if brand_settings and brand_settings.from_name else None) or brand.name
    kind = ("transcript" if transcript else "ack") if acknowledgement else "reply"
    mail = OutgoingMail(
        acknowledgement=acknowledgement, ticket_id=ticket.id, brand_id=ticket.brand_id, message_id=message.id,
        from_name=from_name, from_address=sender, to="", cc=[], subject=reply_subject(ticket.subject, token),
        rfc_message_id=rfc_message_id(secret, ticket.brand_id, message.id, domain, kind=kind),
        in_reply_to=in_reply_to, references=references, token=token, body_text="", body_html="",
        date=message.created_at, relay=relay,
    )
    if transcript:
        mail.body_text = str(transcript)
        mail.body_html = html_from_text(mail.body_text)
    elif acknowledgement:
        mail.body_text = (f"Hello,\n\nwe received your message and opened ticket {token} for it. We will answer as "
                          f"soon as we can; to add to it, reply to this mail.")
        mail.body_html = html_from_text(mail.body_text)
    else:
        mail.body_text, mail.body_html = message.body_text, message.body_html
        mail.attachments = [MailAttachment(a.sha256, a.filename, a.content_type, a.content_id, a.inline)
                            for a in repository.attachments_of(db, message.id)]
    if brand_settings and brand_settings.dkim_domain and brand_settings.dkim_selector \
            and brand_settings.dkim_private_key_sealed:
        mail.dkim = (brand_settings.dkim_domain, brand_settings.dkim_selector,
                     unseal(secret, DKIM_KEY, brand_settings.dkim_private_key_sealed))
    own = {_bare(a.address) for a in addresses}
    mail.to, mail.cc = _recipients(db, ticket, last, own)  # _Undeliverable: the caller records it
    return mail


# -- the MIME ------------------------------------------------------------------------------------------------------
def build_mime(mail: OutgoingMail, blobs: BlobStore) -> bytes:
    """The mail as it leaves: text and HTML alternatives (the token in both footers), inline images beside the HTML,
    attachments; DKIM-signed when the brand has a key."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = Address(display_name=mail.from_name, addr_spec=mail.from_address)
    msg["To"] = mail.to
    if mail.cc:
        msg["Cc"] = ", ".join(mail.cc)
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(mail.date.astimezone(dt.UTC))
    msg["Message-ID"] = mail.rfc_message_id
    if mail.in_reply_to:
        msg["In-Reply-To"] = " ".join(mail.in_reply_to)
    if mail.references:
        msg["References"] = " ".join(mail.references)
    if mail.acknowledgement:
        msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: no auto-responder answers it
    msg["X-Tierdesk-Ticket"] = str(mail.ticket_id)
    footer = f"{mail.from_name} · ticket {mail.token}"
    msg.set_content(f"{mail.body_text.rstrip()}\n\n-- \n{footer}\n")
    msg.add_alternative(
        f'<!DOCTYPE html><html><body>{mail.body_html}<p style="color:#777;font-size:12px">-- <br>'
        f"{html.escape(footer)}</p></body></html>", subtype="html")
    # The HTML alternative: inline images join it (it becomes multipart/related in place, once).
    html_part = cast(list[EmailMessage], msg.get_payload())[1]
    for a in mail.attachments:
        maintype, _, subtype = a.content_type.partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        data = blobs.read(a.sha256)
        if a.inline and a.content_id:
            html_part.add_related(data, maintype, subtype, cid=f"<{a.content_id.strip('<>')}>",
                                  filename=a.filename, disposition="inline")
        else:
            msg.add_attachment(data, maintype, subtype, filename=a.filename or "attachment")
    raw = msg.as_bytes()
    if mail.dkim is not None:
        domain, selector, key = mail.dkim
        raw = sign(raw, domain=domain, selector=selector, private_key_pem=key)
    return raw


# -- the sender ------------------------------------------------------------------------------------------------------
def email_sender(database: Database, settings: Settings) -> Callable[[OutboxMessage], None]:
    """The outbox sender for `email.send` and `email.acknowledge` rows."""
    blobs = blob_store(settings.data_dir)

    def send(row: OutboxMessage) -> None:
        try:
            with database.transaction(write=False) as db:
                mail = _prepare(db, settings, row.topic, row.payload)
        except _NotConfigured as exc:
            _warn_once(str(exc), str(exc))
            raise outbox.Postpone(str(exc)) from None
        except _Undeliverable as exc:
            _failed(database, row.topic, int(row.payload["message_id"]), str(exc), None)
            raise outbox.PermanentFailure(str(exc)) from None
        if mail is None:
            return
        raw = build_mime(mail, blobs)
        sha256 = blobs.put(raw)
        if not mail.acknowledgement and not _record_queued(database, mail, sha256, len(raw)):
            return  # sent before (a claim that expired while the first sender waited on the relay)
        assert mail.relay is not None  # _prepare found one
        try:
            refused = deliver(mail.relay, mail.from_address, [mail.to, *mail.cc], raw)
        except RelayError as exc:
            if exc.permanent or row.attempts >= outbox.MAX_ATTEMPTS:
                _failed(database, row.topic, mail.message_id, exc.answer, mail)
                if exc.permanent:
                    raise outbox.PermanentFailure(exc.answer) from None
            elif not mail.acknowledgement:
                _record_attempt(database, mail.message_id, exc.answer)
            raise
        _sent(database, row.topic, mail, refused)

    return send


def _record_queued(database: Database, mail: OutgoingMail, sha256: str, size: int) -> bool:
    """The reply's EmailRecord, written before it leaves. False when it went out already."""
    with database.transaction() as db:
        record = repository.email_record_of(db, mail.message_id)
        if record is not None and record.delivery_status in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
            return False
        if record is None:
            record = EmailRecord(message_id=mail.message_id, ticket_id=mail.ticket_id, brand_id=mail.brand_id,
                                 direction=MessageDirection.OUTBOUND, delivery_attempts=0)
            db.add(record)
        record.rfc_message_id = mail.rfc_message_id
        record.in_reply_to = mail.in_reply_to
        record.references = mail.references
        record.from_address = mail.from_address
        record.to_addresses = [mail.to]
        record.cc_addresses = mail.cc
        record.subject = mail.subject[:1000]
        record.raw_sha256, record.raw_size = sha256, size
        record.delivery_status = DeliveryStatus.QUEUED
    return True


def _record_attempt(database: Database, message_id: int, error: str) -> None:
    """A temporary failure: counted, the error kept, still queued (the outbox tries again)."""
    with database.transaction() as db:
        record = repository.email_record_of(db, message_id)
        if record is not None:
            record.delivery_attempts = (record.delivery_attempts or 0) + 1
            record.delivery_error = error[:4000]


def _sent(database: Database, topic: str, mail: OutgoingMail, refused: dict[str, str]) -> None:
    with database.transaction() as db:
        if not mail.acknowledgement:
            record = repository.email_record_of(db, mail.message_id)
            if record is not None:
                record.delivery_status = DeliveryStatus.SENT
                record.delivery_attempts = (record.delivery_attempts or 0) + 1
                record.sent_at = utcnow()
                record.delivery_error = ("refused: " + "; ".join(f"{r}: {a}" for r, a in refused.items())
                                         if refused else None)
        if refused:  # the relay took the mail for some recipients only: the agent hears of the others
            _failure_event(db, topic, mail.message_id, "; ".join(f"{r}: {a}" for r, a in refused.items()),
                           sorted(refused))


def _failed(database: Database, topic: str, message_id: int, error: str, mail: OutgoingMail | None) -> None:
    """A permanent failure: on the reply's EmailRecord (delivery failed, the server's answer) and in the ticket's
    timeline, in a transaction of its own."""
    with database.transaction() as db:
        if topic == OutboxTopic.EMAIL_SEND:
            record = repository.email_record_of(db, message_id)
            if record is None:  # refused before it was built (no deliverable address)
                found = repository.message_and_ticket(db, message_id)
                if found is None:
                    return
                record = EmailRecord(message_id=message_id, ticket_id=found[1].id, brand_id=found[1].brand_id,
                                     direction=MessageDirection.OUTBOUND, delivery_attempts=0)
                db.add(record)
            record.delivery_status = DeliveryStatus.FAILED
            record.delivery_error = error[:4000]
            record.delivery_attempts = (record.delivery_attempts or 0) + (1 if mail is not None else 0)
        recipients = [mail.to, *mail.cc] if mail is not None else []
        _failure_event(db, topic, message_id, error, recipients)


def _failure_event(db: Session, topic: str, message_id: int, error: str, recipients: list[str]) -> None:
    found = repository.message_and_ticket(db, message_id)
    if found is None:
        return
    message: Message = found[0]
    ticket = repository.ticket_for_update(db, found[1].id)
    if ticket is None:
        return
    what = "acknowledgement" if topic == OutboxTopic.EMAIL_ACKNOWLEDGE else "reply"
    record_event(db, ticket, EventKind.DELIVERY_FAILED, SYSTEM_ACTOR, message=message,
                 after={"email": what, "message_id": message_id, "recipients": recipients}, reason=error[:4000])
