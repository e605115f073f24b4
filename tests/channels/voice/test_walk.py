"""Whole calls, as the provider drives them: signed webhooks in, TwiML out, and the ACD in between."""

from __future__ import annotations

import datetime as dt

from tests.channels.voice.conftest import MENU, canonical, expected, hold_turn, route
from tierdesk.channels.voice import tasks
from tierdesk.channels.voice.models import Call as CallRow
from tierdesk.kit.time import utcnow

PLEASE_HOLD = "Thank you. Please hold: the next available agent will take your call."


def _call_record(client, world, ticket_id=None):
    query = f"?ticket_id={ticket_id}" if ticket_id else ""
    items = client.get(f"/api/v1/voice/calls{query}", headers=world.auth("admin")).json()["items"]
    return items[0]


def _ticket(client, world, ticket_id):
    return client.get(f"/api/v1/tickets/{ticket_id}", headers=world.auth("admin")).json()


def _events(client, world, ticket_id):
    return client.get(f"/api/v1/tickets/{ticket_id}/timeline?limit=200", headers=world.auth("admin")).json()["items"]


def test_a_call_through_the_menu_to_an_agent_answered_completed_wrapped_up_and_recorded(
        client, world, voice, database, settings):
    phone = voice
    call = phone.call()
    prompt = MENU["start"]["menu"]["prompt"]

    def menu(r):
        r.say("Thanks for calling Acme.", language="en-US")
        g = r.gather(action=phone.url("gather"), method="POST", input="dtmf speech", num_digits=1, timeout=5,
                     language="en-US")
        g.say(prompt, language="en-US")
        r.redirect(phone.url("gather"), method="POST")
    assert canonical(call.post("incoming", CallStatus="ringing")) == expected(menu)

    def queued(r):
        r.say(PLEASE_HOLD, language="en-US")
        hold_turn(phone, r)
    assert canonical(call.post("gather", Digits="1")) == expected(queued)

    record = _call_record(client, world)
    assert record["status"] == "waiting" and record["from_number"] == "+14155550123"
    ticket = _ticket(client, world, record["ticket_id"])
    assert ticket["channel"] == "phone" and ticket["queue_id"] == world.queues["acme/cs-billing"]
    assert ticket["status"] == "new" and ticket["assignee_id"] is None

    # Nobody has taken it yet: another turn of hold.
    assert canonical(call.post("wait")) == expected(lambda r: hold_turn(phone, r))
    # The ACD offers the ticket to the available agent with phone capacity; the next poll dials their phone.
    assert route(database, settings) == 1
    assert _ticket(client, world, record["ticket_id"])["assignee_id"] == world.agents["agent"]

    def dial(r):
        d = r.dial(action=phone.url("dial-ended"), method="POST", timeout=20)
        d.sip("sip:agent@pbx.example.com", status_callback=phone.url("agent-status"),
              status_callback_event="initiated ringing answered completed", status_callback_method="POST")
    assert canonical(call.post("wait")) == expected(dial)

    leg = {"ParentCallSid": call.sid, "CallSid": "CA" + "9" * 32}
    assert phone.post("agent-status", **leg, CallStatus="ringing").status_code == 200
    assert phone.post("agent-status", **leg, CallStatus="in-progress").status_code == 200
    assert _call_record(client, world)["status"] == "in_progress"
    assert canonical(call.post("dial-ended", DialCallStatus="completed", DialCallDuration="95",
                               DialCallSid=leg["CallSid"])) == expected(lambda r: r.hangup())
    call.hang_up(duration=130)

    record = _call_record(client, world)
    assert record["status"] == "ended" and record["outcome"] == "answered"
    assert record["talk_seconds"] == 95 and record["duration_seconds"] == 130 and record["hold_seconds"] == 0
    assert record["wait_seconds"] is not None and record["agent_id"] == world.agents["agent"]
    assert record["wrap_up_due_at"] is not None and record["handle_seconds"] is None
    kinds = [e["kind"] for e in _events(client, world, record["ticket_id"])]
    assert "call_started" in kinds and "call_ended" in kinds
    ended = next(e for e in _events(client, world, record["ticket_id"]) if e["kind"] == "call_ended")
    assert ended["after"]["talk_seconds"] == 95 and ended["after"]["outcome"] == "answered"

    # After-call work: the agent takes nothing new, even with a call waiting that they have room for.
    assert client.put(f"/api/v1/agents/{world.agents['agent']}/capacity", json={"phone": 2},
                      headers=world.auth("admin")).status_code == 200
    presence = client.get(f"/api/v1/agents/{world.agents['agent']}/presence", headers=world.auth("agent")).json()
    assert presence["status"] == "wrap_up"
    second = phone.call("+14155550199")
    second.post("incoming", CallStatus="ringing")
    second.post("gather", Digits="1")
    assert route(database, settings) == 0
    assert canonical(second.post("wait")) == expected(lambda r: hold_turn(phone, r))

    # Recording and transcript go on the call, and as notes on the ticket and the customer's timeline.
    assert phone.post("recording", CallSid=call.sid, RecordingSid="RE" + "1" * 32, RecordingStatus="completed",
                      RecordingDuration="94",
                      RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1").status_code == 200
    assert phone.post("transcription", CallSid=call.sid, TranscriptionStatus="completed",
                      TranscriptionText="I was charged twice for March.").status_code == 200
    record = _call_record(client, world, record["ticket_id"])
    assert record["recording_url"].endswith("/Recordings/RE1") and record["recording_seconds"] == 94
    assert record["transcript"] == "I was charged twice for March."
    notes = client.get(f"/api/v1/tickets/{record['ticket_id']}/messages", headers=world.auth("admin")).json()
    texts = [m["body_text"] for m in (notes["items"] if isinstance(notes, dict) else notes)]
    assert any("Recordings/RE1" in t for t in texts) and any("charged twice" in t for t in texts)
    timeline = client.get(f"/api/v1/customers/{record['customer_id']}/timeline?limit=200",
                          headers=world.auth("admin")).json()["items"]
    assert sum(e["kind"] == "note_added" for e in timeline) == 2

    # The agent ends their after-call work: available again, the call has its handle time, the next call routes.
    done = client.post("/api/v1/voice/wrap-up/end", json={}, headers=world.auth("agent"))
    assert done.status_code == 200, done.text
    done = done.json()
    assert done["wrap_up_seconds"] is not None
    assert done["handle_seconds"] == 95 + 0 + done["wrap_up_seconds"]
    assert _ticket(client, world, record["ticket_id"])["status"] == "pending"  # no longer takes phone capacity
    assert route(database, settings) == 1
    assert "<Sip" in second.post("wait")


def test_wrap_up_ends_by_itself_when_its_time_is_over(client, world, voice, database, settings):
    phone = voice
    call = phone.call()
    call.post("incoming", CallStatus="ringing")
    call.post("gather", Digits="1")
    route(database, settings)
    call.post("wait")
    phone.post("agent-status", ParentCallSid=call.sid, CallSid="CA" + "8" * 32, CallStatus="in-progress")
    call.post("dial-ended", DialCallStatus="completed", DialCallDuration="40")
    call.hang_up(duration=60)
    with database.transaction(write=False) as db:
        assert not tasks.wrap_ups_due(db)  # 30 s of wrap-up, not over yet
    with database.transaction() as db:  # the clock moves on: the deadline is data
        row = db.query(CallRow).one()
        row.wrap_up_due_at = utcnow() - dt.timedelta(seconds=1)
        row.ended_at = utcnow() - dt.timedelta(seconds=31)
    with database.transaction(write=False) as db:
        assert tasks.wrap_ups_due(db)
    with database.transaction() as db:
        assert tasks.end_due_wrap_ups(db) == 1
    with database.transaction() as db:
        assert tasks.end_due_wrap_ups(db) == 0  # once only
    record = _call_record(client, world)
    assert record["wrap_up_due_at"] is None and 30 <= record["wrap_up_seconds"] <= 32
    assert record["handle_seconds"] == 40 + record["wrap_up_seconds"]
    presence = client.get(f"/api/v1/agents/{world.agents['agent']}/presence", headers=world.auth("agent")).json()
    assert presence["status"] == "available"


def test_nested_menu_by_speech_and_speech_that_only_triage_understands(client, world, voice):
    phone = voice
    call = phone.call()
    call.post("incoming", CallStatus="ringing")
    assert "Internet problems" in call.post("gather", SpeechResult="Technical support please", Confidence="0.9")
    assert PLEASE_HOLD in call.post("gather", SpeechResult="it is my internet", Confidence="0.8")
    record = _call_record(client, world)
    ticket = _ticket(client, world, record["ticket_id"])
    assert ticket["intent"] == "connectivity" and ticket["department"] == "TS"
    assert [e.get("label") for e in record["ivr_trail"]] == ["Technical", "Internet"]

    other = phone.call("+14155550144")
    other.post("incoming", CallStatus="ringing")
    # No keyword: triage reads what was said and decides where the call goes.
    assert PLEASE_HOLD in other.post(
        "gather", SpeechResult="I was charged twice on my credit card and I want my money back")
    record = _call_record(client, world)
    ticket = _ticket(client, world, record["ticket_id"])
    assert record["ivr_trail"][-1]["triage"] is True
    assert ticket["department"] == "CS" and ticket["subject"].startswith("Phone call from +14155550144")


def test_no_answer_asks_again_then_goes_to_human_triage(client, world, voice):
    call = voice.call()
    call.post("incoming", CallStatus="ringing")
    assert "For billing press 1" in call.post("gather")  # silence: asked again
    assert "Sorry, I did not get that." in call.post("gather", Digits="7")
    assert PLEASE_HOLD in call.post("gather")  # third time: a person will triage it
    record = _call_record(client, world)
    assert _ticket(client, world, record["ticket_id"])["queue_id"] == world.queues["acme/triage"]


def test_the_caller_is_known_by_their_number(client, world, voice):
    first = voice.call("+1 415 555 0177")
    first.post("incoming", CallStatus="ringing")
    first.post("gather", Digits="1")
    again = voice.call("+14155550177")
    again.post("incoming", CallStatus="ringing")
    again.post("gather", Digits="1")
    calls = client.get("/api/v1/voice/calls", headers=world.auth("admin")).json()["items"]
    assert calls[0]["customer_id"] == calls[1]["customer_id"] and calls[0]["ticket_id"] != calls[1]["ticket_id"]
    history = client.get(f"/api/v1/customers/{calls[0]['customer_id']}", headers=world.auth("admin")).json()
    assert {"kind": "phone", "value": "+14155550177"} in [
        {"kind": i["kind"], "value": i["value"]} for i in history["identities"]]


def test_an_abandoned_call_is_recorded_with_its_wait(client, world, voice, database, settings):
    call = voice.call()
    call.post("incoming", CallStatus="ringing")
    call.post("gather", Digits="1")
    call.post("wait")
    call.hang_up(duration=75)
    record = _call_record(client, world)
    assert record["outcome"] == "abandoned" and record["wait_seconds"] is not None
    assert record["talk_seconds"] is None and record["agent_id"] is None
    assert _ticket(client, world, record["ticket_id"])["status"] == "pending"  # nobody to connect: not routed
    assert route(database, settings) == 0
    ended = [e for e in _events(client, world, record["ticket_id"]) if e["kind"] == "call_ended"]
    assert ended[0]["after"]["outcome"] == "abandoned" and "wait_seconds" in ended[0]["after"]
    call.hang_up(duration=75)  # the provider retries its callback: recorded once
    assert len([e for e in _events(client, world, record["ticket_id"]) if e["kind"] == "call_ended"]) == 1


def test_a_caller_chooses_a_callback_which_stays_routable_work(client, world, voice, database, settings):
    phone = voice
    call = phone.call()
    call.post("incoming", CallStatus="ringing")
    call.post("gather", Digits="1")
    assert canonical(call.post("callback", Digits="5")) == expected(
        lambda r: r.redirect(phone.url("wait"), method="POST"))  # another key: back to waiting

    def goodbye(r):
        r.say("Thank you. We will call you back at 1 4 1 5 5 5 5 0 1 2 3 as soon as an agent is free. Goodbye.",
              language="en-US")
        r.hangup()
    assert canonical(call.post("callback", Digits="1")) == expected(goodbye)
    call.hang_up(duration=50)
    record = _call_record(client, world)
    assert record["outcome"] == "callback" and record["callback_number"] == "+14155550123"
    ticket = _ticket(client, world, record["ticket_id"])
    assert ticket["status"] == "new"
    assert route(database, settings) == 1  # the callback is work in the queue like any ticket
    assert _ticket(client, world, record["ticket_id"])["assignee_id"] == world.agents["agent"]


def test_an_agent_whose_phone_does_not_answer_is_set_away_and_the_call_waits_again(
        client, world, voice, database, settings):
    phone = voice
    call = phone.call()
    call.post("incoming", CallStatus="ringing")
    call.post("gather", Digits="1")
    route(database, settings)
    assert "<Sip" in call.post("wait")

    def again(r):
        r.say(PLEASE_HOLD, language="en-US")
        hold_turn(phone, r)
    assert canonical(call.post("dial-ended", DialCallStatus="no-answer")) == expected(again)
    record = _call_record(client, world)
    assert record["status"] == "waiting" and record["agent_id"] is None
    assert _ticket(client, world, record["ticket_id"])["assignee_id"] is None
    presence = client.get(f"/api/v1/agents/{world.agents['agent']}/presence", headers=world.auth("agent")).json()
    assert presence["status"] == "away"
    assert route(database, settings) == 0


def test_after_hours_the_closed_branch_plays(client, world, voice):
    admin = world.auth("admin")
    # A calendar that is never open (every day a holiday would fail to validate; no hours at all is closed).
    created = client.post("/api/v1/sla/calendars", headers=admin, json={
        "brand": "acme", "slug": "never", "name": "Never", "timezone": "UTC", "weekly_hours": {"mon": ["09:00-09:01"]},
        "holidays": []})
    assert created.status_code == 201, created.text
    always = client.post("/api/v1/sla/calendars", headers=admin, json={
        "brand": "acme", "slug": "always", "name": "Always", "timezone": "UTC",
        "weekly_hours": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}})
    assert always.status_code == 201, always.text
    for calendar, heard in (("always", "Open branch"), ("never", "We are closed")):
        menu = {"start": {"hours": {"calendar": calendar,
                                    "open": {"say": "Open branch.", "queue": "cs-billing"},
                                    "closed": {"say": "We are closed. Goodbye.", "hangup": True}}}}
        assert client.put("/api/v1/voice/menu/acme", json={"menu": menu}, headers=admin).status_code == 200
        call = voice.call()
        if calendar == "never" and _open_now_at_0900():
            continue  # the one minute a week the calendar is open
        answer = call.post("incoming", CallStatus="ringing")
        assert heard in answer
    assert "<Hangup" in answer
    call.hang_up(duration=8)
    record = _call_record(client, world)
    assert record["outcome"] == "ended_in_ivr" and record["ticket_id"] is None
    assert record["ivr_trail"] == [{"at": "start", "hours": "closed"}]


def _open_now_at_0900() -> bool:
    now = utcnow()
    return now.weekday() == 0 and now.hour == 9 and now.minute == 0


def test_a_menu_destination_refused_since_it_was_saved_sends_the_call_to_human_triage(client, world, voice):
    admin = world.auth("admin")
    other = client.post("/api/v1/queues", headers=admin, json={
        "brand": "acme", "slug": "cs-vip", "name": "VIP", "department": "CS", "tier": 1})
    assert other.status_code == 201, other.text
    menu = {"start": {"queue": "cs-vip"}}
    assert client.put("/api/v1/voice/menu/acme", json={"menu": menu}, headers=admin).status_code == 200
    from tierdesk.queues.models import Queue

    with voice.client.app.state.database.transaction() as db:
        db.get_one(Queue, other.json()["id"]).is_active = False
    assert PLEASE_HOLD in voice.call().post("incoming", CallStatus="ringing")
    record = _call_record(client, world)
    assert _ticket(client, world, record["ticket_id"])["queue_id"] == world.queues["acme/triage"]


def test_callers_without_a_number_get_a_customer_each(client, world, voice):
    customers = set()
    for withheld in ("anonymous", "+266696687", "+266696687"):
        call = voice.call(withheld)
        call.post("incoming", CallStatus="ringing")
        call.post("gather", Digits="1")
        record = _call_record(client, world)
        assert record["from_number"] == withheld and record["customer_id"] is not None
        customer = client.get(f"/api/v1/customers/{record['customer_id']}", headers=world.auth("admin")).json()
        assert [i["kind"] for i in customer["identities"]] == ["external_id"]
        customers.add(record["customer_id"])
    assert len(customers) == 3
