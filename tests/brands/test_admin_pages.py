"""The admin's pages for brands (create, name and branding), their email addresses and their triage thresholds:
checked like the API, refused with each field's message and nothing written, audited, admins only; and the
threshold a brand sets is the one intake applies."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import contact
from tests.pages import set_password, sign_in
from tierdesk.audit.models import AuditEntry
from tierdesk.brands.models import Brand
from tierdesk.brands.repository import forget_cached
from tierdesk.channels.email.models import EmailAddress


def _admin(web, world, database) -> str:
    set_password(database, world.agents["admin"])
    return sign_in(web, "admin@example.com")


def _entries(database, entity: str) -> list[AuditEntry]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(AuditEntry).where(AuditEntry.entity == entity,
                                                           AuditEntry.actor_agent_id.is_not(None))
                               .order_by(AuditEntry.id)))


def _brand(database, slug: str) -> Brand | None:
    with database.transaction(write=False) as db:
        return db.scalars(sa.select(Brand).where(Brand.slug == slug)).one_or_none()


def test_an_admin_creates_a_brand_and_edits_its_branding(web, world, database):
    token = _admin(web, world, database)
    listing = web.get("/admin/brands")
    assert listing.status_code == 200 and "Acme" in listing.text
    answer = web.post("/admin/brands", data={"slug": "Bad Slug", "name": "", "csrf_token": token})
    assert answer.status_code == 422 and 'id="slug-error"' in answer.text and 'id="name-error"' in answer.text
    answer = web.post("/admin/brands", data={"slug": "acme", "name": "Again", "csrf_token": token})
    assert answer.status_code == 422 and "exists already" in answer.text
    assert _brand(database, "initech") is None and not _entries(database, "brand")

    answer = web.post("/admin/brands", data={"slug": "initech", "name": "Initech", "csrf_token": token})
    assert answer.status_code == 200 and "Brand created" in answer.text
    brand_id = _brand(database, "initech").id
    answer = web.post(f"/admin/brands/{brand_id}", data={
        "name": "Initech", "logo_url": "http://insecure.example/logo.png", "brand_colour": "red",
        "accent_colour": "", "csrf_token": token})
    assert answer.status_code == 422
    assert 'id="logo_url-error"' in answer.text and 'id="brand_colour-error"' in answer.text
    answer = web.post(f"/admin/brands/{brand_id}", data={
        "name": "Initech Corp", "logo_url": "https://cdn.example/logo.png", "brand_colour": "#12AB34",
        "accent_colour": "", "csrf_token": token})
    assert answer.status_code == 200 and "Changes saved." in answer.text
    brand = _brand(database, "initech")
    assert (brand.name, brand.logo_url, brand.brand_colour) == ("Initech Corp", "https://cdn.example/logo.png",
                                                                "#12ab34")
    created, updated = _entries(database, "brand")
    assert created.action == "created" and created.after == {"slug": "initech", "name": "Initech"}
    assert updated.before == {"name": "Initech", "logo_url": None, "brand_colour": None}
    assert updated.after == {"name": "Initech Corp", "logo_url": "https://cdn.example/logo.png",
                             "brand_colour": "#12ab34"}


def test_the_api_is_audited_like_the_pages(client, world, database):
    r = client.patch(f"/api/v1/brands/{world.brands['acme']}", json={"name": "Acme Inc"}, headers=world.auth("admin"))
    assert r.status_code == 200
    [entry] = _entries(database, "brand")
    assert entry.actor_agent_id == world.agents["admin"] and entry.after == {"name": "Acme Inc"}
    assert entry.brand_id == world.brands["acme"]
    r = client.patch(f"/api/v1/brands/{world.brands['acme']}", json={"triage_threshold": 1.5},
                     headers=world.auth("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "triage_threshold"


def test_brand_email_addresses(web, world, database):
    token = _admin(web, world, database)
    brand_id = world.brands["acme"]
    assert web.get(f"/admin/brands/{brand_id}").status_code == 200
    page = web.get(f"/admin/brands/{brand_id}/addresses")
    assert page.status_code == 200 and "receives no mail yet" in page.text
    answer = web.post(f"/admin/brands/{brand_id}/addresses", data={"address": "sales+x@acme.example",
                                                                   "csrf_token": token})
    assert answer.status_code == 422 and 'id="address-error"' in answer.text and "+tag" in answer.text
    answer = web.post(f"/admin/brands/{brand_id}/addresses", data={"address": "Support@Acme.example",
                                                                   "csrf_token": token})
    assert answer.status_code == 200 and "support@acme.example" in answer.text and "default" in answer.text
    answer = web.post(f"/admin/brands/{world.brands['globex']}/addresses",
                      data={"address": "support@acme.example", "csrf_token": token})
    assert answer.status_code == 422 and "another brand" in answer.text
    answer = web.post(f"/admin/brands/{brand_id}/addresses/remove", data={"address": "support@acme.example",
                                                                          "csrf_token": token})
    assert answer.status_code == 200 and "Address removed." in answer.text
    with database.transaction(write=False) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(EmailAddress)) == 0
    assert [e.action for e in _entries(database, "email_address")] == ["created", "deleted"]


def test_the_brands_triage_threshold_is_the_one_intake_applies(web, client, world, database):
    token = _admin(web, world, database)
    page = web.get("/admin/triage")
    assert page.status_code == 200 and "0.65" in page.text
    brand_id = world.brands["acme"]
    for bad in ("1.5", "-0.1", "lots", "nan"):
        answer = web.post(f"/admin/triage/{brand_id}", data={"triage_threshold": bad, "csrf_token": token})
        assert answer.status_code == 422 and f'id="threshold-{brand_id}-error"' in answer.text
    assert _brand(database, "acme").triage_threshold is None and not _entries(database, "brand")

    answer = web.post(f"/admin/triage/{brand_id}", data={"triage_threshold": "1", "csrf_token": token})
    assert answer.status_code == 200 and "Threshold saved" in answer.text
    forget_cached("acme")
    # 1: people triage every ticket of acme; globex keeps the deployment's threshold.
    r = client.post("/api/v1/contacts", json=contact(), headers=world.auth("admin"))
    assert r.status_code == 201 and r.json()["ticket"]["queue_id"] == world.queues["acme/triage"]
    r = client.post("/api/v1/contacts", json=contact(brand="globex"), headers=world.auth("admin"))
    assert r.json()["ticket"]["queue_id"] != world.queues["globex/triage"]

    answer = web.post(f"/admin/triage/{brand_id}", data={"triage_threshold": "", "csrf_token": token})
    assert answer.status_code == 200 and _brand(database, "acme").triage_threshold is None
    forget_cached("acme")
    r = client.post("/api/v1/contacts", json=contact(subject="Router", body="My router blinks red, no internet at "
                                                     "all since the storm; I restarted it twice."),
                    headers=world.auth("admin"))
    assert r.json()["ticket"]["queue_id"] != world.queues["acme/triage"]
    assert [(e.before, e.after) for e in _entries(database, "brand")] == [
        ({"triage_threshold": None}, {"triage_threshold": 1.0}), ({"triage_threshold": 1.0},
                                                                  {"triage_threshold": None})]


def test_brands_pages_are_for_admins(web, world, database):
    set_password(database, world.agents["lead"])
    token = sign_in(web, "lead@example.com")
    for path in ("/admin/brands", f"/admin/brands/{world.brands['acme']}", "/admin/triage",
                 f"/admin/brands/{world.brands['acme']}/addresses"):
        assert web.get(path).status_code == 403, path
    assert web.post(f"/admin/triage/{world.brands['acme']}", data={"triage_threshold": "0.9",
                                                                   "csrf_token": token}).status_code == 403
    assert web.post("/admin/brands", data={"slug": "x", "name": "X", "csrf_token": token}).status_code == 403
    assert _brand(database, "x") is None and _brand(database, "acme").triage_threshold is None
