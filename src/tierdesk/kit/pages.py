"""The web UI's pages: one Jinja2 environment (autoescaped, so whatever came from outside renders as text), the
headers every page carries, and CSRF protection.

CSRF is a signed double submit: each browser gets a random cookie (HttpOnly, SameSite=Lax), and each form carries
HMAC(secret key, that cookie) in a hidden field `csrf_token` (HTMX sends it as the header X-CSRF-Token, read from
the page's <meta name="csrf-token">). A site elsewhere can neither read the cookie nor compute the token, so a form
it posts is refused. `csrf_protect` checks it: every router of pages carries it as a dependency (a test says so).

Pages live in each domain's views.py and render through `render`; templates live under web/templates/<domain>/.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from tierdesk.kit.errors import DomainError, Forbidden
from tierdesk.kit.forms import FORM
from tierdesk.kit.time import utcnow

TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates"
CSRF_COOKIE = "tierdesk_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Pages load only tierdesk's own scripts and styles; images may also come from https (brand logos); nothing frames
# them. connect-src 'self' lets the live updates (Server-Sent Events) and HTMX reach tierdesk.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
                           "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
                           "frame-ancestors 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # pages carry personal data and their own CSRF token
}


class SignInRequired(DomainError):
    """Nobody (or nobody allowed) is signed in: a page answers with a redirect to `location` (the agent sign-in, or
    the brand's portal sign-in), carrying where the person was going."""

    status_code = 401
    code = "unauthenticated"

    def __init__(self, location: str, message: str = "sign in to see this page"):
        super().__init__(message)
        self.location = location


class CsrfRefused(Forbidden):
    def __init__(self) -> None:
        super().__init__("this form has expired or did not come from tierdesk: reload the page and try again")


# -- rendering ---------------------------------------------------------------------------------------------------------
def _when(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.strftime(fmt) + " UTC" if value else ""


def _ago(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'5 min ago', '3 h ago', '2 d ago': how long ago, as an agent reads it at a glance."""
    if value is None:
        return ""
    return _span((now or utcnow()) - value) + " ago"


def _span(delta: dt.timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def _countdown(due: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'due in 1 h 05 min' or 'overdue by 12 min'."""
    if due is None:
        return ""
    left = due - (now or utcnow())
    return f"due in {_span(left)}" if left.total_seconds() >= 0 else f"overdue by {_span(left)}"


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat() if value else ""


environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,  # everything interpolated is escaped unless it is Markup (sanitised HTML, kit.html)
    undefined=jinja2.StrictUndefined,  # a misspelt variable fails the page's test, not silently
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals["FORM_ERROR"] = FORM  # where a form's refusal that names no field is kept
environment.filters.update(when=_when, ago=_ago, countdown=_countdown, iso=_iso, span=_span, urlquote=quote)


def csrf_cookie(request: Request) -> str:
    """This browser's CSRF cookie, made for this response when it has none yet."""
    value = getattr(request.state, "csrf_cookie", None) or request.cookies.get(CSRF_COOKIE)
    if not value or len(value) > 100:
        value = secrets.token_urlsafe(32)
    request.state.csrf_cookie = value
    return value


def _secret(request: Request) -> str:
    secret: str = request.app.state.secret_key
    return secret


def csrf_token(request: Request) -> str:
    return hmac.new(_secret(request).encode(), b"csrf|" + csrf_cookie(request).encode(), hashlib.sha256).hexdigest()


def secure_cookies(request: Request) -> bool:
    return bool(request.app.state.settings.secure_cookies)


def set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int | None = None) -> None:
    """Every cookie tierdesk sets: HttpOnly, SameSite=Lax, Secure (unless TIERDESK_SECURE_COOKIES is off), path /."""
    response.set_cookie(name, value, max_age=max_age, path="/", secure=secure_cookies(request), httponly=True,
                        samesite="lax")


def finish_page(response: Response, request: Request) -> Response:
    """The headers every page carries, and the CSRF cookie when this browser has none."""
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    made = getattr(request.state, "csrf_cookie", None)
    if made and request.cookies.get(CSRF_COOKIE) != made:
        set_cookie(response, request, CSRF_COOKIE, made, max_age=400 * 86400)
    return response


def render(request: Request, template: str, status_code: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    """A page (or an HTMX fragment) from web/templates, with the security headers and the CSRF token."""
    token = csrf_token(request)

    def csrf_field() -> Markup:
        return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">')

    html = environment.get_template(template).render(
        request=request, csrf_token=token, csrf_field=csrf_field, now=utcnow(), **context)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    finish_page(response, request)
    return response


# -- checking ----------------------------------------------------------------------------------------------------------
async def csrf_protect(request: Request) -> None:
    """A dependency of every router of pages: an unsafe request must carry this browser's CSRF token."""
    if request.method not in UNSAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)  # Starlette keeps the parsed form for the endpoint
        sent = value if isinstance(value, str) else None
    if not cookie or not sent:
        raise CsrfRefused()
    expected = hmac.new(_secret(request).encode(), b"csrf|" + cookie.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sent):
        raise CsrfRefused()


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def safe_next(target: str | None, default: str = "/") -> str:
    """Where to go after signing in: a path on this site only (never //evil.example or https://evil.example)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def wants_html(request: Request) -> bool:
    """A request for a page (not for the API or a channel's endpoint): its errors are answered as pages."""
    path = request.url.path
    if path.startswith(("/api/", "/channels/", "/static/", "/healthz", "/docs", "/openapi")):
        return False
    return True
