"""The pages of canned responses and macros: the admin forms (create, edit, delete; bad input re-rendered with the
field's error at 422; CSRF refused), the ticket page's panel (scoped, escaped, a fixed number of statements) and
applying a macro from it."""

from __future__ import annotations

import html
import json
import re

import sqlalchemy as sa

from tests.conftest import contact
from tests.pages import set_password, sign_in
from tierdesk.tickets.models import CannedResponse, Macro

XSS = "<script>alert(1)</script>"


def signed_in(web, database, world, who: str) -> str:
    set_password(database, world.agents[who])
    return sign_in(web, f"{who}@example.com")


def ticket_of(client, world, who="agent", **overrides) -> int:
    r = client.post("/api/v1/contacts", json=contact(**overrides), headers=world.auth(who))
    assert r.status_code == 201, r.text
    return r.json()["ticket"]["id"]


def macro_form(token: str, **overrides) -> dict[str, str]:
    form = {"csrf_token": token, "brand": "acme", "name": "Waiting on parts", "description": "Vendor ships parts",
            "department": "", "set_status": "on_hold", "set_priority": "high", "add_tags": "parts, vendor",
            "remove_tags": "", "disposition": "", "text": "Hello {customer_name}, the parts are ordered.",
            "text_into": "outbound", "is_active": "on"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def macros_in(database) -> list[Macro]:
    with database.read_sessions() as db:
        return list(db.scalars(sa.select(Macro).order_by(Macro.id)))


def test_a_lead_creates_edits_and_deletes_a_macro_with_the_forms(web, database, world):
    token = signed_in(web, database, world, "lead")
    page = web.get("/admin/macros")
    assert page.status_code == 200 and "<h1" in page.text and "No macros yet" in page.text
    form = web.get("/admin/macros/new")
    assert form.status_code == 200 and 'name="csrf_token"' in form.text
    r = web.post("/admin/macros/new", data=macro_form(token), follow_redirects=False)
    assert r.status_code == 303, r.text
    [macro] = macros_in(database)
    assert macro.add_tags == ["parts", "vendor"] and macro.set_status.value == "on_hold"
    listed = web.get(r.headers["location"])
    assert "Waiting on parts" in listed.text and f"Macro {macro.id} created." in listed.text
    # Edit: bad input comes back with the field's error and what was typed; nothing is saved.
    bad = web.post(f"/admin/macros/{macro.id}", data=macro_form(token, name="Renamed", add_tags="ok, not ok!"))
    assert bad.status_code == 422
    assert 'id="error-add_tags"' in bad.text and "is not a tag" in html.unescape(bad.text)
    assert 'value="Renamed"' in bad.text and 'aria-invalid="true"' in bad.text
    assert macros_in(database)[0].name == "Waiting on parts"
    ok = web.post(f"/admin/macros/{macro.id}", data=macro_form(token, name="Renamed", set_priority=""),
                  follow_redirects=False)
    assert ok.status_code == 303
    assert macros_in(database)[0].name == "Renamed" and macros_in(database)[0].set_priority is None
    gone = web.post(f"/admin/macros/{macro.id}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert gone.status_code == 303 and macros_in(database) == []


def test_macro_form_errors_are_shown_beside_their_field(web, database, world, client):
    token = signed_in(web, database, world, "lead")
    for overrides, field in (({"name": " "}, "name"), ({"brand": "globex"}, "brand"), ({"brand": ""}, "brand"),
                             ({"set_status": "escalated"}, "set_status"), ({"disposition": "nope"}, "disposition"),
                             ({"add_tags": "vip", "remove_tags": "VIP"}, "remove_tags"),
                             ({"set_status": "", "set_priority": "", "add_tags": "", "text": ""}, "text")):
        r = web.post("/admin/macros/new", data=macro_form(token, **overrides))
        assert r.status_code == 422, (overrides, r.text[:300])
        assert f'id="error-{field}"' in r.text, (overrides, field)
    web.post("/admin/macros/new", data=macro_form(token), follow_redirects=False)
    taken = web.post("/admin/macros/new", data=macro_form(token))
    assert taken.status_code == 422 and 'id="error-name"' in taken.text and "already" in taken.text
    assert len(macros_in(database)) == 1


def test_an_agent_cannot_manage_macros_but_writes_personal_canned_responses(web, database, world):
    token = signed_in(web, database, world, "agent")
    assert web.get("/admin/macros/new").status_code == 403
    assert web.post("/admin/macros/new", data=macro_form(token)).status_code == 403
    assert macros_in(database) == []
    page = web.get("/admin/canned-responses/new")
    assert page.status_code == 200 and 'name="shared"' not in page.text
    r = web.post("/admin/canned-responses/new", follow_redirects=False,
                 data={"csrf_token": token, "brand": "acme", "title": "My sign-off", "body": "Cheers, {agent_name}",
                       "is_active": "on"})
    assert r.status_code == 303, r.text
    with database.read_sessions() as db:
        canned = db.scalar(sa.select(CannedResponse))
    assert canned is not None and canned.owner_agent_id == world.agents["agent"]
    bad = web.post(f"/admin/canned-responses/{canned.id}", data={"csrf_token": token, "title": "", "body": "x"})
    assert bad.status_code == 422 and 'id="error-title"' in bad.text
    ok = web.post(f"/admin/canned-responses/{canned.id}", follow_redirects=False,
                  data={"csrf_token": token, "title": "Sign-off", "body": "Cheers", "is_active": "on"})
    assert ok.status_code == 303
    assert "Sign-off" in web.get("/admin/canned-responses").text
    assert web.post(f"/admin/canned-responses/{canned.id}/delete", data={"csrf_token": token},
                    follow_redirects=False).status_code == 303


def test_forms_without_their_csrf_token_are_refused(web, database, world):
    token = signed_in(web, database, world, "lead")
    r = web.post("/admin/macros/new", data=macro_form(token, csrf_token=None))
    assert r.status_code == 403
    r = web.post("/admin/canned-responses/new",
                 data={"brand": "acme", "title": "t", "body": "b", "csrf_token": "0" * 64})
    assert r.status_code == 403
    assert macros_in(database) == []
    with database.read_sessions() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(CannedResponse)) == 0


def test_another_brands_records_answer_404_on_the_pages(web, database, world, client):
    made = client.post("/api/v1/macros", headers=world.auth("lead"), json={
        "brand": "acme", "name": "Acme macro", "add_tags": ["touched"]}).json()
    canned = client.post("/api/v1/canned-responses", headers=world.auth("lead"), json={
        "brand": "acme", "title": "Acme canned", "body": "x"}).json()
    ticket = ticket_of(client, world)
    token = signed_in(web, database, world, "globex_agent")
    assert "Acme canned" not in web.get("/admin/canned-responses").text
    assert web.get(f"/admin/canned-responses/{canned['id']}").status_code == 404
    assert web.get(f"/tickets/{ticket}/macros").status_code == 404
    r = web.post(f"/tickets/{ticket}/macros/{made['id']}", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert r.status_code == 404
    assert client.get(f"/api/v1/tickets/{ticket}/tags", headers=world.auth("agent")).json() == []


def test_the_panel_lists_filled_texts_and_keeps_outside_text_inert(web, database, world, client):
    lead = world.auth("lead")
    ticket = ticket_of(client, world, sender={"email": "x@example.com", "name": XSS})
    client.post("/api/v1/canned-responses", headers=lead, json={
        "brand": "acme", "title": f"Hostile {XSS}", "body": 'Hi {customer_name} <img src=x onerror="alert(2)"> '
        "from {agent_name} about #{ticket_id} at {brand_name}"})
    client.post("/api/v1/canned-responses", headers=lead, json={
        "brand": "acme", "title": "Switched off", "body": "old", "is_active": False})
    client.post("/api/v1/canned-responses", headers=lead, json={
        "brand": "globex", "title": "Globex words", "body": "x"})
    client.post("/api/v1/macros", headers=lead, json={
        "brand": "acme", "name": f"Macro {XSS}", "set_priority": "high", "description": XSS})
    client.post("/api/v1/macros", headers=lead, json={"brand": "acme", "name": "CS only", "department": "CS",
                                                      "set_priority": "low"})
    signed_in(web, database, world, "agent")
    panel = web.get(f"/tickets/{ticket}/macros")
    assert panel.status_code == 200, panel.text
    text = panel.text
    assert "<script>" not in text and "<img" not in text and "onerror=\"" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    filled = (f"Hi {XSS} <img src=x onerror=\"alert(2)\"> from agent about #{ticket} at Acme")
    inserts = [html.unescape(v) for v in re.findall(r'data-macro-insert="([^"]*)"', text)]
    assert inserts == [filled, filled]  # into the reply, into the note: as text, for the textarea
    assert "Switched off" not in text and "Globex words" not in text
    assert "CS only" not in text  # the ticket is TS
    assert f'hx-post="/tickets/{ticket}/macros/' in text
    assert panel.headers["content-security-policy"].startswith("default-src 'none'")


def test_applying_a_macro_from_the_panel(web, database, world, client):
    ticket = ticket_of(client, world, sender={"email": "x@example.com", "name": "Maria"})
    made = client.post("/api/v1/macros", headers=world.auth("lead"), json={
        "brand": "acme", "name": "Hold for vendor", "set_status": "on_hold", "add_tags": ["vendor"],
        "text": "Note for {agent_name}: waiting on the vendor for {customer_name}.", "text_into": "note"}).json()
    token = signed_in(web, database, world, "agent")
    # Without the CSRF header: refused, nothing changes.
    assert web.post(f"/tickets/{ticket}/macros/{made['id']}", headers={"HX-Request": "true"}).status_code == 403
    assert client.get(f"/api/v1/tickets/{ticket}", headers=world.auth("agent")).json()["status"] != "on_hold"
    r = web.post(f"/tickets/{ticket}/macros/{made['id']}", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert r.status_code == 200, r.text
    assert json.loads(r.headers["hx-trigger"]) == {"ticket-changed": {"ticket_id": ticket, "by": "macro"}}
    assert 'data-macro-into="note-body"' in r.text
    assert 'data-macro-insert="Note for agent: waiting on the vendor for Maria."' in r.text
    state = client.get(f"/api/v1/tickets/{ticket}", headers=world.auth("agent")).json()
    assert state["status"] == "on_hold"
    assert client.get(f"/api/v1/tickets/{ticket}/tags", headers=world.auth("agent")).json() == ["vendor"]
    # Applied again: on hold already, the tag there already: nothing to change, and no error.
    again = web.post(f"/tickets/{ticket}/macros/{made['id']}", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert again.status_code == 200
    # Refused whole: the message comes back as text for the toast.
    client.patch(f"/api/v1/tickets/{ticket}", headers=world.auth("agent"), json={"status": "solved"})
    client.patch(f"/api/v1/tickets/{ticket}", headers=world.auth("agent"), json={"status": "closed"})
    refused = web.post(f"/tickets/{ticket}/macros/{made['id']}",
                       headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert refused.status_code == 422 and "Hold for vendor" in refused.text
    assert refused.headers["content-type"].startswith("text/plain")


def test_the_panel_runs_a_fixed_number_of_statements(web, database, world, client):
    lead = world.auth("lead")
    ticket = ticket_of(client, world)
    signed_in(web, database, world, "agent")
    counted: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if re.match(r"\s*(SELECT|UPDATE|INSERT|DELETE)", statement, re.I):
            counted.append(statement)

    def statements() -> int:
        counted.clear()
        sa.event.listen(database.engine, "before_cursor_execute", count)
        try:
            assert web.get(f"/tickets/{ticket}/macros").status_code == 200
        finally:
            sa.event.remove(database.engine, "before_cursor_execute", count)
        return len(counted)

    client.post("/api/v1/canned-responses", headers=lead, json={"brand": "acme", "title": "c0", "body": "x"})
    client.post("/api/v1/macros", headers=lead, json={"brand": "acme", "name": "m0", "set_priority": "low"})
    few = statements()
    for i in range(1, 15):
        client.post("/api/v1/canned-responses", headers=lead, json={"brand": "acme", "title": f"c{i}", "body": "x"})
        client.post("/api/v1/macros", headers=lead, json={"brand": "acme", "name": f"m{i}", "set_priority": "low"})
    assert statements() == few
