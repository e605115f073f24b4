"""The email channel's way in: raw MIME from the SMTP listener, the IMAP poller or `tierdesk email ingest`, taken in
exactly one way.

The raw bytes are written to the blob store (flushed to disk) before anything else, so every message tierdesk
acknowledges can be shown and re-processed. Then: parse; find the brand by the addresses it was sent to; recognise
bounces, a second delivery of the same message, a sender flooding the brand, and automatic mail; thread it
(threading.py); hand it to intake as a contact, and store its email record, attachments and participants in the same
transaction. What cannot be taken in is quarantined raw with its reason, never dropped. The caller (the SMTP
listener's 250) answers only after `receive` has returned, that is after the commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tierdesk.brands import repository as brands
from tierdesk.brands.models import Brand
from tierdesk.channels.email import outbound, repository, threading
from tierdesk.channels.email.addresses import brand_for_recipients, mailbox_of
from tierdesk.channels.email.message import MailAttachment, ParsedEmail, UnparseableEmail
from tierdesk.channels.email.models import EmailRecord, EmailSettings, QuarantinedEmail
from tierdesk.channels.email.parse import parse_message
from tierdesk.channels.email.tokens import strip_tokens
from tierdesk.config import Settings
from tierdesk.customers import service as customers
from tierdesk.customers.identity import normalise_email
from tierdesk.customers.schemas import Sender
from tierdesk.db import Database
from tierdesk.intake.pipeline import IntakePipeline, PreparedContact, default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.kit.actors import SYSTEM, SYSTEM_ACTOR
from tierdesk.kit.blobs import BlobStore, blob_store
from tierdesk.kit.errors import DomainError, NotFound
from tierdesk.kit.html import html_from_text, sanitize_html
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import Channel, EmailOutcome, EventKind, MessageDirection, StrangerReplyPolicy
from tierdesk.tickets import mutations
from tierdesk.tickets import repository as tickets
from tierdesk.tickets.models import Ticket
from tierdesk.triage.decision import MessageReading
from tierdesk.triage.service import TriagerSource, read_message

log = logging.getLogger("tierdesk.email")

SUBJECT_MAX = 500
SENDER_NAME_MAX = 200
MAX_PARTICIPANTS = 20  # Cc'd addresses taken as participants of one message (a mail to 300 people is a list)
_REMOTE_IMAGE = re.compile(r"""(?i)<img\b[^>]*\bsrc\s*=\s*["']?\s*(https?:)?//""")


@dataclass(frozen=True)
class InboundResult:
    outcome: EmailOutcome
    ticket_id: int | None = None
    message_id: int | None = None  # tierdesk's message
    customer_id: int | None = None
    rfc_message_id: str | None = None  # the mail's Message-ID
    reason: str | None = None
    quarantine_id: int | None = None

    def as_json(self) -> dict[str, object]:
        return {"outcome": self.outcome.value, "ticket_id": self.ticket_id, "message_id": self.rfc_message_id,
                "customer_id": self.customer_id, "reason": self.reason}


@dataclass(frozen=True)
class _Defaults:
    stranger_policy: StrangerReplyPolicy = StrangerReplyPolicy.NEW_LINKED_TICKET
    acknowledge_new_tickets: bool = False
    max_attachment_bytes: int = 25 * 1024 * 1024
    subject_window_days: int = 7


class EmailInbound:
    """One per process: the SMTP listener's sink, the IMAP poller's and `email ingest`'s way in."""

    def __init__(self, database: Database, settings: Settings, triage: TriagerSource | None = None,
                 intake: IntakePipeline | None = None):
        self.database = database
        self.settings = settings
        self.blobs: BlobStore = blob_store(settings.data_dir)
        self.secret_key = settings.effective_secret_key()
        self.triage = triage
        self.intake = intake or default_pipeline(settings.default_phone_region, triage)

    # -- the SMTP listener's sink (smtp.MailSink) ------------------------------------------------------------------
    def accepts(self, address: str) -> bool:
        with self.database.transaction(write=False) as db:
            return repository.address(db, mailbox_of(address)) is not None

    def deliver(self, raw: bytes, recipients: list[str], peer: str) -> None:
        self.receive(raw, recipients=recipients, source=f"smtp from {peer}")

    # -- the one way in --------------------------------------------------------------------------------------------
    def receive(self, raw: bytes, *, recipients: Sequence[str] = (), source: str, brand_slug: str | None = None,
                brand_id: int | None = None, requarantine_id: int | None = None) -> InboundResult:
        """Take one message in; returns after the commit. Raises only when the database cannot be written at all
        (then the sender must try again: the SMTP listener answers 451)."""
        raw_sha = self.blobs.put(raw)  # on disk before anything refers to it
        try:
            mail = parse_message(raw)
        except UnparseableEmail as exc:
            return self._quarantine(raw_sha, len(raw), f"not a readable email: {exc}", source, recipients,
                                    brand_id, brand_slug, None, requarantine_id)
        except Exception as exc:  # a parser bug must not lose the message: it is kept for re-processing
            log.exception("parsing failed (%s): quarantined", source)
            return self._quarantine(raw_sha, len(raw), f"the parser failed: {type(exc).__name__}: {exc}", source,
                                    recipients, brand_id, brand_slug, None, requarantine_id)
        reading: MessageReading | None = None
        body_text, body_html = _bodies(mail)
        if self.triage is not None and mail.bounce is None and mail.auto_submitted is None:
            reading = read_message(self.triage, body_text, mail.subject or None)  # before the transaction
        for stored in (a for a in mail.attachments if a.size):
            self.blobs.put(stored.data)
        try:
            with self.database.transaction() as db:
                return self._take_in(db, mail, raw_sha, len(raw), recipients, source, brand_slug, brand_id,
                                     requarantine_id, body_text, body_html, reading)
        except _Quarantine as q:
            return self._quarantine(raw_sha, len(raw), q.reason, source, recipients, q.brand_id, brand_slug, mail,
                                    requarantine_id, outcome=q.outcome)
        except DomainError as exc:
            return self._quarantine(raw_sha, len(raw), f"intake refused it: {exc}", source, recipients, brand_id,
                                    brand_slug, mail, requarantine_id)
        except SQLAlchemyError:
            raise  # the database cannot be written: the sender keeps the message and tries again (SMTP 451)
        except Exception as exc:  # a bug on the way in must not lose the message: kept, to re-process after a fix
            log.exception("taking in an email failed (%s): quarantined", source)
            return self._quarantine(raw_sha, len(raw), f"could not be taken in: {type(exc).__name__}: {exc}"[:1000],
                                    source, recipients, brand_id, brand_slug, mail, requarantine_id)

    def _take_in(self, db: Session, mail: ParsedEmail, raw_sha: str, raw_size: int, recipients: Sequence[str],
                 source: str, brand_slug: str | None, brand_id: int | None, requarantine_id: int | None,
                 body_text: str, body_html: str, reading: MessageReading | None) -> InboundResult:
        brand = self._brand(db, mail, recipients, brand_slug, brand_id)
        config = _settings_of(repository.settings_of(db, brand.id))
        if mail.bounce is not None:
            return self._bounce(db, brand, mail)
        sender = _sender_address(mail)
        if sender is None:
            raise _Quarantine("no readable sender address (From)", brand.id)
        external_id = _external_id(mail)
        earlier = tickets.message_by_external_id(db, brand.id, external_id)
        if earlier is not None:
            return InboundResult(EmailOutcome.DUPLICATE, earlier.ticket_id, earlier.id, earlier.author_customer_id,
                                 mail.message_id, "received before")
        if requarantine_id is None and self._flooding(db, brand.id, sender):
            window = self.settings.email_sender_window_minutes
            raise _Quarantine(f"{sender} sent more than {self.settings.email_sender_limit} messages within "
                              f"{window:g} minutes (a mail loop or storm?)", brand.id)
        known = repository.customer_of_email(db, brand.id, sender)
        sender_customer, flagged = known if known is not None else (None, False)
        match = threading.find_ticket(db, brand.id, self.secret_key, mail, sender_customer,
                                      config.subject_window_days)
        decision = threading.decide(db, match, sender_customer, sender, config.stranger_policy)
        if mail.auto_submitted is not None and decision.continues_ticket_id is None:
            # Automatic mail that answers no ticket of its sender (list mail, notifications, an out-of-office to a
            # stranger's thread): kept raw, never answered, no ticket.
            raise _Quarantine(f"automatic message ({mail.auto_submitted}) that continues no ticket", brand.id,
                              EmailOutcome.AUTO_REPLY)
        contact = ContactIn(
            brand=brand.slug, channel=Channel.EMAIL,
            sender=Sender(email=sender, name=(mail.from_name or None) and mail.from_name[:SENDER_NAME_MAX]),
            subject=(strip_tokens(mail.subject) or None) and strip_tokens(mail.subject)[:SUBJECT_MAX],
            external_id=external_id,
        )
        prepared = PreparedContact(
            body_text, body_html, reading,
            continues_ticket_id=decision.continues_ticket_id,
            flag=decision.flag or (f"automatic message ({mail.auto_submitted})" if mail.auto_submitted else None),
            automatic=mail.auto_submitted is not None,
        )
        result = self.intake.receive(db, SYSTEM, contact, prepared)
        if result.duplicate:  # the same message, committed by a parallel delivery meanwhile
            return InboundResult(EmailOutcome.DUPLICATE, result.ticket.id, result.message_id, result.customer_id,
                                 mail.message_id, "received before")
        ticket = db.get_one(Ticket, result.ticket.id)
        if decision.link_to is not None and not result.threaded and decision.link_kind is not None:
            mutations.link_tickets(db, ticket, decision.link_to, decision.link_kind, SYSTEM_ACTOR,
                                   reason=f"the reply matched ticket {decision.link_to.id} by {decision.matched_by}")
        record = EmailRecord(
            brand_id=brand.id, message_id=result.message_id, ticket_id=ticket.id,
            direction=MessageDirection.INBOUND, rfc_message_id=mail.message_id, in_reply_to=mail.in_reply_to,
            references=mail.references, from_address=sender, to_addresses=mail.to, cc_addresses=mail.cc,
            subject=mail.subject[:1000], raw_sha256=raw_sha, raw_size=raw_size, content_digest=mail.content_digest,
            auto_submitted=mail.auto_submitted, defects=list(mail.defects),
            has_remote_images=bool(mail.html and _REMOTE_IMAGE.search(mail.html)),
        )
        self._attachments(db, brand.id, result.message_id, mail.attachments, config.max_attachment_bytes, record)
        db.add(record)
        if decision.flag is None and mail.auto_submitted is None:
            # The envelope's recipients were accepted as brands' addresses: they are nobody to add.
            self._participants(db, brand, ticket, mail, sender, {mailbox_of(r) for r in recipients})
            if flagged:  # they wrote from it: it works again
                customers.clear_undeliverable(db, brand.id, sender)
        outcome = EmailOutcome.THREADED if result.threaded else EmailOutcome.CREATED
        if mail.auto_submitted is not None:
            outcome = EmailOutcome.AUTO_REPLY
        elif outcome is EmailOutcome.CREATED and config.acknowledge_new_tickets:
            outbound.queue_acknowledgement(db, ticket.id, result.message_id)
        db.flush()
        return InboundResult(outcome, ticket.id, result.message_id, result.customer_id, mail.message_id,
                             f"matched by {decision.matched_by}" if decision.matched_by else None)

    # -- the steps -------------------------------------------------------------------------------------------------
    def _brand(self, db: Session, mail: ParsedEmail, recipients: Sequence[str], brand_slug: str | None,
               brand_id: int | None) -> Brand:
        if brand_slug is not None:
            found = brands.by_slug(db, brand_slug)
            if found is None:
                raise _Quarantine(f"no brand '{brand_slug}'", None)
            return found
        if brand_id is not None:
            by_id = db.get(Brand, brand_id)
            if by_id is None:
                raise _Quarantine(f"no brand {brand_id}", None)
            return by_id
        # The envelope says who it was delivered to; the headers stand in where there is no envelope (ingest).
        by_recipient = brand_for_recipients(db, list(recipients) or [*mail.to, *mail.cc])
        if by_recipient is None:
            named = ", ".join(list(recipients) or [*mail.to, *mail.cc]) or "no recipient"
            raise _Quarantine(f"no brand receives mail at {named[:300]}", None)
        return by_recipient

    def _flooding(self, db: Session, brand_id: int, sender: str) -> bool:
        limit = self.settings.email_sender_limit
        if not limit:
            return False
        since = utcnow() - dt.timedelta(minutes=self.settings.email_sender_window_minutes)
        return repository.mail_from_sender_since(db, brand_id, sender, since) >= limit

    def _bounce(self, db: Session, brand: Brand, mail: ParsedEmail) -> InboundResult:
        """A delivery failure report: the addresses it names are flagged undeliverable (when it is permanent), and
        the ticket whose reply bounced gets the reason in its trail."""
        report = mail.bounce
        assert report is not None
        why = " ".join(x for x in (report.status, report.diagnostic) if x)[:900] or "the receiving server refused it"
        ticket_id = None
        if report.permanent:
            customers.flag_undeliverable(db, brand.id, report.failed_recipients, why)
        if report.original_message_id:
            sent = repository.outbound_record(db, brand.id, report.original_message_id)
            if sent is not None:
                ticket_id = sent.ticket_id
                ticket = db.get_one(Ticket, sent.ticket_id)
                mutations.record_event(db, ticket, EventKind.DELIVERY_FAILED, SYSTEM_ACTOR,
                                       after={"recipients": report.failed_recipients, "status": report.status,
                                              "permanent": report.permanent},
                                       reason=why, message=None)
        db.flush()
        return InboundResult(EmailOutcome.BOUNCE, ticket_id, None, None, mail.message_id,
                             f"{', '.join(report.failed_recipients) or 'unknown recipient'}: {why}")

    def _attachments(self, db: Session, brand_id: int, message_id: int, attachments: list[MailAttachment],
                     limit: int, record: EmailRecord) -> None:
        for item in attachments:
            if item.size > limit:
                record.defects = [*record.defects, f"attachment {item.filename or item.content_type} "
                                  f"({item.size:,} bytes) is over the brand's limit of {limit:,}: kept only in "
                                  "the original message"]
                continue
            mutations.attach_file(db, message_id, brand_id, sha256=item.sha256, filename=item.filename,
                                  content_type=item.content_type, size=item.size, content_id=item.content_id,
                                  inline=item.inline)

    def _participants(self, db: Session, brand: Brand, ticket: Ticket, mail: ParsedEmail, sender: str,
                      accepted: set[str]) -> None:
        """Everyone else the customer wrote to (To and Cc, but the brand's own addresses) takes part in the ticket
        and receives the replies."""
        others = [a for a in [*mail.to, *mail.cc][: MAX_PARTICIPANTS * 3] if a.lower() != sender]
        if all(mailbox_of(a) in accepted for a in others):
            return
        own = {a.address for a in repository.addresses_of_brand(db, brand.id)}
        if all(mailbox_of(a) in own for a in others):
            return  # only the brand's own addresses: nobody to add
        seen = {sender}
        for address in others:
            try:
                value = normalise_email(address)
            except DomainError:
                continue
            if value in seen or mailbox_of(value) in own or len(seen) > MAX_PARTICIPANTS:
                continue
            seen.add(value)
            found = customers.identify(db, brand.id, Sender(email=value), None)
            mutations.add_participant(db, ticket, found.customer.id, SYSTEM_ACTOR, reason=f"{sender} wrote to them")

    def _quarantine(self, raw_sha: str, raw_size: int, reason: str, source: str, recipients: Sequence[str],
                    brand_id: int | None, brand_slug: str | None, mail: ParsedEmail | None,
                    requarantine_id: int | None, outcome: EmailOutcome = EmailOutcome.QUARANTINED) -> InboundResult:
        """Keep the raw message with its reason. Automatic mail that answers nothing is kept the same way but
        released at once: nothing for a person to do, yet it can be looked at."""
        log.info("email quarantined (%s): %s", source, reason)
        now = utcnow()
        released = now if outcome is EmailOutcome.AUTO_REPLY else None
        with self.database.transaction() as db:
            if brand_id is None and brand_slug is not None:
                named = brands.by_slug(db, brand_slug)
                brand_id = named.id if named else None
            row = repository.quarantined(db, requarantine_id, for_update=True) if requarantine_id else None
            if row is None:
                row = QuarantinedEmail(raw_sha256=raw_sha, raw_size=raw_size, source=source[:200],
                                       recipients=list(recipients)[:100], received_at=now)
                db.add(row)
            row.brand_id = brand_id
            row.reason = reason
            row.from_address = (mail.from_address or None) if mail else None
            row.subject = mail.subject[:1000] if mail else None
            row.released_at = released
            row.outcome = outcome.value if released else None
            db.flush()
            return InboundResult(outcome, None, None, None, mail.message_id if mail else None, reason, row.id)

    # -- the quarantine --------------------------------------------------------------------------------------------
    def keep(self, raw: bytes, *, reason: str, source: str, brand_id: int | None = None) -> InboundResult:
        """Quarantine a message a channel could not hand over whole (an IMAP message over the size cap, one that
        failed again and again), with the channel's reason."""
        return self._quarantine(self.blobs.put(raw), len(raw), reason, source, (), brand_id, None, None, None)

    def reprocess(self, quarantine_id: int) -> InboundResult:
        """Take a quarantined message in again (after a fix, or once a brand receives at its address)."""
        with self.database.transaction(write=False) as db:
            row = repository.quarantined(db, quarantine_id)
            if row is None:
                raise NotFound(f"quarantined email {quarantine_id} not found")
            raw_sha, brand_id, recipients, source = row.raw_sha256, row.brand_id, list(row.recipients), row.source
        raw = self.blobs.read(raw_sha)
        result = self.receive(raw, recipients=recipients, source=source, brand_id=brand_id,
                              requarantine_id=quarantine_id)
        if result.outcome is not EmailOutcome.QUARANTINED:
            with self.database.transaction() as db:
                row = repository.quarantined(db, quarantine_id, for_update=True)
                assert row is not None
                row.released_at = row.released_at or utcnow()
                row.outcome = result.outcome.value
                row.ticket_id = result.ticket_id
        return result


class _Quarantine(Exception):
    def __init__(self, reason: str, brand_id: int | None, outcome: EmailOutcome = EmailOutcome.QUARANTINED):
        super().__init__(reason)
        self.reason = reason
        self.brand_id = brand_id
        self.outcome = outcome


def _settings_of(row: EmailSettings | None) -> _Defaults:
    if row is None:
        return _Defaults()
    return _Defaults(row.stranger_policy, row.acknowledge_new_tickets, row.max_attachment_bytes,
                     row.subject_window_days)


def _sender_address(mail: ParsedEmail) -> str | None:
    """Who to answer: From, else the first usable Reply-To (some gateways send with an empty or broken From)."""
    for candidate in (mail.from_address, *mail.reply_to):
        if not candidate:
            continue
        try:
            return normalise_email(candidate)
        except DomainError:
            continue
    return None


def _external_id(mail: ParsedEmail) -> str:
    """The same message delivered twice (same Message-ID, same content) has the same id and is stored once; a
    different message reusing a Message-ID (broken mailers do) gets another."""
    key = f"{mail.message_id or ''}\n{mail.content_digest}".encode()
    return "email:" + hashlib.sha256(key).hexdigest()


def _bodies(mail: ParsedEmail) -> tuple[str, str]:
    """What agents see first: the new part of the reply as text, and the sanitised HTML (remote images blocked)."""
    text = (mail.visible_text or mail.text or "").strip()
    if not text:
        names = ", ".join(a.filename or a.content_type for a in mail.attachments if not a.inline)
        text = f"(no text; attached: {names})" if names else (mail.subject.strip() or "(empty message)")
    html = sanitize_html(mail.html) if mail.html and mail.html.strip() else ""
    if not html:
        html = html_from_text(text)
    return text, html


def make_sink(database: Database, settings: Settings) -> EmailInbound:
    """The SMTP listener's sink: `tierdesk smtp` and `tierdesk serve` build it with the deployment's triage."""
    return EmailInbound(database, settings,
                        TriagerSource(settings.effective_triage_model_path, settings.triage_confidence_threshold))
