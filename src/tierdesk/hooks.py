"""The observers of ticket events (tickets.observers), the live channels' reply deliveries
(tickets.service.deliver_replies), the composers of notices (kit.notices) and the reader of the customer's name for
the placeholders of canned responses and macros (tickets.macros), registered once per process on import.

Every process that records ticket events imports this module: the app and the worker through wiring.py, the
commands through migrate.database_for_command. It stays light (a command's start-up pays for it).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from tierdesk.agents.sessions import password_reset_notice
from tierdesk.kit import notices
from tierdesk.kit.vocabulary import Channel, NoticeKind
from tierdesk.tickets import macros, observers
from tierdesk.tickets.models import Message, Ticket
from tierdesk.tickets.service import deliver_replies
from tierdesk.webhooks import capture
from tierdesk.workspace.notify import publish_ticket_events

# The webhooks capture: each ticket event of a subscribed type becomes a delivery, in the event's transaction.
observers.observe(capture.capture)
# The agents' live pages (workspace.live): offers, customer messages and SLA alarms, published on the live bus.
observers.observe(publish_ticket_events)


def _chat_reply(db: Session, ticket: Ticket, message: Message) -> bool:
    # Imported on the first chat reply, not at start-up: the chat service brings intake and triage with it.
    from tierdesk.channels.chat import service as chat

    return chat.deliver_reply(db, ticket, message)


# An agent's reply to a chat ticket lands in the chat, from the API, the worker or a command alike.
deliver_replies(Channel.CHAT, _chat_reply)


# The mails that are not ticket messages, composed when the outbox sends them.
notices.composes(NoticeKind.PASSWORD_RESET, password_reset_notice)


def _customer_name(db: Session, customer_id: int) -> str | None:
    from tierdesk.customers.models import Customer

    customer = db.get(Customer, customer_id)
    return customer.display_name if customer else None


# The {customer_name} of canned responses and macros (customers sit above tickets in the layering).
macros.names_customers(_customer_name)

