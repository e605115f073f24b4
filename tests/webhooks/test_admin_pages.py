"""The webhook admin pages: subscriptions per brand, create (the secret shown once, then never), edit, disable and
enable, a ping, the deliveries of one with their attempts and a redeliver button; the API's refusals beside their
fields (422, nothing written); leads in their brands, agents 403, another brand's subscription 404; audited."""

from __future__ import annotations

import sqlalchemy as sa

from tests.pages import set_password, sign_in
from tierdesk.audit.models import AuditEntry
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import WebhookDeliveryStatus
from tierdesk.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription


def _signed_in(web, database, world, who: str = "admin") -> str:
    set_password(database, world.agents[who])
    return sign_in(web, f"{who}@example.com")


def _subscriptions(database) -> list[WebhookSubscription]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(WebhookSubscription).order_by(WebhookSubscription.id)))


def _audit(database) -> list[AuditEntry]:
    with database.transaction(write=False) as db:
        return list(db.scalars(sa.select(AuditEntry).where(AuditEntry.entity == "webhook_subscription")
                               .order_by(AuditEntry.id)))


def _form(token: str, **fields) -> dict:
    body = {"csrf_token": token, "url": "https://hooks.example.com/tierdesk", "name": "CRM",
            "events": ["ticket_created", "sla_breach"], "departments": ["TS"]}
    body.update(fields)
    return body


def _create(web, token, world, **fields) -> WebhookSubscription:
    r = web.post("/admin/webhooks/new?brand=acme", data=_form(token, **fields))
    assert r.status_code == 201, r.text
    return r


def test_an_admin_creates_a_subscription_and_sees_its_secret_once(web, database, world):
    token = _signed_in(web, database, world)
    assert web.get("/admin/webhooks").status_code == 200
    assert web.get("/admin/webhooks/new?brand=acme").status_code == 200
    r = _create(web, token, world, queues=[str(world.queues["acme/ts-helpdesk"])])
    assert 'id="webhook-secret">whsec_' in r.text
    secret = r.text.split('id="webhook-secret">')[1].split("<")[0]
    [sub] = _subscriptions(database)
    assert sub.events == ["ticket_created", "sla_breach"] or set(sub.events) == {"ticket_created", "sla_breach"}
    assert sub.queue_ids == [world.queues["acme/ts-helpdesk"]] and sub.departments == ["TS"]
    page = web.get(f"/admin/webhooks/{sub.id}")
    assert page.status_code == 200 and secret not in page.text
    listing = web.get("/admin/webhooks")
    assert "hooks.example.com" in listing.text and secret not in listing.text
    [entry] = _audit(database)
    assert entry.action == "created" and entry.after["secret"] == "(changed)" and secret not in str(entry.after)


def test_edit_disable_enable_and_delete(web, database, world):
    token = _signed_in(web, database, world)
    _create(web, token, world)
    [sub] = _subscriptions(database)
    r = web.post(f"/admin/webhooks/{sub.id}", data=_form(token, url="https://other.example.com/in",
                                                         events=["solved"], departments=[]),
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    [sub] = _subscriptions(database)
    assert sub.url == "https://other.example.com/in" and sub.events == ["solved"] and sub.departments == []
    assert web.post(f"/admin/webhooks/{sub.id}/disable", data={"csrf_token": token},
                    follow_redirects=False).status_code == 303
    assert not _subscriptions(database)[0].is_active
    page = web.get(f"/admin/webhooks/{sub.id}")
    assert "disabled by hand" in page.text and ">Enable<" in page.text
    assert web.post(f"/admin/webhooks/{sub.id}/enable", data={"csrf_token": token},
                    follow_redirects=False).status_code == 303
    assert _subscriptions(database)[0].is_active
    assert web.post(f"/admin/webhooks/{sub.id}/delete", data={"csrf_token": token},
                    follow_redirects=False).status_code == 303
    assert _subscriptions(database) == []
    assert [e.action for e in _audit(database)] == ["created", "updated", "updated", "updated", "deleted"]
    assert _audit(database)[2].after == {"is_active": False, "disabled_reason": "disabled by hand"}


def test_deliveries_with_their_attempts_and_redelivery(web, database, world):
    token = _signed_in(web, database, world)
    _create(web, token, world)
    [sub] = _subscriptions(database)
    assert web.post(f"/admin/webhooks/{sub.id}/ping", data={"csrf_token": token},
                    follow_redirects=False).status_code == 303
    with database.transaction() as db:
        delivery = db.scalar(sa.select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id))
        delivery.status, delivery.attempts, delivery.failed_at = WebhookDeliveryStatus.FAILED, 1, utcnow()
        db.add(WebhookAttempt(delivery_id=delivery.id, number=1, status=WebhookDeliveryStatus.FAILED,
                              response_code=503, duration_ms=42, error="<b>Service Unavailable</b>"))
        delivery_id = delivery.id
    page = web.get(f"/admin/webhooks/{sub.id}")
    assert "HTTP 503" in page.text and "42 ms" in page.text and "&lt;b&gt;Service Unavailable" in page.text
    with database.transaction(write=False) as db:
        before = db.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    r = web.post(f"/admin/webhooks/{sub.id}/deliveries/{delivery_id}/redeliver", data={"csrf_token": token},
                 follow_redirects=False)
    assert r.status_code == 303
    with database.transaction(write=False) as db:
        assert db.get(WebhookDelivery, delivery_id).status is WebhookDeliveryStatus.PENDING
        assert db.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == before + 1
    # A disabled subscription's delivery is not redelivered: the page says why.
    web.post(f"/admin/webhooks/{sub.id}/disable", data={"csrf_token": token})
    r = web.post(f"/admin/webhooks/{sub.id}/deliveries/{delivery_id}/redeliver", data={"csrf_token": token})
    assert r.status_code == 409 and "enable it first" in r.text


def test_bad_input_comes_back_beside_its_field_and_writes_nothing(web, database, world):
    token = _signed_in(web, database, world)
    r = web.post("/admin/webhooks/new?brand=acme", data=_form(token, url="ftp://files.example.com"))
    assert r.status_code == 422 and 'id="error-url"' in r.text and "http:// or https://" in r.text
    r = web.post("/admin/webhooks/new?brand=acme", data=_form(token, events=[]))
    assert r.status_code == 422 and 'id="error-events"' in r.text
    r = web.post("/admin/webhooks/new?brand=acme", data=_form(token, queues=[str(world.queues["globex/cs-general"])]))
    assert r.status_code == 422 and 'id="error-queues"' in r.text
    assert _subscriptions(database) == [] and _audit(database) == []


def test_who_may_manage_webhooks(web, database, world):
    token = _signed_in(web, database, world, "lead")
    assert web.get("/admin/webhooks").status_code == 200
    _create(web, token, world)
    assert web.post("/admin/webhooks/new?brand=globex", data=_form(token)).status_code == 422  # not their brand
    web.post("/sign-out", data={"csrf_token": token})
    token = _signed_in(web, database, world, "agent")
    assert web.get("/admin/webhooks").status_code == 403
    assert web.post("/admin/webhooks/new?brand=acme", data=_form(token)).status_code == 403
    [sub] = _subscriptions(database)
    assert web.post(f"/admin/webhooks/{sub.id}/disable", data={"csrf_token": token}).status_code == 403
    body = _form(token)
    del body["csrf_token"]
    assert web.post(f"/admin/webhooks/{sub.id}", data=body).status_code == 403
    assert len(_subscriptions(database)) == 1


def test_another_brands_subscription_is_not_found(web, client, database, world):
    r = client.post("/api/v1/webhooks", headers=world.auth("admin"), json={
        "brand": "globex", "url": "https://globex.example.com/hook", "events": ["ticket_created"]})
    assert r.status_code == 201
    _signed_in(web, database, world, "lead")
    assert web.get(f"/admin/webhooks/{r.json()['id']}").status_code == 404
    assert "globex.example.com" not in web.get("/admin/webhooks").text
