"""Tags: set as a whole with PATCH (normalised, sorted, each change an event), read back, and filtered by."""

from __future__ import annotations

from tests.conftest import contact


def test_tags_are_set_normalised_recorded_and_filtered(client, world):
    auth = world.auth("agent")
    first = client.post("/api/v1/contacts", json=contact(), headers=auth).json()["ticket"]["id"]
    other = client.post("/api/v1/contacts", json=contact(sender={"email": "x@example.com"}), headers=auth)
    assert other.status_code == 201
    r = client.patch(f"/api/v1/tickets/{first}", json={"tags": ["VIP", "outage:2026-12", "vip"]}, headers=auth)
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/tickets/{first}/tags", headers=auth).json() == ["outage:2026-12", "vip"]
    listed = client.get("/api/v1/tickets", params={"tag": "vip"}, headers=auth).json()["items"]
    assert [t["id"] for t in listed] == [first]
    events = client.get(f"/api/v1/tickets/{first}/timeline", headers=auth, params={"limit": 200}).json()["items"]
    changed = [e for e in events if e["kind"] == "tags_changed"]
    assert changed[-1]["before"] == {"tags": []} and changed[-1]["after"] == {"tags": ["outage:2026-12", "vip"]}
    client.patch(f"/api/v1/tickets/{first}", json={"tags": ["vip", "outage:2026-12"]}, headers=auth)
    events = client.get(f"/api/v1/tickets/{first}/timeline", headers=auth, params={"limit": 200}).json()["items"]
    assert len([e for e in events if e["kind"] == "tags_changed"]) == 1  # the same set changes nothing
    client.patch(f"/api/v1/tickets/{first}", json={"tags": []}, headers=auth)
    assert client.get(f"/api/v1/tickets/{first}/tags", headers=auth).json() == []


def test_a_bad_tag_is_refused_naming_it(client, world):
    auth = world.auth("agent")
    ticket = client.post("/api/v1/contacts", json=contact(), headers=auth).json()["ticket"]["id"]
    r = client.patch(f"/api/v1/tickets/{ticket}", json={"tags": ["ok", "not ok!"]}, headers=auth)
    assert r.status_code == 422 and "'not ok!' is not a tag" in r.text and r.json()["error"]["field"] == "tags"
    assert client.get("/api/v1/tickets", params={"tag": "Not OK"}, headers=auth).status_code == 422
