"""A chat that continues by email: the transcript, then the agents' later replies, leave through the outbox and the
email channel's one sender to a real SMTP sink (aiosmtpd)."""

from __future__ import annotations

import sqlalchemy as sa

from tests.channels.chat.helpers import free_port
from tests.channels.email.test_outbound import Sink
from tierdesk.brands.repository import by_slug
from tierdesk.channels.chat import service
from tierdesk.channels.email.models import EmailAddress
from tierdesk.config import Settings
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.jobs import outbox
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit.actors import CUSTOMER_ACTOR, Principal
from tierdesk.kit.vocabulary import AgentRole, Channel, EventKind, MailSecurity, OutboxTopic
from tierdesk.tickets import service as tickets
from tierdesk.tickets.models import Ticket, TicketEvent
from tierdesk.tickets.schemas import MessageCreate
from tierdesk.wiring import outbox_sender

SECRET = "test-secret-key"


def test_the_transcript_and_later_replies_go_by_email(database, database_url, world, tmp_path):
    # No registration here: importing tierdesk.wiring (above) registers the chat's reply delivery (tierdesk.hooks)
    intake = default_pipeline()
    with database.transaction() as db:
        db.add(EmailAddress(brand_id=world.brands["acme"], address="support@acme.test", is_default=True))
        started = service.start(db, SECRET, by_slug(db, "acme"), visitor="visitor-by-email", name="Ola",
                                email=None)
    with database.transaction() as db:
        first = service.customer_message(db, intake, started.conversation_id, "<i>My refund</i> never came",
                                         "m1")
    agent = Principal(agent_id=world.agents["agent"], role=AgentRole.AGENT,
                      brand_ids=frozenset({world.brands["acme"]}))
    with database.transaction() as db:
        tickets.reply(db, agent, first.ticket_id, MessageCreate(body="Let me check."))
    with database.transaction() as db:
        assert list(db.scalars(sa.select(OutboxMessage))) == []  # a live chat's reply is no email
        service.continue_by_email(db, started.conversation_id, "ola@example.com", None, CUSTOMER_ACTOR)
    with database.transaction() as db:
        tickets.reply(db, agent, first.ticket_id, MessageCreate(body="Your refund left today."))
    with database.transaction(write=False) as db:
        topics = [r.topic for r in db.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))]
    assert topics == [OutboxTopic.EMAIL_ACKNOWLEDGE, OutboxTopic.EMAIL_SEND]
    with database.transaction(write=False) as db:
        # Worked as email from now on (the agent's email capacity, not a chat's), the change in its trail.
        ticket = db.get_one(Ticket, first.ticket_id)
        assert ticket.channel is Channel.EMAIL
        changed = db.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                          TicketEvent.kind == EventKind.CHANNEL_CHANGED)).one()
        assert (changed.before, changed.after) == ({"channel": "chat"}, {"channel": "email"})

    with Sink(free_port()) as sink:
        settings = Settings(data_dir=tmp_path / "data", database_url=database_url, secret_key=SECRET,
                            email_relay_host="127.0.0.1", email_relay_port=sink.port,
                            email_relay_security=MailSecurity.PLAIN)
        assert outbox.deliver_due(database, outbox_sender(database, settings)) == 2
        transcript, reply = sink.handler.mails()
    assert transcript["To"] == "ola@example.com" and reply["To"] == "ola@example.com"
    text = transcript.get_body(("plain",)).get_content()
    assert "Ola: <i>My refund</i> never came" in text and "agent: Let me check." in text
    assert transcript["Auto-Submitted"] == "auto-replied"
    assert "Your refund left today." in reply.get_body(("plain",)).get_content()
    assert transcript["Subject"].startswith("Re: ") and "#" in transcript["Subject"]  # the ticket token: replies thread
