"""Customers: history across channels, timeline, search, brand scoping and merging duplicates."""

from __future__ import annotations

import base64
import json

import sqlalchemy as sa

from tests.conftest import contact
from tierdesk.customers.models import Customer, CustomerIdentity
from tierdesk.tickets.models import Message, Ticket, TicketEvent

CONTACTS = "/api/v1/contacts"
CUSTOMERS = "/api/v1/customers"


# --- helpers -------------------------------------------------------------------------------------------------------


def created(client, world, who: str = "agent", **overrides) -> dict:
    response = client.post(CONTACTS, json=contact(**overrides), headers=world.auth(who))
    assert response.status_code == 201, response.text
    return response.json()


def get(client, world, url: str, who: str = "agent", expect: int = 200, **params):
    response = client.get(url, params=params, headers=world.auth(who))
    assert response.status_code == expect, response.text
    return response.json()


def search(client, world, who: str = "agent", **params) -> list[int]:
    return [c["id"] for c in get(client, world, CUSTOMERS, who, **params)["items"]]


def merge(client, world, target: int, source: int, who: str = "lead"):
    return client.post(f"{CUSTOMERS}/{target}/merge", json={"source_id": source}, headers=world.auth(who))


def set_status(client, world, ticket_id: int, status: str) -> None:
    response = client.patch(f"/api/v1/tickets/{ticket_id}", json={"status": status}, headers=world.auth("agent"))
    assert response.status_code == 200, response.text


def maria_on_three_channels(client, world) -> tuple[int, list[int]]:
    """Maria writes an email, then chats, then calls (the call also tells us her phone number)."""
    email = created(client, world)
    chat = created(client, world, channel="chat", body="Hello, chat here", thread_ref="conv-1")
    phone = created(client, world, channel="phone", body="Call notes",
                    sender={"email": "maria@example.com", "phone": "+49 30 1234567"})
    customer_id = email["customer_id"]
    assert chat["customer_id"] == phone["customer_id"] == customer_id
    return customer_id, [email["ticket"]["id"], chat["ticket"]["id"], phone["ticket"]["id"]]


# --- one customer's history ----------------------------------------------------------------------------------------


def test_customer_history_across_channels(client, world):
    customer_id, ticket_ids = maria_on_three_channels(client, world)
    history = get(client, world, f"{CUSTOMERS}/{customer_id}")

    assert history["id"] == customer_id
    assert history["brand_id"] == world.brands["acme"]
    assert history["display_name"] == "Maria"
    assert history["merged_into_id"] is None
    assert [(i["kind"], i["value"]) for i in history["identities"]] == [
        ("email", "maria@example.com"), ("phone", "+49301234567")]
    assert sorted(history["channels"]) == ["chat", "email", "phone"]
    assert history["open_tickets"] == 3
    assert [t["id"] for t in history["tickets"]] == sorted(ticket_ids, reverse=True)  # newest first
    assert all(t["customer_id"] == customer_id for t in history["tickets"])
    assert [t["channel"] for t in history["tickets"]] == ["phone", "chat", "email"]

    set_status(client, world, ticket_ids[0], "solved")
    set_status(client, world, ticket_ids[1], "pending")
    history = get(client, world, f"{CUSTOMERS}/{customer_id}")
    assert history["open_tickets"] == 2  # solved no longer counts; pending still does
    set_status(client, world, ticket_ids[0], "closed")
    assert get(client, world, f"{CUSTOMERS}/{customer_id}")["open_tickets"] == 2


def test_customer_history_does_not_mix_customers(client, world):
    mine, _ = maria_on_three_channels(client, world)
    other = created(client, world, channel="web", sender={"email": "someone@example.com"})
    history = get(client, world, f"{CUSTOMERS}/{other['customer_id']}")
    assert history["channels"] == ["web"]
    assert history["open_tickets"] == 1
    assert [t["id"] for t in history["tickets"]] == [other["ticket"]["id"]]
    assert len(get(client, world, f"{CUSTOMERS}/{mine}")["tickets"]) == 3


def test_unknown_customer_is_404(client, world):
    error = get(client, world, f"{CUSTOMERS}/999999", expect=404)["error"]
    assert error["code"] == "not_found"
    get(client, world, f"{CUSTOMERS}/999999/timeline", expect=404)


# --- timeline ------------------------------------------------------------------------------------------------------


def test_customer_timeline_spans_all_tickets_and_pages_with_a_cursor(client, world, database):
    customer_id, ticket_ids = maria_on_three_channels(client, world)
    set_status(client, world, ticket_ids[0], "solved")
    created(client, world, sender={"email": "someone-else@example.com"})  # not on maria's timeline

    everything = get(client, world, f"{CUSTOMERS}/{customer_id}/timeline", limit=200)
    assert everything["next_cursor"] is None
    events = everything["items"]
    assert {e["ticket_id"] for e in events} == set(ticket_ids)
    assert len(events) == 3 * 3 + 1  # created, message_received, triaged per ticket, one status change
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)  # oldest first
    received = [e for e in events if e["kind"] == "message_received"]
    assert sorted(e["message"]["channel"] for e in received) == ["chat", "email", "phone"]
    assert all(e["message"]["author_customer_id"] == customer_id for e in received)
    with database.transaction(write=False) as db:
        stored = db.scalars(
            sa.select(TicketEvent.id).where(TicketEvent.customer_id == customer_id).order_by(TicketEvent.id)
        ).all()
    assert [e["id"] for e in events] == stored

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = get(client, world, f"{CUSTOMERS}/{customer_id}/timeline", **params)
        assert 1 <= len(page["items"]) <= 2
        seen += [e["id"] for e in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 20
    assert seen == [e["id"] for e in events]  # every event exactly once, in order
    assert len(set(seen)) == len(seen)
    assert pages == 5  # 10 events, 2 a page


def test_timeline_refuses_a_forged_cursor(client, world):
    customer_id = created(client, world)["customer_id"]
    error = get(client, world, f"{CUSTOMERS}/{customer_id}/timeline", expect=422, cursor="not-a-cursor")["error"]
    assert error["field"] == "cursor"


# --- search --------------------------------------------------------------------------------------------------------


def test_search_by_identity_and_prefix(client, world):
    maria, _ = maria_on_three_channels(client, world)
    account = created(client, world, sender={"email": "otto@example.com", "external_id": "ACC-1001",
                                             "name": "Otto Normal"})["customer_id"]
    created(client, world, sender={"email": "zed@example.org", "name": "Zed"})

    assert search(client, world, email="maria@example.com") == [maria]
    assert search(client, world, email="  MARIA@Example.com") == [maria]  # normalised like intake does
    assert search(client, world, phone="+49 (30) 123-4567") == [maria]
    assert search(client, world, phone="+49301234567") == [maria]
    assert search(client, world, external_id="ACC-1001") == [account]
    assert search(client, world, external_id="ACC-1002") == []
    assert search(client, world, email="nobody@example.com") == []

    assert search(client, world, q="mar") == [maria]  # name or email prefix
    assert search(client, world, q="Otto N") == [account]  # name, case-insensitive
    assert search(client, world, q="otto@") == [account]
    assert search(client, world, q="+4930") == [maria]  # phone prefix
    assert search(client, world, q="example.com") == []  # a prefix, not a substring
    assert search(client, world, q="%a") == []  # LIKE wildcards are literal
    assert sorted(search(client, world)) == sorted([maria, account, search(client, world, q="zed")[0]])


def test_search_prefix_matches_account_ids_whatever_the_case(client, world):
    """`q` is documented as the prefix of a name or identity; names match case-insensitively, so must account ids."""
    account = created(client, world, sender={"external_id": "ACC-1001", "name": "Otto"})["customer_id"]
    assert search(client, world, q="Otto") == search(client, world, q="otto") == [account]
    assert search(client, world, q="ACC-10") == [account]  # typed exactly as stored
    assert search(client, world, q="acc-10") == [account]


def test_search_pages_with_a_cursor(client, world):
    ids = [created(client, world, sender={"email": f"p{i}@example.com"})["customer_id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        page = get(client, world, CUSTOMERS, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids)


def test_search_by_two_identities_at_once_is_refused(client, world):
    created(client, world)
    for params, field in (
        ({"email": "maria@example.com", "phone": "+49301234567"}, "phone"),
        ({"email": "maria@example.com", "external_id": "X"}, "external_id"),
        ({"phone": "+49301234567", "external_id": "X"}, "external_id"),
    ):
        error = get(client, world, CUSTOMERS, expect=422, **params)["error"]
        assert error["field"] == field


def test_search_with_a_malformed_identity_is_refused(client, world):
    assert get(client, world, CUSTOMERS, expect=422, email="not-an-email")["error"]["field"] == "email"
    assert get(client, world, CUSTOMERS, expect=422, phone="12")["error"]["field"] == "phone"
    assert get(client, world, CUSTOMERS, expect=422, q="m")["error"]["field"] == "q"  # too short


# --- brand scoping -------------------------------------------------------------------------------------------------


def test_customers_of_another_brand_are_invisible(client, world):
    acme = created(client, world)["customer_id"]
    globex = created(client, world, "globex_agent", brand="globex",
                     sender={"email": "maria@example.com"})["customer_id"]
    assert acme != globex  # one person, two brands: two customers

    get(client, world, f"{CUSTOMERS}/{acme}", "globex_agent", expect=404)
    get(client, world, f"{CUSTOMERS}/{acme}/timeline", "globex_agent", expect=404)
    assert search(client, world, "globex_agent", email="maria@example.com") == [globex]
    assert search(client, world, "globex_agent", q="mar") == [globex]
    assert search(client, world, "globex_agent") == [globex]
    assert search(client, world, "agent", email="maria@example.com") == [acme]
    forbidden = client.get(CUSTOMERS, params={"brand": "acme"}, headers=world.auth("globex_agent"))
    assert forbidden.status_code == 422 and forbidden.json()["error"]["field"] == "brand"  # as if it did not exist
    # Admins see both; a brand filter narrows.
    assert sorted(search(client, world, "admin", email="maria@example.com")) == sorted([acme, globex])
    assert search(client, world, "admin", email="maria@example.com", brand="globex") == [globex]
    assert get(client, world, f"{CUSTOMERS}/{acme}", "admin")["id"] == acme


# --- merging -------------------------------------------------------------------------------------------------------


def test_lead_merges_a_duplicate(client, world, database):
    target = created(client, world, sender={"email": "maria@example.com", "name": "Maria"})
    source_first = created(client, world, channel="phone", body="Call",
                           sender={"phone": "+49 30 1234567", "external_id": "ACC-7"})
    source_second = created(client, world, channel="chat", body="Chat", sender={"external_id": "ACC-7"})
    target_id, source_id = target["customer_id"], source_first["customer_id"]
    assert source_second["customer_id"] == source_id != target_id
    moved = [source_first["ticket"]["id"], source_second["ticket"]["id"]]

    response = merge(client, world, target_id, source_id, "lead")
    assert response.status_code == 200, response.text
    merged = response.json()
    assert merged["id"] == target_id
    assert merged["merged_into_id"] is None
    assert {(i["kind"], i["value"]) for i in merged["identities"]} == {
        ("email", "maria@example.com"), ("phone", "+49301234567"), ("external_id", "ACC-7")}

    source = get(client, world, f"{CUSTOMERS}/{source_id}")
    assert source["merged_into_id"] == target_id
    assert source["identities"] == []
    assert source["tickets"] == []
    assert source["open_tickets"] == 0

    history = get(client, world, f"{CUSTOMERS}/{target_id}")
    assert sorted(t["id"] for t in history["tickets"]) == sorted([target["ticket"]["id"], *moved])
    assert sorted(history["channels"]) == ["chat", "email", "phone"]
    assert history["open_tickets"] == 3

    with database.transaction(write=False) as db:
        assert db.get(Customer, source_id).merged_into_id == target_id
        assert db.scalar(sa.select(sa.func.count()).select_from(CustomerIdentity)
                         .where(CustomerIdentity.customer_id == source_id)) == 0
        assert db.scalar(sa.select(sa.func.count()).select_from(Ticket).where(Ticket.customer_id == source_id)) == 0
        assert db.scalar(sa.select(sa.func.count()).select_from(TicketEvent)
                         .where(TicketEvent.customer_id == source_id)) == 0
        assert db.scalar(sa.select(sa.func.count()).select_from(Message)
                         .where(Message.author_customer_id == source_id)) == 0
        merged_events = db.execute(sa.select(TicketEvent.ticket_id, TicketEvent.customer_id)
                                   .where(TicketEvent.kind == "customer_merged")).all()
        assert sorted(tuple(e) for e in merged_events) == sorted((t, target_id) for t in moved)

    # The merged-away customer no longer shows in search; the survivor is found by the source's identities.
    assert search(client, world, external_id="ACC-7") == [target_id]
    assert source_id not in search(client, world)

    # A new contact from the source's old identity lands on the target.
    again = created(client, world, channel="phone", body="Calling again", sender={"phone": "+49301234567"})
    assert again["customer_id"] == target_id
    assert again["customer_created"] is False
    assert again["possible_duplicate_customers"] == []
    threaded = created(client, world, channel="chat", body="more", sender={"external_id": "ACC-7"},
                       thread_ref=f"ticket:{moved[1]}")
    assert threaded["threaded"] is True
    assert threaded["ticket"]["id"] == moved[1]

    # The moved tickets record the merge on their timelines; the customer timeline now spans all tickets.
    for ticket_id in moved:
        ticket = get(client, world, f"/api/v1/tickets/{ticket_id}")
        assert ticket["customer_id"] == target_id
        events = get(client, world, f"/api/v1/tickets/{ticket_id}/timeline")["items"]
        [event] = [e for e in events if e["kind"] == "customer_merged"]
        assert event["before"] == {"customer_id": source_id}
        assert event["after"] == {"customer_id": target_id}
        assert event["actor_kind"] == "agent"
        assert event["actor_agent_id"] == world.agents["lead"]
    target_events = get(client, world, f"/api/v1/tickets/{target['ticket']['id']}/timeline")["items"]
    assert "customer_merged" not in [e["kind"] for e in target_events]

    timeline = get(client, world, f"{CUSTOMERS}/{target_id}/timeline", limit=200)["items"]
    assert {e["ticket_id"] for e in timeline} == {target["ticket"]["id"], *moved, again["ticket"]["id"]}
    assert get(client, world, f"{CUSTOMERS}/{source_id}/timeline")["items"] == []


def test_a_new_contact_from_the_source_email_lands_on_the_target(client, world):
    target = created(client, world, sender={"external_id": "ACC-1"})["customer_id"]
    source = created(client, world, sender={"email": "old@example.com"})["customer_id"]
    assert merge(client, world, target, source).status_code == 200
    again = created(client, world, sender={"email": "Old@Example.com"})
    assert again["customer_id"] == target
    assert again["customer_created"] is False


def test_merge_fills_a_missing_name_from_the_source(client, world):
    target = created(client, world, sender={"email": "noname@example.com"})["customer_id"]
    source = created(client, world, sender={"email": "named@example.com", "name": "Named Person"})["customer_id"]
    response = merge(client, world, target, source)
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "Named Person"


def test_agent_may_not_merge(client, world, database):
    a = created(client, world, sender={"email": "a@example.com"})["customer_id"]
    b = created(client, world, sender={"email": "b@example.com"})["customer_id"]
    response = merge(client, world, a, b, "agent")
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"
    with database.transaction(write=False) as db:
        assert db.get(Customer, b).merged_into_id is None
        assert db.scalar(sa.select(CustomerIdentity.customer_id).where(CustomerIdentity.value == "b@example.com")) == b


def test_merge_into_itself_is_refused(client, world, database):
    a = created(client, world)["customer_id"]
    response = merge(client, world, a, a)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "source_id"
    with database.transaction(write=False) as db:
        assert db.get(Customer, a).merged_into_id is None


def test_merge_across_brands_is_refused(client, world, database):
    acme = created(client, world, "admin")["customer_id"]
    globex = created(client, world, "admin", brand="globex", sender={"email": "g@example.com"})["customer_id"]
    for target, source in ((acme, globex), (globex, acme)):
        response = merge(client, world, target, source, "admin")
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "source_id"
    with database.transaction(write=False) as db:
        assert db.get(Customer, acme).merged_into_id is None
        assert db.get(Customer, globex).merged_into_id is None
        assert db.scalar(sa.select(Ticket.customer_id).where(Ticket.brand_id == world.brands["globex"])) == globex
    # A lead of acme cannot even see the globex customer.
    assert merge(client, world, acme, globex, "lead").status_code == 404


def test_merging_an_already_merged_customer_is_refused(client, world, database):
    a = created(client, world, sender={"email": "a@example.com"})["customer_id"]
    b = created(client, world, sender={"email": "b@example.com"})["customer_id"]
    c = created(client, world, sender={"email": "c@example.com"})["customer_id"]
    assert merge(client, world, a, b).status_code == 200

    again = merge(client, world, c, b)
    assert again.status_code == 422, again.text
    assert again.json()["error"]["field"] == "source_id"
    into_merged = merge(client, world, b, c)
    assert into_merged.status_code == 422, into_merged.text
    assert into_merged.json()["error"]["field"] == "customer_id"
    with database.transaction(write=False) as db:
        assert db.get(Customer, b).merged_into_id == a
        assert db.get(Customer, c).merged_into_id is None
        owner = db.scalar(sa.select(CustomerIdentity.customer_id).where(CustomerIdentity.value == "c@example.com"))
        assert owner == c


def test_merge_with_an_unknown_customer_is_404(client, world):
    a = created(client, world)["customer_id"]
    for target, source in ((999999, a), (a, 999999)):
        response = merge(client, world, target, source)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"


def test_merge_body_is_validated(client, world):
    a = created(client, world)["customer_id"]
    for body in ({}, {"source_id": "x"}, {"source_id": a, "extra": 1}):
        response = client.post(f"{CUSTOMERS}/{a}/merge", json=body, headers=world.auth("lead"))
        assert response.status_code == 422, response.text


# --- hostile input -------------------------------------------------------------------------------------------------

HUGE = "99999999999999999999"  # an integer beyond any id column


def test_hostile_input_to_customer_endpoints_is_refused_not_a_server_error(client, world):
    customer_id = created(client, world)["customer_id"]

    def cursor(position) -> str:
        return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")

    cases = [
        # (method, url, params or body, acceptable statuses)
        ("GET", f"{CUSTOMERS}/{HUGE}", None, {404, 422}),
        ("GET", f"{CUSTOMERS}/{HUGE}/timeline", None, {404, 422}),
        ("POST", f"{CUSTOMERS}/{customer_id}/merge", {"source_id": int(HUGE)}, {404, 422}),
        ("GET", CUSTOMERS, {"brand": HUGE}, {422}),
        ("GET", CUSTOMERS, {"cursor": cursor({"id": "a"})}, {422}),
        ("GET", CUSTOMERS, {"cursor": cursor({"id": int(HUGE)})}, {200, 422}),
        ("GET", f"{CUSTOMERS}/{customer_id}/timeline", {"cursor": cursor({"id": "a"})}, {422}),
        ("GET", CUSTOMERS, {"q": "ma\x00"}, {200, 422}),
        ("GET", CUSTOMERS, {"external_id": "ACC\x00"}, {200, 422}),
    ]
    failures = []
    for method, url, data, allowed in cases:
        if method == "GET":
            response = client.get(url, params=data, headers=world.auth("lead"))
        else:
            response = client.post(url, json=data, headers=world.auth("lead"))
        if response.status_code not in allowed:
            failures.append((method, url, data, response.status_code))
        elif response.status_code == 200:
            assert response.json()["items"] == []
        else:
            assert response.json()["error"]["code"] in ("not_found", "invalid", "validation_error")
    assert not failures, "answered outside what is acceptable:\n" + "\n".join(map(repr, failures))


def test_addresses_of_internal_mail_domains_are_customers_but_reserved_names_are_not():
    """An internal IT helpdesk's customers write from Active Directory domains under .local."""
    import pytest

    from tierdesk.customers.identity import normalise_email
    from tierdesk.kit.errors import InvalidInput

    assert normalise_email("Alice.Smith@CORP.local") == "alice.smith@corp.local"
    for reserved in ("someone@localhost", "someone@example.invalid", "x@host.onion"):
        with pytest.raises(InvalidInput):
            normalise_email(reserved)
