"""The customer who used the form gets the acknowledgement an email customer gets: the email channel's own, through
the outbox to the relay (here a real SMTP server), carrying the reference the thank-you page showed."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.channels.email.test_outbound import Sink, deliver, free_port, outbox_rows
from tests.channels.web.helpers import FORM, fields, token_of
from tierdesk.app import create_app
from tierdesk.channels.email.models import EmailAddress
from tierdesk.kit.vocabulary import MailSecurity


@pytest.fixture
def sink():
    with Sink(free_port()) as s:
        yield s


@pytest.fixture
def relayed(form_settings, sink):
    return form_settings.model_copy(update={"email_relay_host": "127.0.0.1", "email_relay_port": sink.port,
                                            "email_relay_security": MailSecurity.PLAIN})


def test_the_form_sends_the_email_channels_acknowledgement(database, relayed, form_app, world, sink):
    with database.transaction() as db:
        db.add(EmailAddress(brand_id=world.brands["acme"], address="support@acme.test", is_default=True))
    with TestClient(create_app(database, relayed), raise_server_exceptions=False) as browser:
        data = {**fields(order_number="A-5"), "form_token": token_of(browser.get(FORM).text)}
        done = browser.post(FORM, data=data)
        assert done.status_code == 200, done.text
        reference = re.search(r'class="reference">([^<]+)<', done.text).group(1)
        assert [r.topic for r in outbox_rows(database)] == ["email.acknowledge"]
        assert deliver(database, relayed) == 1
        mail = sink.handler.mails()[0]
        assert str(mail["To"]) == "maria@example.com" and str(mail["From"]) == "Acme <support@acme.test>"
        assert reference in str(mail["Subject"]) and mail["Auto-Submitted"] == "auto-replied"
        assert reference in mail.get_body(preferencelist=("plain",)).get_content()

        # A brand that does not want it: no acknowledgement.
        r = browser.patch("/api/v1/web-forms/acme", json={"acknowledge": False}, headers=world.auth("admin"))
        assert r.status_code == 200
        data = {**fields(order_number="A-6", subject="Another"), "form_token": token_of(browser.get(FORM).text)}
        assert browser.post(FORM, data=data).status_code == 200
        assert len(outbox_rows(database)) == 1
