from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tierdesk.app import create_app

ACME_FORM = {
    "enabled": True,
    "fields": [
        {"name": "order_number", "label": "Order number", "type": "text", "required": True, "max_length": 20},
        {"name": "product", "label": "Product", "type": "select", "choices": ["Router", "Modem"]},
        {"name": "details", "label": "What have you tried?", "type": "textarea"},
        {"name": "newsletter", "label": "Send me the newsletter", "type": "checkbox"},
    ],
    "max_attachment_bytes": 64 * 1024,
    "max_attachments": 2,
    "allowed_types": ["image/*", "application/pdf", "text/plain"],
    "allowed_origins": ["http://shop.example"],
    "thank_you_text": "Thanks! Acme support answers within a day.",
}


@pytest.fixture
def form_settings(settings):
    """No minimum fill time (a test does not wait); the spam tests set their own."""
    return settings.model_copy(update={"web_form_min_fill_seconds": 0})


@pytest.fixture
def form_app(database, form_settings, world):
    app = create_app(database, form_settings)
    with TestClient(app, raise_server_exceptions=False) as admin:
        r = admin.patch("/api/v1/web-forms/acme", json=ACME_FORM, headers=world.auth("admin"))
        assert r.status_code == 200, r.text
    return app


@pytest.fixture
def browser(form_app):
    """A customer's browser, at one client address."""
    with TestClient(form_app, raise_server_exceptions=False, client=("203.0.113.7", 50123)) as c:
        yield c
