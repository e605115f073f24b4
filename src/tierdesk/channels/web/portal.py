"""The customer portal, /portal/{brand}: a customer signs in with a code or link mailed to them
(portal_sessions.py), sees their own requests in that brand and their status, reads the public messages, replies
(through intake, as a continuation on the web channel), submits a new request (the brand's web form, through
WebFormIntake.submit), downloads attachments, and rates a solved request (surveys), also from the signed link in
the solve mail without signing in. Every page is in the brand's colours (theme.css).

A customer only ever sees their own tickets of that brand: every ticket is read through
repository.portal_ticket(brand, customer, id), so anyone else's (or another brand's) answers 404. Internal notes
and their files are never read.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from tierdesk.brands import repository as brands
from tierdesk.brands.models import Brand
from tierdesk.channels.web import portal_sessions, repository, spam
from tierdesk.channels.web.forms import WebForm, form_of
from tierdesk.channels.web.inbound import FormErrors, FormPost, UploadedFile, WebFormIntake
from tierdesk.channels.web.portal_sessions import SESSION_COOKIE, PortalCustomer
from tierdesk.channels.web.views import MAX_PARTS_FIELDS, MAX_PARTS_FILES, form_context
from tierdesk.config import Settings
from tierdesk.deps import AppSettings, Db
from tierdesk.kit import pages
from tierdesk.kit.blobs import blob_store
from tierdesk.kit.errors import DomainError, NotFound, TooManyRequests
from tierdesk.kit.pages import SignInRequired, csrf_protect, render, safe_next
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import MessageDirection, SurveyKind, TicketStatus
from tierdesk.surveys import repository as surveys
from tierdesk.surveys import service as survey_service
from tierdesk.tickets.models import Ticket

router = APIRouter(prefix="/portal/{brand}", dependencies=[Depends(csrf_protect)])
PAGE_SIZE = 25
MESSAGES_SHOWN = 200
EMAIL_MAX = 320

# A ticket's status as a customer reads it.
STATUS_WORDS = {
    TicketStatus.NEW: ("Received", "We have your request and will answer soon."),
    TicketStatus.OPEN: ("In progress", "We are working on it."),
    TicketStatus.PENDING: ("Awaiting your reply", "We asked you something: reply below."),
    TicketStatus.ON_HOLD: ("In progress", "We are waiting on a specialist and will be back to you."),
    TicketStatus.SOLVED: ("Solved", "We think this is solved. Reply if it is not, and it opens again."),
    TicketStatus.CLOSED: ("Closed", "This request is closed. Write a new request if you need more help."),
}


# -- who and where ----------------------------------------------------------------------------------------------------
def portal_brand(brand: str, db: Db) -> Brand:
    found = brands.by_slug(db, brand) if len(brand) <= 64 else None
    if found is None:
        raise NotFound("There is no support portal here.")
    return found


PortalBrand = Annotated[Brand, Depends(portal_brand)]


def _sign_in_location(request: Request, brand: Brand) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/portal/{brand.slug}/sign-in?next=" + quote(target, safe="")


def portal_customer(request: Request, brand: PortalBrand, db: Db) -> PortalCustomer:
    """The customer signed in to this brand's portal; anyone else is sent to its sign-in (where they were going
    kept)."""
    token = request.cookies.get(SESSION_COOKIE)
    settings: Settings = request.app.state.settings
    found = portal_sessions.signed_in(db, settings, brand, token, utcnow()) if token and len(token) <= 100 else None
    if found is None:
        raise SignInRequired(_sign_in_location(request, brand))
    who, stale = found
    if stale:  # at most once a minute, in a short transaction of its own (pages are reads)
        with request.app.state.database.transaction() as writer:
            portal_sessions.touch(writer, who.session_id, utcnow())
    return who


SignedInCustomer = Annotated[PortalCustomer, Depends(portal_customer)]


def _page(request: Request, template: str, brand: Brand, who: PortalCustomer | None, *, status_code: int = 200,
          headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    return render(request, f"portal/{template}", status_code=status_code, headers=headers, brand=brand, who=who,
                  status_words=STATUS_WORDS, **context)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _base_url(request: Request, settings: Settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


def _intake(request: Request) -> WebFormIntake:
    intake: WebFormIntake = request.app.state.web_forms
    return intake


# -- branding ---------------------------------------------------------------------------------------------------------
def _ink_on(colour: str) -> str:
    """Black or white text, whichever reads better on the colour (WCAG relative luminance)."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#111111" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"


def _colour(value: str | None, default: str) -> str:
    if value and len(value) == 7 and value[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in value[1:]):
        return value.lower()
    return default


@router.get("/theme.css", include_in_schema=False)
def theme(brand: PortalBrand) -> Response:
    """The brand's colours as CSS variables (a stylesheet, since the CSP allows no inline style)."""
    main = _colour(brand.brand_colour, "#14213d")
    accent = _colour(brand.accent_colour, "#0b5cad")
    css = (f":root {{ --brand: {main}; --brand-ink: {_ink_on(main)}; --accent: {accent}; "
           f"--accent-ink: {_ink_on(accent)}; }}\n")
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=300",
                                                         "X-Content-Type-Options": "nosniff"})


# -- signing in -------------------------------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
def home(brand: PortalBrand) -> Response:
    return RedirectResponse(f"/portal/{brand.slug}/requests", status_code=303)


def _sign_in_page(request: Request, brand: Brand, *, status_code: int = 200, email: str = "",
                  error: str | None = None, headers: dict[str, str] | None = None) -> HTMLResponse:
    return _page(request, "sign_in.html", brand, None, status_code=status_code, headers=headers, email=email,
                 error=error, next=safe_next(request.query_params.get("next"), ""))


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, brand: PortalBrand) -> Response:
    return _sign_in_page(request, brand)


@router.post("/sign-in", response_class=HTMLResponse)
def ask_code(request: Request, brand: PortalBrand, db: Db, settings: AppSettings,
             email: Annotated[str, Form(max_length=EMAIL_MAX)] = "",
             next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    try:
        address = portal_sessions.ask_code(db, brand, email, _client(request), _base_url(request, settings),
                                           utcnow())
    except TooManyRequests as exc:
        return _sign_in_page(request, brand, status_code=429, email=email, error=_sentence(exc.message),
                             headers={"Retry-After": str(exc.retry_after)})
    except DomainError as exc:
        return _sign_in_page(request, brand, status_code=422, email=email,
                             error="Enter your email address, like name@example.com." if exc.field == "email"
                             else _sentence(exc.message))
    return _page(request, "code.html", brand, None, email=address, error=None, next=safe_next(next, ""))


@router.post("/sign-in/code", response_class=HTMLResponse)
def enter_code(request: Request, brand: PortalBrand, db: Db, settings: AppSettings,
               email: Annotated[str, Form(max_length=EMAIL_MAX)] = "",
               code: Annotated[str, Form(max_length=20)] = "",
               next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    limiter = request.app.state.auth_limiter
    wait = limiter.retry_after(_client(request))
    if wait is not None:
        return _page(request, "code.html", brand, None, status_code=429, email=email, next=safe_next(next, ""),
                     headers={"Retry-After": str(wait)},
                     error=f"Too many wrong codes from this network. Try again in {wait} seconds.")
    token = portal_sessions.sign_in_with_code(db, settings, brand, email, code, request.headers.get("user-agent"),
                                              utcnow())
    if token is None:
        limiter.failed(_client(request))
        return _page(request, "code.html", brand, None, status_code=422, email=email, next=safe_next(next, ""),
                     error=portal_sessions.WRONG_CODE)
    return _signed_in(request, brand, settings, token, next)


def _signed_in(request: Request, brand: Brand, settings: Settings, token: str, next: str) -> Response:
    home = f"/portal/{brand.slug}/requests"
    target = safe_next(next, home)
    if not target.startswith(f"/portal/{brand.slug}/"):
        target = home
    response = RedirectResponse(target, status_code=303)
    pages.set_cookie(response, request, SESSION_COOKIE, token, max_age=int(settings.web_session_hours * 3600))
    return response


@router.get("/sign-in/link/{token}", response_class=HTMLResponse)
def link_page(request: Request, brand: PortalBrand, db: Db, settings: AppSettings, token: str) -> Response:
    """The magic link shows a button: signing in takes a click (a POST), so a mail scanner that fetches links
    does not use it up."""
    valid = portal_sessions.valid_link(db, settings, brand, token, utcnow()) is not None
    return _page(request, "link.html", brand, None, status_code=200 if valid else 404, token=token, valid=valid)


@router.post("/sign-in/link/{token}", response_class=HTMLResponse)
def use_link(request: Request, brand: PortalBrand, db: Db, settings: AppSettings, token: str) -> Response:
    session = portal_sessions.sign_in_with_link(db, settings, brand, token, request.headers.get("user-agent"),
                                                utcnow())
    if session is None:
        return _page(request, "link.html", brand, None, status_code=404, token=token, valid=False)
    return _signed_in(request, brand, settings, session, "")


@router.post("/sign-out")
def sign_out(request: Request, brand: PortalBrand, db: Db, settings: AppSettings) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and len(token) <= 100:
        portal_sessions.sign_out(db, settings, token, utcnow())
    response = RedirectResponse(f"/portal/{brand.slug}/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=pages.secure_cookies(request), httponly=True,
                           samesite="lax")
    return response


# -- my requests -------------------------------------------------------------------------------------------------------
@router.get("/requests", response_class=HTMLResponse)
def my_requests(request: Request, who: SignedInCustomer, db: Db, before: int | None = None) -> Response:
    rows = repository.portal_tickets(db, who.brand.id, who.customer_id, before_id=before, limit=PAGE_SIZE)
    more = len(rows) > PAGE_SIZE
    tickets = rows[:PAGE_SIZE]
    ratings = surveys.answers_of_tickets(db, [t.id for t in tickets], SurveyKind.CSAT)
    return _page(request, "requests.html", who.brand, who, tickets=tickets, ratings=ratings,
                 older=tickets[-1].id if more else None)


def _form_page(request: Request, who: PortalCustomer, form: WebForm, token: str, *, status_code: int = 200,
               values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
               problem: str | None = None) -> HTMLResponse:
    context = form_context(form, token, f"/portal/{who.brand.slug}/requests/new", values=values, errors=errors)
    return _page(request, "new.html", who.brand, who, status_code=status_code, problem=problem,
                 known_email=who.email, **context)


@router.get("/requests/new", response_class=HTMLResponse)
def new_request_form(request: Request, who: SignedInCustomer, db: Db) -> Response:
    form = form_of(db, who.brand)
    return _form_page(request, who, form, _intake(request).token(form))


@router.post("/requests/new", response_class=HTMLResponse)
async def new_request(request: Request, brand: str) -> Response:
    """A new request, through the brand's form (its fields and file rules, spam token and rate limits), with the
    customer's address taken from the session, not from the post."""
    intake = _intake(request)
    who, form = await to_thread.run_sync(_who_and_form, request, brand)
    try:
        data = await request.form(max_files=MAX_PARTS_FILES, max_fields=MAX_PARTS_FIELDS)
    except HTTPException as exc:
        return _form_page(request, who, form, intake.token(form), status_code=400,
                          problem=f"The form could not be read ({exc.detail}); please send it again.")
    try:
        post = _post_of(data, request)
        post.values["email"] = who.email
        if who.name and not post.values.get("name"):
            post.values["name"] = who.name
        values = {k: v for k, v in post.values.items() if k not in (spam.HONEYPOT, "form_token", pages.CSRF_FIELD)}
        try:
            accepted = await to_thread.run_sync(intake.submit, form, post)
        except FormErrors as exc:
            token = post.values.get("form_token")
            return _form_page(request, who, form, token if isinstance(token, str) else intake.token(form),
                              status_code=422, values=values, errors=exc.errors,
                              problem="Please correct the field below." if len(exc.errors) == 1
                              else f"Please correct the {len(exc.errors)} fields below.")
        except DomainError as exc:
            headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
            response = _form_page(request, who, form, intake.token(form), status_code=exc.status_code,
                                  values=values, problem=_sentence(exc.message))
            response.headers.update(headers or {})
            return response
    finally:
        await data.close()
    return RedirectResponse(f"/portal/{who.brand.slug}/requests/{accepted.ticket_id}?sent=1", status_code=303)


def _who_and_form(request: Request, slug: str) -> tuple[PortalCustomer, WebForm]:
    """For the multipart posts (they read the body themselves): the customer and the brand's form, in a short
    read transaction."""
    with request.app.state.database.transaction(write=False) as db:
        brand = portal_brand(slug, db)
        who = portal_customer(request, brand, db)
        return who, form_of(db, brand)


def _post_of(data: FormData, request: Request) -> FormPost:
    values: dict[str, str | bool] = {}
    files: list[UploadedFile] = []
    for name, value in data.multi_items():
        if isinstance(value, UploadFile):
            if name == "attachments" and (value.filename or (value.size or 0) > 0):
                files.append(UploadedFile(value.filename or "attachment", value.file))
        elif name not in values:
            values[name] = value
    return FormPost(values, files, _client(request), request.headers.get("user-agent"), "form")


# -- one request -----------------------------------------------------------------------------------------------------
def _own_ticket(db: Db, who: PortalCustomer, ticket_id: int, *, for_update: bool = False) -> Ticket:
    ticket = repository.portal_ticket(db, who.brand.id, who.customer_id, ticket_id, for_update=for_update)
    if ticket is None:
        raise NotFound(f"You have no request #{ticket_id} here.")
    return ticket


def _request_page(request: Request, db: Db, who: PortalCustomer, ticket: Ticket, form: WebForm, *,
                  status_code: int = 200, errors: dict[str, str] | None = None, message: str = "",
                  notice: str | None = None) -> HTMLResponse:
    messages = repository.public_messages(db, ticket.id, MESSAGES_SHOWN)
    files = repository.attachments_of_messages(db, [m.id for m in messages])
    rating = surveys.answer_of(db, ticket.id, SurveyKind.CSAT)
    return _page(request, "request.html", who.brand, who, status_code=status_code, ticket=ticket,
                 messages=messages, files=files, rating=rating, errors=errors or {}, message=message,
                 notice=notice, inbound=MessageDirection.INBOUND, limits=form_context(form, "", ""),
                 may_rate=survey_service.may_rate(ticket, rating))


@router.get("/requests/{ticket_id}", response_class=HTMLResponse)
def one_request(request: Request, who: SignedInCustomer, db: Db, ticket_id: int, sent: int | None = None,
                rated: int | None = None) -> Response:
    try:
        ticket = _own_ticket(db, who, ticket_id)
    except NotFound as exc:
        return _page(request, "missing.html", who.brand, who, status_code=404, message=exc.message)
    notice = ("Thank you: we have your request." if sent else "Thank you for rating this request." if rated
              else None)
    return _request_page(request, db, who, ticket, form_of(db, who.brand), notice=notice)


@router.post("/requests/{ticket_id}/reply", response_class=HTMLResponse)
async def reply(request: Request, brand: str, ticket_id: int) -> Response:
    """The customer's reply, through intake as a continuation of their ticket on the web channel."""
    intake = _intake(request)
    who, form = await to_thread.run_sync(_who_and_form, request, brand)
    await to_thread.run_sync(_check_own, request, who, ticket_id)
    try:
        data = await request.form(max_files=MAX_PARTS_FILES, max_fields=MAX_PARTS_FIELDS)
    except HTTPException as exc:
        return await to_thread.run_sync(_reply_refused, request, who, form, ticket_id,
                                        {"message": f"The reply could not be read ({exc.detail})."}, "")
    try:
        post = _post_of(data, request)
        text = post.values.get("message")
        text = text if isinstance(text, str) else ""
        try:
            accepted = await to_thread.run_sync(intake.continue_request, form, ticket_id, who.email, text,
                                                post.files)
        except FormErrors as exc:
            return await to_thread.run_sync(_reply_refused, request, who, form, ticket_id, exc.errors, text)
    finally:
        await data.close()
    return RedirectResponse(f"/portal/{who.brand.slug}/requests/{accepted.ticket_id}#message-{accepted.message_id}",
                            status_code=303)


def _check_own(request: Request, who: PortalCustomer, ticket_id: int) -> None:
    with request.app.state.database.transaction(write=False) as db:
        _own_ticket(db, who, ticket_id)


def _reply_refused(request: Request, who: PortalCustomer, form: WebForm, ticket_id: int, errors: dict[str, str],
                   text: str) -> HTMLResponse:
    with request.app.state.database.transaction(write=False) as db:
        ticket = _own_ticket(db, who, ticket_id)
        return _request_page(request, db, who, ticket, form, status_code=422, errors=errors, message=text)


@router.get("/requests/{ticket_id}/attachments/{attachment_id}")
def attachment(who: SignedInCustomer, db: Db, settings: AppSettings, ticket_id: int, attachment_id: int) -> Response:
    """A file of one of the request's public messages, always as a download (it may have come from anyone)."""
    ticket = _own_ticket(db, who, ticket_id)
    found = repository.public_attachment(db, ticket.id, attachment_id)
    if found is None:
        raise NotFound(f"There is no such file in request #{ticket_id}.")
    data = blob_store(settings.data_dir).read(found.sha256)
    name = found.filename or f"attachment-{found.id}"
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox"})


# -- rating (CSAT) -----------------------------------------------------------------------------------------------------
def _rate_page(request: Request, db: Db, brand: Brand, who: PortalCustomer | None, ticket: Ticket, action: str, *,
               status_code: int = 200, score: object = None, comment: str = "", error: str | None = None,
               field: str | None = None, done: bool = False) -> HTMLResponse:
    rating = surveys.answer_of(db, ticket.id, SurveyKind.CSAT)
    chosen = score if score is not None else (rating.score if rating else None)
    return _page(request, "rate.html", brand, who, status_code=status_code, ticket=ticket, action=action,
                 rating=rating, chosen=str(chosen) if chosen is not None else "",
                 comment=comment if comment or rating is None else (rating.comment or ""), error=error,
                 field=field, done=done, may_rate=survey_service.may_rate(ticket, rating),
                 words=survey_service.CSAT_WORDS)


def _rate(request: Request, db: Db, brand: Brand, who: PortalCustomer | None, ticket: Ticket, action: str,
          score: str, comment: str) -> Response:
    try:
        survey_service.record_answer(db, ticket, ticket.customer_id, SurveyKind.CSAT, score, comment)
    except DomainError as exc:
        return _rate_page(request, db, brand, who, ticket, action, status_code=exc.status_code, score=score,
                          comment=comment, error=_sentence(exc.message), field=exc.field)
    if who is not None:
        return RedirectResponse(f"/portal/{brand.slug}/requests/{ticket.id}?rated=1", status_code=303)
    return _rate_page(request, db, brand, who, ticket, action, done=True)


@router.get("/requests/{ticket_id}/rating", response_class=HTMLResponse)
def rating_form(request: Request, who: SignedInCustomer, db: Db, ticket_id: int) -> Response:
    try:
        ticket = _own_ticket(db, who, ticket_id)
    except NotFound as exc:
        return _page(request, "missing.html", who.brand, who, status_code=404, message=exc.message)
    return _rate_page(request, db, who.brand, who, ticket, f"/portal/{who.brand.slug}/requests/{ticket.id}/rating")


@router.post("/requests/{ticket_id}/rating", response_class=HTMLResponse)
def rate(request: Request, who: SignedInCustomer, db: Db, ticket_id: int,
         score: Annotated[str, Form(max_length=10)] = "",
         comment: Annotated[str, Form(max_length=survey_service.COMMENT_MAX * 2)] = "") -> Response:
    ticket = _own_ticket(db, who, ticket_id, for_update=True)
    return _rate(request, db, who.brand, who, ticket, f"/portal/{who.brand.slug}/requests/{ticket.id}/rating",
                 score, comment)


def _ticket_of_link(request: Request, db: Db, brand: Brand, token: str) -> Ticket:
    ticket = portal_sessions.ticket_of_csat_token(db, request.app.state.secret_key, brand, token)
    if ticket is None:
        raise NotFound("This rating link is not valid. Use the link in the mail as it came, or sign in to rate.")
    return ticket


@router.get("/rate/{token}", response_class=HTMLResponse)
def rate_by_link_form(request: Request, brand: PortalBrand, db: Db, token: str, score: str | None = None) -> Response:
    """The rating link from the solve mail: no sign-in needed (the signed link names the ticket)."""
    try:
        ticket = _ticket_of_link(request, db, brand, token)
    except NotFound as exc:
        return _page(request, "missing.html", brand, None, status_code=404, message=exc.message)
    chosen = score if score in {str(n) for n in survey_service.CSAT_WORDS} else None
    return _rate_page(request, db, brand, None, ticket, f"/portal/{brand.slug}/rate/{token}", score=chosen)


@router.post("/rate/{token}", response_class=HTMLResponse)
def rate_by_link(request: Request, brand: PortalBrand, db: Db, token: str,
                 score: Annotated[str, Form(max_length=10)] = "",
                 comment: Annotated[str, Form(max_length=survey_service.COMMENT_MAX * 2)] = "") -> Response:
    try:
        ticket = _ticket_of_link(request, db, brand, token)
    except NotFound as exc:
        return _page(request, "missing.html", brand, None, status_code=404, message=exc.message)
    return _rate(request, db, brand, None, ticket, f"/portal/{brand.slug}/rate/{token}", score, comment)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
