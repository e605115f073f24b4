"""The observers of ticket events (tickets.observers), the live channels' reply deliveries
(tickets.service.deliver_replies) and the composers of notices (kit.notices), registered once per process on import.

Every process that records ticket events imports this module: the app and the worker through wiring.py, the
commands through migrate.database_for_command. It stays light (a command's start-up pays for it).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from tierdesk.agents.sessions import password_reset_notice
from tierdesk.channels.web.portal_sessions import csat_request_notice, sign_in_notice
from tierdesk.kit import notices
from tierdesk.kit.vocabulary import Channel, NoticeKind
from tierdesk.surveys.service import ask_after_solve
from tierdesk.tickets import observers
from tierdesk.tickets.models import Message, Ticket
from tierdesk.tickets.service import deliver_replies
from tierdesk.webhooks import capture

# The webhooks capture: each ticket event of a subscribed type becomes a delivery, in the event's transaction.
observers.observe(capture.capture)
# A ticket just solved asks its customer for a CSAT rating (a mail with the signed link).
observers.observe(ask_after_solve)


def _chat_reply(db: Session, ticket: Ticket, message: Message) -> bool:
    # Imported on the first chat reply, not at start-up: the chat service brings intake and triage with it.
    from tierdesk.channels.chat import service as chat

    return chat.deliver_reply(db, ticket, message)


# An agent's reply to a chat ticket lands in the chat, from the API, the worker or a command alike.
deliver_replies(Channel.CHAT, _chat_reply)


# The mails that are not ticket messages, composed when the outbox sends them.
notices.composes(NoticeKind.PASSWORD_RESET, password_reset_notice)
notices.composes(NoticeKind.PORTAL_SIGN_IN, sign_in_notice)
notices.composes(NoticeKind.CSAT_REQUEST, csat_request_notice)
