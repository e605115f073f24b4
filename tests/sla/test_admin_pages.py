"""The SLA admin pages: business calendars and SLA policies created and edited through the forms (with CSRF), the
API's refusals beside their fields (422, nothing written), 403 for non-admins, and an audit entry for each change
(also of the API's)."""

from __future__ import annotations

import sqlalchemy as sa

from tests.pages import set_password, sign_in
from tierdesk.audit.models import AuditEntry
from tierdesk.sla.models import BusinessCalendar, SlaPolicy


def _admin(web, database, world, who: str = "admin") -> str:
    set_password(database, world.agents[who])
    return sign_in(web, f"{who}@example.com")


def _one(database, model, slug: str):
    with database.transaction(write=False) as db:
        return db.scalar(sa.select(model).where(model.slug == slug))


def _audit(database, entity: str) -> list[AuditEntry]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id)))


def _calendar_form(token: str, **fields) -> dict:
    body = {"csrf_token": token, "slug": "berlin", "name": "Berlin office", "timezone": "Europe/Berlin",
            "hours_mon": "09:00-12:00, 13:00-17:00", "hours_tue": "09:00-17:00", "hours_wed": "09:00-17:00",
            "hours_thu": "09:00-17:00", "hours_fri": "09:00-15:00", "hours_sat": "", "hours_sun": "",
            "holidays": "2026-12-25\n2026-12-26"}
    body.update(fields)
    return body


def _policy_form(token: str, **fields) -> dict:
    body = {"csrf_token": token, "slug": "ts-urgent", "name": "TS urgent", "department": "TS", "priority": "urgent",
            "first_response_minutes": "30", "next_response_minutes": "", "resolution_minutes": "480",
            "warn_before_minutes": "10", "calendar": "", "escalate_on_breach": "1"}
    body.update(fields)
    return body


def test_the_sla_page_lists_each_brands_policies_and_calendars(web, database, world):
    token = _admin(web, database, world)
    assert web.post("/admin/sla/calendars/new?brand=acme", data=_calendar_form(token),
                    follow_redirects=False).status_code == 303
    assert web.post("/admin/sla/policies/new?brand=acme", data=_policy_form(token),
                    follow_redirects=False).status_code == 303
    page = web.get("/admin/sla")
    assert page.status_code == 200
    assert "Berlin office" in page.text and "Europe/Berlin" in page.text and "TS urgent" in page.text
    assert "Globex" in page.text


def test_an_admin_creates_and_edits_a_calendar(web, database, world):
    token = _admin(web, database, world)
    assert web.get("/admin/sla/calendars/new?brand=acme").status_code == 200
    r = web.post("/admin/sla/calendars/new?brand=acme", data=_calendar_form(token), follow_redirects=False)
    assert r.status_code == 303, r.text
    calendar = _one(database, BusinessCalendar, "berlin")
    assert calendar.weekly_hours["mon"] == ["09:00-12:00", "13:00-17:00"]
    assert calendar.holidays == ["2026-12-25", "2026-12-26"]
    assert web.get(f"/admin/sla/calendars/{calendar.id}").status_code == 200
    r = web.post(f"/admin/sla/calendars/{calendar.id}",
                 data=_calendar_form(token, name="Berlin", hours_sat="10:00-14:00", holidays="2027-01-01"),
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    calendar = _one(database, BusinessCalendar, "berlin")
    assert calendar.name == "Berlin" and calendar.weekly_hours["sat"] == ["10:00-14:00"]
    assert calendar.holidays == ["2027-01-01"]
    entries = _audit(database, "business_calendar")
    assert [e.action for e in entries] == ["created", "updated"]
    assert entries[1].after["holidays"] == ["2027-01-01"] and entries[1].actor_agent_id == world.agents["admin"]


def test_an_admin_creates_and_edits_a_policy(web, database, world):
    token = _admin(web, database, world)
    web.post("/admin/sla/calendars/new?brand=acme", data=_calendar_form(token))
    calendar = _one(database, BusinessCalendar, "berlin")
    r = web.post("/admin/sla/policies/new?brand=acme", data=_policy_form(token, calendar=str(calendar.id)),
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    policy = _one(database, SlaPolicy, "ts-urgent")
    assert (policy.first_response_minutes, policy.next_response_minutes, policy.resolution_minutes) == (30, None, 480)
    assert policy.calendar_id == calendar.id and policy.escalate_on_breach and policy.warn_before_minutes == 10
    assert web.get(f"/admin/sla/policies/{policy.id}").status_code == 200
    body = _policy_form(token, first_response_minutes="60", next_response_minutes="120", is_active="1")
    del body["escalate_on_breach"]
    r = web.post(f"/admin/sla/policies/{policy.id}", data=body, follow_redirects=False)
    assert r.status_code == 303, r.text
    policy = _one(database, SlaPolicy, "ts-urgent")
    assert (policy.first_response_minutes, policy.next_response_minutes) == (60, 120)
    assert policy.calendar_id is None and not policy.escalate_on_breach and policy.is_active
    entries = _audit(database, "sla_policy")
    assert [e.action for e in entries] == ["created", "updated"]
    assert entries[1].before["first_response_minutes"] == 30 and entries[1].after["escalate_on_breach"] is False


def test_bad_input_comes_back_beside_its_field_and_writes_nothing(web, database, world):
    token = _admin(web, database, world)
    r = web.post("/admin/sla/calendars/new?brand=acme", data=_calendar_form(token, timezone="Mars/Olympus"))
    assert r.status_code == 422 and 'id="error-timezone"' in r.text and "unknown time zone" in r.text
    r = web.post("/admin/sla/calendars/new?brand=acme", data=_calendar_form(token, hours_mon="17:00-09:00"))
    assert r.status_code == 422 and 'id="error-weekly_hours"' in r.text and "must end after it starts" in r.text
    r = web.post("/admin/sla/calendars/new?brand=acme", data=_calendar_form(token, holidays="next friday"))
    assert r.status_code == 422 and 'id="error-holidays"' in r.text
    assert _one(database, BusinessCalendar, "berlin") is None
    r = web.post("/admin/sla/policies/new?brand=acme",
                 data=_policy_form(token, first_response_minutes="", resolution_minutes=""))
    assert r.status_code == 422 and "give at least one target" in r.text
    r = web.post("/admin/sla/policies/new?brand=acme", data=_policy_form(token, warn_before_minutes="30"))
    assert r.status_code == 422 and 'id="error-warn_before_minutes"' in r.text
    r = web.post("/admin/sla/policies/new?brand=acme", data=_policy_form(token, first_response_minutes="-5"))
    assert r.status_code == 422 and 'id="error-first_response_minutes"' in r.text
    assert _one(database, SlaPolicy, "ts-urgent") is None
    # A refused edit (the check comes after the fields are set) leaves the policy as it was.
    web.post("/admin/sla/policies/new?brand=acme", data=_policy_form(token))
    policy = _one(database, SlaPolicy, "ts-urgent")
    r = web.post(f"/admin/sla/policies/{policy.id}",
                 data=_policy_form(token, name="Changed", first_response_minutes="", resolution_minutes=""))
    assert r.status_code == 422
    assert _one(database, SlaPolicy, "ts-urgent").name == "TS urgent"
    assert [e.action for e in _audit(database, "sla_policy")] == ["created"]
    assert _audit(database, "business_calendar") == []


def test_forms_need_their_csrf_token_and_an_admin(web, database, world):
    token = _admin(web, database, world, "lead")
    assert web.get("/admin/sla").status_code == 403
    assert web.post("/admin/sla/policies/new?brand=acme", data=_policy_form(token)).status_code == 403
    web.post("/sign-out", data={"csrf_token": token})
    token = _admin(web, database, world)
    body = _calendar_form(token)
    del body["csrf_token"]
    assert web.post("/admin/sla/calendars/new?brand=acme", data=body).status_code == 403
    assert _one(database, BusinessCalendar, "berlin") is None and _one(database, SlaPolicy, "ts-urgent") is None


def test_the_api_edits_a_calendar_and_is_audited_like_the_pages(client, database, world):
    r = client.post("/api/v1/sla/calendars", headers=world.auth("admin"), json={
        "brand": "acme", "slug": "ny", "name": "New York", "timezone": "America/New_York",
        "weekly_hours": {"mon": ["09:00-17:00"]}})
    assert r.status_code == 201, r.text
    r = client.patch(f"/api/v1/sla/calendars/{r.json()['id']}", headers=world.auth("admin"),
                     json={"weekly_hours": {"mon": ["08:00-16:00"]}, "holidays": ["2026-12-25"]})
    assert r.status_code == 200, r.text
    assert r.json()["weekly_hours"]["mon"] == ["08:00-16:00"] and r.json()["weekly_hours"]["tue"] == []
    r2 = client.patch(f"/api/v1/sla/calendars/{r.json()['id']}", headers=world.auth("lead"), json={"name": "x"})
    assert r2.status_code == 403
    entries = _audit(database, "business_calendar")
    assert [e.action for e in entries] == ["created", "updated"]
    assert entries[1].before["weekly_hours"]["mon"] == ["09:00-17:00"] and entries[1].before["holidays"] == []
    assert entries[1].after["holidays"] == ["2026-12-25"] and "name" not in entries[1].after
