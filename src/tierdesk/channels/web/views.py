"""The web form's public side: the page (also shown in an iframe by /static/web/form.js), its post, and the API for
sites that post from their own form. No authentication: the spam checks (inbound.py, spam.py) stand in for it.

The page is rendered by Jinja2 with autoescaping (everything a customer typed is shown as text) and served with a
Content-Security-Policy that allows only tierdesk's own script and style, posting only to itself, and framing only by
the brand's allowed origins. A refused post re-renders the form with what was typed, the reason at the top and each
field's problem beside it (422; 429 for the rate limit), the files to be chosen again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from anyio import to_thread
from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from tierdesk.channels.web import inbound, spam
from tierdesk.channels.web.attachments import readable_size
from tierdesk.channels.web.forms import WebForm
from tierdesk.channels.web.inbound import Accepted, FormErrors, FormPost, UploadedFile, WebFormIntake
from tierdesk.channels.web.schemas import FormTokenOut, RequestAccepted
from tierdesk.kit.errors import DomainError, ErrorResponse, NotFound, TooManyRequests
from tierdesk.kit.origins import same_origin

router = APIRouter(prefix="/channels/web", tags=["web forms"])
TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
_templates = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                undefined=jinja2.StrictUndefined)
# What one post may carry before the brand's own limits are checked (those name the field that is over).
MAX_PARTS_FILES = 100
MAX_PARTS_FIELDS = 200


def _intake(request: Request) -> WebFormIntake:
    intake: WebFormIntake = request.app.state.web_forms
    return intake


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _security_headers(form: WebForm | None) -> dict[str, str]:
    ancestors = " ".join(["'self'", *(form.allowed_origins if form else [])])
    return {
        "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                   f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",  # each page carries its own form token
    }


def _render(name: str, status_code: int, form: WebForm | None, headers: dict[str, str] | None = None,
            **context: Any) -> HTMLResponse:
    html = _templates.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers={**_security_headers(form), **(headers or {})})


def _accept(form: WebForm) -> tuple[str, str]:
    types = form.files.allowed_types
    return ",".join(types), ", ".join(t.replace("/*", " files") for t in types)


def form_context(form: WebForm, token: str, action: str, *, values: dict[str, Any] | None = None,
                 errors: dict[str, str] | None = None) -> dict[str, Any]:
    """What the template web/_form.html needs: for this page, and for any other page that shows a brand's form
    (the portal's "submit a request" includes the same template and posts to WebFormIntake.submit)."""
    accept, accept_text = _accept(form)
    return dict(action=action, form_token=token, fields=form.fields, values=values or {}, errors=errors or {},
                max_attachments=form.files.max_count, max_attachment_bytes=form.files.max_bytes,
                max_size=readable_size(form.files.max_bytes), accept=accept, accept_text=accept_text,
                subject_max=inbound.SUBJECT_MAX, message_max=inbound.MESSAGE_MAX, name_max=inbound.NAME_MAX)


def _page(request: Request, form: WebForm, token: str, *, status_code: int = 200, values: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, problem: str | None = None,
          headers: dict[str, str] | None = None) -> HTMLResponse:
    context = form_context(form, token, str(request.url.path), values=values, errors=errors)
    return _render("web/form.html", status_code, form, headers, accepted=False, brand_name=form.brand.name,
                   problem=problem, **context)


def _missing(message: str = "There is no web form here.") -> HTMLResponse:
    return _render("web/missing.html", 404, None, message=message)


async def _load(request: Request, brand: str) -> WebForm:
    return await to_thread.run_sync(_intake(request).form, brand)


# -- the page --------------------------------------------------------------------------------------------------------
@router.get("/{brand}/form", response_class=HTMLResponse, include_in_schema=False)
async def form_page(brand: str, request: Request) -> Response:
    """The brand's form, ready to fill in (directly, or in the iframe form.js makes)."""
    try:
        form = await _load(request, brand)
    except NotFound:
        return _missing()
    return _page(request, form, _intake(request).token(form))


@router.post("/{brand}/form", response_class=HTMLResponse, include_in_schema=False)
async def form_post(brand: str, request: Request) -> Response:
    """The form sent by a browser (multipart): the thank-you page, or the form again with what to correct."""
    try:
        form = await _load(request, brand)
    except NotFound:
        return _missing()
    intake = _intake(request)
    try:
        data = await request.form(max_files=MAX_PARTS_FILES, max_fields=MAX_PARTS_FIELDS)
    except HTTPException as exc:
        return _page(request, form, intake.token(form), status_code=400,
                     problem=f"The form could not be read ({exc.detail}); please send it again.")
    try:
        post = _post_of(data, request, via="form")
        values = {k: v for k, v in post.values.items() if k not in (spam.HONEYPOT, "form_token")}
        try:
            accepted: Accepted = await to_thread.run_sync(intake.submit, form, post)
        except FormErrors as exc:
            problem = ("Please correct the field below." if len(exc.errors) == 1
                       else f"Please correct the {len(exc.errors)} fields below.")
            return _page(request, form, _text(post.values.get("form_token")) or intake.token(form),
                         status_code=422, values=values, errors=exc.errors, problem=problem)
        except spam.TokenRefused as exc:
            token = (_text(post.values.get("form_token")) if exc.too_fast else None) or intake.token(form)
            return _page(request, form, token, status_code=422, values=values, problem=_sentence(exc.message))
        except TooManyRequests as exc:
            return _page(request, form, intake.token(form), status_code=429, values=values,
                         problem=_sentence(exc.message), headers={"Retry-After": str(exc.retry_after)})
        except DomainError as exc:  # the honeypot
            return _page(request, form, intake.token(form), status_code=exc.status_code, values=values,
                         problem=_sentence(exc.message))
    finally:
        await data.close()
    return _render("web/form.html", 200, form, accepted=True, brand_name=form.brand.name,
                   thank_you=accepted.thank_you, reference=accepted.reference)


# -- the API for a site's own form -----------------------------------------------------------------------------------
def _cors(request: Request, form: WebForm | None) -> dict[str, str]:
    origin = request.headers.get("origin")
    if form is None or not same_origin(origin, form.allowed_origins):
        return {}
    assert origin is not None  # same_origin is False without one
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _error(request: Request, form: WebForm | None, exc: DomainError) -> JSONResponse:
    headers = _cors(request, form)
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse({"error": exc.as_dict()}, status_code=exc.status_code, headers=headers)


_API_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "the brand has no web form (or it is off)"},
    422: {"model": ErrorResponse, "description": "a field (or the form token, or the honeypot) is wrong: each named"},
    429: {"model": ErrorResponse, "description": "too many requests from this address or network; see Retry-After"},
}


@router.get("/{brand}/requests/token", response_model=FormTokenOut, responses=_API_ERRORS)
async def request_token(brand: str, request: Request) -> Response:
    """A form token for a site's own form: fetch it when the form is shown, send it back as `form_token` with the
    request (not sooner than `min_fill_seconds` later), and send the honeypot field empty."""
    try:
        form = await _load(request, brand)
    except NotFound as exc:
        return _error(request, None, exc)
    settings = _intake(request).settings
    body = FormTokenOut(form_token=_intake(request).token(form), honeypot_field=spam.HONEYPOT,
                        min_fill_seconds=settings.web_form_min_fill_seconds,
                        expires_in_seconds=settings.web_form_max_age_hours * 3600)
    return JSONResponse(body.model_dump(), headers={**_cors(request, form), "Cache-Control": "no-store"})


@router.post("/{brand}/requests", response_model=RequestAccepted, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": RequestAccepted, "description": "the same request sent again: nothing new"},
                        **_API_ERRORS},
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": {"type": "object", "description":
                                      "subject, message, email, name, form_token, website (empty), and the brand's "
                                      "fields by name"}},
                 "multipart/form-data": {"schema": {"type": "object", "description":
                                         "the same fields, and files as `attachments` (repeated)"}}}}})
async def post_request(brand: str, request: Request) -> Response:
    """A request from a site's own form, as JSON or multipart (with files as `attachments`): the same checks as
    the brand's form page, and errors as JSON naming each field (422), or 429 with Retry-After."""
    try:
        form = await _load(request, brand)
    except NotFound as exc:
        return _error(request, None, exc)
    intake = _intake(request)
    data: FormData | None = None
    try:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
            post = await _json_post(request)
        else:
            try:
                data = await request.form(max_files=MAX_PARTS_FILES, max_fields=MAX_PARTS_FIELDS)
            except HTTPException as exc:
                raise FormErrors({"body": f"the form data cannot be read: {exc.detail}"}) from None
            post = _post_of(data, request, via="api")
        accepted = await to_thread.run_sync(intake.submit, form, post)
    except DomainError as exc:
        return _error(request, form, exc)
    finally:
        if data is not None:
            await data.close()
    body = RequestAccepted(ticket_id=accepted.ticket_id, reference=accepted.reference, duplicate=accepted.duplicate,
                           message=accepted.thank_you)
    return JSONResponse(body.model_dump(), status_code=200 if accepted.duplicate else 201,
                        headers=_cors(request, form))


@router.options("/{brand}/requests", include_in_schema=False)
@router.options("/{brand}/requests/token", include_in_schema=False)
async def preflight(brand: str, request: Request) -> Response:
    """CORS for the brand's allowed origins (a site posting JSON from the browser)."""
    try:
        form = await _load(request, brand)
    except NotFound:
        form = None
    headers = _cors(request, form)
    if headers:
        headers |= {"Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type",
                    "Access-Control-Max-Age": "600"}
    return Response(status_code=204, headers=headers)


# -- reading a post --------------------------------------------------------------------------------------------------
def _post_of(data: FormData, request: Request, *, via: str) -> FormPost:
    values: dict[str, str | bool] = {}
    files: list[UploadedFile] = []
    unknown: list[str] = []
    for name, value in data.multi_items():
        if isinstance(value, UploadFile):
            if name != "attachments":
                unknown.append(name)
            elif value.filename or (value.size or 0) > 0:  # an empty file input sends a nameless, empty part
                files.append(UploadedFile(value.filename or "attachment", value.file))
        elif name not in values:  # the first value of a name counts
            values[name] = value
    return FormPost(values, files, _client_ip(request), request.headers.get("user-agent"), via, unknown)


async def _json_post(request: Request) -> FormPost:
    try:
        body = await request.json()
    except ValueError:
        raise FormErrors({"body": "the body is not valid JSON"}) from None
    if not isinstance(body, dict):
        raise FormErrors({"body": "the body must be a JSON object of the form's fields"})
    values: dict[str, str | bool] = {}
    errors: dict[str, str] = {}
    for name, value in body.items():
        if name == "attachments":
            errors[name] = "send files as multipart/form-data, each as an `attachments` part"
        elif isinstance(value, (str, bool)):
            values[str(name)] = value
        elif value is not None:
            errors[str(name)] = "must be text (or true/false for a checkbox)"
    if errors:
        raise FormErrors(errors)
    return FormPost(values, [], _client_ip(request), request.headers.get("user-agent"), "api")


def _text(value: str | bool | None) -> str | None:
    return value if isinstance(value, str) else None


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
