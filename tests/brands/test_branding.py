"""A brand's look for the portal: logo and colours, set with PATCH, checked, cleared with null."""

from __future__ import annotations


def test_branding_is_set_checked_and_cleared(client, world):
    admin = world.auth("admin")
    brand = world.brands["acme"]
    r = client.patch(f"/api/v1/brands/{brand}", headers=admin, json={
        "logo_url": "https://cdn.acme.example/logo.png", "brand_colour": "#12AB34", "accent_colour": "#0b5cad"})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["brand_colour"], r.json()["logo_url"]) == (
        "Acme", "#12ab34", "https://cdn.acme.example/logo.png")
    for bad in ({"brand_colour": "red"}, {"logo_url": "javascript:alert(1)"}, {"logo_url": "http://x.example/a.png"},
                {"name": None}):
        refused = client.patch(f"/api/v1/brands/{brand}", headers=admin, json=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["error"]["field"] == next(iter(bad))
    cleared = client.patch(f"/api/v1/brands/{brand}", headers=admin, json={"logo_url": None})
    assert cleared.json()["logo_url"] is None and cleared.json()["brand_colour"] == "#12ab34"
    assert client.patch(f"/api/v1/brands/{brand}", headers=world.auth("agent"),
                        json={"name": "Mine"}).status_code == 403
