"""The ticket page (workspace/ticket.py): what it shows, each action and its refusals (through the same services as
the API), collision, brand scoping, CSRF, escaping, and a number of statements that does not grow with the ticket."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.channels.email.helpers import mail
from tests.pages import csrf_of
from tests.workspace.helpers import customer_writes, email_ticket, open_ticket, seen_message_id, signed_in, sla_policy
from tierdesk.app import create_app
from tierdesk.kit.vocabulary import EventKind, MessageDirection, TicketStatus
from tierdesk.tickets.models import Message, Ticket, TicketEvent


def _ticket(database, ticket_id: int) -> Ticket:
    with database.transaction(write=False) as db:
        ticket = db.get_one(Ticket, ticket_id)
        db.expunge(ticket)
        return ticket


def _events(database, ticket_id: int, kind: EventKind) -> list[TicketEvent]:
    with database.transaction(write=False) as db:
        rows = list(db.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                                            TicketEvent.kind == kind)))
        for r in rows:
            db.expunge(r)
        return rows


def _messages(database, ticket_id: int) -> list[Message]:
    with database.transaction(write=False) as db:
        rows = list(db.scalars(sa.select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)))
        for r in rows:
            db.expunge(r)
        return rows


def test_the_page_needs_a_signed_in_agent(web, world):
    ticket_id = open_ticket(web, world)
    r = web.get(f"/tickets/{ticket_id}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/?next=%2Ftickets%2F{ticket_id}"


def test_the_page_shows_the_ticket_customer_sla_triage_and_where_a_reply_goes(web, world, database, settings):
    sla_policy(web, world)
    ticket_id = email_ticket(database, settings, mail(name="Maria Lopez", attachments=[
        ("router.log", "text/plain", b"line 1\nline 2\n")]))
    signed_in(web, database, world)
    r = web.get(f"/tickets/{ticket_id}")
    assert r.status_code == 200, r.text
    html = r.text
    assert "My router blinks red" in html and "Maria Lopez" in html and "maria@example.com" in html
    assert 'id="reply-form"' in html and 'id="reply-body"' in html and 'id="note-body"' in html
    assert f'hx-get="/tickets/{ticket_id}/macros"' in html and 'id="macro-panel"' in html
    assert "by <strong>email</strong> to <strong>maria@example.com</strong>" in html
    assert 'id="triage-explanation"' in html and "Re-triage" in html  # the triaged event and its explanation
    assert "first response" in html  # the SLA clocks
    for key in ('data-key="r"', 'data-key="i"', 'data-key="s"', 'data-key="e"'):
        assert key in html
    assert "View original" in html and "router.log" in html
    assert html.count("<h1") == 1


def test_attachments_download_as_attachments_and_the_original_email_shows_as_text(web, world, database, settings):
    raw = mail(html="<p>Hello <b>there</b></p>", attachments=[("evil.html", "text/html", b"<script>x()</script>")])
    ticket_id = email_ticket(database, settings, raw)
    signed_in(web, database, world)
    html = web.get(f"/tickets/{ticket_id}").text
    import re
    attachment = re.search(rf'href="(/tickets/{ticket_id}/attachments/\d+)"', html)
    assert attachment
    r = web.get(attachment.group(1))
    assert r.status_code == 200 and r.content == b"<script>x()</script>"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-type"] == "application/octet-stream" and r.headers["x-content-type-options"] == "nosniff"
    original = re.search(rf'href="(/tickets/{ticket_id}/messages/\d+/original)"', html)
    assert original
    r = web.get(original.group(1))
    assert r.status_code == 200
    assert "Message-ID:" in r.text and "&lt;p&gt;Hello &lt;b&gt;there&lt;/b&gt;&lt;/p&gt;" in r.text
    assert "<p>Hello <b>there</b></p>" not in r.text  # shown as text, never as HTML


def test_a_reply_and_a_note_go_through_the_service_and_show_in_the_timeline(web, world, database):
    ticket_id = open_ticket(web, world)
    signed_in(web, database, world)
    page = web.get(f"/tickets/{ticket_id}").text
    token, seen = csrf_of(page), seen_message_id(page)
    r = web.post(f"/tickets/{ticket_id}/messages", data={"csrf_token": token, "direction": "outbound",
                                                          "body": "Please restart the router.",
                                                          "seen_message_id": seen}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{ticket_id}?done=replied"
    r = web.post(f"/tickets/{ticket_id}/messages", data={"csrf_token": token, "direction": "note",
                                                          "body": "Customer sounds upset."}, follow_redirects=False)
    assert r.status_code == 303
    kinds = [(m.direction, m.body_text, m.author_agent_id) for m in _messages(database, ticket_id)]
    assert kinds[1:] == [(MessageDirection.OUTBOUND, "Please restart the router.", world.agents["agent"]),
                         (MessageDirection.NOTE, "Customer sounds upset.", world.agents["agent"])]
    html = web.get(f"/tickets/{ticket_id}?done=noted").text
    assert "Internal note added." in html
    assert 'class="message message-note"' in html and 'class="message message-outbound"' in html
    assert "Please restart the router." in html and "Customer sounds upset." in html


def test_an_empty_reply_is_refused_on_the_form(web, world, database):
    ticket_id = open_ticket(web, world)
    token = signed_in(web, database, world)
    r = web.post(f"/tickets/{ticket_id}/messages", data={"csrf_token": token, "direction": "outbound",
                                                          "body": "   "})
    assert r.status_code == 422
    assert "the message is empty" in r.text and 'aria-invalid="true"' in r.text
    assert len(_messages(database, ticket_id)) == 1
    r = web.post(f"/tickets/{ticket_id}/messages", data={"csrf_token": token, "direction": "shout", "body": "x"})
    assert r.status_code == 422 and len(_messages(database, ticket_id)) == 1


def test_a_reply_is_held_back_when_a_newer_message_arrived_and_sent_when_confirmed(web, world, database):
    ticket_id = open_ticket(web, world)
    signed_in(web, database, world)
    page = web.get(f"/tickets/{ticket_id}").text
    token, seen = csrf_of(page), seen_message_id(page)
    customer_writes(database, ticket_id, text="Actually it works now")
    form = {"csrf_token": token, "direction": "outbound", "body": "Please restart the router.",
            "seen_message_id": seen}
    r = web.post(f"/tickets/{ticket_id}/messages", data=form)
    assert r.status_code == 409
    assert "1 new message(s) arrived" in r.text and "Actually it works now 0" in r.text
    assert "Please restart the router.</textarea>" in r.text  # what the agent typed is kept
    assert 'name="confirm" value="yes"' in r.text
    assert len(_messages(database, ticket_id)) == 2  # nothing sent
    r = web.post(f"/tickets/{ticket_id}/messages", data={**form, "confirm": "yes"}, follow_redirects=False)
    assert r.status_code == 303
    assert _messages(database, ticket_id)[-1].body_text == "Please restart the router."


def test_retriage_needs_a_reason_and_records_retriaged(web, world, database):
    ticket_id = open_ticket(web, world)
    token = signed_in(web, database, world)
    r = web.post(f"/tickets/{ticket_id}/retriage", data={"csrf_token": token, "department": "CS",
                                                          "intent": "refund_request", "reason": ""})
    assert r.status_code == 422 and "say why" in r.text
    assert _ticket(database, ticket_id).department.value == "TS"
    r = web.post(f"/tickets/{ticket_id}/retriage", data={"csrf_token": token, "department": "CS",
                                                          "intent": "router_problem", "reason": "wants money"})
    assert r.status_code == 422 and _ticket(database, ticket_id).department.value == "TS"  # unknown intent
    r = web.post(f"/tickets/{ticket_id}/retriage", data={"csrf_token": token, "department": "CS",
                                                          "intent": "refund_request",
                                                          "reason": "The customer wants a refund, not a fix"},
                 follow_redirects=False)
    assert r.status_code == 303
    ticket = _ticket(database, ticket_id)
    assert ticket.department.value == "CS" and ticket.intent == "refund_request"
    assert ticket.queue_id == world.queues["acme/cs-billing"]
    retriaged = _events(database, ticket_id, EventKind.RETRIAGED)
    assert len(retriaged) == 1 and retriaged[0].reason == "The customer wants a refund, not a fix"
    html = web.get(f"/tickets/{ticket_id}").text
    assert "Retriaged" in html and "The customer wants a refund, not a fix" in html


def test_status_priority_and_tags_change_only_what_differs(web, world, database):
    ticket_id = open_ticket(web, world)
    token = signed_in(web, database, world)
    r = web.post(f"/tickets/{ticket_id}/properties", data={"csrf_token": token, "status": "pending",
                                                            "priority": "high", "tags": "VIP, outage-2026",
                                                            "disposition": ""}, follow_redirects=False)
    assert r.status_code == 303, r.text
    ticket = _ticket(database, ticket_id)
    assert ticket.status is TicketStatus.PENDING and ticket.priority.value == "high"
    html = web.get(f"/tickets/{ticket_id}").text
    assert '<span class="tag">outage-2026</span>' in html and '<span class="tag">vip</span>' in html
    assert len(_events(database, ticket_id, EventKind.TAGS_CHANGED)) == 1
    # The same form again changes nothing and records nothing.
    r = web.post(f"/tickets/{ticket_id}/properties", data={"csrf_token": token, "status": "pending",
                                                            "priority": "high", "tags": "outage-2026 vip"},
                 follow_redirects=False)
    assert r.headers["location"].endswith("done=unchanged")
    assert len(_events(database, ticket_id, EventKind.TAGS_CHANGED)) == 1
    r = web.post(f"/tickets/{ticket_id}/properties", data={"csrf_token": token, "status": "pending",
                                                            "priority": "high", "tags": "bad tag!"})
    assert r.status_code == 422 and 'id="properties-tags-error"' in r.text
    r = web.post(f"/tickets/{ticket_id}/properties", data={"csrf_token": token, "status": "closed"})
    assert r.status_code == 422 and "cannot become closed" in r.text
    assert _ticket(database, ticket_id).status is TicketStatus.PENDING


def test_solve_with_the_brands_disposition_code(web, world, database):
    ticket_id = open_ticket(web, world)
    r = web.post("/api/v1/dispositions", json={"brand": "acme", "code": "fixed-reboot", "label": "Fixed by reboot",
                                               "department": "TS"}, headers=world.auth("admin"))
    assert r.status_code == 201
    token = signed_in(web, database, world)
    assert "Fixed by reboot" in web.get(f"/tickets/{ticket_id}").text
    r = web.post(f"/tickets/{ticket_id}/solve", data={"csrf_token": token, "disposition": "no-such-code"})
    assert r.status_code == 422 and "no active disposition code" in r.text
    r = web.post(f"/tickets/{ticket_id}/solve", data={"csrf_token": token, "disposition": "fixed-reboot"},
                 follow_redirects=False)
    assert r.status_code == 303
    ticket = _ticket(database, ticket_id)
    assert ticket.status is TicketStatus.SOLVED and ticket.disposition_id is not None


def test_escalation_needs_the_summary_and_goes_to_the_next_tier(web, world, database):
    ticket_id = open_ticket(web, world)
    token = signed_in(web, database, world)
    assert "ts-specialists" in web.get(f"/tickets/{ticket_id}").text
    r = web.post(f"/tickets/{ticket_id}/escalate", data={"csrf_token": token, "reason": "needs a specialist",
                                                          "summary": ""})
    assert r.status_code == 422 and "summary of what was tried" in r.text
    r = web.post(f"/tickets/{ticket_id}/escalate", data={"csrf_token": token, "reason": "", "summary": "x"})
    assert r.status_code == 422 and 'id="escalate-reason-error"' in r.text
    assert _ticket(database, ticket_id).tier == 1
    r = web.post(f"/tickets/{ticket_id}/escalate", data={"csrf_token": token, "reason": "line fault suspected",
                                                          "summary": "Rebooted, swapped cable, same red light"},
                 follow_redirects=False)
    assert r.status_code == 303
    ticket = _ticket(database, ticket_id)
    assert ticket.tier == 2 and ticket.queue_id == world.queues["acme/ts-specialists"] and ticket.assignee_id is None
    note = _messages(database, ticket_id)[-1]
    assert note.direction is MessageDirection.NOTE and "swapped cable" in note.body_text


def test_viewers_see_each_other_and_new_messages_are_counted(web, world, database, settings):
    ticket_id = open_ticket(web, world)
    token = signed_in(web, database, world)
    with TestClient(create_app(database, settings), base_url="https://testserver",
                    raise_server_exceptions=False) as lead:
        lead_token = signed_in(lead, database, world, "lead")
        seen = seen_message_id(lead.get(f"/tickets/{ticket_id}").text)
        r = lead.post(f"/tickets/{ticket_id}/viewers", data={"state": "replying", "seen_message_id": seen},
                      headers={"X-CSRF-Token": lead_token, "HX-Request": "true"})
        assert r.status_code == 200 and "Nobody else" in r.text
        r = web.post(f"/tickets/{ticket_id}/viewers", data={"state": "viewing", "seen_message_id": seen},
                     headers={"X-CSRF-Token": token, "HX-Request": "true"})
        assert "<strong>lead</strong> is replying this ticket" in r.text
        customer_writes(database, ticket_id, 2)
        r = lead.post(f"/tickets/{ticket_id}/viewers", data={"state": "viewing", "seen_message_id": seen},
                      headers={"X-CSRF-Token": lead_token, "HX-Request": "true"})
        assert "<strong>agent</strong> is viewing this ticket" in r.text
        assert "2 new messages" in r.text
        r = web.post(f"/tickets/{ticket_id}/viewers/leave", headers={"X-CSRF-Token": token})
        assert r.status_code == 204
        r = lead.post(f"/tickets/{ticket_id}/viewers", data={"state": "viewing", "seen_message_id": seen},
                      headers={"X-CSRF-Token": lead_token, "HX-Request": "true"})
        assert "Nobody else" in r.text


def test_the_timeline_shows_the_latest_events_and_loads_earlier_and_newer_ones(web, world, database):
    ticket_id = open_ticket(web, world)
    customer_writes(database, ticket_id, 45, text="Update")
    signed_in(web, database, world)
    html = web.get(f"/tickets/{ticket_id}").text
    assert "Update 44" in html and "Update 10" not in html and "Show earlier" in html
    import re
    before = re.search(rf'hx-get="/tickets/{ticket_id}/timeline\?before=(\d+)"', html)
    assert before
    earlier = web.get(f"/tickets/{ticket_id}/timeline?before={before.group(1)}", headers={"HX-Request": "true"})
    assert earlier.status_code == 200 and "Update 10" in earlier.text and "Update 44" not in earlier.text
    last = max(int(x) for x in re.findall(r'data-event-id="(\d+)"', html))
    customer_writes(database, ticket_id, 1, text="Brand new")
    newer = web.get(f"/tickets/{ticket_id}/timeline?after={last}", headers={"HX-Request": "true"})
    assert "Brand new 0" in newer.text and "Update 44" not in newer.text


def test_other_tickets_of_the_customer_are_linked(web, world, database):
    first = open_ticket(web, world, subject="Invoice question", channel="web")
    second = open_ticket(web, world)
    signed_in(web, database, world)
    html = web.get(f"/tickets/{second}").text
    assert f'href="/tickets/{first}">#{first} Invoice question</a>' in html


def test_another_brands_ticket_its_attachments_and_originals_answer_404(web, world, database, settings):
    ticket_id = email_ticket(database, settings, mail(attachments=[("a.txt", "text/plain", b"a")]))
    token = signed_in(web, database, world, "globex_agent")
    with database.transaction(write=False) as db:
        message_id = db.scalar(sa.select(Message.id).where(Message.ticket_id == ticket_id))
        from tierdesk.tickets.models import Attachment
        attachment_id = db.scalar(sa.select(Attachment.id).where(Attachment.message_id == message_id))
    for path in (f"/tickets/{ticket_id}", f"/tickets/{ticket_id}/attachments/{attachment_id}",
                 f"/tickets/{ticket_id}/messages/{message_id}/original", f"/tickets/{ticket_id}/timeline"):
        r = web.get(path)
        assert r.status_code == 404, path
        assert "Not found" in r.text and "router" not in r.text
    r = web.post(f"/tickets/{ticket_id}/messages", data={"csrf_token": token, "body": "hi"})
    assert r.status_code == 404 and len(_messages(database, ticket_id)) == 1
    r = web.post(f"/tickets/{ticket_id}/viewers", data={"state": "viewing"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 404


def test_forms_without_the_csrf_token_are_refused(web, world, database):
    ticket_id = open_ticket(web, world)
    signed_in(web, database, world)
    for path, form in ((f"/tickets/{ticket_id}/messages", {"body": "hi"}),
                       (f"/tickets/{ticket_id}/escalate", {"reason": "r", "summary": "s"}),
                       (f"/tickets/{ticket_id}/retriage", {"department": "CS", "reason": "r"}),
                       (f"/tickets/{ticket_id}/properties", {"priority": "urgent"}),
                       (f"/tickets/{ticket_id}/viewers", {"state": "viewing"})):
        r = web.post(path, data=form)
        assert r.status_code == 403, path
        r = web.post(path, data={**form, "csrf_token": "0" * 64})
        assert r.status_code == 403, path
    assert len(_messages(database, ticket_id)) == 1 and _ticket(database, ticket_id).tier == 1


def test_outside_text_renders_inert(web, world, database, settings):
    raw = mail(subject="<script>alert('subject')</script>",
               html='<p>hi<script>alert("body")</script><img src="x" onerror="alert(2)"><a href="javascript:x()">y</a>'
                    '</p>')
    ticket_id = email_ticket(database, settings, raw)
    signed_in(web, database, world)
    html = web.get(f"/tickets/{ticket_id}").text
    assert "<script>alert" not in html and "onerror" not in html and "javascript:" not in html
    assert "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;" in html
    named = open_ticket(web, world, sender={"email": "eve@example.com", "name": "<img src=x onerror=alert(1)>"},
                        subject="<b onmouseover=alert(3)>hi</b>")
    html = web.get(f"/tickets/{named}").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "&lt;b onmouseover=alert(3)&gt;hi&lt;/b&gt;" in html and "<b onmouseover" not in html
    assert "script-src 'self'" in web.get(f"/tickets/{ticket_id}").headers["content-security-policy"]


def _count_statements(web, database, path: str) -> int:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", count)
    try:
        r = web.get(path)
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", count)
    assert r.status_code == 200, r.text
    return len(seen)


def test_the_page_reads_as_many_statements_for_200_messages_as_for_20(web, world, database, settings):
    small = email_ticket(database, settings, mail(attachments=[("a.txt", "text/plain", b"a")]))
    large = email_ticket(database, settings, mail(sender="john@example.com", name="John",
                                                  attachments=[("b.txt", "text/plain", b"b")]))
    customer_writes(database, small, 19)
    customer_writes(database, large, 199)
    with database.transaction() as db:  # and notes and replies by agents, so authors are batch-loaded too
        for ticket_id in (small, large):
            ticket = db.get_one(Ticket, ticket_id)
            from tierdesk.kit.actors import Actor
            from tierdesk.kit.vocabulary import ActorKind
            from tierdesk.tickets import mutations
            for i in range(10):
                mutations.add_message(db, ticket, direction=MessageDirection.NOTE, channel=ticket.channel,
                                      body_text=f"n{i}", body_html=f"<p>n{i}</p>",
                                      actor=Actor(ActorKind.AGENT, world.agents["lead"]),
                                      author_agent_id=world.agents["lead"])
    signed_in(web, database, world)
    web.get(f"/tickets/{small}")  # warm: the session's first statements are the same for both
    assert _count_statements(web, database, f"/tickets/{small}") == _count_statements(web, database,
                                                                                      f"/tickets/{large}")
