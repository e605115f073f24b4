"""The queue admin pages: list, create and edit through the forms (with CSRF), the API's refusals beside their fields
(422, nothing written), 403 for non-admins, another brand's queue 404, and an audit entry for each change."""

from __future__ import annotations

import sqlalchemy as sa

from tests.pages import set_password, sign_in
from tierdesk.audit.models import AuditEntry
from tierdesk.queues.models import Queue


def _admin(web, database, world, who: str = "admin") -> str:
    set_password(database, world.agents[who])
    return sign_in(web, f"{who}@example.com")


def _queue(database, slug: str, brand: int | None = None) -> Queue | None:
    with database.transaction(write=False) as db:
        from tierdesk.queues.repository import with_skills

        stmt = sa.select(Queue).where(Queue.slug == slug)
        queue = db.scalar(stmt.where(Queue.brand_id == brand) if brand else stmt)
        return with_skills(db, queue) if queue else None


def _audit(database, entity: str) -> list[AuditEntry]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id)))


def _form(token: str, **fields) -> dict:
    body = {"csrf_token": token, "name": "Fibre", "slug": "ts-fibre", "department": "TS", "tier": "2",
            "routing_policy": "round_robin", "skill": ["fibre", "connectivity", ""], "min_level": ["3", "2", "1"],
            "overflow_queue": "", "overflow_after_seconds": ""}
    body.update(fields)
    return body


def test_the_queue_list_shows_each_brands_queues_with_their_routing(web, database, world):
    _admin(web, database, world)
    page = web.get("/admin/queues")
    assert page.status_code == 200
    assert "ts-specialists" in page.text and "connectivity ≥ 4" in page.text
    one = web.get("/admin/queues?brand=acme")
    assert "cs-general" not in one.text and "ts-helpdesk" in one.text


def test_an_admin_creates_and_edits_a_queue(web, database, world):
    token = _admin(web, database, world)
    assert web.get("/admin/queues/new?brand=acme").status_code == 200
    overflow = str(world.queues["acme/ts-specialists"])
    r = web.post("/admin/queues/new?brand=acme",
                 data=_form(token, overflow_queue=overflow, overflow_after_seconds="600"),
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    queue = _queue(database, "ts-fibre")
    assert queue is not None and queue.tier == 2 and queue.routing_policy.value == "round_robin"
    assert {s.skill: s.min_level for s in queue.required_skills} == {"fibre": 3, "connectivity": 2}
    assert queue.overflow_queue_id == world.queues["acme/ts-specialists"] and queue.overflow_after_seconds == 600
    page = web.get(f"/admin/queues/{queue.id}")
    assert page.status_code == 200 and 'value="fibre"' in page.text
    r = web.post(f"/admin/queues/{queue.id}", data=_form(token, name="Fibre lines", skill=["fibre", ""],
                                                          min_level=["4", "1"], is_active="1"),
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    queue = _queue(database, "ts-fibre")
    assert queue.name == "Fibre lines" and {s.skill: s.min_level for s in queue.required_skills} == {"fibre": 4}
    assert queue.overflow_queue_id is None and queue.is_active
    entries = [e for e in _audit(database, "queue") if e.entity_id == str(queue.id)]
    assert [e.action for e in entries] == ["created", "updated"]
    assert entries[0].actor_agent_id == world.agents["admin"]
    assert entries[1].before["required_skills"] == {"fibre": 3, "connectivity": 2}
    assert entries[1].after["required_skills"] == {"fibre": 4} and entries[1].after["name"] == "Fibre lines"


def test_bad_input_comes_back_beside_its_field_and_writes_nothing(web, database, world):
    token = _admin(web, database, world)
    before = len(_audit(database, "queue"))
    r = web.post("/admin/queues/new?brand=acme", data=_form(token, slug="Not A Slug"))
    assert r.status_code == 422
    assert 'id="error-slug"' in r.text and 'aria-invalid="true"' in r.text
    assert 'value="Fibre"' in r.text  # what was typed stays
    r = web.post("/admin/queues/new?brand=acme", data=_form(token, skill=["fibre", "fibre"], min_level=["1", "2"]))
    assert r.status_code == 422 and "a skill is listed twice" in r.text
    r = web.post("/admin/queues/new?brand=acme", data=_form(token, min_level=["9", "2", "1"]))
    assert r.status_code == 422 and 'id="error-required_skills"' in r.text
    r = web.post("/admin/queues/new?brand=acme", data=_form(token, slug="ts-helpdesk"))
    assert r.status_code == 422 and "already" in r.text
    r = web.post("/admin/queues/new?brand=acme", data=_form(token, overflow_after_seconds="60"))
    assert r.status_code == 422 and "overflow needs both" in r.text
    assert _queue(database, "ts-fibre") is None
    # An edit refused half-way (the overflow check comes after the fields are set) leaves the queue as it was.
    qid = world.queues["acme/ts-helpdesk"]
    r = web.post(f"/admin/queues/{qid}", data=_form(token, name="Changed", overflow_queue=str(qid),
                                                     overflow_after_seconds="60", is_active="1"))
    assert r.status_code == 422 and "cannot overflow into itself" in r.text
    assert _queue(database, "ts-helpdesk").name == "ts-helpdesk"
    assert len(_audit(database, "queue")) == before


def test_forms_need_their_csrf_token(web, database, world):
    token = _admin(web, database, world)
    body = _form(token)
    del body["csrf_token"]
    assert web.post("/admin/queues/new?brand=acme", data=body).status_code == 403
    assert _queue(database, "ts-fibre") is None


def test_only_admins_reach_the_queue_pages(web, database, world):
    token = _admin(web, database, world, "lead")
    assert web.get("/admin/queues").status_code == 403
    assert web.post("/admin/queues/new?brand=acme", data=_form(token)).status_code == 403
    assert _queue(database, "ts-fibre") is None


def test_the_api_is_audited_like_the_pages(client, database, world):
    r = client.patch(f"/api/v1/queues/{world.queues['acme/cs-billing']}", headers=world.auth("admin"),
                     json={"tier": 2})
    assert r.status_code == 200
    entry = _audit(database, "queue")[-1]
    assert entry.action == "updated" and entry.before == {"tier": 1} and entry.after == {"tier": 2}
    assert entry.brand_id == world.brands["acme"]


def test_the_triage_queue_keeps_its_nature(web, database, world):
    token = _admin(web, database, world)
    qid = world.queues["acme/triage"]
    page = web.get(f"/admin/queues/{qid}")
    assert page.status_code == 200 and "triage queue" in page.text and 'name="department"' not in page.text
    r = web.post(f"/admin/queues/{qid}", data=_form(token, name="Triage desk", tier="1", skill=["triage", ""],
                                                     min_level=["2", "1"]), follow_redirects=False)
    assert r.status_code == 303, r.text
    queue = _queue(database, "triage", world.brands["acme"])
    assert queue.name == "Triage desk" and queue.department is None and queue.is_active
    assert {s.skill: s.min_level for s in queue.required_skills} == {"triage": 2}
