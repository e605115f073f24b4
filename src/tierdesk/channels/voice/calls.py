"""A call's way through tierdesk, one provider webhook at a time.

incoming -> the brand's menu (gather: keys or speech; hours branches) -> a destination: the call becomes a contact
through intake (a phone ticket, the caller identified by their number) and waits in its queue like any ticket ->
each wait poll: still unassigned, hold audio (and the callback offer) and ask again; assigned by the router to an
agent with a device, <Dial> it -> the agent's leg reports ringing and answered; the dial ends -> the call's status
callback ends the call record (answered, abandoned, callback, ended in the menu), records CALL_ENDED on the ticket
and puts the agent in after-call work (wrap-up) until they end it or its time is over (tasks.py).

Every function runs in the webhook's transaction and returns the TwiML to answer with (or nothing for callbacks).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tierdesk.agents import presence
from tierdesk.agents import repository as agents
from tierdesk.brands.models import Brand
from tierdesk.channels.voice import menu as ivr_menu
from tierdesk.channels.voice import repository
from tierdesk.channels.voice.menu import IvrDefinition, Step
from tierdesk.channels.voice.models import Call
from tierdesk.channels.voice.service import VoiceConfig, menu_definition
from tierdesk.channels.voice.twiml import VoiceAnswer
from tierdesk.customers.identity import normalise_phone
from tierdesk.customers.schemas import Sender
from tierdesk.intake.pipeline import IntakePipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.kit import business_hours
from tierdesk.kit.actors import SYSTEM, SYSTEM_ACTOR, Principal
from tierdesk.kit.errors import InvalidInput, NotFound
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import (
    AgentRole,
    CallOutcome,
    CallStatus,
    Channel,
    EventKind,
    MessageDirection,
    PresenceStatus,
    TicketStatus,
)
from tierdesk.queues import repository as queues
from tierdesk.sla import clocks
from tierdesk.sla import repository as sla
from tierdesk.tickets import mutations
from tierdesk.tickets import service as ticket_work
from tierdesk.tickets.lifecycle import WORKABLE
from tierdesk.tickets.models import Ticket

log = logging.getLogger("tierdesk.voice")

CALL_ENDING = {"completed", "busy", "failed", "no-answer", "canceled"}
NOT_REACHED = {"no-answer", "busy", "failed"}  # the agent's phone did not take the call
# What Twilio puts in From when the caller's number is withheld (anonymous, unknown, restricted, blocked,
# unavailable): numbers that look real but are nobody's, so they must not become one shared customer.
WITHHELD = frozenset({"+266696687", "+86282452253", "+7378742833", "+2562533", "+8656696"})
MAX_SPEECH = 10_000  # characters of a spoken answer kept (a minute of speech is about a thousand)
SORRY = "Sorry, I did not get that."
PLEASE_HOLD = "Thank you. Please hold: the next available agent will take your call."


@dataclass
class CallRequest:
    """One webhook request: its brand and settings, the provider's parameters, and where tierdesk's webhooks are
    (absolute URLs under the public base the provider called)."""

    brand: Brand
    config: VoiceConfig
    params: dict[str, str]
    base_url: str  # https://support.example.com/channels/voice/<brand>
    phone_region: str | None
    intake: IntakePipeline

    def url(self, action: str) -> str:
        return f"{self.base_url}/{action}"

    def get(self, name: str) -> str | None:
        value = self.params.get(name)
        return value.strip() if value and value.strip() else None

    def call_sid(self) -> str:
        sid = self.get("CallSid")
        if sid is None or len(sid) > 64:
            raise InvalidInput("CallSid is missing or longer than 64 characters", field="CallSid")
        return sid


def _seconds(start: dt.datetime | None, end: dt.datetime) -> int | None:
    return None if start is None else max(0, round((end - start).total_seconds()))


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isascii() and value.isdigit() and len(value) < 10 else None


def _e164(raw: str | None, region: str | None) -> str | None:
    if not raw or raw in WITHHELD:
        return None
    try:
        return normalise_phone(raw, region)
    except InvalidInput:
        return None  # anonymous, restricted, a SIP caller: not a number a customer can be known by


def _answer(req: CallRequest, definition: IvrDefinition | None = None) -> VoiceAnswer:
    return VoiceAnswer(voice=definition.voice if definition else None, language=req.config.language)


# -- arrival and the menu ------------------------------------------------------------------------------------------
def incoming(db: Session, req: CallRequest) -> VoiceAnswer:
    sid = req.call_sid()
    call = repository.call_by_sid(db, req.brand.id, sid)
    if call is not None and call.status is not CallStatus.IN_IVR:
        return wait(db, req)  # the provider asked again for a call already past the menu
    definition = menu_definition(db, req.brand.id)
    answer = _answer(req, definition)
    if call is None:
        if repository.call_exists(db, sid):
            raise NotFound(f"call {sid} belongs to another brand")
        raw_from = req.get("From") or "unknown"
        call = Call(brand_id=req.brand.id, call_sid=sid, from_number=(_e164(raw_from, req.phone_region)
                                                                      or raw_from)[:40],
                    to_number=(req.get("To") or "")[:40], status=CallStatus.IN_IVR, started_at=utcnow(),
                    ivr_position=ivr_menu.ROOT, ivr_attempts=0, ivr_trail=[], hold_seconds=0)
        db.add(call)
        db.flush()
    if definition is None:  # no menu: straight to the queue, where a person triages the call
        _enqueue(db, req, call, None, None, answer)
        return answer
    if definition.greeting:
        answer.say(definition.greeting)
    _run(db, req, call, definition, ivr_menu.ROOT, definition.start, answer)
    return answer


def _ask(req: CallRequest, call: Call, path: str, menu: ivr_menu.Menu, answer: VoiceAnswer) -> None:
    call.ivr_position = path
    gather = answer.gather(req.url("gather"), speech=menu.speech, timeout=menu.timeout_seconds)
    answer.say(menu.prompt, gather)
    answer.redirect(req.url("gather"))  # no answer: the gather webhook counts the attempt and asks again


def _run(db: Session, req: CallRequest, call: Call, definition: IvrDefinition, path: str, step: Step,
         answer: VoiceAnswer, speech: str | None = None) -> None:
    """Play a step: what it says, then its one action."""
    if step.say:
        answer.say(step.say)
    if step.menu is not None:
        call.ivr_attempts = 0
        _ask(req, call, path, step.menu, answer)
    elif step.hours is not None:
        calendar_id = sla.calendar_in_brand(db, req.brand.id, step.hours.calendar, None)
        is_open = business_hours.is_open(clocks.calendar_of(db, calendar_id), utcnow())
        branch = "open" if is_open else "closed"
        _trail(call, {"at": path, "hours": branch})
        _run(db, req, call, definition, f"{path}.hours.{branch}", getattr(step.hours, branch), answer, speech)
    elif step.hangup:
        call.status, call.outcome = CallStatus.ENDED, CallOutcome.ENDED_IN_IVR
        answer.hangup()
    else:
        _enqueue(db, req, call, step, speech, answer)


def _trail(call: Call, entry: dict[str, Any]) -> None:
    call.ivr_trail = [*call.ivr_trail, entry]  # a new list: the JSON column sees the change


def gather(db: Session, req: CallRequest) -> VoiceAnswer:
    call = repository.call_by_sid(db, req.brand.id, req.call_sid())
    if call is None:
        return incoming(db, req)
    if call.status is not CallStatus.IN_IVR:
        return wait(db, req)
    definition = menu_definition(db, req.brand.id)
    answer = _answer(req, definition)
    step = ivr_menu.step_at(definition, call.ivr_position) if definition else None
    if definition is None or step is None or step.menu is None:
        # The menu was changed (or removed) while the caller was in it: start again from the top.
        if definition is None:
            _enqueue(db, req, call, None, None, answer)
        else:
            _run(db, req, call, definition, ivr_menu.ROOT, definition.start, answer)
        return answer
    menu, path = step.menu, call.ivr_position
    digits, speech = (req.get("Digits") or "")[:20] or None, (req.get("SpeechResult") or "")[:MAX_SPEECH] or None
    picked = ivr_menu.choose(menu, digits, speech)
    if picked is not None:
        index, option = picked
        label = option.label or (option.keywords[0] if option.keywords else None) or option.digit
        entry: dict[str, Any] = {"at": path, "option": index, "label": label}
        entry.update({"digit": digits} if digits else {"said": (speech or "")[:500]})
        _trail(call, entry)
        _run(db, req, call, definition, f"{path}.menu.options[{index}]", option, answer, speech)
        return answer
    if speech and menu.triage_speech:
        # Nothing the menu knows: triage reads what the caller said and the call goes where it decides.
        _trail(call, {"at": path, "said": speech[:500], "triage": True})
        _enqueue(db, req, call, None, speech, answer)
        return answer
    call.ivr_attempts += 1
    if call.ivr_attempts >= menu.attempts:
        _trail(call, {"at": path, "no_match": True})
        if menu.no_match is not None:
            _run(db, req, call, definition, f"{path}.menu.no_match", menu.no_match, answer)
        else:
            _enqueue(db, req, call, None, None, answer)
        return answer
    if digits or speech:
        answer.say(SORRY)
    _ask(req, call, path, menu, answer)
    return answer


# -- into the queue ------------------------------------------------------------------------------------------------
def _describe(call: Call, speech: str | None) -> tuple[str, str]:
    """The subject and body of the call's contact: what the caller said, else what they chose in the menu."""
    choices = [str(e["label"]) for e in call.ivr_trail if "label" in e]
    subject = f"Phone call from {call.from_number}" + (f": {' > '.join(choices)}" if choices else "")
    if speech:
        return subject[:500], speech
    return subject[:500], f"Phone call from {call.from_number}." + (
        f" Chose in the menu: {' > '.join(choices)}." if choices else "")


def _enqueue(db: Session, req: CallRequest, call: Call, step: Step | None, speech: str | None,
             answer: VoiceAnswer) -> None:
    """The call becomes a contact: intake identifies the caller by their number, opens the phone ticket in the
    queue the menu chose (or where triage or a person decides), and the caller starts waiting."""
    subject, body = _describe(call, speech)
    number = _e164(call.from_number, req.phone_region)
    sender = Sender(phone=number) if number else Sender(external_id=f"caller:{call.call_sid}")
    destination: dict[str, Any] = {}
    if step is not None:
        destination = {"queue": step.queue, "department": step.department, "intent": step.intent,
                       "priority": step.priority}
    elif not speech:
        destination = {"queue": str(queues.triage_queue(db, req.brand.id).id)}  # nothing to triage: a person
    contact = ContactIn(brand=req.brand.slug, channel=Channel.PHONE, sender=sender, subject=subject, body=body,
                        external_id=f"call:{call.call_sid}", received_at=call.started_at, **destination)
    try:
        result = req.intake.receive(db, SYSTEM, contact)
    except InvalidInput as exc:
        if not destination:
            raise
        # The menu names a queue deactivated since it was saved (or the like): the caller is not dropped for it,
        # a person triages the call instead.
        log.warning("call %s: the menu's destination was refused (%s); sent to human triage", call.id, exc.message)
        triage = str(queues.triage_queue(db, req.brand.id).id)
        result = req.intake.receive(db, SYSTEM, contact.model_copy(update={
            "queue": triage, "department": None, "intent": None, "priority": None}))
    ticket = db.get_one(Ticket, result.ticket.id)
    now = utcnow()
    call.ticket_id, call.customer_id = ticket.id, result.customer_id
    call.status, call.queued_at = CallStatus.WAITING, now
    if not result.duplicate:
        mutations.record_event(db, ticket, EventKind.CALL_STARTED, SYSTEM_ACTOR, at=call.started_at,
                               after={"call_id": call.id, "from": call.from_number, "to": call.to_number,
                                      "menu": call.ivr_trail})
    answer.say(PLEASE_HOLD)
    _hold(req, answer)


def _hold(req: CallRequest, answer: VoiceAnswer) -> None:
    """One turn of hold: the music (or silence) for about the poll interval, with the callback offer, then ask
    tierdesk again."""
    config = req.config
    parent = None
    if config.offer_callback:
        parent = answer.gather(req.url("callback"), speech=False, timeout=1)
        answer.say(f"To be called back instead of waiting, press {config.callback_digit}.", parent)
    if config.hold_music_url:
        answer.play(config.hold_music_url, parent)
    else:
        answer.pause(config.wait_poll_seconds, parent)
    answer.redirect(req.url("wait"))


def wait(db: Session, req: CallRequest) -> VoiceAnswer:
    """The provider's poll while the caller waits: connect them if the router gave their ticket to an agent with a
    device, else another turn of hold."""
    answer = _answer(req, menu_definition(db, req.brand.id))  # the menu's voice on hold too
    call = repository.call_by_sid(db, req.brand.id, req.call_sid())
    if call is None or call.status is CallStatus.ENDED or call.ticket_id is None:
        answer.hangup()
        return answer
    if call.status is CallStatus.IN_IVR:
        return gather(db, req)
    ticket = repository.ticket_locked(db, call.ticket_id)
    # CONNECTING too: a poll during a dial means the dial ended unreported; the caller is connected again.
    if call.status in (CallStatus.WAITING, CallStatus.CONNECTING) and ticket is not None \
            and ticket.assignee_id is not None:
        agent = repository.agent_locked(db, ticket.assignee_id)
        if agent is not None and agent.voice_device:
            call.status, call.agent_id = CallStatus.CONNECTING, agent.id
            answer.dial(agent.voice_device, action=req.url("dial-ended"), timeout=req.config.ring_seconds,
                        status_callback=req.url("agent-status"), record=req.config.record_calls,
                        recording_callback=req.url("recording"))
            return answer
        log.warning("call %s: agent %s has no voice device; the caller keeps waiting", call.id, ticket.assignee_id)
    _hold(req, answer)
    return answer


def callback(db: Session, req: CallRequest) -> VoiceAnswer:
    """The caller pressed a key during hold: the callback digit ends the call and leaves the ticket in its queue
    as work to call them back; any other key goes back to waiting."""
    answer = _answer(req, menu_definition(db, req.brand.id))  # the menu's voice on hold too
    call = repository.call_by_sid(db, req.brand.id, req.call_sid())
    if call is None or call.ticket_id is None or call.status is not CallStatus.WAITING:
        return wait(db, req)
    if req.get("Digits") != req.config.callback_digit:
        answer.redirect(req.url("wait"))
        return answer
    now = utcnow()
    call.outcome, call.callback_number = CallOutcome.CALLBACK, call.from_number
    call.wait_seconds = _seconds(call.queued_at, now)
    ticket = repository.ticket_locked(db, call.ticket_id)
    if ticket is not None:
        _note(db, ticket, f"Callback requested: call {call.from_number} back. The caller chose a callback after "
                          f"waiting {call.wait_seconds} s.")
    spoken = " ".join(call.from_number.lstrip("+"))
    answer.say(f"Thank you. We will call you back at {spoken} as soon as an agent is free. Goodbye.")
    answer.hangup()
    return answer


def _note(db: Session, ticket: Ticket, text: str) -> None:
    body_text, body_html = ticket_work.message_bodies(text, None)
    mutations.add_message(db, ticket, direction=MessageDirection.NOTE, channel=Channel.PHONE, body_text=body_text,
                          body_html=body_html, actor=SYSTEM_ACTOR)


# -- connected to the agent ----------------------------------------------------------------------------------------
def dial_ended(db: Session, req: CallRequest) -> VoiceAnswer:
    """The <Dial> to the agent is over: talked (the caller is done), or the agent's phone did not take it (the
    ticket goes back to the queue, the agent is set away, the caller waits again)."""
    answer = _answer(req, menu_definition(db, req.brand.id))  # the menu's voice on hold too
    call = repository.call_by_sid(db, req.brand.id, req.call_sid())
    status = req.get("DialCallStatus") or ""
    if call is None or call.status is CallStatus.ENDED:
        answer.hangup()
        return answer
    now = utcnow()
    talked = _int(req.get("DialCallDuration"))
    if status in ("completed", "answered") or call.answered_at is not None:
        if call.answered_at is None:
            call.answered_at = now - dt.timedelta(seconds=talked or 0)
            call.wait_seconds = _seconds(call.queued_at, call.answered_at)
        call.talk_seconds = talked if talked is not None else _seconds(call.answered_at, now)
        answer.hangup()
        return answer
    if status in NOT_REACHED and call.agent_id is not None and call.ticket_id is not None:
        agent_id = call.agent_id
        ticket = repository.ticket_locked(db, call.ticket_id)
        if ticket is not None and ticket.assignee_id == agent_id:
            mutations.assign(db, ticket, None, SYSTEM_ACTOR, f"the agent's phone did not take the call ({status})")
        agent = repository.agent_locked(db, agent_id)
        if agent is not None and agent.presence is PresenceStatus.AVAILABLE:
            presence.set_presence(db, SYSTEM, agent_id, PresenceStatus.AWAY,
                                  f"did not take a call ({status}): set away so calls go to others")
        call.status, call.agent_id = CallStatus.WAITING, None
        answer.say(PLEASE_HOLD)
        _hold(req, answer)
        return answer
    answer.hangup()  # canceled: the caller hung up while the agent's phone rang (the status callback ends it)
    return answer


def agent_status(db: Session, req: CallRequest) -> None:
    """Status of the agent's leg (the <Dial>ed device): ringing, answered, completed."""
    parent = req.get("ParentCallSid") or req.call_sid()
    call = repository.call_by_sid(db, req.brand.id, parent)
    if call is None or call.ended_at is not None:
        return
    status, now = req.get("CallStatus"), utcnow()
    if status == "in-progress" and call.answered_at is None:
        call.answered_at, call.status = now, CallStatus.IN_PROGRESS
        call.wait_seconds = _seconds(call.queued_at, now)
    elif status == "completed" and call.answered_at is not None and call.talk_seconds is None:
        duration = _int(req.get("CallDuration"))
        call.talk_seconds = duration if duration is not None else _seconds(call.answered_at, now)


# -- the end of the call ---------------------------------------------------------------------------------------------
def call_status(db: Session, req: CallRequest) -> None:
    """The caller's leg changed status; only its end matters here (the menu and queue know the rest)."""
    status = req.get("CallStatus")
    if status not in CALL_ENDING:
        return
    call = repository.call_by_sid(db, req.brand.id, req.call_sid())
    if call is None or call.ended_at is not None:
        return
    now = utcnow()
    call.ended_at, call.duration_seconds = now, _int(req.get("CallDuration"))
    ticket = repository.ticket_locked(db, call.ticket_id) if call.ticket_id is not None else None
    if call.outcome is CallOutcome.CALLBACK:
        pass  # the ticket waits in its queue for an agent to call back
    elif call.status is CallStatus.IN_IVR or call.outcome is CallOutcome.ENDED_IN_IVR:
        call.outcome = CallOutcome.ENDED_IN_IVR if status == "completed" else CallOutcome.FAILED
    elif call.answered_at is not None:
        call.outcome = CallOutcome.ANSWERED
        if call.talk_seconds is None:
            call.talk_seconds = _seconds(call.answered_at, now)
    else:
        call.outcome = CallOutcome.ABANDONED
        call.wait_seconds = _seconds(call.queued_at, now)
        if ticket is not None and ticket.status in WORKABLE:
            # Nobody is on the line any more: the ticket leaves the queue and waits for the customer to come back.
            mutations.change_status(db, ticket, TicketStatus.PENDING, SYSTEM_ACTOR,
                                    f"the caller hung up after waiting {call.wait_seconds} s")
    call.status = CallStatus.ENDED
    if ticket is not None:
        mutations.record_event(db, ticket, EventKind.CALL_ENDED, SYSTEM_ACTOR, at=now, after=figures(call))
    if call.outcome is CallOutcome.ANSWERED and call.agent_id is not None:
        _start_wrap_up(db, req.config, call, now)


def figures(call: Call) -> dict[str, Any]:
    """A call's figures, as its CALL_ENDED event and reports carry them."""
    return {"call_id": call.id, "outcome": call.outcome, "agent_id": call.agent_id,
            "duration_seconds": call.duration_seconds, "wait_seconds": call.wait_seconds,
            "talk_seconds": call.talk_seconds, "hold_seconds": call.hold_seconds,
            "started_at": call.started_at.isoformat(), "ended_at": call.ended_at.isoformat() if call.ended_at else None}


def _start_wrap_up(db: Session, config: VoiceConfig, call: Call, now: dt.datetime) -> None:
    assert call.agent_id is not None
    if config.wrap_up_seconds == 0:
        call.wrap_up_seconds = 0
        call.settle_handle_time()
        _release_ticket(db, call)
        return
    presence.set_presence(db, SYSTEM, call.agent_id, PresenceStatus.WRAP_UP, f"after-call work for call {call.id}")
    call.wrap_up_due_at = now + dt.timedelta(seconds=config.wrap_up_seconds)


def end_wrap_up(db: Session, call: Call, now: dt.datetime, reason: str) -> None:
    """After-call work is over (the agent said so, or its time ran out): the agent takes work again, the call gets
    its wrap-up and handle time. An agent who already left wrap-up (another presence) ended it then."""
    call.wrap_up_due_at = None
    assert call.ended_at is not None and call.agent_id is not None
    agent = repository.agent_locked(db, call.agent_id)
    ended = now
    if agent is not None and agent.presence is PresenceStatus.WRAP_UP:
        presence.set_presence(db, SYSTEM, agent.id, PresenceStatus.AVAILABLE, reason)
    elif agent is not None:
        ended = min(max(agent.presence_since, call.ended_at), now)
    call.wrap_up_seconds = _seconds(call.ended_at, ended)
    call.settle_handle_time()
    _release_ticket(db, call)


def _release_ticket(db: Session, call: Call) -> None:
    """The call is done: its ticket stops taking the agent's phone capacity (it waits for the customer, assigned
    to the agent still) unless the agent already solved it or put it elsewhere."""
    if call.ticket_id is None:
        return
    ticket = repository.ticket_locked(db, call.ticket_id)
    if ticket is not None and ticket.status in WORKABLE and ticket.assignee_id == call.agent_id:
        mutations.change_status(db, ticket, TicketStatus.PENDING, SYSTEM_ACTOR,
                                "the call and its after-call work are over")


def agent_ends_wrap_up(db: Session, principal: Principal, agent_id: int) -> Call:
    """The agent is done with the call's after-call work (or their lead or an admin ends it for them)."""
    if principal.agent_id != agent_id:
        principal.require_role(AgentRole.LEAD)
        agents.get_visible(db, principal, agent_id)  # a lead only for the agents of their brands
    call = repository.wrap_up_of_agent(db, agent_id)
    if call is None:
        raise NotFound(f"agent {agent_id} is in no after-call work")
    end_wrap_up(db, call, utcnow(), "after-call work done" if principal.agent_id == agent_id
                else "after-call work ended by a lead")
    return call


# -- recording and transcript ----------------------------------------------------------------------------------------
def recording(db: Session, req: CallRequest) -> None:
    """The call's recording is ready: its link goes on the call and, as a note, on the ticket and the timeline."""
    if (req.get("RecordingStatus") or "completed") != "completed":
        return
    call = repository.call_by_sid(db, req.brand.id, req.call_sid())
    url = req.get("RecordingUrl")
    if call is None or url is None or not url.startswith("https://") or call.recording_url == url:
        return
    call.recording_url, call.recording_sid = url[:1000], (req.get("RecordingSid") or "")[:64] or None
    call.recording_seconds = _int(req.get("RecordingDuration"))
    ticket = repository.ticket_locked(db, call.ticket_id) if call.ticket_id is not None else None
    if ticket is not None:
        _note(db, ticket, f"Call recording ({call.recording_seconds or 0} s): {call.recording_url}")


def transcription(db: Session, req: CallRequest) -> None:
    if (req.get("TranscriptionStatus") or "completed") != "completed":
        return
    call = repository.call_by_sid(db, req.brand.id, req.call_sid())
    text = req.get("TranscriptionText")
    if call is None or text is None or call.transcript == text:
        return
    call.transcript = text[:200_000]
    ticket = repository.ticket_locked(db, call.ticket_id) if call.ticket_id is not None else None
    if ticket is not None:
        _note(db, ticket, f"Call transcript:\n{call.transcript}")

