"""Signing in to the web UI: the sign-in page at /, sessions in Secure HttpOnly SameSite cookies, CSRF on every form,
sign-out, lock-out with back-off, and password reset by email (sent through the outbox, mailed by the notice sender
to a real SMTP listener)."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from tests.pages import PASSWORD, csrf_of, set_password, sign_in
from tierdesk.agents.models import Agent, AgentSession, PasswordReset
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit.vocabulary import OutboxTopic


def test_root_shows_the_sign_in_page_to_nobody_signed_in(web):
    page = web.get("/")
    assert page.status_code == 200
    assert "Sign in to tierdesk" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"]
    assert "tierdesk_csrf=" in cookie and "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie


def test_an_agent_signs_in_sees_their_work_and_signs_out(web, world, database):
    set_password(database, world.agents["agent"])
    token = sign_in(web, "agent@example.com")
    session_cookie = next(c for c in web.cookies.jar if c.name == "tierdesk_session")
    assert session_cookie.secure and session_cookie.has_nonstandard_attr("HttpOnly")
    home = web.get("/")
    assert "My work" in home.text and "Sign out" in home.text
    with database.transaction() as db:
        stored = db.scalars(sa.select(AgentSession.digest)).one()
    assert stored != session_cookie.value  # only the digest is kept
    out = web.post("/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    web.cookies.set("tierdesk_session", session_cookie.value, domain="testserver.local")
    assert "Sign in to tierdesk" in web.get("/").text
    with database.transaction() as db:
        assert db.scalars(sa.select(AgentSession.ended_at)).one() is not None


def test_sign_in_never_sends_the_agent_to_another_site(web, world, database):
    set_password(database, world.agents["agent"])
    token = csrf_of(web.get("/").text)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        done = web.post("/sign-in", data={"email": "agent@example.com", "password": PASSWORD, "csrf_token": token,
                                          "next": target}, follow_redirects=False)
        assert done.headers["location"] == "/"


def test_a_form_without_its_csrf_token_is_refused(web, world, database):
    set_password(database, world.agents["agent"])
    web.get("/")
    refused = web.post("/sign-in", data={"email": "agent@example.com", "password": PASSWORD},
                       follow_redirects=False)
    assert refused.status_code == 403 and "reload the page" in refused.text
    forged = web.post("/sign-in", data={"email": "agent@example.com", "password": PASSWORD,
                                        "csrf_token": "0" * 64}, follow_redirects=False)
    assert forged.status_code == 403
    with database.transaction() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(AgentSession)) == 0


def test_wrong_passwords_lock_the_account_with_back_off(web, world, database, settings):
    set_password(database, world.agents["agent"])
    token = csrf_of(web.get("/").text)

    def attempt(password: str):
        return web.post("/sign-in", data={"email": "Agent@Example.com", "password": password, "csrf_token": token},
                        follow_redirects=False)

    for _ in range(settings.sign_in_lockout_after - 1):
        wrong = attempt("not the password")
        assert wrong.status_code == 401 and "the email or the password is wrong" in wrong.text
    assert attempt("not the password").status_code == 401  # the fifth: now locked
    locked = attempt(PASSWORD)  # even the right password waits
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) <= settings.sign_in_lockout_seconds
    assert "locked" in locked.text
    with database.transaction() as db:
        agent = db.get(Agent, world.agents["agent"])
        first_lock = agent.locked_until - dt.datetime.now(dt.UTC)
        agent.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)  # the lock-out has passed
    for _ in range(settings.sign_in_lockout_after):
        attempt("still not it")
    with database.transaction() as db:
        second_lock = db.get(Agent, world.agents["agent"]).locked_until - dt.datetime.now(dt.UTC)
    assert second_lock > first_lock * 1.5  # doubled
    with database.transaction() as db:
        db.get(Agent, world.agents["agent"]).locked_until = None
    assert attempt(PASSWORD).status_code == 303
    with database.transaction() as db:
        agent = db.get(Agent, world.agents["agent"])
        assert (agent.failed_sign_ins, agent.sign_in_strikes) == (0, 0)


def test_an_unknown_address_is_told_the_same_as_a_wrong_password(web, world):
    token = csrf_of(web.get("/").text)
    response = web.post("/sign-in", data={"email": "nobody@example.com", "password": "whatever it is",
                                          "csrf_token": token})
    assert response.status_code == 401 and "the email or the password is wrong" in response.text


def test_a_deactivated_agent_is_signed_out(web, world, database):
    set_password(database, world.agents["agent"])
    sign_in(web, "agent@example.com")
    with database.transaction() as db:
        db.get(Agent, world.agents["agent"]).is_active = False
    assert "Sign in to tierdesk" in web.get("/").text


def test_password_reset_by_email(web, world, database, settings):
    set_password(database, world.agents["agent"])
    page = web.get("/password/forgot")
    said = web.post("/password/forgot", data={"email": "agent@example.com", "csrf_token": csrf_of(page.text)})
    assert said.status_code == 200 and "is on its way" in said.text
    unknown = web.post("/password/forgot", data={"email": "nobody@example.com", "csrf_token": csrf_of(page.text)})
    assert unknown.text.replace("nobody@example.com", "X") == said.text.replace("agent@example.com", "X")
    with database.transaction() as db:
        rows = db.scalars(sa.select(OutboxMessage).where(OutboxMessage.topic == OutboxTopic.EMAIL_NOTICE)).all()
        assert len(rows) == 1 and set(rows[0].payload) == {"kind", "id", "base_url"}  # no link in the outbox
        reset = db.scalars(sa.select(PasswordReset)).one()
        from tierdesk.agents.sessions import password_reset_notice

        notice = password_reset_notice(db, settings.effective_secret_key(), rows[0].payload)
    assert notice is not None and notice.to == "agent@example.com"
    link = re.search(r"https://testserver(/password/reset/\S+)", notice.text).group(1)
    assert str(reset.id) in link
    form = web.get(link)
    assert form.status_code == 200 and "Choose a new password" in form.text
    mismatch = web.post(link, data={"password": "a brand new secret", "repeat": "another one!",
                                    "csrf_token": csrf_of(form.text)})
    assert mismatch.status_code == 422 and "not the same" in mismatch.text
    short = web.post(link, data={"password": "short", "repeat": "short", "csrf_token": csrf_of(form.text)})
    assert short.status_code == 422 and "10 to 200 characters" in short.text
    done = web.post(link, data={"password": "a brand new secret", "repeat": "a brand new secret",
                                "csrf_token": csrf_of(form.text)})
    assert done.status_code == 200 and "Your password is changed" in done.text
    assert web.get(link).status_code == 404  # used once
    sign_in(web, "agent@example.com", "a brand new secret")
    tampered = link[:-1] + ("0" if link[-1] != "0" else "1")
    assert web.get(tampered).status_code == 404


def test_a_page_asks_for_sign_in_and_returns_there(web, world, database):
    set_password(database, world.agents["agent"])
    away = web.get("/queues?status=open", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/?next=%2Fqueues%3Fstatus%3Dopen"
    page = web.get(away.headers["location"])
    assert 'name="next" value="/queues?status=open"' in page.text
    done = web.post("/sign-in", data={"email": "agent@example.com", "password": PASSWORD,
                                      "csrf_token": csrf_of(page.text), "next": "/queues?status=open"},
                    follow_redirects=False)
    assert done.headers["location"] == "/queues?status=open"
