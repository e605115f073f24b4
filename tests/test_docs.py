"""The API documentation is served from tierdesk itself, so it works without internet access."""

from __future__ import annotations

import re


def test_docs_page_uses_only_local_assets(client):
    r = client.get("/docs")
    assert r.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text) + re.findall(r"url: '([^']+)'", r.text)
    assert "/static/swagger-ui/swagger-ui-bundle.js" in assets
    assert all(a.startswith("/") for a in assets), assets  # nothing from a CDN
    for asset in assets:
        fetched = client.get(asset)
        assert fetched.status_code == 200, asset
    js = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"] and len(js.content) > 100_000


def test_the_root_leads_to_the_docs_and_redoc_is_off(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"] == "/docs"
    assert client.get("/redoc").status_code == 404
