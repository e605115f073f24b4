"""The composition root: the worker's jobs, built from the domains (which know nothing of each other's jobs).
`tierdesk serve` and `tierdesk worker` start a jobs.worker.Worker with these. Importing it registers the observers
of ticket events (tierdesk.hooks)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

import tierdesk.hooks  # noqa: F401  (the observers of ticket events: the webhooks capture)
from tierdesk.channels.chat import service as chat
from tierdesk.channels.email import imap
from tierdesk.channels.email.inbound import EmailInbound, make_sink
from tierdesk.channels.email.notices import notice_sender
from tierdesk.channels.email.outbound import email_sender
from tierdesk.channels.voice import tasks as voice
from tierdesk.config import Settings
from tierdesk.db import Database
from tierdesk.jobs import outbox
from tierdesk.jobs.models import OutboxMessage
from tierdesk.jobs.worker import Job
from tierdesk.kit.vocabulary import OutboxTopic
from tierdesk.routing import router
from tierdesk.routing import tasks as routing
from tierdesk.tickets.tasks import close_solved_tickets, detect_sla_events, sla_due, solved_tickets_due
from tierdesk.webhooks import repository as webhook_repository
from tierdesk.webhooks import service as webhooks
from tierdesk.webhooks.delivery import webhook_sender

log = logging.getLogger("tierdesk")


def default_jobs(settings: Settings) -> list[Job]:
    after = dt.timedelta(hours=settings.auto_close_after_hours)
    capacity = router.default_capacity(settings)
    urgent_wait = (dt.timedelta(minutes=settings.escalate_urgent_waiting_minutes)
                   if settings.escalate_urgent_waiting_minutes else None)
    reopened = settings.escalate_reopened_ts_after
    sqlite = settings.effective_database_url.startswith("sqlite")
    jobs = [
        # On SQLite the look is a full dry run, so waiting tickets whose agents are all busy never take the one
        # write lock; on PostgreSQL a cheap look, as a pass that finds nothing costs little more than a dry run.
        Job("route", run=lambda db: routing.route(db, capacity),
            due=(lambda db: routing.routing_due(db, capacity)) if sqlite else routing.routing_may_be_due),
        Job("sla", run=lambda db: detect_sla_events(db, on_breach=routing.escalate_after_breach),
            due=sla_due),
        Job("overflow", run=routing.overflow, due=routing.overflow_due),
        Job("escalation_rules", run=lambda db: routing.apply_escalation_rules(db, reopened, urgent_wait),
            due=lambda db: routing.escalation_rules_due(db, reopened, urgent_wait)),
        Job("close_solved_tickets", run=lambda db: close_solved_tickets(db, after),
            due=lambda db: solved_tickets_due(db, after)),
    ]
    jobs.append(Job("voice_wrap_up", run=voice.end_due_wrap_ups, due=voice.wrap_ups_due))
    # Chats: assignments turned into "agent joined/left" (and the agent's socket told), email offered after the
    # configured wait, chats whose customer left ended and continued by email.
    max_wait = dt.timedelta(seconds=settings.chat_max_wait_seconds)
    grace = dt.timedelta(seconds=settings.chat_customer_grace_seconds)
    jobs += [
        Job("chat_assignments", run=chat.follow_assignments, due=chat.follow_assignments_due),
        Job("chat_email_offers", run=lambda db: chat.offer_email_after_wait(db, max_wait),
            due=lambda db: chat.offer_email_due(db, max_wait)),
        Job("chat_customers_gone", run=lambda db: chat.end_left(db, grace),
            due=lambda db: chat.end_left_due(db, grace)),
    ]
    jobs.append(Job("outbox", work=lambda database: outbox.deliver_due(database, outbox_sender(database, settings)),
                    due=outbox.due))
    # IMAP mailboxes: the look is cheap (no active mailbox due: nothing), so the job is always there; the polls run
    # in a thread of their own (imap.BackgroundPolls).
    every = dt.timedelta(seconds=settings.imap_poll_seconds)
    sinks: dict[int, EmailInbound] = {}  # one way in per database, built on first use (it loads the triage model)

    def sink(database: Database) -> EmailInbound:
        if id(database) not in sinks:
            sinks[id(database)] = make_sink(database, settings)
        return sinks[id(database)]

    jobs.append(Job("imap", work=imap.BackgroundPolls(lambda database: imap.inbound_deliver(sink(database)),
                                                      lambda database: imap.inbound_quarantine(sink(database)),
                                                      lambda: imap.PollOptions.from_settings(settings)),
                    due=lambda db: imap.poll_due(db, every)))
    return jobs


def outbox_sender(database: Database, settings: Settings) -> Callable[[OutboxMessage], None]:
    """The outbox's one sender, by topic: email to the relay, webhook deliveries to their subscribers (SLA warnings
    and breaches among them: TIERDESK_NOTIFICATION_WEBHOOK_URL is a subscription, see keep_settings_webhook). An
    SLA row of the topics written before webhooks had subscriptions is dropped as delivered (its event is in the
    ticket's trail)."""
    email = email_sender(database, settings)
    webhook = webhook_sender(database, settings.effective_secret_key(), timeout=settings.webhook_timeout_seconds,
                             disable_after=settings.webhook_disable_after_failures)
    by_topic: dict[str, Callable[[OutboxMessage], None] | None] = {
        OutboxTopic.EMAIL_SEND: email,
        OutboxTopic.EMAIL_ACKNOWLEDGE: email,
        OutboxTopic.WEBHOOK_DELIVER: webhook,
        OutboxTopic.EMAIL_NOTICE: notice_sender(database, settings),
        OutboxTopic.SLA_WARNING: None,
        OutboxTopic.SLA_BREACH: None,
    }

    def send(message: OutboxMessage) -> None:
        if message.topic not in by_topic:
            raise outbox.PermanentFailure(f"no sender for outbox topic {message.topic!r}")
        sender = by_topic[message.topic]
        if sender is not None:
            sender(message)

    return send


def keep_settings_webhook(database: Database, settings: Settings) -> None:
    """TIERDESK_NOTIFICATION_WEBHOOK_URL as the webhook subscription of every brand to SLA warnings and breaches,
    kept in step when a process starts (several starting at once: the first one writes it)."""
    if settings.notification_webhook_url is None:
        with database.transaction(write=False) as db:  # the usual case: nothing to write, no write lock taken
            row = webhook_repository.from_settings(db)
            if row is None or not row.is_active:
                return
    try:
        with database.transaction() as db:
            webhooks.keep_settings_subscription(db, settings.notification_webhook_url,
                                                settings.notification_webhook_secret, settings.effective_secret_key())
    except IntegrityError:
        log.info("the settings' webhook subscription was written by another process starting at the same time")
