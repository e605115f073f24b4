"""Settings from the environment (prefix TIERDESK_), read once per process."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tierdesk.kit.vocabulary import MailSecurity


def default_data_dir() -> Path:
    """The one default for `make run`, the CLI and the server alike: $XDG_DATA_HOME/tierdesk, that is
    ~/.local/share/tierdesk (so every command finds the same database wherever it is run from)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "tierdesk"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIERDESK_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None  # default: SQLite file in data_dir
    secret_key: str | None = None  # default: generated once and kept in data_dir/secret_key
    # Phone numbers without a country prefix are read in this region (ISO 3166 code); None means "+" is required.
    default_phone_region: str | None = None
    # Solved tickets close by themselves after this many hours with no new inbound message.
    auto_close_after_hours: float = 96.0
    # How often an idle worker looks for due work (routing, SLA warnings and breaches, overflow, the outbox): each look
    # is one indexed query per job, and a breach or a waiting ticket is acted on within about this long.
    worker_poll_seconds: float = Field(default=0.25, gt=0, le=60)
    # Tickets an agent works at once, per kind of work, where the agent has no capacity of their own.
    capacity_phone: int = Field(default=1, ge=0, le=1000)
    capacity_chat: int = Field(default=3, ge=0, le=1000)
    capacity_email: int = Field(default=10, ge=0, le=1000)  # email, web forms and API contacts
    # Escalation rules (0 turns one off): a TS ticket reopened this many times goes up a tier; so does an urgent
    # ticket waiting unassigned this many minutes.
    escalate_reopened_ts_after: int = Field(default=2, ge=0)
    escalate_urgent_waiting_minutes: float = Field(default=30.0, ge=0)
    # SLA warnings and breaches of every brand are POSTed here: the webhook subscription the worker keeps in step
    # with these two settings (webhooks.service.keep_settings_subscription); unset: no such subscription.
    notification_webhook_url: str | None = None
    notification_webhook_secret: str | None = None  # signs each delivery (README, section Webhooks)
    # Webhooks out: how long a receiver may take to answer one attempt, and how many deliveries in a row may fail
    # for good (each after the outbox's retries) before their subscription is disabled.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_disable_after_failures: int = Field(default=5, ge=1, le=1000)
    # The SMTP relay replies go out through, for brands without their own (`tierdesk email relay set`); unset and
    # no brand relay: replies wait in the outbox (not failed) until one is configured.
    email_relay_host: str | None = None
    email_relay_port: int = Field(default=25, ge=1, le=65535)
    email_relay_security: MailSecurity = MailSecurity.STARTTLS
    email_relay_username: str | None = None
    email_relay_password: SecretStr | None = None  # never logged
    # Whether a `tierdesk serve` process runs the background worker in-process (`serve --no-worker` sets it off).
    run_worker: bool = True
    # Requests working with the database at once, per server process (the rest wait their turn, holding nothing).
    request_threads: int = Field(default=4, ge=1, le=200)
    # Triage: a ticket whose department confidence is below this goes to the brand's human-triage queue
    # (1.0: every new ticket does, and the model only suggests).
    triage_confidence_threshold: float = Field(default=0.65, ge=0.0, le=1.0)
    # The deployment's retrained model (`tierdesk triage train --from-db` writes it); the shipped one until then.
    triage_model_path: Path | None = None
    # Connections each process keeps to the database, and how many more it may open at a peak.
    db_pool_size: int = 10
    db_max_overflow: int = 20
    # What `tierdesk serve` and `tierdesk worker` log: warning (default: problems only), info (every request and
    # what the worker does), debug.
    log_level: Literal["debug", "info", "warning", "error"] = "warning"

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, v):
        return v.lower() if isinstance(v, str) else v
    # The largest request body the API reads (bytes); larger ones get 413 before they are read. The largest
    # legitimate body, a contact at its limits (200,000 characters of text and 1,000,000 of HTML), fits in most scripts.
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Failed authentications (unknown, revoked or expired tokens) one client address may make within the window;
    # past that it gets 429 for the window, doubled on each repeat (up to an hour). 0 turns the limit off.
    auth_failure_limit: int = Field(default=20, ge=0)
    auth_failure_window_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Email from one sender to one brand beyond this many messages within the window is quarantined rather than
    # opening tickets (a mail loop between two auto-responders, a storm); 0 turns the limit off.
    email_sender_limit: int = Field(default=20, ge=0)
    email_sender_window_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    # IMAP mailboxes (`tierdesk imap add`): the worker polls each this often (`tierdesk imap poll` waits in IDLE
    # instead where the server has it); a message larger than this is not fetched but quarantined by its header
    # and left on the server.
    imap_poll_seconds: float = Field(default=60.0, gt=0, le=86400)
    imap_max_message_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    # Web forms (channels/web): a form posted sooner than this after the page was served is a robot's; a page older
    # than the max age must be reloaded. Accepted requests per address (per brand) and per client IP within the window;
    # past either the post is refused with 429 (0 turns that limit off). Form posts may be larger than other requests
    # (attachments), up to web_form_max_request_bytes.
    web_form_min_fill_seconds: float = Field(default=3.0, ge=0, le=3600)
    web_form_max_age_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    web_form_address_limit: int = Field(default=5, ge=0)
    web_form_ip_limit: int = Field(default=20, ge=0)
    web_form_window_minutes: float = Field(default=60.0, gt=0, le=7 * 24 * 60)
    web_form_max_request_bytes: int = Field(default=26 * 1024 * 1024, ge=1024)
    # /healthz answers 503 when a request has waited this long for a request slot (the service is saturated).
    health_max_queue_seconds: float = Field(default=10.0, ge=0)

    # Live chat: a chat nobody answered within this many seconds is offered to continue by email; a chat whose
    # customer has been gone (no widget connected) this long ends and continues by email (the transcript is mailed).
    chat_max_wait_seconds: float = Field(default=300.0, gt=0)
    chat_customer_grace_seconds: float = Field(default=120.0, gt=0)
    # A chat message longer than this (characters) is refused with an error frame, and a frame larger than
    # chat_max_frame_bytes is refused before it is read as JSON.
    chat_max_message_chars: int = Field(default=4000, ge=1)
    chat_max_frame_bytes: int = Field(default=16384, ge=256)
    # Frames one chat connection may send within the window; more get a "rate_limited" error frame and are dropped.
    chat_rate_limit: int = Field(default=30, ge=1)
    chat_rate_window_seconds: float = Field(default=10.0, gt=0)
    # How often a waiting customer is told their place in the queue and the expected wait.
    chat_queue_update_seconds: float = Field(default=10.0, gt=0)

    # The SMTP listener (`tierdesk smtp`; `tierdesk serve` runs it too when a port is set): mail for the addresses
    # the brands own, acknowledged only once stored.
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_host: str = "127.0.0.1"
    # Announced in EHLO (SIZE) and enforced while the message arrives: a larger one is answered 552.
    smtp_max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # STARTTLS is offered when both are set: PEM certificate (chain) and its private key.
    smtp_tls_cert: Path | None = None
    smtp_tls_key: Path | None = None
    # The name the listener greets with and writes in Received headers; None: the machine's FQDN.
    smtp_hostname: str | None = None

    # Phone (channels/voice): the public base URL the provider calls tierdesk at, e.g. https://support.example.com,
    # when tierdesk runs behind a proxy: request signatures are made over the URL the provider requested. Unset:
    # the URL each request arrives at.
    voice_public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")

    # The web UI. Links in mails (password reset, portal sign-in, survey) start with this URL, e.g.
    # https://support.example.com; unset: the address the request that asked for the mail came to.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")
    # Session cookies are Secure (sent over HTTPS only; browsers count http://localhost as secure). Turn off only
    # to try tierdesk over plain HTTP on another host.
    secure_cookies: bool = True
    # A web session ends this many hours after sign-in, or after this many minutes without a request.
    web_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    web_session_idle_minutes: float = Field(default=120.0, gt=0, le=24 * 60 * 30)
    # After this many failed sign-ins in a row an account is locked for sign_in_lockout_seconds, doubled on each
    # lock-out in a row up to an hour (0 turns it off; the per-address limit, auth_failure_limit, still applies).
    sign_in_lockout_after: int = Field(default=5, ge=0, le=1000)
    sign_in_lockout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # A password reset link works once, for this many minutes.
    password_reset_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    # Add X-Query-Count (SQL statements the request ran) to every response, for bench/ui.py and for finding N+1
    # queries; off: not even an engine event is installed. (Server-Timing is always on.)
    count_queries: bool = False

    @field_validator("smtp_tls_cert", "smtp_tls_key")
    @classmethod
    def _readable_file(cls, v: Path | None, info) -> Path | None:
        if v is not None and not (v.is_file() and os.access(v, os.R_OK)):
            raise ValueError(f"TIERDESK_{info.field_name.upper()}: {v} is not a file this process can read")
        return v

    @model_validator(mode="after")
    def _certificate_with_its_key(self) -> Settings:
        if (self.smtp_tls_cert is None) != (self.smtp_tls_key is None):
            raise ValueError("TIERDESK_SMTP_TLS_CERT and TIERDESK_SMTP_TLS_KEY go together: set both for STARTTLS, "
                             "or neither")
        return self

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, v: str | None) -> str | None:
        if v and not v.startswith(("sqlite", "postgresql")):
            raise ValueError("TIERDESK_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
        return v

    @model_validator(mode="after")
    def _pool_serves_every_request_thread(self) -> Settings:
        # Each working request holds a connection, and the in-process worker needs one more.
        if self.db_pool_size + self.db_max_overflow < self.request_threads + 1:
            raise ValueError(
                "TIERDESK_DB_POOL_SIZE + TIERDESK_DB_MAX_OVERFLOW must exceed TIERDESK_REQUEST_THREADS"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'tierdesk.db'}"

    @property
    def effective_triage_model_path(self) -> Path:
        return self.triage_model_path or self.data_dir / "triage-model.npz"

    def effective_secret_key(self) -> str:
        """The configured secret, or one generated on first use and kept (mode 0600) in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: it holds the database
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
