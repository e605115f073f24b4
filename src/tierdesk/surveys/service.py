"""Satisfaction surveys: recording a customer's answer (checked here, whichever page or link it came from), and
asking for it when a ticket is solved.

CSAT is one answer per ticket, 1 to 5 with an optional comment. A customer may rate a solved ticket, and change
the rating while it stays solved; once the ticket is closed the rating is final (a ticket closed before anyone
rated it may still be rated once, from the link in the solve mail). Every answer is a survey_answered event on
the ticket (webhooks hear of it); the row keeps the latest.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from tierdesk.jobs import outbox
from tierdesk.kit.actors import CUSTOMER_ACTOR
from tierdesk.kit.errors import Conflict, InvalidInput
from tierdesk.kit.input import NUL_MESSAGE
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import ActorKind, Channel, EventKind, NoticeKind, OutboxTopic, SurveyKind, TicketStatus
from tierdesk.surveys import repository
from tierdesk.surveys.models import SurveyResponse
from tierdesk.tickets import mutations
from tierdesk.tickets.models import Ticket
from tierdesk.tickets.observers import RecordedEvent

SCALES = {SurveyKind.CSAT: (1, 5), SurveyKind.NPS: (0, 10)}
COMMENT_MAX = 2000
SURVEYED_CHANNELS = frozenset({Channel.EMAIL, Channel.WEB})  # where a solve asks for a rating by mail
CSAT_WORDS = {1: "Very unsatisfied", 2: "Unsatisfied", 3: "Neutral", 4: "Satisfied", 5: "Very satisfied"}


def check_score(kind: SurveyKind, raw: object) -> int:
    """The score as a whole number on the survey's scale (InvalidInput naming `score` otherwise)."""
    low, high = SCALES[kind]
    try:
        score = int(str(raw).strip()) if raw is not None and not isinstance(raw, bool) else None
    except ValueError:
        score = None
    if score is None or not low <= score <= high:
        raise InvalidInput(f"choose a score from {low} to {high}", field="score")
    return score


def check_comment(raw: str | None) -> str | None:
    comment = (raw or "").replace("\r\n", "\n").strip()
    if "\x00" in comment:
        raise InvalidInput(NUL_MESSAGE, field="comment")
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(f"the comment is {len(comment):,} characters long; at most {COMMENT_MAX:,} are taken",
                           field="comment")
    return comment or None


def may_rate(ticket: Ticket, existing: SurveyResponse | None) -> bool:
    if ticket.status is TicketStatus.SOLVED:
        return True
    return ticket.status is TicketStatus.CLOSED and existing is None


def record_answer(db: Session, ticket: Ticket, customer_id: int, kind: SurveyKind, score: object,
                  comment: str | None) -> SurveyResponse:
    """The customer's answer about their ticket. The caller holds the ticket's lock and has checked the customer
    is the ticket's. Raises InvalidInput (score or comment, by field) or Conflict (not ratable now), writing
    nothing."""
    value, text = check_score(kind, score), check_comment(comment)
    existing = repository.answer_of(db, ticket.id, kind, for_update=True)
    if not may_rate(ticket, existing):
        if ticket.status is TicketStatus.CLOSED:
            raise Conflict("this request is closed: its rating can no longer change")
        raise Conflict("only a solved request can be rated")
    now = utcnow()
    before = {"kind": kind, "score": existing.score, "comment": existing.comment} if existing else None
    row = existing or SurveyResponse(ticket_id=ticket.id, brand_id=ticket.brand_id, kind=kind, created_at=now)
    row.customer_id = customer_id
    row.score, row.comment, row.updated_at = value, text, now
    row.agent_id, row.department = ticket.assignee_id, ticket.department
    if existing is None:
        db.add(row)
    mutations.record_event(db, ticket, EventKind.SURVEY_ANSWERED, CUSTOMER_ACTOR, before=before,
                           after={"kind": kind, "score": value, "comment": text}, at=now)
    db.flush()
    return row


def ask_after_solve(db: Session, events: Sequence[RecordedEvent]) -> None:
    """A ticket observer (hooks.py): a ticket an agent just solved gets the CSAT mail (kit.notices, composed when
    sent, so the outbox row holds no link). Only tickets worked by mail or on the web: a chat or a call ends in its
    own channel, and a solve by the system (a command, a bulk clean-up) asks nobody. Cheap when nothing is solved:
    no statement."""
    for event in events:
        if (event.kind is EventKind.STATUS_CHANGED and (event.after or {}).get("status") == TicketStatus.SOLVED
                and event.actor_kind is ActorKind.AGENT and event.ticket is not None
                and event.ticket.id is not None and event.ticket.channel in SURVEYED_CHANNELS):
            # No base_url: the sender fills in TIERDESK_PUBLIC_URL (a solve has no request to take it from).
            outbox.enqueue(db, OutboxTopic.EMAIL_NOTICE, {"kind": NoticeKind.CSAT_REQUEST, "id": event.ticket.id,
                                                          "base_url": None})
