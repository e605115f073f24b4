"""Signing in to the web UI: the sign-in page (what `/` shows to nobody signed in), sign-out, and password reset by
email. The logic is agents/sessions.py; failed sign-ins also count against the client's address (the API's
FailedAuthLimiter), so guessing across many accounts from one address is slowed too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tierdesk.agents import sessions
from tierdesk.agents.sessions import SESSION_COOKIE
from tierdesk.config import Settings
from tierdesk.deps import AppSettings, Db
from tierdesk.kit import pages
from tierdesk.kit.errors import DomainError, TooManyRequests
from tierdesk.kit.pages import csrf_protect, render, safe_next
from tierdesk.kit.time import utcnow

router = APIRouter(dependencies=[Depends(csrf_protect)])
EMAIL_MAX = 320


def base_url(request: Request, settings: Settings) -> str:
    """Where links in mails point: TIERDESK_PUBLIC_URL, or the address this request came to."""
    return (settings.public_url or str(request.base_url)).rstrip("/")


def sign_in_page(request: Request, *, status_code: int = 200, error: str | None = None, email: str = "",
                 notice: str | None = None, headers: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, "agents/sign_in.html", status_code=status_code, headers=headers, error=error,
                  email=email, notice=notice, next=safe_next(request.query_params.get("next"), ""))


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    return sign_in_page(request)


@router.post("/sign-in")
def sign_in(request: Request, db: Db, settings: AppSettings,
            email: Annotated[str, Form(max_length=EMAIL_MAX)] = "",
            password: Annotated[str, Form(max_length=sessions.PASSWORD_MAX)] = "",
            next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    limiter = request.app.state.auth_limiter
    wait = limiter.retry_after(_client(request))
    if wait is not None:
        return sign_in_page(request, status_code=429, email=email, headers={"Retry-After": str(wait)},
                            error=f"too many failed sign-ins from this address; try again in {wait} s")
    outcome = sessions.sign_in(db, settings, email, password, user_agent=request.headers.get("user-agent"),
                               now=utcnow())
    if outcome.token is None:
        limiter.failed(_client(request))
        status = 429 if outcome.retry_after else 401
        headers = {"Retry-After": str(outcome.retry_after)} if outcome.retry_after else None
        return sign_in_page(request, status_code=status, error=outcome.error, email=email, headers=headers)
    response = RedirectResponse(safe_next(next), status_code=303)
    pages.set_cookie(response, request, SESSION_COOKIE, outcome.token,
                     max_age=int(settings.web_session_hours * 3600))
    return response


@router.post("/sign-out")
def sign_out(request: Request, db: Db, settings: AppSettings) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and len(token) <= 100:
        sessions.sign_out(db, settings, token, utcnow())
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=pages.secure_cookies(request), httponly=True,
                           samesite="lax")
    return response


@router.get("/password/forgot", response_class=HTMLResponse)
def forgot_form(request: Request) -> Response:
    return render(request, "agents/forgot.html", sent=False, email="")


@router.post("/password/forgot", response_class=HTMLResponse)
def forgot(request: Request, db: Db, settings: AppSettings,
           email: Annotated[str, Form(max_length=EMAIL_MAX)] = "") -> Response:
    sessions.ask_password_reset(db, settings, email, base_url(request, settings), utcnow())
    return render(request, "agents/forgot.html", sent=True, email=email)


@router.get("/password/reset/{token}", response_class=HTMLResponse)
def reset_form(request: Request, db: Db, settings: AppSettings, token: str) -> Response:
    valid = sessions.valid_reset(db, settings, token, utcnow()) is not None if len(token) <= 100 else False
    return render(request, "agents/reset.html", status_code=200 if valid else 404, token=token, valid=valid,
                  error=None)


@router.post("/password/reset/{token}", response_class=HTMLResponse)
def reset(request: Request, db: Db, settings: AppSettings, token: str,
          password: Annotated[str, Form(max_length=1000)] = "",
          repeat: Annotated[str, Form(max_length=1000)] = "") -> Response:
    if password != repeat:
        return render(request, "agents/reset.html", status_code=422, token=token, valid=True,
                      error="the two passwords are not the same")
    try:
        sessions.reset_password(db, settings, token, password, utcnow())
    except DomainError as exc:
        if isinstance(exc, TooManyRequests):
            raise
        return render(request, "agents/reset.html", status_code=422, token=token, valid=exc.field != "token",
                      error=exc.message)
    return sign_in_page(request, notice="Your password is changed. Sign in with it.")

