"""Canned responses and macros through the API: who manages which, validation, brand scoping, the audit, and applying
a macro (each change its event with reason "macro <name>", the text filled in; a macro refused changes nothing)."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import contact
from tierdesk.audit.models import AuditEntry
from tierdesk.tickets import macros

MACRO = {
    "brand": "acme",
    "name": "Refund issued",
    "description": "After the refund went out",
    "set_status": "solved",
    "set_priority": "low",
    "add_tags": ["Refund", "billing:done"],
    "remove_tags": ["waiting"],
    "assign_to_me": True,
    "text": "Hello {customer_name}, your refund for ticket #{ticket_id} is on its way. {agent_name}, {brand_name}",
}


def ticket_of(client, auth, **overrides) -> int:
    r = client.post("/api/v1/contacts", json=contact(**overrides), headers=auth)
    assert r.status_code == 201, r.text
    return r.json()["ticket"]["id"]


def disposition(client, world, code="refunded", department="CS", brand="acme") -> None:
    r = client.post("/api/v1/dispositions", headers=world.auth("admin"),
                    json={"brand": brand, "code": code, "label": code.title(), "department": department})
    assert r.status_code == 201, r.text


def audit_of(database, entity: str) -> list[tuple[str, str]]:
    with database.read_sessions() as db:
        rows = db.execute(sa.select(AuditEntry.action, AuditEntry.entity_id).where(AuditEntry.entity == entity)
                          .order_by(AuditEntry.id)).all()
    return [(a, e) for a, e in rows]


# -- canned responses ------------------------------------------------------------------------------------------------
def test_canned_responses_shared_and_personal(client, world, database):
    lead, agent = world.auth("lead"), world.auth("agent")
    shared = client.post("/api/v1/canned-responses", headers=lead,
                         json={"brand": "acme", "title": "Restart", "body": "Please restart the router."})
    assert shared.status_code == 201, shared.text
    assert shared.json()["owner_agent_id"] is None
    # An agent may not write a shared one, but may write a personal one.
    refused = client.post("/api/v1/canned-responses", headers=agent,
                          json={"brand": "acme", "title": "Mine", "body": "x"})
    assert refused.status_code == 403
    mine = client.post("/api/v1/canned-responses", headers=agent,
                       json={"brand": "acme", "title": "Mine", "body": "My own words", "shared": False})
    assert mine.status_code == 201 and mine.json()["owner_agent_id"] == world.agents["agent"]
    # The agent sees both; the lead does not see the agent's personal one, nor does the admin.
    assert {c["title"] for c in client.get("/api/v1/canned-responses", headers=agent).json()} == {"Restart", "Mine"}
    assert [c["title"] for c in client.get("/api/v1/canned-responses", headers=lead).json()] == ["Restart"]
    assert client.get(f"/api/v1/canned-responses/{mine.json()['id']}", headers=world.auth("admin")).status_code == 404
    # The agent may change their own, not the shared one.
    r = client.patch(f"/api/v1/canned-responses/{mine.json()['id']}", headers=agent, json={"title": "Mine, v2"})
    assert r.status_code == 200 and r.json()["title"] == "Mine, v2"
    assert client.patch(f"/api/v1/canned-responses/{shared.json()['id']}", headers=agent,
                        json={"title": "x"}).status_code == 403
    assert client.delete(f"/api/v1/canned-responses/{shared.json()['id']}", headers=agent).status_code == 403
    assert client.delete(f"/api/v1/canned-responses/{mine.json()['id']}", headers=agent).status_code == 204
    assert client.get(f"/api/v1/canned-responses/{mine.json()['id']}", headers=agent).status_code == 404
    assert [a for a, _ in audit_of(database, "canned_response")] == ["created", "created", "updated", "deleted"]


def test_canned_responses_are_scoped_to_brands(client, world):
    lead = world.auth("lead")
    made = client.post("/api/v1/canned-responses", headers=lead,
                       json={"brand": "acme", "title": "Acme only", "body": "x"}).json()
    globex = world.auth("globex_agent")
    assert client.get("/api/v1/canned-responses", headers=globex).json() == []
    assert client.get(f"/api/v1/canned-responses/{made['id']}", headers=globex).status_code == 404
    assert client.patch(f"/api/v1/canned-responses/{made['id']}", headers=globex,
                        json={"title": "mine now"}).status_code == 404
    r = client.get("/api/v1/canned-responses", params={"brand": "acme"}, headers=globex)
    assert r.status_code == 422 and r.json()["error"]["field"] == "brand"
    # A lead of acme cannot write into globex.
    r = client.post("/api/v1/canned-responses", headers=lead, json={"brand": "globex", "title": "x", "body": "x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "brand"


def test_canned_response_validation(client, world):
    lead = world.auth("lead")
    for body, field in (({"brand": "acme", "title": "  ", "body": "x"}, "title"),
                        ({"brand": "acme", "title": "t", "body": ""}, "body"),
                        ({"brand": "acme", "title": "t", "body": "x" * 20_001}, "body"),
                        ({"brand": "acme", "title": "t", "body": "x", "owner": 3}, "owner"),
                        ({"brand": "acme", "title": "t\x00", "body": "x"}, "title")):
        r = client.post("/api/v1/canned-responses", headers=lead, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field, r.text
    assert client.get("/api/v1/canned-responses", params={"brnd": "acme"}, headers=lead).status_code == 422


# -- macros ------------------------------------------------------------------------------------------------------------
def test_macro_crud_and_audit(client, world, database):
    lead = world.auth("lead")
    r = client.post("/api/v1/macros", headers=lead, json=MACRO)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["add_tags"] == ["billing:done", "refund"] and made["text_into"] == "outbound"
    assert client.post("/api/v1/macros", headers=lead, json=MACRO).status_code == 409
    assert client.post("/api/v1/macros", headers=world.auth("agent"), json=MACRO | {"name": "x"}).status_code == 403
    assert [m["name"] for m in client.get("/api/v1/macros", params={"brand": "acme"}, headers=lead).json()] == [
        "Refund issued"]
    r = client.patch(f"/api/v1/macros/{made['id']}", headers=lead, json={"set_priority": None, "text_into": "note"})
    assert r.status_code == 200 and r.json()["set_priority"] is None and r.json()["text_into"] == "note"
    assert client.get(f"/api/v1/macros/{made['id']}", headers=world.auth("agent")).status_code == 200
    assert client.delete(f"/api/v1/macros/{made['id']}", headers=world.auth("agent")).status_code == 403
    assert client.delete(f"/api/v1/macros/{made['id']}", headers=lead).status_code == 204
    assert client.get(f"/api/v1/macros/{made['id']}", headers=lead).status_code == 404
    assert [a for a, _ in audit_of(database, "macro")] == ["created", "updated", "deleted"]


def test_macro_validation(client, world):
    lead = world.auth("lead")
    disposition(client, world, "fixed", department="TS")
    cases = (
        ({"set_status": "escalated"}, "set_status"),
        ({"set_status": "new"}, "set_status"),
        ({"set_priority": "asap"}, "set_priority"),
        ({"add_tags": ["not ok!"]}, "add_tags"),
        ({"add_tags": ["vip"], "remove_tags": ["VIP"]}, "remove_tags"),
        ({"disposition": "nope"}, "disposition"),
        ({"disposition": "fixed", "department": "CS"}, "disposition"),
        ({"text_into": "customer"}, "text_into"),
        ({"name": ""}, "name"),
        ({"set_status": None, "set_priority": None, "add_tags": [], "remove_tags": [], "assign_to_me": False,
          "text": "  "}, "text"),
    )
    for change, field in cases:
        r = client.post("/api/v1/macros", headers=lead, json=MACRO | change)
        assert r.status_code == 422, (change, r.text)
        assert r.json()["error"]["field"] == field, (change, r.text)
    # A disposition of the brand, for the macro's department: fine.
    r = client.post("/api/v1/macros", headers=lead, json=MACRO | {"disposition": "fixed", "department": "TS"})
    assert r.status_code == 201, r.text
    # Another brand's code is not one of this brand's.
    disposition(client, world, "globex-only", department=None, brand="globex")
    r = client.post("/api/v1/macros", headers=lead, json=MACRO | {"name": "g", "disposition": "globex-only"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "disposition"
    # A change is checked against the macro as it would be.
    made = r = client.post("/api/v1/macros", headers=lead, json=MACRO | {"name": "plain"}).json()
    r = client.patch(f"/api/v1/macros/{made['id']}", headers=lead, json={"remove_tags": ["refund"]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "remove_tags"


def test_macros_are_scoped_to_brands(client, world):
    made = client.post("/api/v1/macros", headers=world.auth("lead"), json=MACRO).json()
    globex = world.auth("globex_agent")
    assert client.get("/api/v1/macros", headers=globex).json() == []
    assert client.get(f"/api/v1/macros/{made['id']}", headers=globex).status_code == 404
    ticket = ticket_of(client, globex, brand="globex")
    r = client.post(f"/api/v1/tickets/{ticket}/macros/{made['id']}", headers=globex)
    assert r.status_code == 404
    # Nor can acme's agent apply it to globex's ticket (the ticket is not theirs to see).
    r = client.post(f"/api/v1/tickets/{ticket}/macros/{made['id']}", headers=world.auth("agent"))
    assert r.status_code == 404
    # The admin sees both, but a macro only applies to its own brand's tickets.
    r = client.post(f"/api/v1/tickets/{ticket}/macros/{made['id']}", headers=world.auth("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "macro_id"


# -- applying ----------------------------------------------------------------------------------------------------------
def test_applying_a_macro_changes_the_ticket_with_events_and_fills_the_text(client, world):
    agent = world.auth("agent")
    disposition(client, world, "refunded", department="CS")
    ticket = ticket_of(client, agent, sender={"email": "maria@example.com", "name": "Maria Rossi"},
                       subject="Refund please", body="I want my money back for the order.")
    client.patch(f"/api/v1/tickets/{ticket}", headers=agent,
                 json={"department": "CS", "tags": ["waiting", "keep"], "reason": "a refund is CS work"})
    macro = client.post("/api/v1/macros", headers=world.auth("lead"),
                        json=MACRO | {"disposition": "refunded", "department": "CS"}).json()
    r = client.post(f"/api/v1/tickets/{ticket}/macros/{macro['id']}", headers=agent)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ticket"]["status"] == "solved" and body["ticket"]["priority"] == "low"
    assert body["ticket"]["assignee_id"] == world.agents["agent"]
    assert body["ticket"]["disposition_id"] is not None
    assert body["text"] == (f"Hello Maria Rossi, your refund for ticket #{ticket} is on its way. agent, Acme")
    assert body["text_into"] == "outbound"
    assert client.get(f"/api/v1/tickets/{ticket}/tags", headers=agent).json() == ["billing:done", "keep", "refund"]
    events = client.get(f"/api/v1/tickets/{ticket}/timeline", headers=agent, params={"limit": 200}).json()["items"]
    by_macro = {e["kind"] for e in events if e["reason"] == "macro Refund issued"}
    assert by_macro == {"status_changed", "priority_changed", "tags_changed", "assignee_changed",
                        "disposition_changed"}


def test_a_refused_macro_changes_nothing(client, world):
    agent = world.auth("agent")
    disposition(client, world, "fixed", department="TS")
    ticket = ticket_of(client, agent, subject="Refund please", body="I want my money back for the order.")
    client.patch(f"/api/v1/tickets/{ticket}", headers=agent,
                 json={"department": "CS", "tags": ["waiting"], "reason": "a refund is CS work"})
    before = client.get(f"/api/v1/tickets/{ticket}", headers=agent).json()
    events_before = client.get(f"/api/v1/tickets/{ticket}/timeline", headers=agent,
                               params={"limit": 200}).json()["items"]
    # Another department's disposition: refused whole (the tags and priority it would set stay as they were).
    macro = client.post("/api/v1/macros", headers=world.auth("lead"),
                        json=MACRO | {"disposition": "fixed", "set_status": "pending"}).json()
    r = client.post(f"/api/v1/tickets/{ticket}/macros/{macro['id']}", headers=agent)
    assert r.status_code == 422, r.text
    assert "Refund issued" in r.json()["error"]["message"] and "TS" in r.json()["error"]["message"]
    assert r.json()["error"]["field"] == "disposition"
    assert client.get(f"/api/v1/tickets/{ticket}", headers=agent).json() == before
    assert client.get(f"/api/v1/tickets/{ticket}/tags", headers=agent).json() == ["waiting"]
    assert client.get(f"/api/v1/tickets/{ticket}/timeline", headers=agent,
                      params={"limit": 200}).json()["items"] == events_before
    # An illegal status change (a solved ticket cannot go pending): refused whole too.
    client.patch(f"/api/v1/tickets/{ticket}", headers=agent, json={"status": "solved"})
    pending = client.post("/api/v1/macros", headers=world.auth("lead"),
                          json=MACRO | {"name": "Wait", "set_status": "pending"}).json()
    r = client.post(f"/api/v1/tickets/{ticket}/macros/{pending['id']}", headers=agent)
    assert r.status_code == 422 and r.json()["error"]["field"] == "status"
    assert "cannot become pending" in r.json()["error"]["message"]
    assert client.get(f"/api/v1/tickets/{ticket}/tags", headers=agent).json() == ["waiting"]
    assert client.get(f"/api/v1/tickets/{ticket}", headers=agent).json()["priority"] == before["priority"]


def test_a_macro_for_another_department_or_inactive_is_refused(client, world):
    agent, lead = world.auth("agent"), world.auth("lead")
    ticket = ticket_of(client, agent)  # the router blinks red: TS
    assert client.get(f"/api/v1/tickets/{ticket}", headers=agent).json()["department"] == "TS"
    cs_only = client.post("/api/v1/macros", headers=lead, json=MACRO | {"department": "CS"}).json()
    r = client.post(f"/api/v1/tickets/{ticket}/macros/{cs_only['id']}", headers=agent)
    assert r.status_code == 422 and "CS" in r.json()["error"]["message"]
    off = client.post("/api/v1/macros", headers=lead, json=MACRO | {"name": "off", "is_active": False}).json()
    r = client.post(f"/api/v1/tickets/{ticket}/macros/{off['id']}", headers=agent)
    assert r.status_code == 422 and "inactive" in r.json()["error"]["message"]


def test_placeholders_are_replaced_never_evaluated():
    values = {"customer_name": "{agent_name} {{7*7}}", "agent_name": "Ann", "ticket_id": "5", "brand_name": "Acme"}
    assert macros.fill("Hi {customer_name}, {agent_name} here ({unknown}) {{ticket_id}}", values) == (
        "Hi {agent_name} {{7*7}}, Ann here ({unknown}) {5}")
