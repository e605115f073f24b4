"""The admin's page of disposition codes: per brand and department, created and deactivated through the forms with
the API's checks, audited, admins only."""

from __future__ import annotations

import sqlalchemy as sa

from tests.pages import set_password, sign_in
from tierdesk.audit.models import AuditEntry
from tierdesk.tickets.models import DispositionCode


def _codes(database) -> list[DispositionCode]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(DispositionCode).order_by(DispositionCode.id)))


def test_an_admin_creates_and_deactivates_disposition_codes(web, client, world, database):
    set_password(database, world.agents["admin"])
    token = sign_in(web, "admin@example.com")
    assert web.get("/admin/dispositions").status_code == 200
    answer = web.post("/admin/dispositions", data={"brand": "acme", "code": "Bad Code", "label": "",
                                                   "department": "XX", "csrf_token": token})
    assert answer.status_code == 422
    for field in ("code", "label", "department"):
        assert f'id="{field}-error"' in answer.text
    answer = web.post("/admin/dispositions", data={"brand": "nope", "code": "refund", "label": "Refund",
                                                   "csrf_token": token})
    assert answer.status_code == 422 and 'id="brand-error"' in answer.text
    assert _codes(database) == []

    answer = web.post("/admin/dispositions", data={"brand": "acme", "code": "refund-issued",
                                                   "label": "Refund issued", "department": "CS",
                                                   "csrf_token": token})
    assert answer.status_code == 200 and "refund-issued" in answer.text
    answer = web.post("/admin/dispositions", data={"brand": "acme", "code": "refund-issued", "label": "Again",
                                                   "department": "", "csrf_token": token})
    assert answer.status_code == 422 and "already" in answer.text
    [code] = _codes(database)
    answer = web.post(f"/admin/dispositions/{code.id}/active", data={"active": "false", "csrf_token": token})
    assert answer.status_code == 200 and "deactivated" in answer.text
    assert not _codes(database)[0].is_active
    # the API is audited alike
    r = client.post("/api/v1/dispositions", json={"brand": "globex", "code": "fixed", "label": "Fixed"},
                    headers=world.auth("admin"))
    assert r.status_code == 201
    with database.transaction(write=False) as db:
        entries = list(db.scalars(sa.select(AuditEntry).where(AuditEntry.entity == "disposition_code")
                                  .order_by(AuditEntry.id)))
    assert [(e.action, e.actor_agent_id) for e in entries] == [
        ("created", world.agents["admin"]), ("deactivated", world.agents["admin"]),
        ("created", world.agents["admin"])]
    assert entries[0].after["department"] == "CS" and entries[0].brand_id == world.brands["acme"]
    fixed = r.json()["id"]
    assert client.patch(f"/api/v1/dispositions/{fixed}", json={"is_active": False},
                        headers=world.auth("lead")).status_code == 403
    r = client.patch(f"/api/v1/dispositions/{fixed}", json={"is_active": False}, headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert not web.get("/admin/dispositions?brand=globex").text.count(">active<")


def test_disposition_codes_are_for_admins(web, world, database):
    set_password(database, world.agents["lead"])
    token = sign_in(web, "lead@example.com")
    assert web.get("/admin/dispositions").status_code == 403
    answer = web.post("/admin/dispositions", data={"brand": "acme", "code": "x", "label": "X", "csrf_token": token})
    assert answer.status_code == 403 and _codes(database) == []
