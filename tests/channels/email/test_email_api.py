"""The email API: brand addresses, the quarantine, the email side of a message, attachments; scoped by brand."""

from __future__ import annotations

from tests.channels.email.helpers import mail
from tierdesk.kit.vocabulary import EmailOutcome


def _inbound(client):
    return client.app.state.email_inbound


def test_addresses_are_managed_by_admins_and_reach_one_brand(client, world):
    admin = world.auth("admin")
    made = client.post("/api/v1/email/addresses", json={"brand": "acme", "address": "Support@Acme.example"},
                       headers=admin)
    assert made.status_code == 201 and made.json()["address"] == "support@acme.example" and made.json()["is_default"]
    taken = client.post("/api/v1/email/addresses", json={"brand": "globex", "address": "support@acme.example"},
                        headers=admin)
    assert taken.status_code == 409 and "another brand" in taken.json()["error"]["message"]
    tagged = client.post("/api/v1/email/addresses", json={"brand": "acme", "address": "support+x@acme.example"},
                         headers=admin)
    assert tagged.status_code == 422 and tagged.json()["error"]["field"] == "address"
    bad = client.post("/api/v1/email/addresses", json={"brand": "acme", "address": "not an address"}, headers=admin)
    assert bad.status_code == 422
    by_agent = client.post("/api/v1/email/addresses", json={"brand": "acme", "address": "x@acme.example"},
                           headers=world.auth("agent"))
    assert by_agent.status_code == 403
    assert _inbound(client).accepts("SUPPORT+billing@acme.example")
    assert not _inbound(client).accepts("sales@acme.example")
    gone = client.delete("/api/v1/email/addresses/support@acme.example", params={"brand": "acme"}, headers=admin)
    assert gone.status_code == 204 and not _inbound(client).accepts("support@acme.example")


def test_the_email_side_of_a_message_is_visible_only_in_its_brand(client, world, settings):
    client.post("/api/v1/email/addresses", json={"brand": "acme", "address": "support@acme.example"},
                headers=world.auth("admin"))
    html = ('<p>See the photo <img src="cid:photo1"> and <img src="https://track.example/p.gif"></p>'
            '<script>alert(1)</script>')
    raw = mail(html=html, attachments=[("router.jpg", "image/jpeg", b"\xff\xd8\xff fake jpeg")])
    result = _inbound(client).receive(raw, recipients=["support@acme.example"], source="test")
    assert result.outcome is EmailOutcome.CREATED
    base = f"/api/v1/tickets/{result.ticket_id}/messages/{result.message_id}/email"
    record = client.get(base, headers=world.auth("agent"))
    assert record.status_code == 200
    assert record.json()["from_address"] == "maria@example.com" and record.json()["has_remote_images"] is True
    assert client.get(base, headers=world.auth("globex_agent")).status_code == 404
    original = client.get(base + "/original", headers=world.auth("agent"))
    assert original.status_code == 200 and original.content == raw
    blocked = client.get(base + "/html", headers=world.auth("agent")).text
    assert "track.example" not in blocked and "cid:photo1" in blocked and "<script" not in blocked
    allowed = client.get(base + "/html", params={"remote_images": "true"}, headers=world.auth("agent")).text
    assert "https://track.example/p.gif" in allowed and "<script" not in allowed
    files = client.get(f"/api/v1/tickets/{result.ticket_id}/attachments", headers=world.auth("agent")).json()
    assert [f["filename"] for f in files] == ["router.jpg"]
    download = client.get(f"/api/v1/tickets/{result.ticket_id}/attachments/{files[0]['id']}",
                          headers=world.auth("agent"))
    assert download.content == b"\xff\xd8\xff fake jpeg"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert client.get(f"/api/v1/tickets/{result.ticket_id}/attachments/{files[0]['id']}",
                      headers=world.auth("globex_agent")).status_code == 404


def test_the_quarantine_is_listed_and_reprocessed_by_api(client, world):
    raw = mail(to="sales@acme.example")
    result = _inbound(client).receive(raw, recipients=["sales@acme.example"], source="smtp from 192.0.2.1")
    assert result.outcome is EmailOutcome.QUARANTINED
    listed = client.get("/api/v1/email/quarantine", headers=world.auth("admin")).json()["items"]
    assert [q["id"] for q in listed] == [result.quarantine_id]
    assert "sales@acme.example" in listed[0]["reason"]
    # Mail that reached no brand is for admins only.
    assert client.get("/api/v1/email/quarantine", headers=world.auth("agent")).json()["items"] == []
    original = client.get(f"/api/v1/email/quarantine/{result.quarantine_id}/original", headers=world.auth("admin"))
    assert original.content == raw
    client.post("/api/v1/email/addresses", json={"brand": "acme", "address": "sales@acme.example"},
                headers=world.auth("admin"))
    again = client.post(f"/api/v1/email/quarantine/{result.quarantine_id}/reprocess", headers=world.auth("admin"))
    assert again.status_code == 200 and again.json()["outcome"] == "created"
    assert client.get("/api/v1/email/quarantine", headers=world.auth("admin")).json()["items"] == []
    missing = client.post("/api/v1/email/quarantine/999999/reprocess", headers=world.auth("admin"))
    assert missing.status_code == 404
