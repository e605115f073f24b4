"""The web form channel's way in: a form post (the brand's page, its iframe, or a site's own form through the API),
checked, then handed to intake as a contact.

In this order, so that a refused post writes nothing: the honeypot and the form token (spam.py); every field, the
brand's own included, and every file (attachments.py), all problems reported at once, each by its field; the rate
limits. Then, outside any transaction, triage reads the message and the files go to the blob store (on disk before
a row names them); then one transaction takes the contact in through intake (the same customer identification,
triage and routing as every channel), and stores the submission with the brand's fields, the attachments, and the
email acknowledgement in the outbox. The caller answers only after that commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from pydantic import ValidationError
from sqlalchemy.orm import Session

from tierdesk.brands import repository as brands
from tierdesk.channels.email import outbound
from tierdesk.channels.email.tokens import ticket_token
from tierdesk.channels.web import spam
from tierdesk.channels.web.attachments import CheckedFile, FileRefused, check_file
from tierdesk.channels.web.forms import WebForm, open_form
from tierdesk.channels.web.models import WebSubmission
from tierdesk.channels.web.schemas import BUILT_IN_FIELDS
from tierdesk.config import Settings
from tierdesk.customers.identity import normalise_email
from tierdesk.customers.schemas import Sender
from tierdesk.db import Database
from tierdesk.intake.pipeline import IntakePipeline, PreparedContact, default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.blobs import CHUNK, BlobStore, blob_store
from tierdesk.kit.errors import DomainError, InvalidInput
from tierdesk.kit.input import NUL_MESSAGE
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import Channel, WebFieldType
from tierdesk.tickets import mutations
from tierdesk.tickets.service import message_bodies
from tierdesk.triage.service import TriagerSource, read_message

SUBJECT_MAX = 200
MESSAGE_MAX = 20_000
NAME_MAX = 200
USER_AGENT_MAX = 500
_YES = {"on", "yes", "true", "1"}
_NO = {"", "off", "no", "false", "0"}


class FormErrors(InvalidInput):
    """The post's problems, each by its field (422): the form shows each beside its field, the API lists them."""

    def __init__(self, errors: dict[str, str]):
        first, message = next(iter(errors.items()))
        summary = message if len(errors) == 1 else "; ".join(f"{f}: {m}" for f, m in errors.items())
        super().__init__(summary, field=first)
        self.errors = errors

    def as_dict(self) -> dict[str, Any]:  # adds the list of fields
        return {**super().as_dict(), "fields": [{"field": f, "message": m} for f, m in self.errors.items()]}


@dataclass
class UploadedFile:
    filename: str
    stream: BinaryIO  # spooled by the multipart parser; read from the start


@dataclass
class FormPost:
    """One post as the browser (or a site) sent it, before any check."""

    values: dict[str, str | bool]  # text fields (a JSON post may give a checkbox as true/false)
    files: list[UploadedFile] = field(default_factory=list)
    client_ip: str = "unknown"
    user_agent: str | None = None
    via: str = "form"  # "form": the brand's page or iframe; "api": a site's own form
    unknown_fields: list[str] = field(default_factory=list)  # refused from the API, ignored from the page


@dataclass(frozen=True)
class Accepted:
    ticket_id: int
    message_id: int
    reference: str  # the ticket token the acknowledgement carries too: "[#123-k7q2mx]"
    thank_you: str
    duplicate: bool = False


@dataclass
class _Clean:
    email: str
    name: str | None
    subject: str
    message: str
    fields: dict[str, Any]
    files: list[tuple[UploadedFile, CheckedFile]]


class WebFormIntake:
    """One per process: the form pages' and the API's way in."""

    def __init__(self, database: Database, settings: Settings, triage: TriagerSource | None = None,
                 intake: IntakePipeline | None = None):
        self.database = database
        self.settings = settings
        self.secret_key = settings.effective_secret_key()
        self.triage = triage
        self.intake = intake or default_pipeline(settings.default_phone_region, triage)
        self.blobs: BlobStore = blob_store(settings.data_dir)
        self.limits = spam.RateLimits(settings.web_form_address_limit, settings.web_form_ip_limit,
                                      dt.timedelta(minutes=settings.web_form_window_minutes))

    # -- the page ----------------------------------------------------------------------------------------------------
    def form(self, brand_slug: str) -> WebForm:
        """The brand's form, if it has one that is on (NotFound otherwise)."""
        with self.database.transaction(write=False) as db:
            return open_form(db, brands.by_slug(db, brand_slug))

    def token(self, form: WebForm) -> str:
        return spam.issue_token(self.secret_key, form.brand.id, utcnow())

    # -- the one way in ----------------------------------------------------------------------------------------------
    def submit(self, form: WebForm, post: FormPost) -> Accepted:
        """Take one post in; returns after the commit. Raises FormErrors, spam.TokenRefused, InvalidInput (the
        honeypot) or TooManyRequests, having written nothing."""
        spam.check_honeypot(_text(post.values.get(spam.HONEYPOT)))
        token = _text(post.values.get("form_token"))
        spam.check_token(self.secret_key, form.brand.id, token, utcnow(),
                         min_fill_seconds=self.settings.web_form_min_fill_seconds,
                         max_age_hours=self.settings.web_form_max_age_hours)
        clean = _validate(form, post)
        with self.database.transaction(write=False) as db:  # before anything is stored
            spam.check_rate(db, self.limits, form.brand.id, clean.email, post.client_ip, utcnow())
        body_text, body_html = message_bodies(clean.message, None)
        reading = read_message(self.triage, body_text, clean.subject) if self.triage is not None else None
        stored = [(self.blobs.put_chunks(_chunks(upload.stream)), checked) for upload, checked in clean.files]
        external_id = _external_id(token or "", clean, [sha for sha, _ in stored])
        with self.database.transaction() as db:
            return self._take_in(db, form, post, clean, PreparedContact(body_text, body_html, reading), stored,
                                 external_id)

    def _take_in(self, db: Session, form: WebForm, post: FormPost, clean: _Clean, prepared: PreparedContact,
                 stored: list[tuple[str, CheckedFile]], external_id: str) -> Accepted:
        brand = form.brand
        try:
            contact = ContactIn(brand=brand.slug, channel=Channel.WEB, sender=Sender(email=clean.email,
                                                                                     name=clean.name),
                                subject=clean.subject, body=clean.message, external_id=external_id)
        except ValidationError as exc:  # _validate keeps within these limits: a bug if it shows
            raise InvalidInput(f"the request cannot be taken in: {exc.errors()[0].get('msg')}") from None
        result = self.intake.receive(db, SYSTEM, contact, prepared)
        reference = ticket_token(self.secret_key, brand.id, result.ticket.id)
        if result.duplicate:  # the same post again (a double click): the first one stands
            return Accepted(result.ticket.id, result.message_id, reference, form.thank_you_text, duplicate=True)
        spam.check_rate(db, self.limits, brand.id, clean.email, post.client_ip, utcnow())  # a parallel post won
        db.add(WebSubmission(brand_id=brand.id, ticket_id=result.ticket.id, message_id=result.message_id,
                             email=clean.email, client_ip=post.client_ip[:64], fields=clean.fields, via=post.via,
                             user_agent=(post.user_agent or None) and post.user_agent[:USER_AGENT_MAX]))
        for sha256, checked in stored:
            mutations.attach_file(db, result.message_id, brand.id, sha256=sha256, filename=checked.filename,
                                  content_type=checked.content_type, size=checked.size)
        if not result.threaded:
            outbound.queue_acknowledgement(db, result.ticket.id, result.message_id, asked=form.acknowledge)
        db.flush()
        return Accepted(result.ticket.id, result.message_id, reference, form.thank_you_text)


    # -- the portal: a signed-in customer writes into their ticket ---------------------------------------------------
    def continue_request(self, form: WebForm, ticket_id: int, email: str, message: str,
                         files: list[UploadedFile]) -> Accepted:
        """The customer's reply on the portal, into their ticket, through intake like any customer message (so it
        reopens a solved ticket; a closed one gets a follow-up ticket). The message and files are checked as the
        form checks them (FormErrors naming `message` or `attachments`), before anything is written. The caller
        has checked the ticket is this customer's."""
        errors: dict[str, str] = {}
        text = message.replace("\r\n", "\n").strip()
        if "\x00" in text:
            errors["message"] = NUL_MESSAGE
        elif not text:
            errors["message"] = "The message is required"
        elif len(text) > MESSAGE_MAX:
            errors["message"] = f"The message is {len(text):,} characters long; at most {MESSAGE_MAX:,} are taken"
        checked = _files(form, files, errors)
        if errors:
            raise FormErrors(errors)
        body_text, body_html = message_bodies(text, None)
        stored = [(self.blobs.put_chunks(_chunks(upload.stream)), c) for upload, c in checked]
        # The same reply sent twice within a minute (a double click) is one message.
        external_id = "portal:" + hashlib.sha256(json.dumps(
            [ticket_id, email, text, [sha for sha, _ in stored], f"{utcnow():%Y-%m-%dT%H:%M}"]).encode()).hexdigest()
        with self.database.transaction() as db:
            contact = ContactIn(brand=form.brand.slug, channel=Channel.WEB, sender=Sender(email=email),
                                body=text, external_id=external_id)
            prepared = PreparedContact(body_text, body_html, None, continues_ticket_id=ticket_id)
            result = self.intake.receive(db, SYSTEM, contact, prepared)
            for sha256, c in stored:
                mutations.attach_file(db, result.message_id, form.brand.id, sha256=sha256, filename=c.filename,
                                      content_type=c.content_type, size=c.size)
            db.flush()
            reference = ticket_token(self.secret_key, form.brand.id, result.ticket.id)
            return Accepted(result.ticket.id, result.message_id, reference, form.thank_you_text)


# -- the checks ------------------------------------------------------------------------------------------------------
def _text(value: str | bool | None) -> str | None:
    return value if isinstance(value, str) else None


def _validate(form: WebForm, post: FormPost) -> _Clean:
    errors: dict[str, str] = {}
    values = post.values
    for name, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            errors[name] = NUL_MESSAGE

    def answer(name: str, label: str, *, required: bool, longest: int) -> str:
        raw = values.get(name)
        if raw is None or raw is False:
            raw = ""
        if not isinstance(raw, str):
            errors.setdefault(name, f"{label} must be text")
            return ""
        value = raw.replace("\r\n", "\n").strip()
        if required and not value:
            errors.setdefault(name, f"{label} is required")
        elif len(value) > longest:
            errors.setdefault(name, f"{label} is {len(value):,} characters long; at most {longest:,} are taken")
        return value

    email = answer("email", "Your email address", required=True, longest=320)
    if email and "email" not in errors:
        try:
            email = normalise_email(email)
        except DomainError:
            errors["email"] = f"{email!r} is not an email address we can answer (like name@example.com)"
    name = answer("name", "Your name", required=False, longest=NAME_MAX)
    subject = " ".join(answer("subject", "The subject", required=True, longest=SUBJECT_MAX).split())
    message = answer("message", "The message", required=True, longest=MESSAGE_MAX)
    answers: dict[str, Any] = {}
    for item in form.fields:
        if item.type is WebFieldType.CHECKBOX:
            checked = _checkbox(values.get(item.name))
            if checked is None:
                errors.setdefault(item.name, f"{item.label}: tick it or leave it empty")
            elif item.required and not checked:
                errors.setdefault(item.name, f"{item.label}: this must be ticked")
            answers[item.name] = bool(checked)
            continue
        value = answer(item.name, item.label, required=item.required, longest=item.longest)
        if item.type is WebFieldType.SELECT and value and value not in (item.choices or []):
            errors.setdefault(item.name, f"{item.label}: choose one of the options")
        if value:
            answers[item.name] = value
    known = BUILT_IN_FIELDS | {f.name for f in form.fields}
    if post.via == "api":
        for unknown in [*post.unknown_fields, *(n for n in values if n not in known)]:
            errors.setdefault(unknown, "this form has no such field")
    files = _files(form, post.files, errors)
    if errors:
        raise FormErrors(errors)
    return _Clean(email, name or None, subject, message, answers, files)


def _checkbox(value: str | bool | None) -> bool | None:
    if value is None or isinstance(value, bool):
        return bool(value)
    lowered = value.strip().lower()
    return True if lowered in _YES else False if lowered in _NO else None


def _files(form: WebForm, uploads: list[UploadedFile], errors: dict[str, str]) -> list[tuple[UploadedFile,
                                                                                                 CheckedFile]]:
    limits = form.files
    if not uploads:
        return []
    if limits.max_count == 0:
        errors["attachments"] = "this form takes no attachments"
        return []
    if len(uploads) > limits.max_count:
        errors["attachments"] = (f"{len(uploads)} files were attached; this form takes at most {limits.max_count}")
        return []
    checked: list[tuple[UploadedFile, CheckedFile]] = []
    problems: list[str] = []
    for upload in uploads:
        name = _safe_name(upload.filename)
        try:
            checked.append((upload, check_file(name, upload.stream, limits)))
        except FileRefused as exc:
            problems.append(str(exc))
    if problems:
        errors["attachments"] = "; ".join(problems)
    return checked


def _safe_name(filename: str) -> str:
    """The file's own name, without the folders some browsers send, control characters or NUL."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if c.isprintable()).strip()
    return cleaned[:255] or "attachment"


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        yield chunk


def _external_id(token: str, clean: _Clean, shas: list[str]) -> str:
    """The same post sent twice from one page (a double click, a reload) is one request; another post is another."""
    content = json.dumps([token, clean.email, clean.subject, clean.message, clean.fields, shas], sort_keys=True)
    return "web:" + hashlib.sha256(content.encode()).hexdigest()
