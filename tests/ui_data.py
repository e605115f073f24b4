"""Data for the tests that walk the web UI (test_pages_quality.py, test_page_queries.py): tickets from several
customers in both brands, some assigned to the plain agent, one busy ticket with many messages. Made through the API,
so it is exactly what real use makes; names and subjects carry markup, which every page must show as text."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from tests.conftest import World, contact

# Outside text with markup in it: escaped, it is text; unescaped, the CSP blocks the script and the browser logs it.
XSS_NAME = '<img src=x onerror="alert(1)">Ann'
XSS_SUBJECT = "<script>alert('subject')</script> Invoice charged twice"


@dataclass
class Seeded:
    """What was made, for the pages' URLs (`/tickets/{busy_ticket}`, `/customers/{customers[0]}`, ...)."""

    world: World
    tickets: list[int] = field(default_factory=list)
    customers: list[int] = field(default_factory=list)
    mine: list[int] = field(default_factory=list)  # assigned to the plain agent ("agent", of acme)
    messages: int = 0

    @property
    def busy_ticket(self) -> int:
        """The first ticket: it gets `messages_on_busy` more messages on each seeding."""
        return self.tickets[0]


def seed_support(client: TestClient, seeded: Seeded, *, tickets: int, messages_on_busy: int) -> Seeded:
    """Add `tickets` tickets (each from a new customer; every third in globex, the rest in acme; every other acme one
    assigned to the plain agent, with a reply and a note) and `messages_on_busy` replies on the busy ticket."""
    world = seeded.world
    admin = world.auth("admin")
    start = len(seeded.tickets)
    for n in range(start, start + tickets):
        brand = "globex" if n % 3 == 2 else "acme"
        subject = XSS_SUBJECT if n == 0 else f"Router blinks red after the update (case {n})"
        name = XSS_NAME if n == 0 else f"Customer {n}"
        r = client.post("/api/v1/contacts", headers=admin, json=contact(
            brand=brand, sender={"email": f"customer{n}@example.com", "name": name}, subject=subject,
            body=f"Since this morning nothing loads <b>at all</b> (case {n}).", external_id=f"seed-{n}"))
        assert r.status_code in (200, 201), r.text
        ticket_id = r.json()["ticket"]["id"]
        seeded.tickets.append(ticket_id)
        seeded.customers.append(r.json()["customer_id"])
        seeded.messages += 1
        if brand == "acme" and n % 2 == 0:
            r = client.patch(f"/api/v1/tickets/{ticket_id}", headers=admin,
                             json={"assignee_id": world.agents["agent"], "priority": "high" if n % 4 else "urgent"})
            assert r.status_code == 200, r.text
            seeded.mine.append(ticket_id)
            for direction, body in (("outbound", "Could you restart it and tell us the colour?"),
                                    ("note", "Known issue with firmware 2.1: <i>see the runbook</i>")):
                r = client.post(f"/api/v1/tickets/{ticket_id}/messages", headers=admin,
                                json={"direction": direction, "body": body})
                assert r.status_code == 201, r.text
                seeded.messages += 1
    for n in range(messages_on_busy):
        r = client.post(f"/api/v1/tickets/{seeded.busy_ticket}/messages", headers=admin,
                        json={"direction": "note" if n % 2 else "outbound", "body": f"Update {n}: still looking."})
        assert r.status_code == 201, r.text
        seeded.messages += 1
    return seeded
