"""The API variant for sites that post from their own form (JSON or multipart, same checks, errors naming each
field), and the admin API of a brand's form settings (validated, brand-scoped, leads and admins only)."""

from __future__ import annotations

import pytest

from tests.channels.web.conftest import ACME_FORM
from tests.channels.web.helpers import PDF, REQUESTS, fields, png
from tests.channels.web.test_form import NOTHING, counts


def token(client, origin: str | None = None) -> dict:
    r = client.get(f"{REQUESTS}/token", headers={"Origin": origin} if origin else {})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_site_posts_json_with_a_token_it_fetched(browser, database, world):
    issued = token(browser)
    assert issued["honeypot_field"] == "website" and issued["min_fill_seconds"] == 0
    body = {**fields(order_number="A-77", newsletter=None), "newsletter": True, "form_token": issued["form_token"]}
    done = browser.post(REQUESTS, json=body)
    assert done.status_code == 201, done.text
    accepted = done.json()
    assert accepted["reference"].startswith(f"[#{accepted['ticket_id']}-")
    assert accepted["message"] == ACME_FORM["thank_you_text"] and accepted["duplicate"] is False
    again = browser.post(REQUESTS, json=body)  # the same request retried: nothing new
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["ticket_id"] == accepted["ticket_id"]
    submissions = browser.get(f"/api/v1/tickets/{accepted['ticket_id']}/web-submissions",
                              headers=world.auth("admin")).json()
    assert submissions[0]["via"] == "api" and submissions[0]["fields"] == {"order_number": "A-77",
                                                                          "newsletter": True}
    assert counts(database)["tickets"] == 1 and counts(database)["outbox"] == 1


def test_a_site_posts_multipart_with_files(browser, database):
    data = {**fields(order_number="A-78"), "form_token": token(browser)["form_token"]}
    done = browser.post(REQUESTS, data=data, files=[("attachments", ("screen.png", png(), "image/png")),
                                                   ("attachments", ("bill.pdf", PDF, "application/pdf"))])
    assert done.status_code == 201, done.text
    assert counts(database)["attachments"] == 2


def test_errors_name_every_field_at_fault_and_write_nothing(browser, database):
    body = {**fields(order_number="", email="nobody"), "colour": "blue", "product": 3,
            "form_token": token(browser)["form_token"]}
    done = browser.post(REQUESTS, json=body)
    assert done.status_code == 422
    assert done.json()["error"]["fields"] == [{"field": "product", "message":
                                               "must be text (or true/false for a checkbox)"}]
    del body["product"]
    done = browser.post(REQUESTS, json=body)
    assert done.status_code == 422
    error = done.json()["error"]
    assert {f["field"] for f in error["fields"]} == {"order_number", "email", "colour"}
    assert error["code"] == "invalid" and error["field"] == "email"
    assert next(f for f in error["fields"] if f["field"] == "colour")["message"] == "this form has no such field"
    assert browser.post(REQUESTS, content=b"{not json", headers={"content-type": "application/json"}
                        ).json()["error"]["field"] == "body"
    assert browser.post(REQUESTS, json=["a list"]).status_code == 422
    files_in_json = browser.post(REQUESTS, json={**fields(order_number="A-1"), "attachments": ["x"]})
    assert files_in_json.json()["error"]["field"] == "attachments"
    assert counts(database) == NOTHING


def test_cross_origin_posts_are_allowed_for_the_brands_sites_only(browser):
    allowed = browser.options(REQUESTS, headers={"Origin": "http://shop.example",
                                                 "Access-Control-Request-Method": "POST"})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "http://shop.example"
    other = browser.options(REQUESTS, headers={"Origin": "http://evil.example",
                                               "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers
    issued = browser.get(f"{REQUESTS}/token", headers={"Origin": "http://shop.example"})
    assert issued.headers["access-control-allow-origin"] == "http://shop.example"
    refused = browser.post(REQUESTS, json={"subject": "x"}, headers={"Origin": "http://shop.example"})
    assert refused.status_code == 422  # the site can read why
    assert refused.headers["access-control-allow-origin"] == "http://shop.example"


def test_no_api_for_a_brand_without_a_form(browser):
    assert browser.get("/channels/web/globex/requests/token").status_code == 404
    assert browser.post("/channels/web/globex/requests", json={}).json()["error"]["code"] == "not_found"


def test_the_admin_api_shows_the_defaults_then_the_changes_with_the_embed_snippet(client, world):
    admin = world.auth("admin")
    shown = client.get("/api/v1/web-forms/globex", headers=admin).json()
    assert shown["enabled"] is False and shown["max_attachments"] == 5 and shown["acknowledge"] is True
    assert "image/png" in shown["allowed_types"] and shown["fields"] == []
    assert shown["embed_snippet"] == ('<script src="http://testserver/static/web/form.js" data-brand="globex" '
                                      'async></script>')
    changed = client.patch("/api/v1/web-forms/globex", headers=admin, json={
        "enabled": True, "allowed_origins": ["https://WWW.Globex.com/"], "thank_you_text": "  ",
        "fields": [{"name": "plan", "label": "Your plan", "type": "select", "choices": [" Basic", "Pro "]}]})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["allowed_origins"] == ["https://www.globex.com"] and body["thank_you_text"] is None
    assert body["fields"] == [{"name": "plan", "label": "Your plan", "type": "select", "required": False,
                               "choices": ["Basic", "Pro"]}]
    assert client.get("/channels/web/globex/form").status_code == 200
    assert client.patch("/api/v1/web-forms/globex", headers=admin, json={"enabled": False}).json()["fields"]
    assert client.get("/channels/web/globex/form").status_code == 404


@pytest.mark.parametrize("change, field, says", [
    ({"fields": [{"name": "Order No", "label": "x"}]}, "fields.0.name", "lower-case letters"),
    ({"fields": [{"name": "email", "label": "x"}]}, "fields.0.name", "one of the form's own fields"),
    ({"fields": [{"name": "plan", "label": "x", "type": "select"}]}, "fields.0", "needs 1 to 50 choices"),
    ({"fields": [{"name": "plan", "label": "x", "choices": ["a"]}]}, "fields.0", "only a select field has choices"),
    ({"fields": [{"name": "a", "label": "x"}, {"name": "a", "label": "y"}]}, "fields", "two fields are named 'a'"),
    ({"fields": [{"name": "a", "label": "x", "type": "radio"}]}, "fields.0.type", "text"),
    ({"allowed_origins": ["https://shop.example/contact"]}, "allowed_origins", "has no path"),
    ({"allowed_origins": ["*"]}, "allowed_origins", "is not an origin"),
    ({"allowed_types": ["images"]}, "allowed_types", "is not a MIME type"),
    ({"max_attachments": 21}, "max_attachments", "less than or equal to 20"),
    ({"enabled": None}, "enabled", "cannot be null"),
    ({"colour": "blue"}, "colour", "Extra inputs are not permitted"),
])
def test_the_admin_api_refuses_bad_settings_naming_the_field(client, world, change, field, says):
    done = client.patch("/api/v1/web-forms/acme", headers=world.auth("admin"), json=change)
    assert done.status_code == 422, done.text
    assert done.json()["error"]["field"] == field and says in done.json()["error"]["message"]


def test_only_admins_and_the_brands_leads_change_a_form(client, world):
    assert client.patch("/api/v1/web-forms/acme", headers=world.auth("agent"), json={"enabled": True}
                        ).status_code == 403
    assert client.patch("/api/v1/web-forms/acme", headers=world.auth("lead"), json={"enabled": True}
                        ).status_code == 200
    assert client.patch("/api/v1/web-forms/globex", headers=world.auth("lead"), json={"enabled": True}
                        ).status_code == 422  # not a brand they work: answered like a missing one
    assert client.get("/api/v1/web-forms/acme", headers=world.auth("globex_agent")).status_code == 422
    assert client.get("/api/v1/web-forms/acme").status_code == 401
