"""Which ticket a received email continues, and whether its sender may write into it.

In this order: the Message-IDs it answers (In-Reply-To, then References from the newest) against every email tierdesk
stored or sent in the brand; then the ticket token of the brand in the subject or the body; then the sender's own
open ticket with the same subject (reply and forward prefixes and tokens stripped) that was active lately.

Headers and tokens can be forged or forwarded, so a match is only where the mail points. Who may write into that
ticket is the sender: its customer and its participants. Anyone else's reply never lands silently in it: by the
brand's choice it opens a ticket of its own linked to the one it answers (the default), or is added with a visible
flag. A reply to a closed ticket opens a follow-up linked to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tierdesk.channels.email import repository
from tierdesk.channels.email.message import ParsedEmail
from tierdesk.channels.email.subjects import normalise_subject
from tierdesk.channels.email.tokens import find_ticket_token, strip_tokens
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import StrangerReplyPolicy, TicketLinkKind, TicketStatus
from tierdesk.tickets.models import Ticket

STRANGER_FLAG = "from {sender}, who is neither the customer of this ticket nor one of its participants"
# How far into the body a token is looked for: it sits in the quoted reply, near the top for most clients.
TOKEN_SEARCH_CHARS = 20_000


@dataclass(frozen=True)
class ThreadMatch:
    ticket: Ticket
    by: str  # "headers", "token" or "subject"


@dataclass(frozen=True)
class ThreadDecision:
    continues_ticket_id: int | None = None  # add the message to this ticket
    link_to: Ticket | None = None  # else a new ticket, linked to this one
    link_kind: TicketLinkKind | None = None
    flag: str | None = None
    matched_by: str | None = None


def find_ticket(db: Session, brand_id: int, secret_key: str, mail: ParsedEmail, sender_customer_id: int | None,
                subject_window_days: int) -> ThreadMatch | None:
    answered = [*mail.in_reply_to, *reversed(mail.references)]
    if answered:
        found = repository.ticket_of_rfc_ids(db, brand_id, list(dict.fromkeys(answered)))
        if found is not None:
            return ThreadMatch(found[0], "headers")
    token_ticket = find_ticket_token(secret_key, brand_id, mail.subject, mail.text[:TOKEN_SEARCH_CHARS])
    if token_ticket is not None:
        ticket = repository.ticket_in_brand(db, brand_id, token_ticket)
        if ticket is not None:
            return ThreadMatch(ticket, "token")
    if sender_customer_id is not None and subject_window_days > 0:
        subject = comparable_subject(mail.subject)
        if subject:
            since = utcnow() - dt.timedelta(days=subject_window_days)
            for ticket in repository.open_tickets_of_customer_since(db, brand_id, sender_customer_id, since):
                if comparable_subject(ticket.subject) == subject:
                    return ThreadMatch(ticket, "subject")
    return None


def comparable_subject(subject: str) -> str:
    return normalise_subject(strip_tokens(subject or ""))


def decide(db: Session, match: ThreadMatch | None, sender_customer_id: int | None, sender: str,
           policy: StrangerReplyPolicy) -> ThreadDecision:
    if match is None:
        return ThreadDecision()
    ticket = match.ticket
    allowed = sender_customer_id is not None and (
        sender_customer_id == ticket.customer_id or repository.is_participant(db, ticket.id, sender_customer_id))
    if not allowed:
        if policy is StrangerReplyPolicy.ADD_FLAGGED and ticket.status is not TicketStatus.CLOSED:
            return ThreadDecision(continues_ticket_id=ticket.id, flag=STRANGER_FLAG.format(sender=sender),
                                  matched_by=match.by)
        return ThreadDecision(link_to=ticket, link_kind=TicketLinkKind.STRANGER_REPLY, matched_by=match.by)
    if ticket.status is TicketStatus.CLOSED:
        return ThreadDecision(link_to=ticket, link_kind=TicketLinkKind.FOLLOW_UP, matched_by=match.by)
    return ThreadDecision(continues_ticket_id=ticket.id, matched_by=match.by)
