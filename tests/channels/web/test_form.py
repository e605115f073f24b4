"""The brand's form posted as a browser posts it (multipart, files and all), through the whole way in: a web ticket
in intake, triaged, its attachments stored as the email channel stores them, the brand's fields kept, and the
customer's acknowledgement in the outbox. Each refusal writes nothing and says why beside the field."""

from __future__ import annotations

import re

import markupsafe
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.channels.web.helpers import EXE, FORM, PDF, errors_of, fields, png, token_of
from tierdesk.app import create_app
from tierdesk.channels.web.models import WebSubmission
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit.vocabulary import OutboxTopic
from tierdesk.tickets.models import Attachment, Message, Ticket


def send(client, *, files=None, token=None, **overrides):
    page = client.get(FORM)
    assert page.status_code == 200, page.text
    data = fields(**{"order_number": "A-1234", "product": "Router", **overrides})
    data["form_token"] = token or token_of(page.text)
    return client.post(FORM, data=data, files=files)


def counts(database) -> dict[str, int]:
    with database.transaction(write=False) as db:
        return {model.__tablename__: db.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (Ticket, Message, WebSubmission, Attachment, OutboxMessage)}


NOTHING = {"tickets": 0, "messages": 0, "web_submissions": 0, "attachments": 0, "outbox": 0}


def test_the_page_is_accessible_embeddable_by_the_brands_sites_only_and_lists_the_brands_fields(browser):
    page = browser.get(FORM)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'self' http://shop.example" in csp and "script-src 'self'" in csp
    assert "x-frame-options" not in page.headers  # the iframe is allowed by CSP, per brand
    text = page.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    for name in ("email", "name", "subject", "message", "order_number", "product", "details", "newsletter",
                 "attachments"):
        assert f'<label for="field-{name}">' in text, name  # every field has its label
        assert f'id="field-{name}"' in text
    assert '<option>Router</option><option>Modem</option>' in text
    assert re.search(r'<div class="hp" aria-hidden="true">.*?name="website" type="text" tabindex="-1"', text, re.S)
    assert 'accept="image/*,application/pdf,text/plain"' in text
    assert browser.get("/static/web/form.js").status_code == 200
    assert browser.get("/static/web/frame.js").status_code == 200


def test_no_form_for_an_unknown_brand_or_one_that_is_off(browser, world):
    assert browser.get("/channels/web/nope/form").status_code == 404
    missing = browser.get("/channels/web/globex/form")  # globex never turned its form on
    assert missing.status_code == 404 and "no web form here" in missing.text
    assert browser.post("/channels/web/globex/form", data=fields()).status_code == 404


def test_a_browser_post_becomes_a_triaged_web_ticket_with_its_files_fields_and_acknowledgement(browser, database,
                                                                                               world):
    shot = png(4, 3)
    done = send(browser, newsletter="yes", details="Restarted it twice.", files=[
        ("attachments", ("C:\\Users\\maria\\router.png", shot, "image/png")),
        # The browser's type is ignored: the content is a PDF, as the name says.
        ("attachments", ("invoice.pdf", PDF, "application/octet-stream")),
    ])
    assert done.status_code == 200, done.text
    assert "Thanks! Acme support answers within a day." in done.text
    reference = re.search(r'class="reference">(\[#(\d+)-[a-z2-7]+\])<', done.text)
    assert reference, done.text
    ticket_id = int(reference.group(2))
    admin = world.auth("admin")
    ticket = browser.get(f"/api/v1/tickets/{ticket_id}", headers=admin).json()
    assert ticket["channel"] == "web" and ticket["subject"] == "My router blinks red"
    assert ticket["brand_id"] == world.brands["acme"]
    timeline = browser.get(f"/api/v1/tickets/{ticket_id}/timeline", headers=admin).json()["items"]
    assert "triaged" in [e["kind"] for e in timeline]  # triage ran, as for every channel
    customer = browser.get(f"/api/v1/customers/{ticket['customer_id']}", headers=admin).json()
    assert customer["display_name"] == "Maria"
    assert {"kind": "email", "value": "maria@example.com"}.items() <= customer["identities"][0].items()

    attachments = browser.get(f"/api/v1/tickets/{ticket_id}/attachments", headers=admin).json()
    assert [(a["filename"], a["content_type"], a["size"]) for a in attachments] == [
        ("router.png", "image/png", len(shot)), ("invoice.pdf", "application/pdf", len(PDF))]
    downloaded = browser.get(f"/api/v1/tickets/{ticket_id}/attachments/{attachments[0]['id']}", headers=admin)
    assert downloaded.content == shot

    submissions = browser.get(f"/api/v1/tickets/{ticket_id}/web-submissions", headers=admin).json()
    assert len(submissions) == 1
    assert submissions[0]["fields"] == {"order_number": "A-1234", "product": "Router",
                                        "details": "Restarted it twice.", "newsletter": True}
    assert submissions[0]["client_ip"] == "203.0.113.7" and submissions[0]["via"] == "form"
    with database.transaction(write=False) as db:
        acks = db.scalars(sa.select(OutboxMessage)).all()
        message = db.scalar(sa.select(Message).where(Message.ticket_id == ticket_id))
    assert [(a.topic, a.payload) for a in acks] == [
        (OutboxTopic.EMAIL_ACKNOWLEDGE.value, {"ticket_id": ticket_id, "message_id": message.id})]
    assert message.body_text == "Since this morning the router blinks red and nothing loads."


def test_a_double_click_is_one_request(browser, database):
    page = browser.get(FORM)
    data = fields(order_number="A-1", form_token=token_of(page.text))
    first = browser.post(FORM, data=data)
    second = browser.post(FORM, data=data)
    assert first.status_code == second.status_code == 200
    assert counts(database)["tickets"] == 1 and counts(database)["web_submissions"] == 1


def test_a_required_field_missing_is_named_beside_it_and_nothing_is_written(browser, database):
    done = send(browser, order_number="", subject="   ", email="not an address")
    assert done.status_code == 422
    errors = errors_of(done.text)
    assert errors["order_number"] == "Order number is required"
    assert errors["subject"] == "The subject is required"
    assert "is not an email address" in errors["email"]
    assert 'aria-invalid="true" aria-describedby="error-order_number"' in done.text
    assert 'role="alert"' in done.text and "Please correct the 3 fields below." in done.text
    # What was typed stays; the page keeps its token so the customer just corrects and sends again.
    assert 'value="Maria"' in done.text
    assert counts(database) == NOTHING


def test_a_select_answer_must_be_one_of_its_choices_and_text_has_its_max_length(browser, database):
    done = send(browser, product="Toaster", details="x" * 5001)
    assert done.status_code == 422
    errors = errors_of(done.text)
    assert errors["product"] == "Product: choose one of the options"
    assert "at most 5,000" in errors["details"]
    assert counts(database) == NOTHING


def test_markup_in_every_field_is_kept_as_text_and_shown_as_text(browser, database, world):
    script = "<script>alert('x')</script>"
    image = '"><img src=x onerror=alert(1)>'
    refused = send(browser, subject=script, name=image, details=image, order_number="")
    assert refused.status_code == 422
    assert "<script>alert" not in refused.text and "<img src=x" not in refused.text
    assert str(markupsafe.escape(script)) in refused.text  # shown back, as text
    done = send(browser, subject=script, name=image, details=image, message=f"Hello {script}")
    assert done.status_code == 200
    with database.transaction(write=False) as db:
        ticket = db.scalar(sa.select(Ticket))
        message = db.scalar(sa.select(Message))
        submission = db.scalar(sa.select(WebSubmission))
    assert ticket.subject == script  # stored as written
    assert message.body_text == f"Hello {script}" and "<script>" not in message.body_html
    assert submission.fields["details"] == image


def test_files_too_big_too_many_of_a_type_not_taken_or_lying_about_their_type_are_refused(browser, database):
    cases = [
        ([("attachments", ("big.png", png() + b"\0" * 70_000, "image/png"))], "the largest file this form takes"),
        ([("attachments", (f"{n}.txt", b"log", "text/plain")) for n in range(3)], "takes at most 2"),
        ([("attachments", ("setup.exe", EXE, "application/octet-stream"))],
         "application/x-msdownload are not accepted"),
        # A program named as a picture, with the browser's type agreeing: its content decides.
        ([("attachments", ("holiday.png", EXE, "image/png"))], "its content is application/x-msdownload"),
        ([("attachments", ("notes.txt", PDF, "text/plain"))], "its content is application/pdf, not what its name"),
        ([("attachments", ("photo.jpg", b"just some text", "image/jpeg"))], "its content is text, not image/jpeg"),
    ]
    for files, expected in cases:
        done = send(browser, files=files)
        assert done.status_code == 422, expected
        assert expected in errors_of(done.text)["attachments"], (expected, errors_of(done.text))
        assert "Choose them again" in done.text
    assert counts(database) == NOTHING
    assert not list((browser.app.state.settings.data_dir / "blobs").rglob("*"))  # not even a file on disk


def test_plain_text_files_are_taken_by_their_name_and_an_empty_file_input_is_no_attachment(browser, database):
    done = send(browser, files=[("attachments", ("", b"", "application/octet-stream")),
                                ("attachments", ("router.log", "Fehler: 0x80 ✓\n".encode(), "text/x-log"))])
    assert done.status_code == 200, errors_of(done.text)
    with database.transaction(write=False) as db:
        stored = db.scalars(sa.select(Attachment)).all()
    assert [(a.filename, a.content_type) for a in stored] == [("router.log", "text/plain")]


def test_form_posts_have_their_own_body_limit_above_the_apis(database, form_settings, form_app, world):
    small = form_settings.model_copy(update={"max_request_bytes": 4096, "web_form_max_request_bytes": 100_000})
    with TestClient(create_app(database, small), raise_server_exceptions=False) as c:
        picture = png() + b"\0" * 50_000  # within the brand's 64 KB, far above the API's 4 KB
        assert send(c, files=[("attachments", ("big.png", picture, "image/png"))]).status_code == 200
        too_big = send(c, files=[("attachments", ("huge.png", png() + b"\0" * 120_000, "image/png"))])
        assert too_big.status_code == 413
        assert too_big.json()["error"]["message"].startswith("the request body is larger than the limit of 100000")
        api = c.post("/api/v1/contacts", json={"brand": "acme", "body": "x" * 5000}, headers=world.auth("admin"))
        assert api.status_code == 413
