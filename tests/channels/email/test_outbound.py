"""Outbound email: an agent's reply through the API, the worker's outbox job, a real SMTP sink (aiosmtpd) as the
relay; what arrives is parsed back with the standard library and checked header by header."""

from __future__ import annotations

import datetime as dt
import email
import logging
import socket
from email import policy
from email.message import EmailMessage

import dkim
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import contact
from tierdesk.channels.email import outbound
from tierdesk.channels.email.models import EmailAddress, EmailRecord, EmailSettings
from tierdesk.channels.email.outbound import queue_acknowledgement, reply_subject, thread_references
from tierdesk.channels.email.relay import set_dkim, set_relay
from tierdesk.channels.email.tokens import ticket_token
from tierdesk.config import Settings
from tierdesk.customers.models import Customer, CustomerIdentity
from tierdesk.jobs import outbox
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit.actors import SYSTEM_ACTOR
from tierdesk.kit.blobs import blob_store
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import IdentityKind, MailSecurity, MessageDirection
from tierdesk.tickets.models import Attachment, Message, Ticket, TicketEvent
from tierdesk.tickets.mutations import add_participant
from tierdesk.wiring import outbox_sender

API = "/api/v1"
SECRET = "test-secret-key"  # conftest's settings
FIRST_MAIL_ID = "<first-mail@mail.example.com>"
OLDER_REFERENCES = ["<thread-start@mail.example.com>"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SinkHandler:
    """Keeps every message handed to it; answers DATA with the queued answers first (e.g. "451 ..."), then 250."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.data_answers: list[str] = []
        self.refuse_rcpt: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        if self.data_answers:
            return self.data_answers.pop(0)
        return "250 Message accepted for delivery"

    def mails(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=policy.default) for _, _, raw in self.received]


class Sink:
    def __init__(self, port: int, **kwargs) -> None:
        self.port = port
        self.handler = SinkHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port, **kwargs)

    def __enter__(self) -> Sink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


@pytest.fixture
def sink():
    with Sink(free_port()) as s:
        yield s


@pytest.fixture
def settings(tmp_path, database_url, sink) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, secret_key=SECRET,
                    triage_confidence_threshold=1.0, email_relay_host="127.0.0.1", email_relay_port=sink.port,
                    email_relay_security=MailSecurity.PLAIN)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(outbound, "_warned", set())


@pytest.fixture
def acme_mail(world, database) -> None:
    """acme receives (and sends) mail at support@acme.test (help@ too, never a recipient of its own replies)."""
    with database.transaction() as db:
        db.add(EmailAddress(brand_id=world.brands["acme"], address="help@acme.test"))
        db.add(EmailAddress(brand_id=world.brands["acme"], address="support@acme.test", is_default=True))


def email_ticket(client, world, database, **overrides) -> dict:
    """A ticket opened by Maria's mail (its email side recorded as inbound email would record it)."""
    r = client.post(f"{API}/contacts", json=contact(**overrides), headers=world.auth("agent"))
    assert r.status_code == 201, r.text
    ticket = r.json()["ticket"]
    if overrides.get("channel", "email") == "email":
        with database.transaction() as db:
            first = db.scalar(sa.select(Message).where(Message.ticket_id == ticket["id"]))
            db.add(EmailRecord(brand_id=ticket["brand_id"], message_id=first.id, ticket_id=ticket["id"],
                               direction=MessageDirection.INBOUND, rfc_message_id=FIRST_MAIL_ID,
                               references=OLDER_REFERENCES, from_address="maria@example.com",
                               to_addresses=["support@acme.test"], subject=ticket["subject"]))
    return ticket


def reply(client, world, ticket_id: int, **body) -> dict:
    body.setdefault("body", "Please unplug the router for ten seconds.")
    r = client.post(f"{API}/tickets/{ticket_id}/messages", json=body, headers=world.auth("agent"))
    assert r.status_code == 201, r.text
    return r.json()


def deliver(database, settings) -> int:
    return outbox.deliver_due(database, outbox_sender(database, settings))


def outbox_rows(database) -> list[OutboxMessage]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def make_due(database) -> None:
    """Skip the backoff: the next round tries the waiting rows again."""
    with database.transaction() as db:
        db.execute(sa.update(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
                   .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))


def record_of(database, message_id: int) -> EmailRecord | None:
    with database.transaction(write=False) as db:
        return db.scalar(sa.select(EmailRecord).where(EmailRecord.message_id == message_id))


def delivery_failures(database, ticket_id: int) -> list[TicketEvent]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                                            TicketEvent.kind == "delivery_failed")))


# ---- a reply, as it arrives ------------------------------------------------------------------------------------


def test_a_reply_arrives_as_a_threaded_mail_with_both_parts_cc_and_attachment(client, world, database, settings,
                                                                              sink, acme_mail):
    ticket = email_ticket(client, world, database)
    with database.transaction() as db:
        # Cc'd: the boss gets the reply; someone whose address bounced and the brand's own alias do not.
        boss, gone, ours = (Customer(brand_id=world.brands["acme"], display_name=n) for n in ("Boss", "Gone", "Us"))
        db.add_all([boss, gone, ours])
        db.flush()
        db.add_all([
            CustomerIdentity(brand_id=boss.brand_id, customer_id=boss.id, kind=IdentityKind.PHONE,
                             value="+4930123456"),
            CustomerIdentity(brand_id=boss.brand_id, customer_id=boss.id, kind=IdentityKind.EMAIL,
                             value="boss@example.com"),
            CustomerIdentity(brand_id=boss.brand_id, customer_id=gone.id, kind=IdentityKind.EMAIL,
                             value="gone@example.com", undeliverable_since=utcnow(), undeliverable_reason="550"),
            CustomerIdentity(brand_id=boss.brand_id, customer_id=ours.id, kind=IdentityKind.EMAIL,
                             value="help+loop@acme.test"),
        ])
        locked = db.get(Ticket, ticket["id"])
        for who in (boss, gone, ours):
            add_participant(db, locked, who.id, SYSTEM_ACTOR)
    sent = reply(client, world, ticket["id"], body="Please unplug the router.",
                 body_html="<p>Please <b>unplug</b> the router.</p>")
    pdf = b"%PDF-1.4 the manual\n"
    with database.transaction() as db:
        sha = blob_store(settings.data_dir).put(pdf)
        db.add(Attachment(message_id=sent["id"], brand_id=ticket["brand_id"], sha256=sha, filename="manual.pdf",
                          content_type="application/pdf", size=len(pdf)))
    assert [r.topic for r in outbox_rows(database)] == ["email.send"]

    assert deliver(database, settings) == 1
    assert len(sink.handler.received) == 1
    mail_from, rcpt_tos, _raw = sink.handler.received[0]
    assert mail_from == "support@acme.test"
    assert sorted(rcpt_tos) == ["boss@example.com", "maria@example.com"]
    mail = sink.handler.mails()[0]
    assert mail["From"].addresses[0].addr_spec == "support@acme.test"
    assert mail["From"].addresses[0].display_name == "Acme"  # the brand's name: no from_name set
    assert str(mail["To"]) == "maria@example.com"
    assert str(mail["Cc"]) == "boss@example.com"
    token = ticket_token(SECRET, ticket["brand_id"], ticket["id"])
    assert str(mail["Subject"]) == f"Re: My router blinks red {token}"
    assert mail["In-Reply-To"] == FIRST_MAIL_ID
    assert mail["References"].split() == [*OLDER_REFERENCES, FIRST_MAIL_ID]
    assert mail["Message-ID"].endswith("@acme.test>")
    assert mail["X-Tierdesk-Ticket"] == str(ticket["id"])
    assert mail["Auto-Submitted"] is None
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "Please unplug the router." in text and token in text
    assert "<b>unplug</b>" in html and token in html
    attachments = list(mail.iter_attachments())
    assert [(a.get_filename(), a.get_content_type(), a.get_content()) for a in attachments] == [
        ("manual.pdf", "application/pdf", pdf)]

    record = record_of(database, sent["id"])
    assert record.direction is MessageDirection.OUTBOUND
    assert record.rfc_message_id == mail["Message-ID"]  # the customer's answer threads by In-Reply-To
    assert (record.delivery_status, record.delivery_attempts, record.delivery_error) == ("sent", 1, None)
    assert record.sent_at is not None
    assert record.in_reply_to == [FIRST_MAIL_ID] and record.references == [*OLDER_REFERENCES, FIRST_MAIL_ID]
    assert (record.to_addresses, record.cc_addresses) == (["maria@example.com"], ["boss@example.com"])
    stored = blob_store(settings.data_dir).read(record.raw_sha256)
    assert email.message_from_bytes(stored, policy=policy.default)["Message-ID"] == mail["Message-ID"]
    assert outbox_rows(database)[0].delivered_at is not None
    assert deliver(database, settings) == 0 and len(sink.handler.received) == 1  # sent once


def test_a_second_reply_answers_the_customers_latest_mail_and_never_stacks_re(client, world, database, settings,
                                                                               sink, acme_mail):
    ticket = email_ticket(client, world, database, subject="Re: AW: Router")
    first = reply(client, world, ticket["id"])
    second = reply(client, world, ticket["id"], body="Any news?")
    assert deliver(database, settings) == 2
    one, two = sink.handler.mails()
    token = ticket_token(SECRET, ticket["brand_id"], ticket["id"])
    assert str(one["Subject"]) == str(two["Subject"]) == f"Re: Router {token}"
    assert one["Message-ID"] != two["Message-ID"]
    assert record_of(database, first["id"]).rfc_message_id == one["Message-ID"]
    assert record_of(database, second["id"]).rfc_message_id == two["Message-ID"]


def test_the_subject_carries_one_re_and_one_token():
    token = "[#7-abcdef]"
    assert reply_subject("Hello", token) == f"Re: Hello {token}"
    assert reply_subject("RE: Aw: SV:Hello [#7-abcdef]", token) == f"Re: Hello {token}"
    assert reply_subject("Re: [#3-zzzzzz] Hello", token) == f"Re: Hello {token}"
    assert reply_subject("", token) == f"Re: {token}"
    assert reply_subject("Fwd: Hello", token) == f"Re: Fwd: Hello {token}"


def test_a_long_thread_keeps_its_first_and_latest_references():
    chain = [f"<m{i}@x>" for i in range(30)]
    last = EmailRecord(rfc_message_id="<m30@x>", references=chain)
    in_reply_to, references = thread_references(last)
    assert in_reply_to == ["<m30@x>"]
    assert references == ["<m0@x>", *[f"<m{i}@x>" for i in range(21, 31)]]
    assert thread_references(None) == ([], [])


# ---- what is not sent ------------------------------------------------------------------------------------------


def test_notes_are_never_sent(client, world, database, settings, sink, acme_mail):
    ticket = email_ticket(client, world, database)
    reply(client, world, ticket["id"], direction="note", body="Line test failed")
    assert outbox_rows(database) == []
    assert deliver(database, settings) == 0 and sink.handler.received == []


def test_a_reply_in_a_ticket_not_reached_by_email_is_not_sent(client, world, database, settings, sink, acme_mail):
    ticket = email_ticket(client, world, database, channel="web")
    reply(client, world, ticket["id"])
    assert outbox_rows(database) == []
    assert deliver(database, settings) == 0 and sink.handler.received == []


def test_a_web_ticket_the_customer_then_wrote_into_by_email_is_answered_by_email(client, world, database, settings,
                                                                                  sink, acme_mail):
    ticket = email_ticket(client, world, database, channel="web")
    with database.transaction() as db:  # as the email channel adds a mail that threads into the ticket
        from tierdesk.tickets.mutations import add_message
        locked = db.get(Ticket, ticket["id"])
        add_message(db, locked, direction=MessageDirection.INBOUND, channel="email", body_text="by mail now",
                    body_html="<p>by mail now</p>", actor=SYSTEM_ACTOR, author_customer_id=locked.customer_id)
    reply(client, world, ticket["id"])
    assert deliver(database, settings) == 1
    assert str(sink.handler.mails()[0]["To"]) == "maria@example.com"


# ---- failures --------------------------------------------------------------------------------------------------


def test_a_temporary_refusal_is_retried_with_the_same_message_id(client, world, database, settings, sink, acme_mail):
    ticket = email_ticket(client, world, database)
    sent = reply(client, world, ticket["id"])
    sink.handler.data_answers = ["451 4.3.0 Try again later"]
    assert deliver(database, settings) == 0
    row = outbox_rows(database)[0]
    assert row.delivered_at is None and row.failed_at is None and row.attempts == 1
    assert row.next_attempt_at > utcnow()  # backoff
    record = record_of(database, sent["id"])
    assert record.delivery_status == "queued" and record.delivery_attempts == 1
    assert "451 4.3.0 Try again later" in record.delivery_error
    assert deliver(database, settings) == 0  # not due yet

    make_due(database)
    assert deliver(database, settings) == 1
    first, second = sink.handler.mails()
    assert first["Message-ID"] == second["Message-ID"] == record.rfc_message_id  # the receiver drops a duplicate
    record = record_of(database, sent["id"])
    assert (record.delivery_status, record.delivery_attempts, record.delivery_error) == ("sent", 2, None)
    assert delivery_failures(database, ticket["id"]) == []


def test_a_permanent_refusal_fails_at_once_and_the_agent_sees_it(client, world, database, settings, sink, acme_mail):
    ticket = email_ticket(client, world, database)
    sent = reply(client, world, ticket["id"])
    sink.handler.data_answers = ["550 5.7.1 Message rejected as spam"]
    assert deliver(database, settings) == 0
    row = outbox_rows(database)[0]
    assert row.failed_at is not None and row.attempts == 1 and "550 5.7.1" in row.last_error
    record = record_of(database, sent["id"])
    assert record.delivery_status == "failed"
    assert "550 5.7.1 Message rejected as spam" in record.delivery_error
    make_due(database)
    assert deliver(database, settings) == 0 and len(sink.handler.received) == 1  # never retried
    (event,) = delivery_failures(database, ticket["id"])
    assert event.message_id == sent["id"] and "550 5.7.1 Message rejected as spam" in event.reason
    timeline = client.get(f"{API}/tickets/{ticket['id']}/timeline", params={"limit": 200},
                          headers=world.auth("agent")).json()["items"]
    assert any(e["kind"] == "delivery_failed" and "550 5.7.1" in e["reason"] for e in timeline)


def test_every_recipient_refused_at_rcpt_is_a_permanent_failure(client, world, database, settings, sink, acme_mail):
    ticket = email_ticket(client, world, database)
    sent = reply(client, world, ticket["id"])
    sink.handler.refuse_rcpt["maria@example.com"] = "550 5.1.1 No such user"
    assert deliver(database, settings) == 0
    assert outbox_rows(database)[0].failed_at is not None
    record = record_of(database, sent["id"])
    assert record.delivery_status == "failed" and "550 5.1.1 No such user" in record.delivery_error
    assert len(delivery_failures(database, ticket["id"])) == 1


def test_a_relay_that_is_down_is_retried_later_not_failed(client, world, database, settings, acme_mail):
    port = free_port()  # nothing listens there yet
    down = settings.model_copy(update={"email_relay_port": port})
    ticket = email_ticket(client, world, database)
    sent = reply(client, world, ticket["id"])
    assert deliver(database, down) == 0
    row = outbox_rows(database)[0]
    assert row.failed_at is None and row.delivered_at is None and row.next_attempt_at > utcnow()
    assert "unreachable" in row.last_error
    assert record_of(database, sent["id"]).delivery_status == "queued"
    assert delivery_failures(database, ticket["id"]) == []

    with Sink(port) as back:
        make_due(database)
        assert deliver(database, down) == 1
        assert len(back.handler.received) == 1
    assert record_of(database, sent["id"]).delivery_status == "sent"


def test_the_last_temporary_failure_fails_the_mail_and_says_so(client, world, database, settings, acme_mail):
    down = settings.model_copy(update={"email_relay_port": free_port()})
    ticket = email_ticket(client, world, database)
    sent = reply(client, world, ticket["id"])
    with database.transaction() as db:
        db.execute(sa.update(OutboxMessage).values(attempts=outbox.MAX_ATTEMPTS - 1))
    assert deliver(database, down) == 0
    assert outbox_rows(database)[0].failed_at is not None
    assert record_of(database, sent["id"]).delivery_status == "failed"
    assert len(delivery_failures(database, ticket["id"])) == 1


def test_an_undeliverable_address_is_not_sent_to(client, world, database, settings, sink, acme_mail):
    ticket = email_ticket(client, world, database)
    with database.transaction() as db:
        db.execute(sa.update(CustomerIdentity).where(CustomerIdentity.value == "maria@example.com")
                   .values(undeliverable_since=utcnow(), undeliverable_reason="550 5.1.1 mailbox does not exist"))
    sent = reply(client, world, ticket["id"])
    assert deliver(database, settings) == 0
    assert sink.handler.received == []
    row = outbox_rows(database)[0]
    assert row.failed_at is not None and "undeliverable" in row.last_error
    record = record_of(database, sent["id"])
    assert record.delivery_status == "failed"
    assert "maria@example.com is flagged undeliverable: 550 5.1.1 mailbox does not exist" in record.delivery_error
    (event,) = delivery_failures(database, ticket["id"])
    assert "undeliverable" in event.reason


def test_without_any_relay_mail_waits_and_a_warning_says_why(client, world, database, settings, sink, acme_mail,
                                                             caplog):
    unconfigured = settings.model_copy(update={"email_relay_host": None})
    ticket = email_ticket(client, world, database)
    sent = reply(client, world, ticket["id"])
    with caplog.at_level(logging.WARNING, logger="tierdesk.email"):
        assert deliver(database, unconfigured) == 0
        make_due(database)
        assert deliver(database, unconfigured) == 0
    warnings = [r.getMessage() for r in caplog.records if r.name == "tierdesk.email"]
    assert len(warnings) == 1 and "TIERDESK_EMAIL_RELAY_HOST" in warnings[0]
    row = outbox_rows(database)[0]
    assert row.failed_at is None and row.delivered_at is None and row.attempts == 0  # waiting costs no attempt
    assert row.next_attempt_at > utcnow()
    assert record_of(database, sent["id"]) is None and sink.handler.received == []

    make_due(database)  # a relay is configured: the waiting reply goes out
    assert deliver(database, settings) == 1 and len(sink.handler.received) == 1


# ---- a brand's own relay, DKIM, acknowledgements ---------------------------------------------------------------


def test_a_brands_own_relay_with_a_login_is_used(client, world, database, settings, sink, acme_mail):
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"acme-relay", b"s3cret pass"))

    with Sink(free_port(), authenticator=authenticator, auth_require_tls=False) as own:
        with database.transaction() as db:
            set_relay(db, SECRET, "acme", host="127.0.0.1", port=own.port, security=MailSecurity.PLAIN,
                      username="acme-relay", password="s3cret pass")
            stored = db.get(EmailSettings, world.brands["acme"])
            assert "s3cret" not in (stored.relay_password_sealed or "")  # sealed, not stored plain
        ticket = email_ticket(client, world, database)
        reply(client, world, ticket["id"])
        assert deliver(database, settings) == 1
        assert len(own.handler.received) == 1 and sink.handler.received == []  # not the deployment's relay
        assert logins == [(b"acme-relay", b"s3cret pass")]


def test_a_brand_with_a_dkim_key_signs_and_the_signature_verifies(client, world, database, settings, sink,
                                                                  acme_mail):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    with database.transaction() as db:
        set_dkim(db, SECRET, "acme", domain="acme.test", selector="td2026", private_key_pem=pem)
    from tierdesk.channels.email.signing import dns_record

    published = dns_record(pem).encode()
    looked_up = []

    def dnsfunc(name, timeout=5):
        looked_up.append(name)
        return published if name == b"td2026._domainkey.acme.test." else None

    ticket = email_ticket(client, world, database)
    reply(client, world, ticket["id"], body="Signed.")
    assert deliver(database, settings) == 1
    raw = sink.handler.received[0][2]
    assert raw.startswith(b"DKIM-Signature:")
    assert dkim.verify(raw, dnsfunc=dnsfunc) is True
    assert looked_up == [b"td2026._domainkey.acme.test."]
    # A changed subject no longer verifies: the signature covers it.
    assert dkim.verify(raw.replace(b"Subject: Re:", b"Subject: Fw:"), dnsfunc=dnsfunc) is False


def test_a_new_ticket_is_acknowledged_when_the_brand_asks(client, world, database, settings, sink, acme_mail):
    ticket = email_ticket(client, world, database)
    with database.transaction() as db:
        first = db.scalar(sa.select(Message).where(Message.ticket_id == ticket["id"]))
        queue_acknowledgement(db, ticket["id"], first.id)  # the brand does not ask: nothing
    assert outbox_rows(database) == []
    with database.transaction() as db:
        db.add(EmailSettings(brand_id=world.brands["acme"], acknowledge_new_tickets=True, from_name="Acme Support"))
    with database.transaction() as db:
        queue_acknowledgement(db, ticket["id"], first.id)
    assert [r.topic for r in outbox_rows(database)] == ["email.acknowledge"]
    assert deliver(database, settings) == 1
    mail = sink.handler.mails()[0]
    token = ticket_token(SECRET, ticket["brand_id"], ticket["id"])
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["From"].addresses[0].display_name == "Acme Support"
    assert str(mail["To"]) == "maria@example.com" and token in str(mail["Subject"])
    assert mail["In-Reply-To"] == FIRST_MAIL_ID
    assert mail["References"].split() == [*OLDER_REFERENCES, FIRST_MAIL_ID]
    assert token in mail.get_body(preferencelist=("plain",)).get_content()
    with database.transaction(write=False) as db:  # not an agent's answer: no message, no first response
        assert db.get(Ticket, ticket["id"]).first_response_at is None
        assert db.scalar(sa.select(sa.func.count()).select_from(Message)
                         .where(Message.ticket_id == ticket["id"])) == 1


def test_an_automatic_mail_is_never_acknowledged(client, world, database, settings, sink, acme_mail):
    ticket = email_ticket(client, world, database)
    with database.transaction() as db:
        db.add(EmailSettings(brand_id=world.brands["acme"], acknowledge_new_tickets=True))
        db.execute(sa.update(EmailRecord).values(auto_submitted="Auto-Submitted: auto-replied"))
    with database.transaction() as db:
        first = db.scalar(sa.select(Message).where(Message.ticket_id == ticket["id"]))
        queue_acknowledgement(db, ticket["id"], first.id)
    assert deliver(database, settings) == 1  # handled: nothing to send
    assert sink.handler.received == []


def test_the_workers_outbox_job_sends_mail_without_a_webhook(client, world, database, settings, sink, acme_mail):
    from tierdesk.jobs.worker import Worker
    from tierdesk.wiring import default_jobs

    assert settings.notification_webhook_url is None
    ticket = email_ticket(client, world, database)
    reply(client, world, ticket["id"])
    with database.transaction() as db:  # an SLA notification left from when a webhook was configured: dropped
        outbox.enqueue(db, "sla_breach", {"ticket_id": ticket["id"]})
    assert Worker(database, default_jobs(settings)).run_once()["outbox"] == 2
    assert len(sink.handler.received) == 1
    assert all(r.delivered_at is not None for r in outbox_rows(database))


def test_an_unknown_topic_fails_at_once(database, settings):
    with database.transaction() as db:
        outbox.enqueue(db, "fax.send", {})
    assert deliver(database, settings) == 0
    (row,) = outbox_rows(database)
    assert row.failed_at is not None and "fax.send" in row.last_error


def test_a_cc_the_relay_refuses_is_reported_while_the_customer_gets_the_reply(client, world, database, settings,
                                                                              sink, acme_mail):
    ticket = email_ticket(client, world, database)
    with database.transaction() as db:
        boss = Customer(brand_id=world.brands["acme"], display_name="Boss")
        db.add(boss)
        db.flush()
        db.add(CustomerIdentity(brand_id=boss.brand_id, customer_id=boss.id, kind=IdentityKind.EMAIL,
                                value="boss@example.com"))
        add_participant(db, db.get(Ticket, ticket["id"]), boss.id, SYSTEM_ACTOR)
    sent = reply(client, world, ticket["id"])
    sink.handler.refuse_rcpt["boss@example.com"] = "550 5.1.1 No such user"
    assert deliver(database, settings) == 1
    assert sink.handler.received[0][1] == ["maria@example.com"]
    record = record_of(database, sent["id"])
    assert record.delivery_status == "sent" and "boss@example.com: 550 5.1.1 No such user" in record.delivery_error
    (event,) = delivery_failures(database, ticket["id"])
    assert event.after["recipients"] == ["boss@example.com"]


# ---- encrypted relays: STARTTLS and TLS, with the certificate checked --------------------------------------------


@pytest.fixture
def relay_certificate(tmp_path, monkeypatch):
    """A self-signed certificate for localhost, trusted by this test's process alone (SSL_CERT_FILE, which the
    default TLS context reads): the relay's certificate is checked as in production, not switched off."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "relay.crt", tmp_path / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.mark.parametrize("security", [MailSecurity.STARTTLS, MailSecurity.TLS])
def test_replies_go_out_over_an_encrypted_relay(client, world, database, settings, acme_mail, relay_certificate,
                                                security):
    if security is MailSecurity.STARTTLS:
        relay = Sink(free_port(), tls_context=relay_certificate, require_starttls=True)
    else:
        relay = Sink(free_port(), ssl_context=relay_certificate)
    encrypted = settings.model_copy(update={"email_relay_host": "localhost", "email_relay_port": relay.port,
                                            "email_relay_security": security})
    with relay:
        ticket = email_ticket(client, world, database)
        reply(client, world, ticket["id"])
        assert deliver(database, encrypted) == 1
        assert len(relay.handler.received) == 1


def test_a_relay_whose_certificate_is_not_trusted_is_not_sent_to(client, world, database, settings, acme_mail,
                                                                 relay_certificate, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")  # the system's trust store does not know the self-signed certificate
    relay = Sink(free_port(), tls_context=relay_certificate, require_starttls=True)
    encrypted = settings.model_copy(update={"email_relay_host": "localhost", "email_relay_port": relay.port,
                                            "email_relay_security": MailSecurity.STARTTLS})
    with relay:
        ticket = email_ticket(client, world, database)
        reply(client, world, ticket["id"])
        assert deliver(database, encrypted) == 0
        assert relay.handler.received == []
    row = outbox_rows(database)[0]
    assert row.failed_at is None and "CERTIFICATE_VERIFY_FAILED" in row.last_error  # retried once it is fixed
