"""The customer portal (/portal/{brand}): sign-in by a mailed code or link (expiry, single use, the wrong-code limit,
no enumeration, rate limits), a customer's own requests only (another customer's or brand's answer 404), reading,
replying (it reopens a solved request), attachments, a new request through the brand's form, CSRF, XSS, and the
brand's theme."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.channels.web.helpers import EXE, png
from tests.channels.web.portal_helpers import (
    API,
    PORTAL,
    ask_code,
    code_and_link,
    enter_code,
    mail_of,
    notices,
    open_ticket,
    sign_in,
)
from tests.pages import csrf_of
from tierdesk.channels.web import portal_sessions
from tierdesk.channels.web.models import PortalSession, PortalSignIn
from tierdesk.kit.vocabulary import Channel, MessageDirection, NoticeKind, TicketStatus
from tierdesk.tickets.models import Attachment, Message, Ticket

MARIA, BOB = "maria@example.com", "bob@example.com"


@pytest.fixture
def portal(form_app):
    """A customer's browser on the portal (HTTPS, so the Secure cookies come back)."""
    with TestClient(form_app, base_url="https://testserver", raise_server_exceptions=False,
                    client=("198.51.100.9", 40000)) as c:
        yield c


@pytest.fixture
def api(form_app):
    with TestClient(form_app, raise_server_exceptions=False) as c:
        yield c


def age_sign_ins(database, minutes: float) -> None:
    with database.transaction() as db:
        for row in db.scalars(sa.select(PortalSignIn)):
            row.created_at -= dt.timedelta(minutes=minutes)
            row.expires_at -= dt.timedelta(minutes=minutes)


# -- signing in --------------------------------------------------------------------------------------------------------
def test_pages_ask_to_sign_in_first(portal, world):
    r = portal.get(f"{PORTAL}/requests/5", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"{PORTAL}/sign-in?next=%2Fportal%2Facme%2Frequests%2F5"
    assert portal.get(f"{PORTAL}", follow_redirects=False).headers["location"] == f"{PORTAL}/requests"


def test_sign_in_by_code(portal, api, world, database):
    open_ticket(api, world.auth("admin"), MARIA)
    r = ask_code(portal, "  Maria@Example.com ", next=f"{PORTAL}/requests")
    assert r.status_code == 200 and "Check your mail" in r.text
    [row] = notices(database, NoticeKind.PORTAL_SIGN_IN)
    assert set(row.payload) == {"kind", "id", "base_url"}  # no code, no link in the outbox
    assert row.payload["base_url"] == "https://testserver"
    mail = mail_of(database, row)
    assert mail is not None and mail.to == MARIA and "Acme" in mail.subject
    code, link = code_and_link(mail)
    with database.transaction(write=False) as db:
        stored = db.scalars(sa.select(PortalSignIn)).one()
        assert code not in repr(vars(stored)) and link.rsplit("/", 1)[1] not in repr(vars(stored))
    r = enter_code(portal, MARIA, code, next=f"{PORTAL}/requests")
    assert r.status_code == 303 and r.headers["location"] == f"{PORTAL}/requests"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("tierdesk_portal=") and "HttpOnly" in cookie and "Secure" in cookie
    assert "samesite=lax" in cookie.lower()
    with database.transaction(write=False) as db:
        session = db.scalars(sa.select(PortalSession)).one()
        assert session.digest != portal.cookies.get("tierdesk_portal")  # only a keyed digest is kept
    page = portal.get(f"{PORTAL}/requests")
    assert page.status_code == 200 and "My router blinks red" in page.text and MARIA in page.text
    # Single use: the same code again does nothing.
    portal.cookies.clear()
    assert enter_code(portal, MARIA, code).status_code == 422


def test_sign_in_by_link_takes_a_click_and_works_once(portal, api, world, database):
    open_ticket(api, world.auth("admin"), MARIA)
    ask_code(portal, MARIA)
    code, link = code_and_link(mail_of(database, notices(database, NoticeKind.PORTAL_SIGN_IN)[-1]))
    path = link.removeprefix("https://testserver")
    page = portal.get(path)  # a mail scanner fetching the link uses nothing up
    assert page.status_code == 200 and "Continue to my requests" in page.text
    assert portal.get(path).status_code == 200
    r = portal.post(path, data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{PORTAL}/requests"
    assert portal.get(f"{PORTAL}/requests").status_code == 200
    portal.cookies.delete("tierdesk_portal")
    assert portal.get(path).status_code == 404  # used
    assert enter_code(portal, MARIA, code).status_code == 422  # the code of that sign-in is used up too
    # A tampered link, or one of another brand, is refused.
    ask_code(portal, MARIA)
    _code, link = code_and_link(mail_of(database, notices(database, NoticeKind.PORTAL_SIGN_IN)[-1]))
    path = link.removeprefix("https://testserver")
    assert portal.get(path[:-1] + ("0" if path[-1] != "0" else "1")).status_code == 404
    assert portal.get(path.replace("/portal/acme/", "/portal/globex/")).status_code == 404


def test_codes_expire(portal, api, world, database):
    open_ticket(api, world.auth("admin"), MARIA)
    ask_code(portal, MARIA)
    code, link = code_and_link(mail_of(database, notices(database, NoticeKind.PORTAL_SIGN_IN)[-1]))
    age_sign_ins(database, portal_sessions.CODE_MINUTES + 1)
    r = enter_code(portal, MARIA, code)
    assert r.status_code == 422 and "wrong or no longer valid" in r.text
    assert portal.get(link.removeprefix("https://testserver")).status_code == 404


def test_five_wrong_codes_kill_the_code(portal, api, world, database):
    open_ticket(api, world.auth("admin"), MARIA)
    ask_code(portal, MARIA)
    code, _link = code_and_link(mail_of(database, notices(database, NoticeKind.PORTAL_SIGN_IN)[-1]))
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(portal_sessions.MAX_WRONG_CODES):
        r = enter_code(portal, MARIA, wrong)
        assert r.status_code == 422 and 'aria-invalid="true"' in r.text
    assert enter_code(portal, MARIA, code).status_code == 422  # the right code, too late
    with database.transaction(write=False) as db:
        assert db.scalars(sa.select(PortalSignIn)).one().attempts == portal_sessions.MAX_WRONG_CODES


def test_an_unknown_address_is_answered_like_a_known_one(portal, api, world, database):
    open_ticket(api, world.auth("admin"), MARIA)
    known = ask_code(portal, MARIA)
    unknown = ask_code(portal, "nobody@example.com")
    other_brand = ask_code(portal, MARIA, brand="globex")  # a customer of acme is nobody at globex
    assert known.status_code == unknown.status_code == other_brand.status_code == 200

    def text(r) -> str:
        return re.sub(r'name="csrf-token" content="[^"]+"|value="[0-9a-f]{64}"|<strong>[^<]+</strong>', "",
                      r.text.replace("Globex", "Acme").replace("globex", "acme").replace("nobody@", "maria@"))

    assert text(known) == text(unknown) == text(other_brand)
    rows = notices(database, NoticeKind.PORTAL_SIGN_IN)
    assert len(rows) == 1  # only the customer got mail
    assert enter_code(portal, "nobody@example.com", "000000").status_code == 422


def test_asking_for_codes_is_rate_limited_per_address_and_per_ip(form_app, api, world, database):
    open_ticket(api, world.auth("admin"), MARIA)
    with TestClient(form_app, base_url="https://testserver", client=("192.0.2.1", 1)) as one:
        for _ in range(portal_sessions.PER_ADDRESS):
            assert ask_code(one, MARIA).status_code == 200
        r = ask_code(one, MARIA)
        assert r.status_code == 429 and "Retry-After" in r.headers
        for _ in range(portal_sessions.PER_ADDRESS):  # an unknown address is limited alike (and told alike)
            assert ask_code(one, "nobody@example.com").status_code == 200
        assert ask_code(one, "nobody@example.com").status_code == 429
    with database.transaction() as db:  # the per-IP limit: make this IP's count reach it
        for n in range(portal_sessions.PER_IP):
            db.add(PortalSignIn(brand_id=world.brands["acme"], email=f"x{n}@example.com", nonce="n", attempts=0,
                                client_ip="192.0.2.2", created_at=dt.datetime.now(dt.UTC),
                                expires_at=dt.datetime.now(dt.UTC)))
    with TestClient(form_app, base_url="https://testserver", client=("192.0.2.2", 1)) as two:
        assert ask_code(two, "someone@example.com").status_code == 429
    with TestClient(form_app, base_url="https://testserver", client=("192.0.2.3", 1)) as three:
        assert ask_code(three, "someone@example.com").status_code == 200


def test_a_bad_address_names_the_field(portal, world):
    r = ask_code(portal, "not an address")
    assert r.status_code == 422 and 'aria-invalid="true"' in r.text and "name@example.com" in r.text


def test_sign_out_ends_the_session(portal, api, world, database):
    open_ticket(api, world.auth("admin"), MARIA)
    token = sign_in(portal, database, MARIA)
    r = portal.post(f"{PORTAL}/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    with database.transaction(write=False) as db:
        assert db.scalars(sa.select(PortalSession)).one().ended_at is not None
    assert portal.get(f"{PORTAL}/requests", follow_redirects=False).status_code == 303


def test_a_session_is_for_one_brand(portal, api, world, database):
    open_ticket(api, world.auth("admin"), MARIA)
    sign_in(portal, database, MARIA)
    r = portal.get("/portal/globex/requests", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/portal/globex/sign-in")


def test_csrf_is_required(portal, api, world, database):
    ticket = open_ticket(api, world.auth("admin"), MARIA)
    sign_in(portal, database, MARIA)
    assert portal.post(f"{PORTAL}/sign-in", data={"email": MARIA}).status_code == 403
    r = portal.post(f"{PORTAL}/requests/{ticket}/reply", files={"message": (None, "hello")})
    assert r.status_code == 403
    assert portal.post(f"{PORTAL}/sign-out").status_code == 403
    with database.transaction(write=False) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Message)) == 1


def test_unknown_brand_is_a_404_page(portal):
    r = portal.get("/portal/nope/sign-in")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert portal.get("/portal/nope/theme.css").status_code == 404


# -- only my own requests ----------------------------------------------------------------------------------------------
def test_a_customer_sees_only_their_own_requests_in_their_brand(portal, api, world, database):
    admin = world.auth("admin")
    mine = open_ticket(api, admin, MARIA, subject="Maria's router")
    bobs = open_ticket(api, admin, BOB, subject="Bob's invoice")
    elsewhere = open_ticket(api, admin, MARIA, brand="globex", subject="Maria at Globex")
    sign_in(portal, database, MARIA)
    page = portal.get(f"{PORTAL}/requests").text
    assert "Maria&#39;s router" in page and "Bob" not in page and "Globex" not in page
    assert portal.get(f"{PORTAL}/requests/{mine}").status_code == 200
    for other in (bobs, elsewhere, 999999):
        r = portal.get(f"{PORTAL}/requests/{other}")
        assert r.status_code == 404 and "Bob" not in r.text
        assert portal.get(f"{PORTAL}/requests/{other}/rating").status_code == 404
    token = csrf_of(page)
    r = portal.post(f"{PORTAL}/requests/{bobs}/reply", files={"message": (None, "let me in"),
                                                             "csrf_token": (None, token)})
    assert r.status_code == 404
    with database.transaction(write=False) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.ticket_id == bobs)) == 1


def test_internal_notes_never_show_and_agent_text_is_inert(portal, api, world, database):
    admin = world.auth("admin")
    ticket = open_ticket(api, admin, MARIA, subject="<script>alert('subject')</script>")
    api.post(f"{API}/tickets/{ticket}/messages", headers=admin,
             json={"direction": "note", "body": "internal: customer is grumpy"})
    api.post(f"{API}/tickets/{ticket}/messages", headers=admin,
             json={"direction": "outbound", "body": "<img src=x onerror=alert(1)> Try a restart."})
    api.post(f"{API}/tickets/{ticket}/messages", headers=admin,
             json={"direction": "outbound", "body_html": "<p onclick='x()'>Hi <script>alert(2)</script>there</p>"})
    sign_in(portal, database, MARIA)
    for page in (portal.get(f"{PORTAL}/requests").text, portal.get(f"{PORTAL}/requests/{ticket}").text):
        assert "<script>alert" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
        assert "grumpy" not in page
    page = portal.get(f"{PORTAL}/requests/{ticket}").text
    assert "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;" in page
    assert "Try a restart." in page and "onclick" not in page and "alert(2)" not in page
    assert "Acme support" in page


# -- reply, attachments, a new request ---------------------------------------------------------------------------------
def test_a_reply_reopens_a_solved_request(portal, api, world, database):
    admin = world.auth("admin")
    ticket = open_ticket(api, admin, MARIA)
    api.post(f"{API}/tickets/{ticket}/messages", headers=admin, json={"body": "Please restart it."})
    assert api.patch(f"{API}/tickets/{ticket}", headers=admin, json={"status": "solved"}).status_code == 200
    token = sign_in(portal, database, MARIA)
    page = portal.get(f"{PORTAL}/requests/{ticket}").text
    assert "Solved" in page and "Rate this request" in page
    r = portal.post(f"{PORTAL}/requests/{ticket}/reply", follow_redirects=False,
                    files={"message": (None, "It blinks again <b>red</b>."), "csrf_token": (None, token),
                           "attachments": ("blink.png", png(4, 4), "image/png")})
    assert r.status_code == 303 and r.headers["location"].startswith(f"{PORTAL}/requests/{ticket}#message-")
    with database.transaction(write=False) as db:
        t = db.get(Ticket, ticket)
        assert t is not None and t.status is TicketStatus.OPEN and t.reopen_count == 1
        last = db.scalars(sa.select(Message).where(Message.ticket_id == ticket).order_by(Message.id.desc())).first()
        assert last is not None and last.direction is MessageDirection.INBOUND and last.channel is Channel.WEB
        assert last.body_text == "It blinks again <b>red</b>."
        [attached] = db.scalars(sa.select(Attachment).where(Attachment.message_id == last.id)).all()
    page = portal.get(f"{PORTAL}/requests/{ticket}").text
    assert "It blinks again &lt;b&gt;red&lt;/b&gt;." in page and "In progress" in page
    download = portal.get(f"{PORTAL}/requests/{ticket}/attachments/{attached.id}")
    assert download.status_code == 200 and download.content == png(4, 4)
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["content-type"] == "application/octet-stream"


def test_reply_checks_the_message_and_files_like_the_form(portal, api, world, database):
    ticket = open_ticket(api, world.auth("admin"), MARIA)
    token = sign_in(portal, database, MARIA)
    r = portal.post(f"{PORTAL}/requests/{ticket}/reply", files={"message": (None, "  "), "csrf_token": (None, token)})
    assert r.status_code == 422 and 'id="error-message"' in r.text
    r = portal.post(f"{PORTAL}/requests/{ticket}/reply",
                    files={"message": (None, "see file"), "csrf_token": (None, token),
                           "attachments": ("photo.png", EXE, "image/png")})
    assert r.status_code == 422 and 'id="error-attachments"' in r.text and "see file" in r.text
    with database.transaction(write=False) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Message)) == 1


def test_files_of_notes_and_of_other_requests_are_not_served(portal, api, world, database):
    admin = world.auth("admin")
    mine = open_ticket(api, admin, MARIA)
    bobs = open_ticket(api, admin, BOB)
    token_bob = None
    with TestClient(portal.app, base_url="https://testserver", client=("198.51.100.10", 1)) as bob:
        token_bob = sign_in(bob, database, BOB)
        bob.post(f"{PORTAL}/requests/{bobs}/reply", files={"message": (None, "file"), "csrf_token": (None, token_bob),
                                                           "attachments": ("a.png", png(), "image/png")})
    with database.transaction(write=False) as db:
        [bobs_file] = db.scalars(sa.select(Attachment)).all()
    sign_in(portal, database, MARIA)
    assert portal.get(f"{PORTAL}/requests/{mine}/attachments/{bobs_file.id}").status_code == 404
    assert portal.get(f"{PORTAL}/requests/{bobs}/attachments/{bobs_file.id}").status_code == 404


def test_a_new_request_through_the_brands_form(portal, api, world, database):
    open_ticket(api, world.auth("admin"), MARIA)
    sign_in(portal, database, MARIA)
    page = portal.get(f"{PORTAL}/requests/new")
    assert page.status_code == 200 and 'name="email"' not in page.text and "Order number" in page.text
    form_token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
    data = {"csrf_token": csrf_of(page.text), "form_token": form_token, "subject": "Modem dead",
            "message": "The modem does not power on.", "website": "", "email": "someone-else@example.com"}
    r = portal.post(f"{PORTAL}/requests/new", files={k: (None, v) for k, v in data.items()})
    assert r.status_code == 422 and 'id="error-order_number"' in r.text and "Modem dead" in r.text
    data["order_number"] = "A-1"
    r = portal.post(f"{PORTAL}/requests/new", follow_redirects=False,
                    files={**{k: (None, v) for k, v in data.items()},
                           "attachments": ("dead.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")})
    assert r.status_code == 303, r.text
    ticket_id = int(re.search(r"/requests/(\d+)\?sent=1", r.headers["location"]).group(1))
    with database.transaction(write=False) as db:
        ticket = db.get(Ticket, ticket_id)
        first = db.scalars(sa.select(Message).where(Message.ticket_id == ticket_id)).one()
        assert ticket is not None and ticket.channel is Channel.WEB and ticket.subject == "Modem dead"
    # Filed as the signed-in customer, whatever the post said.
    mine = portal.get(f"{PORTAL}/requests").text
    assert "Modem dead" in mine
    assert first.author_customer_id == ticket.customer_id
    assert "Thank you: we have your request." in portal.get(r.headers["location"]).text


def test_the_theme_is_the_brands_colours(portal, api, world):
    r = api.patch(f"{API}/brands/{world.brands['acme']}", headers=world.auth("admin"),
                  json={"brand_colour": "#ffcc00", "accent_colour": "#123456", "logo_url": "https://acme.example/l.png"})
    assert r.status_code == 200, r.text
    css = portal.get(f"{PORTAL}/theme.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "--brand: #ffcc00" in css.text and "--brand-ink: #111111" in css.text  # dark text on yellow
    assert "--accent: #123456" in css.text and "--accent-ink: #ffffff" in css.text
    page = portal.get(f"{PORTAL}/sign-in").text
    assert 'href="/portal/acme/theme.css"' in page and 'src="https://acme.example/l.png"' in page
    assert "style=" not in page


def test_pages_take_the_same_number_of_statements_whatever_the_data(portal, api, world, database):
    admin = world.auth("admin")
    first = open_ticket(api, admin, MARIA)
    sign_in(portal, database, MARIA)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    def statements_of(path: str) -> int:
        statements.clear()
        sa.event.listen(database.engine, "before_cursor_execute", count)
        try:
            assert portal.get(path).status_code == 200
        finally:
            sa.event.remove(database.engine, "before_cursor_execute", count)
        return len(statements)

    small = (statements_of(f"{PORTAL}/requests"), statements_of(f"{PORTAL}/requests/{first}"))
    for n in range(8):
        open_ticket(api, admin, MARIA, subject=f"Another {n}", external_id=f"more-{n}")
        api.post(f"{API}/tickets/{first}/messages", headers=admin, json={"body": f"Reply {n}"})
    big = (statements_of(f"{PORTAL}/requests"), statements_of(f"{PORTAL}/requests/{first}"))
    assert big == small, (small, big)
