"""The FastAPI application: API routers under /api/v1, error handling, the in-process worker."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.to_thread
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError, OperationalError

from tierdesk import __version__
from tierdesk.agents.api import router as agents_router
from tierdesk.brands.api import router as brands_router
from tierdesk.config import Settings, get_settings
from tierdesk.customers.api import router as customers_router
from tierdesk.db import Database, get_database
from tierdesk.intake.api import router as intake_router
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.jobs.worker import Worker
from tierdesk.kit.errors import DomainError
from tierdesk.routing.api import api as queues_router
from tierdesk.routing.api import presence_api, ticket_moves
from tierdesk.sla.api import router as sla_router
from tierdesk.tickets.api import dispositions_router
from tierdesk.tickets.api import router as tickets_router
from tierdesk.triage.api import router as triage_router
from tierdesk.triage.service import TriagerSource
from tierdesk.wiring import default_jobs

log = logging.getLogger("tierdesk")

API_PREFIX = "/api/v1"
STATIC = Path(__file__).parent / "web" / "static"
_LOCATIONS = {"body", "query", "path", "header"}


def _field_of(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _error(status: int, body: dict) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": body})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        response = _error(exc.status_code, exc.as_dict())
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        fields = []
        for err in exc.errors():
            message = err.get("msg", "invalid")
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            fields.append({"field": _field_of(err.get("loc", ())), "message": message})
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
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
    async def _unexpected(_request: Request, exc: Exception):
        log.exception("unhandled error")
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
        worker = None
        if run_worker:
            worker = Worker(database, default_jobs(settings), settings.worker_poll_seconds)
            worker.start_thread()
        try:
            yield
        finally:
            if worker:
                worker.stop()

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
    app.state.triage = TriagerSource(settings.effective_triage_model_path, settings.triage_confidence_threshold)
    app.state.intake = default_pipeline(settings.default_phone_region, app.state.triage)
    install_error_handlers(app)

    for router in (intake_router, tickets_router, customers_router, agents_router, presence_api, queues_router,
                   brands_router,
                   dispositions_router, triage_router, ticket_moves, sla_router):
        app.include_router(router, prefix=API_PREFIX)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def home():
        return RedirectResponse("/docs")

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

    @app.get("/healthz", tags=["service"])
    def health():
        """Liveness and database reachability, for load balancers. No authentication."""
        with database.read_sessions() as db:
            db.execute(sa.text("SELECT 1"))
        return {"status": "ok", "database": database.dialect, "version": __version__}

    return app


def create_app_from_env() -> FastAPI:
    """Entry point for `uvicorn --factory` with several worker processes (each builds its own app)."""
    import os

    return create_app(run_worker=os.environ.get("TIERDESK_RUN_WORKER", "1") == "1")
