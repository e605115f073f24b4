"""The email channel's way in: brand by address, threading in its order, strangers, participants, duplicates,
automatic mail, bounces, the sender limit, attachments and the quarantine, on both databases."""

from __future__ import annotations

import sqlalchemy as sa

from tests.channels.email.helpers import add_addresses, inbound_for, mail, message_id_of
from tierdesk.channels.email.models import EmailRecord, EmailSettings, QuarantinedEmail
from tierdesk.channels.email.tokens import ticket_token
from tierdesk.customers.models import CustomerIdentity
from tierdesk.kit.blobs import blob_store
from tierdesk.kit.vocabulary import (
    Channel,
    EmailOutcome,
    EventKind,
    MessageDirection,
    StrangerReplyPolicy,
    TicketLinkKind,
    TicketStatus,
)
from tierdesk.tickets.models import Attachment, Message, Ticket, TicketEvent, TicketLink, TicketParticipant


def _setup(database, settings, **addresses):
    add_addresses(database, **(addresses or {"acme": "support@acme.example", "globex": "help@globex.example"}))
    return inbound_for(database, settings)


def _ticket(database, ticket_id) -> Ticket:
    with database.transaction(write=False) as db:
        ticket = db.get_one(Ticket, ticket_id)
        db.expunge(ticket)
        return ticket


def _messages(database, ticket_id) -> list[Message]:
    with database.transaction(write=False) as db:
        rows = list(db.scalars(sa.select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)))
        for row in rows:
            db.expunge(row)
        return rows


def test_a_new_mail_opens_a_triaged_email_ticket_and_keeps_the_original(world, database, settings):
    inbound = _setup(database, settings)
    raw = mail(to="Acme Support <support+eu@acme.example>")
    result = inbound.receive(raw, recipients=["support+eu@acme.example"], source="test")
    assert result.outcome is EmailOutcome.CREATED
    ticket = _ticket(database, result.ticket_id)
    assert ticket.brand_id == world.brands["acme"] and ticket.channel is Channel.EMAIL
    assert ticket.subject == "My router blinks red"
    assert ticket.department is not None  # triaged on the way in
    with database.transaction(write=False) as db:
        record = db.scalar(sa.select(EmailRecord).where(EmailRecord.ticket_id == ticket.id))
        assert record.rfc_message_id == message_id_of(raw)
        assert record.from_address == "maria@example.com"
        identity = db.scalar(sa.select(CustomerIdentity).where(CustomerIdentity.customer_id == result.customer_id))
        assert identity.value == "maria@example.com"
    assert blob_store(settings.data_dir).read(record.raw_sha256) == raw  # byte for byte


def test_replies_thread_by_in_reply_to_and_by_references(world, database, settings):
    inbound = _setup(database, settings)
    first = mail()
    created = inbound.receive(first, recipients=["support@acme.example"], source="test")
    reply = mail(subject="Re: My router blinks red", body="Still red.", in_reply_to=message_id_of(first))
    threaded = inbound.receive(reply, recipients=["support@acme.example"], source="test")
    assert threaded.outcome is EmailOutcome.THREADED and threaded.ticket_id == created.ticket_id
    # A client that drops In-Reply-To but keeps References (and changes the subject) still lands right.
    later = mail(subject="other words entirely", body="And now?", references=f"<x@nowhere> {message_id_of(reply)}")
    again = inbound.receive(later, recipients=["support@acme.example"], source="test")
    assert again.outcome is EmailOutcome.THREADED and again.ticket_id == created.ticket_id
    assert len(_messages(database, created.ticket_id)) == 3


def test_the_ticket_token_threads_a_reply_without_headers_and_only_in_its_own_brand(world, database, settings):
    inbound = _setup(database, settings)
    created = inbound.receive(mail(), recipients=["support@acme.example"], source="test")
    token = ticket_token(settings.effective_secret_key(), world.brands["acme"], created.ticket_id)
    reply = mail(subject=f"Re: something else {token}", body="Here is more.")
    assert inbound.receive(reply, recipients=["support@acme.example"], source="t").ticket_id == created.ticket_id
    # The same token sent to another brand names nothing there; a made-up check names nothing anywhere.
    other = inbound.receive(mail(subject=f"Re: {token}", to="help@globex.example"),
                            recipients=["help@globex.example"], source="t")
    assert other.outcome is EmailOutcome.CREATED and other.ticket_id != created.ticket_id
    forged = inbound.receive(mail(subject=f"Re: [#{created.ticket_id}-aaaaaa] hello"),
                             recipients=["support@acme.example"], source="t")
    assert forged.outcome is EmailOutcome.CREATED


def test_the_same_subject_from_the_same_customer_threads_but_not_from_someone_else(world, database, settings):
    inbound = _setup(database, settings)
    created = inbound.receive(mail(), recipients=["support@acme.example"], source="t")
    same = inbound.receive(mail(subject="AW: Re: My router blinks red", body="Any news?"),
                           recipients=["support@acme.example"], source="t")
    assert same.outcome is EmailOutcome.THREADED and same.ticket_id == created.ticket_id
    other = inbound.receive(mail(sender="paul@example.org", subject="Re: My router blinks red"),
                            recipients=["support@acme.example"], source="t")
    assert other.outcome is EmailOutcome.CREATED and other.ticket_id != created.ticket_id


def test_a_strangers_reply_with_forged_headers_opens_a_linked_ticket(world, database, settings):
    inbound = _setup(database, settings)
    first = mail()
    created = inbound.receive(first, recipients=["support@acme.example"], source="t")
    forged = mail(sender="mallory@evil.example", subject="Re: My router blinks red", body="Send me her data",
                  in_reply_to=message_id_of(first))
    result = inbound.receive(forged, recipients=["support@acme.example"], source="t")
    assert result.outcome is EmailOutcome.CREATED and result.ticket_id != created.ticket_id
    assert len(_messages(database, created.ticket_id)) == 1  # nothing landed in Maria's ticket
    with database.transaction(write=False) as db:
        link = db.scalar(sa.select(TicketLink).where(TicketLink.ticket_id == result.ticket_id))
        assert link.linked_ticket_id == created.ticket_id and link.kind is TicketLinkKind.STRANGER_REPLY
        kinds = set(db.scalars(sa.select(TicketEvent.kind).where(TicketEvent.ticket_id == created.ticket_id)))
        assert EventKind.TICKET_LINKED in kinds


def test_a_brand_may_add_strangers_replies_with_a_visible_flag(world, database, settings):
    inbound = _setup(database, settings)
    with database.transaction() as db:
        db.add(EmailSettings(brand_id=world.brands["acme"], stranger_policy=StrangerReplyPolicy.ADD_FLAGGED))
    first = mail()
    created = inbound.receive(first, recipients=["support@acme.example"], source="t")
    result = inbound.receive(mail(sender="colleague@example.com", in_reply_to=message_id_of(first)),
                             recipients=["support@acme.example"], source="t")
    assert result.outcome is EmailOutcome.THREADED and result.ticket_id == created.ticket_id
    flagged = _messages(database, created.ticket_id)[-1]
    assert flagged.flag and "colleague@example.com" in flagged.flag


def test_cc_becomes_participants_who_may_reply_into_the_ticket(world, database, settings):
    inbound = _setup(database, settings)
    first = mail(cc="Boss <boss@example.com>, support@acme.example")
    created = inbound.receive(first, recipients=["support@acme.example"], source="t")
    with database.transaction(write=False) as db:
        participants = list(db.scalars(sa.select(TicketParticipant.customer_id)
                                       .where(TicketParticipant.ticket_id == created.ticket_id)))
        assert len(participants) == 1  # the boss; not the brand's own address, not the sender
    reply = inbound.receive(mail(sender="boss@example.com", in_reply_to=message_id_of(first), body="Fix it."),
                            recipients=["support@acme.example"], source="t")
    assert reply.outcome is EmailOutcome.THREADED and reply.ticket_id == created.ticket_id


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(world, database, settings):
    from tierdesk.kit.actors import SYSTEM_ACTOR
    from tierdesk.tickets import mutations

    inbound = _setup(database, settings)
    first = mail()
    created = inbound.receive(first, recipients=["support@acme.example"], source="t")
    with database.transaction() as db:
        ticket = db.get_one(Ticket, created.ticket_id)
        mutations.change_status(db, ticket, TicketStatus.SOLVED, SYSTEM_ACTOR, "test")
        mutations.change_status(db, ticket, TicketStatus.CLOSED, SYSTEM_ACTOR, "test")
    result = inbound.receive(mail(in_reply_to=message_id_of(first), body="It is back!"),
                             recipients=["support@acme.example"], source="t")
    assert result.outcome is EmailOutcome.CREATED
    with database.transaction(write=False) as db:
        link = db.scalar(sa.select(TicketLink).where(TicketLink.ticket_id == result.ticket_id))
        assert link.kind is TicketLinkKind.FOLLOW_UP and link.linked_ticket_id == created.ticket_id


def test_a_second_delivery_is_stored_once_but_a_reused_message_id_is_its_own_message(world, database, settings):
    inbound = _setup(database, settings)
    raw = mail(message_id="<same@mailer.example>")
    first = inbound.receive(raw, recipients=["support@acme.example"], source="t")
    again = inbound.receive(raw, recipients=["support@acme.example"], source="t")
    assert again.outcome is EmailOutcome.DUPLICATE and again.ticket_id == first.ticket_id
    other = inbound.receive(mail(message_id="<same@mailer.example>", subject="A different question",
                                 body="Completely different words about my invoice."),
                            recipients=["support@acme.example"], source="t")
    assert other.outcome is not EmailOutcome.DUPLICATE
    with database.transaction(write=False) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Message)) == 2


def test_automatic_replies_never_reopen_nor_open_tickets(world, database, settings):
    from tierdesk.kit.actors import SYSTEM_ACTOR
    from tierdesk.tickets import mutations

    inbound = _setup(database, settings)
    first = mail()
    created = inbound.receive(first, recipients=["support@acme.example"], source="t")
    with database.transaction() as db:
        mutations.change_status(db, db.get_one(Ticket, created.ticket_id), TicketStatus.PENDING, SYSTEM_ACTOR, "t")
    ooo = mail(subject="Automatic reply: My router blinks red", body="I am out of the office until Monday.",
               in_reply_to=message_id_of(first), headers={"Auto-Submitted": "auto-replied"})
    result = inbound.receive(ooo, recipients=["support@acme.example"], source="t")
    assert result.outcome is EmailOutcome.AUTO_REPLY and result.ticket_id == created.ticket_id
    assert _ticket(database, created.ticket_id).status is TicketStatus.PENDING  # not reopened
    note = _messages(database, created.ticket_id)[-1]
    assert note.direction is MessageDirection.NOTE and note.flag
    # Automatic mail that answers no ticket opens none, and is kept.
    bulk = inbound.receive(mail(sender="news@shop.example", subject="Our November deals",
                                headers={"Auto-Submitted": "auto-generated"}),
                           recipients=["support@acme.example"], source="t")
    assert bulk.outcome is EmailOutcome.AUTO_REPLY and bulk.ticket_id is None
    with database.transaction(write=False) as db:
        kept = db.get_one(QuarantinedEmail, bulk.quarantine_id)
        assert kept.released_at is not None and kept.outcome == "auto_reply"


def test_a_sender_flooding_a_brand_is_quarantined_not_ticketed(world, database, settings):
    settings = settings.model_copy(update={"email_sender_limit": 3})
    inbound = _setup(database, settings)
    outcomes = [inbound.receive(mail(subject=f"loop {n}", body=f"message number {n}"),
                                recipients=["support@acme.example"], source="t").outcome for n in range(5)]
    assert outcomes.count(EmailOutcome.QUARANTINED) == 2 and outcomes[:3].count(EmailOutcome.QUARANTINED) == 0


def test_mail_for_no_brand_is_quarantined_and_reprocessed_once_the_address_is_known(world, database, settings):
    inbound = _setup(database, settings, acme="support@acme.example")
    result = inbound.receive(mail(to="sales@acme.example"), recipients=["sales@acme.example"], source="t")
    assert result.outcome is EmailOutcome.QUARANTINED and "sales@acme.example" in result.reason
    add_addresses(database, acme="sales@acme.example")
    again = inbound.reprocess(result.quarantine_id)
    assert again.outcome is EmailOutcome.CREATED
    with database.transaction(write=False) as db:
        row = db.get_one(QuarantinedEmail, result.quarantine_id)
        assert row.released_at is not None and row.ticket_id == again.ticket_id


def test_garbage_is_quarantined_with_its_reason(world, database, settings):
    inbound = _setup(database, settings)
    result = inbound.receive(b"", recipients=["support@acme.example"], source="t")
    assert result.outcome is EmailOutcome.QUARANTINED and result.quarantine_id


def test_attachments_are_stored_by_content_and_over_limit_ones_stay_in_the_original(world, database, settings):
    inbound = _setup(database, settings)
    with database.transaction() as db:
        db.add(EmailSettings(brand_id=world.brands["acme"], max_attachment_bytes=1000))
    pdf = b"%PDF-1.4 small invoice"
    big = b"x" * 5000
    result = inbound.receive(mail(attachments=[("invoice.pdf", "application/pdf", pdf),
                                               ("dump.bin", "application/octet-stream", big)]),
                             recipients=["support@acme.example"], source="t")
    with database.transaction(write=False) as db:
        stored = list(db.scalars(sa.select(Attachment).where(Attachment.message_id == result.message_id)))
        record = db.scalar(sa.select(EmailRecord).where(EmailRecord.message_id == result.message_id))
    assert [(a.filename, a.size) for a in stored] == [("invoice.pdf", len(pdf))]
    assert blob_store(settings.data_dir).read(stored[0].sha256) == pdf
    assert any("dump.bin" in d for d in record.defects)


def test_a_bug_on_the_way_in_quarantines_the_message_instead_of_losing_it(world, database, settings, monkeypatch):
    from tierdesk.channels.email import threading as email_threading

    inbound = _setup(database, settings)

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(email_threading, "find_ticket", broken)
    result = inbound.receive(mail(), recipients=["support@acme.example"], source="t")
    assert result.outcome is EmailOutcome.QUARANTINED and "KeyError" in result.reason
    with database.transaction(write=False) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 0  # nothing half-written
    monkeypatch.undo()
    assert inbound.reprocess(result.quarantine_id).outcome is EmailOutcome.CREATED  # after the fix
