"""The FastAPI application: API routers under /api/v1, error handling, the in-process worker."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.to_thread
import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tierdesk import __version__
from tierdesk.agents.api import integrations_router
from tierdesk.agents.api import router as agents_router
from tierdesk.agents.auth import FailedAuthLimiter
from tierdesk.agents.views import router as sign_in_pages
from tierdesk.brands.api import router as brands_router
from tierdesk.channels.chat.api import router as chat_router
from tierdesk.channels.chat.sockets import router as chat_sockets
from tierdesk.channels.email.api import router as email_router
from tierdesk.channels.email.inbound import EmailInbound
from tierdesk.channels.views import router as channel_admin_pages
from tierdesk.channels.voice.api import router as voice_router
from tierdesk.channels.voice.webhooks import router as voice_webhooks
from tierdesk.channels.web.api import router as web_forms_router
from tierdesk.channels.web.inbound import WebFormIntake
from tierdesk.channels.web.portal import router as portal_pages
from tierdesk.channels.web.views import router as web_form_pages
from tierdesk.config import Settings, get_settings
from tierdesk.customers.api import router as customers_router
from tierdesk.customers.api import search_router
from tierdesk.db import Database, get_database
from tierdesk.deps import SlotQueue, api_guard
from tierdesk.intake.api import router as intake_router
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.jobs import live
from tierdesk.jobs.worker import Worker
from tierdesk.kit import pages
from tierdesk.kit.errors import ERROR_RESPONSES, DomainError, TooManyRequests
from tierdesk.kit.pages import SignInRequired
from tierdesk.kit.timing import ServerTiming, count_statements
from tierdesk.routing.api import api as queues_router
from tierdesk.routing.api import presence_api, ticket_moves
from tierdesk.routing.views import router as queue_admin_pages
from tierdesk.sla.api import router as sla_router
from tierdesk.sla.views import router as sla_admin_pages
from tierdesk.tickets.api import dispositions_router
from tierdesk.tickets.api import router as tickets_router
from tierdesk.tickets.macro_api import apply_router, canned_responses_router, macros_router
from tierdesk.tickets.macro_views import router as macro_pages
from tierdesk.triage.api import router as triage_router
from tierdesk.triage.service import TriagerSource
from tierdesk.webhooks.api import router as webhooks_router
from tierdesk.webhooks.views import router as webhook_admin_pages
from tierdesk.wiring import default_jobs, keep_settings_webhook
from tierdesk.workspace.admin_views import admin_pages
from tierdesk.workspace.live import closing_event
from tierdesk.workspace.live import router as workspace_live
from tierdesk.workspace.search import router as search_pages
from tierdesk.workspace.ticket import router as ticket_pages
from tierdesk.workspace.views import router as workspace_pages

log = logging.getLogger("tierdesk")
# The web UI, in the order their paths are matched.
PAGE_ROUTERS = (sign_in_pages, workspace_pages, workspace_live, ticket_pages, search_pages, macro_pages, portal_pages,
                admin_pages, queue_admin_pages, sla_admin_pages, webhook_admin_pages, channel_admin_pages)

API_PREFIX = "/api/v1"
STATIC = Path(__file__).parent / "web" / "static"
_LOCATIONS = {"body", "query", "path", "header"}
# How long /healthz waits for the database to answer before it reports it unreachable.
HEALTH_DATABASE_TIMEOUT = 3.0
_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "too_large",
               415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests"}


def _field_of(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _error(status: int, body: dict, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": body}, headers=headers)


def _json_error(doc: object, err: dict) -> str:
    """Where a body that is not JSON breaks, as a person counts: line and column, not a character offset."""
    reason = (err.get("ctx") or {}).get("error", "malformed")
    loc = err.get("loc", ())
    pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    if pos is None or not isinstance(doc, str):
        return f"the body is not valid JSON: {reason}"
    line = doc.count("\n", 0, pos) + 1
    column = pos - (doc.rfind("\n", 0, pos) + 1) + 1
    return f"the body is not valid JSON: {reason} at line {line} column {column}"


class _BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes "
                              "(TIERDESK_MAX_REQUEST_BYTES)")


class RequestSizeLimit:
    """Refuse request bodies larger than the limit before they are read: by their Content-Length at once, and by
    counting the bytes of a chunked body as they arrive. Pure ASGI, so nothing is buffered on the way."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})  # path prefix -> its own limit (web form posts carry attachments)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next((n for prefix, n in self.larger.items() if scope["path"].startswith(prefix)), self.max_bytes)
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)  # an HTTPException: the app's handler answers it
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int | None = None) -> None:
        exc = _BodyTooLarge(limit or self.max_bytes)
        # Connection: close, so the server does not read the rest of the body to keep the connection alive.
        response = _error(413, {"code": "too_large", "message": exc.detail, "field": "body"},
                          headers={"Connection": "close"})
        await response(scope, receive, send)


def _to_sign_in(request: Request, location: str) -> Response:
    """Pages: to the sign-in page, with where the person was going; an HTMX request is told to go there itself."""
    if pages.is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def _error_page(request: Request, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A refusal on a page, as a page (or, for HTMX, the message alone: the page's script shows it)."""
    if pages.is_htmx(request):
        return PlainTextResponse(message, status_code=status, headers=dict(headers or {}))
    return pages.render(request, "error.html", status_code=status, headers=dict(headers or {}), status=status,
                        message=message)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        if isinstance(exc, SignInRequired) and pages.wants_html(request):
            return _to_sign_in(request, exc.location)
        if pages.wants_html(request):
            return _error_page(request, exc.status_code, exc.message,
                               {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return _error(exc.status_code, exc.as_dict(), headers=headers)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        # Starlette's own refusals (unknown path, wrong method, a body that cannot be read) in the same shape.
        cause = exc.__cause__
        if isinstance(cause, UnicodeDecodeError):
            return _error(422, {"code": "validation_error", "field": "body",
                                "message": f"the body is not valid UTF-8 (byte {cause.start}: {cause.reason})"})
        if isinstance(cause, RecursionError):
            return _error(422, {"code": "validation_error", "field": "body",
                                "message": "the body is not valid JSON: it is nested too deeply"})
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such path: {request.url.path}"
            if pages.wants_html(request):
                return _error_page(request, 404, f"There is no page at {request.url.path}.")
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}"
        body = {"code": _HTTP_CODES.get(exc.status_code, "error"), "message": message}
        if exc.status_code == 413:
            body["field"] = "body"
        return _error(exc.status_code, body, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        fields = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":  # the only error when the body cannot be read
                message = _json_error(exc.body, err)
                return _error(422, {"code": "validation_error", "message": message, "field": "body",
                                    "fields": [{"field": "body", "message": message}]})
            message = err.get("msg", "invalid")
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            fields.append({"field": _field_of(err.get("loc", ())), "message": message})
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        if pages.wants_html(request):
            return _error_page(request, 422, f"Something in the form is not right: {summary}")
        return _error(422, {"code": "validation_error", "message": summary, "field": fields[0]["field"],
                            "fields": fields})

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError):
        log.warning("integrity error: %s", exc.orig)
        return _error(409, {"code": "conflict", "message": "the change conflicts with data saved meanwhile; retry"})

    @app.exception_handler(OperationalError)
    async def _operational(_request: Request, exc: OperationalError):
        log.error("database unavailable: %s", exc.orig)
        return _error(503, {"code": "unavailable", "message": "the database is busy or unreachable; retry shortly"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error")
        if pages.wants_html(request):
            return _error_page(request, 500, "Something went wrong on our side; it was logged.")
        return _error(500, {"code": "internal_error", "message": "something went wrong on our side; it was logged"})


def create_app(
    database: Database | None = None, settings: Settings | None = None, *, run_worker: bool = False
) -> FastAPI:
    settings = settings or get_settings()
    database = database or get_database()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Requests run their database work in threads; a few at a time (more only fight over the GIL: measured,
        # CPU per contact rises by a third from 4 to 16 threads). The rest queue in the event loop: deps.get_db.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        app.state.request_slots = anyio.Semaphore(settings.request_threads)
        app.state.sqlite_writer = anyio.Lock()
        app.state.finishing_threads = anyio.CapacityLimiter(settings.request_threads)
        # Pure computation (POST /triage): threads of its own, so it never takes the database's request threads.
        app.state.computing_threads = anyio.CapacityLimiter(max(1, settings.request_threads // 2))
        app.state.health_thread = anyio.CapacityLimiter(1)  # /healthz never needs a request slot or thread
        app.state.live = live.acquire(database)  # chat sockets (and live pages) hear of changes committed anywhere
        closing = closing_event(app.state)  # the live pages' streams end when this is set
        worker = None
        if run_worker:
            await anyio.to_thread.run_sync(keep_settings_webhook, database, settings)
            worker = Worker(database, default_jobs(settings), settings.worker_poll_seconds)
            worker.start_thread()
        try:
            yield
        finally:
            closing.set()
            if worker:
                worker.stop()
            live.release(app.state.live)

    app = FastAPI(
        title="tierdesk",
        version=__version__,
        summary="Inbound support: helpdesk and contact distributor in one service",
        lifespan=lifespan,
        docs_url=None,  # served below from our own copy of Swagger UI: no CDN, so it works offline
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.secret_key = settings.effective_secret_key()
    app.state.slot_queue = SlotQueue()
    app.state.auth_limiter = FailedAuthLimiter(settings.auth_failure_limit, settings.auth_failure_window_seconds)
    app.state.triage = TriagerSource(settings.effective_triage_model_path, settings.triage_confidence_threshold)
    app.state.intake = default_pipeline(settings.default_phone_region, app.state.triage)
    app.state.email_inbound = EmailInbound(database, settings, app.state.triage, app.state.intake)
    app.state.web_forms = WebFormIntake(database, settings, app.state.triage, app.state.intake)
    install_error_handlers(app)
    app.add_middleware(RequestSizeLimit, max_bytes=settings.max_request_bytes,
                       larger={"/channels/web/": settings.web_form_max_request_bytes})
    # Outermost: Server-Timing covers the whole request (and X-Query-Count, with TIERDESK_COUNT_QUERIES=1).
    if settings.count_queries:
        count_statements(database.engine)
    app.add_middleware(ServerTiming, count_queries=settings.count_queries)

    # Every API operation: unknown query parameters refused, failed authentication limited, errors documented.
    for router in (intake_router, tickets_router, customers_router, agents_router, presence_api, queues_router,
                   brands_router, dispositions_router, triage_router, ticket_moves, sla_router, integrations_router,
                   email_router, web_forms_router, webhooks_router, chat_router, canned_responses_router, macros_router,
                   apply_router, search_router):
        app.include_router(router, prefix=API_PREFIX, dependencies=[Depends(api_guard)], responses=ERROR_RESPONSES)
    app.include_router(voice_router, prefix=API_PREFIX, dependencies=[Depends(api_guard)], responses=ERROR_RESPONSES)
    # The telephony provider's webhooks: signed form posts, answered with TwiML (channels/voice/webhooks.py).
    app.include_router(voice_webhooks)

    app.include_router(web_form_pages)  # public: the brands' web forms and their API for sites' own forms
    app.include_router(chat_sockets)  # WebSockets: /channels/chat/ws/customer and /ws/agent
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # The web UI's pages: each router carries the CSRF check (kit.pages.csrf_protect).
    for pages_router in PAGE_ROUTERS:
        app.include_router(pages_router, include_in_schema=False)

    @app.get("/docs", include_in_schema=False)
    def docs():
        assert app.openapi_url is not None  # FastAPI's default, /openapi.json
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="tierdesk API",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
            oauth2_redirect_url=None,
        )

    @app.get("/healthz", tags=["service"], responses={503: {"description": "the service cannot serve now"}})
    async def health(request: Request):
        """Whether the service can serve, for load balancers (no authentication): the database answers, and requests
        are not left waiting for a request slot longer than TIERDESK_HEALTH_MAX_QUEUE_SECONDS. 503 otherwise.
        It runs in the event loop and on a thread of its own, so it answers even when every request slot is taken."""
        state = request.app.state
        problems = []
        try:
            with anyio.fail_after(HEALTH_DATABASE_TIMEOUT):
                await anyio.to_thread.run_sync(_ping, state.database, limiter=state.health_thread,
                                               abandon_on_cancel=True)
        except TimeoutError:
            problems.append(f"the database did not answer within {HEALTH_DATABASE_TIMEOUT:g} s")
        except Exception as exc:  # noqa: BLE001 (any failure to reach it is the answer)
            log.warning("health check: database unreachable: %s", exc)
            problems.append("the database is unreachable")
        slots = state.request_slots
        oldest = state.slot_queue.oldest_wait()
        if oldest > settings.health_max_queue_seconds:
            problems.append(f"a request has waited {oldest:.1f} s for a request slot")
        body = {
            "status": "unavailable" if problems else "ok",
            "database": state.database.dialect,
            "version": __version__,
            "request_slots": {"total": settings.request_threads, "in_use": settings.request_threads - slots.value,
                              "waiting": len(state.slot_queue), "oldest_wait_seconds": round(oldest, 3)},
        }
        if problems:
            body["problems"] = problems
        return JSONResponse(body, status_code=503 if problems else 200)

    return app


def _ping(database: Database) -> None:
    with database.read_sessions() as db:
        db.execute(sa.text("SELECT 1"))


def create_app_from_env() -> FastAPI:
    """Entry point for `uvicorn --factory` with several worker processes (each builds its own app, with the settings
    the environment gives it: `serve` passes its options on as TIERDESK_ variables)."""
    return create_app(run_worker=get_settings().run_worker)
